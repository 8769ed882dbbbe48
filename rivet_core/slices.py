"""Slice planning: which rows of the base query one unit of work reads (full, cursor range, chunk, window)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Slice:
    """The rows of the base query whose `column` lies in a range; `column=None` means every row.

    `after` is exclusive (incremental cursor), `lo` inclusive, `hi` inclusive when `hi_inclusive` (chunks) else
    exclusive (time windows). `fallback` makes the key `COALESCE(column, fallback)` (incremental coalesce mode).
    """

    key: str = "full"
    column: str | None = None
    fallback: str | None = None
    after: Any = None
    lo: Any = None
    hi: Any = None
    hi_inclusive: bool = True
    ordered: bool = False

    def describe(self) -> dict[str, Any]:
        """The bounds as JSON-friendly values, for manifests, state and Dagster metadata."""
        out: dict[str, Any] = {"key": self.key}
        if self.column:
            out["column"] = self.column if not self.fallback else f"coalesce({self.column},{self.fallback})"
        for name in ("after", "lo", "hi"):
            value = getattr(self, name)
            if value is not None:
                out[name] = _jsonable(value)
        return out


def full_slice() -> Slice:
    """Every row of the base query."""
    return Slice()


def cursor_slice(column: str, last: Any, fallback: str | None = None) -> Slice:
    """Rows with cursor > last (all rows on the first run), read in cursor order."""
    return Slice(key="incremental", column=column, fallback=fallback, after=last, ordered=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, int | float | str | bool):
        return value
    iso = getattr(value, "isoformat", None)
    return iso() if iso else str(value)


def encode_value(value: Any) -> dict[str, str] | None:
    """A cursor/bound value as a typed JSON object, so it round-trips through state and manifests exactly."""
    if value is None:
        return None
    kind = type(value).__name__
    if kind == "datetime":
        return {"type": "datetime", "value": value.isoformat()}
    if kind in ("date", "time", "Decimal", "int", "float", "str"):
        return {"type": kind, "value": value.isoformat() if hasattr(value, "isoformat") else str(value)}
    raise TypeError(f"unsupported cursor value type {kind}")


def decode_value(obj: dict[str, str] | None) -> Any:
    """Inverse of `encode_value`."""
    import datetime as dt
    from decimal import Decimal

    if obj is None:
        return None
    parsers = {
        "datetime": dt.datetime.fromisoformat,
        "date": dt.date.fromisoformat,
        "time": dt.time.fromisoformat,
        "Decimal": Decimal,
        "int": int,
        "float": float,
        "str": str,
    }
    return parsers[obj["type"]](obj["value"])


# -- chunked -------------------------------------------------------------------------------------------------


def chunk_key(lo: Any) -> str:
    """A stable, sortable key for the chunk starting at `lo` (zero-padded integers; Dagster partition keys)."""
    if isinstance(lo, int):
        return f"{lo:020d}" if lo >= 0 else f"-{-lo:019d}"
    return _jsonable(lo).replace(":", "").replace("+0000", "")


def chunk_slice(column: str, index: int, lo: Any, hi: Any, hi_inclusive: bool = True) -> Slice:
    """Rows with lo <= column <= hi (or < hi for time-based chunks)."""
    return Slice(key=f"chunk{index}", column=column, lo=lo, hi=hi, hi_inclusive=hi_inclusive)


def aligned_ranges(lo: int, hi: int, size: int, seek: Any) -> list[tuple[int, int]]:
    """Inclusive ranges of width `size`, aligned to multiples of it, covering [lo, hi].

    Empty ranges cost nothing: after each range `seek(after)` returns the next existing key (an index seek),
    so a sparse span (ids 1..1000 and 10^9..) plans as many ranges as it has non-empty ones.
    """
    ranges: list[tuple[int, int]] = []
    start: int | None = lo
    while start is not None and start <= hi:
        first = start - start % size
        last = first + size - 1
        ranges.append((first, last))
        start = seek(last) if last < hi else None
    return ranges


def counted_ranges(lo: int, hi: int, count: int) -> list[tuple[int, int]]:
    """`count` inclusive ranges of equal width over [lo, hi] (chunk_count)."""
    width = max(1, -(-(hi - lo + 1) // count))
    return [(start, min(start + width - 1, hi)) for start in range(lo, hi + 1, width)]


def dense_ranges(lo: Any, hi: Any, size: int, key_at: Any, seek: Any) -> list[tuple[Any, Any]]:
    """Inclusive ranges of about `size` rows each (chunk_dense): each end found `size - 1` keys ahead."""
    ranges: list[tuple[Any, Any]] = []
    start = lo
    while start is not None:
        last = key_at(start, size - 1)
        ranges.append((start, hi if last is None else last))
        start = None if last is None or last >= hi else seek(last)
    return ranges


def day_ranges(lo: Any, hi: Any, days: int, seek: Any) -> list[tuple[Any, Any]]:
    """Half-open ranges of `days` days from midnight (chunk_by_days on a date/timestamp column), empties skipped."""
    step = dt.timedelta(days=days)
    tick = dt.timedelta(microseconds=1) if isinstance(lo, dt.datetime) else dt.timedelta(days=1)
    ranges: list[tuple[Any, Any]] = []
    start = lo
    while start is not None and start <= hi:
        first = start.replace(hour=0, minute=0, second=0, microsecond=0) if isinstance(start, dt.datetime) else start
        end = first + step
        ranges.append((first, end))
        start = seek(end - tick) if end <= hi else None
    return ranges


# -- time windows --------------------------------------------------------------------------------------------

WINDOW_FORMATS = {"hour": "%Y-%m-%d-%H:%M", "day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m-%d"}


def window_start(moment: dt.datetime, unit: str) -> dt.datetime:
    """The start (UTC, naive) of the window containing `moment`; weeks start on Monday."""
    moment = moment.replace(tzinfo=None)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def window_end(start: dt.datetime, unit: str) -> dt.datetime:
    """The exclusive end of the window starting at `start`."""
    if unit == "hour":
        return start + dt.timedelta(hours=1)
    if unit == "week":
        return start + dt.timedelta(days=7)
    if unit == "month":
        return (start + dt.timedelta(days=32)).replace(day=1)
    return start + dt.timedelta(days=1)


def window_slice(column: str, start: dt.datetime, unit: str, unix: bool = False) -> Slice:
    """Rows with start <= column < end (UTC); `unix` binds epoch seconds instead of timestamps."""
    end = window_end(start, unit)
    lo: Any = start
    hi: Any = end
    if unix:
        lo, hi = (int(t.replace(tzinfo=dt.UTC).timestamp()) for t in (start, end))
    return Slice(key=start.strftime(WINDOW_FORMATS[unit]), column=column, lo=lo, hi=hi, hi_inclusive=False)


def parse_window(text: str, unit: str) -> dt.datetime:
    """A window key (`2026-11-01`, or `2026-11-01-13:00` for hours) as the window's start."""
    try:
        moment = dt.datetime.strptime(text, WINDOW_FORMATS[unit])
    except ValueError:
        example = dt.datetime(2026, 11, 1).strftime(WINDOW_FORMATS[unit])
        raise ValueError(f"expected a {unit} window like {example}") from None
    return window_start(moment, unit)


def recent_windows(now: dt.datetime, count: int, unit: str) -> list[dt.datetime]:
    """The windows meeting [now - count units, now]: `count` complete ones before the current, and the current.

    A run just after midnight with days_window: 1 therefore still re-exports yesterday (its late rows).
    """
    current = window_start(now, unit)
    starts = [current]
    for _ in range(count):
        starts.insert(0, window_start(starts[0] - dt.timedelta(seconds=1), unit))
    return starts
