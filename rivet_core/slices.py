"""Slice planning: which rows of the base query one unit of work reads (full, cursor range, chunk, window)."""

from __future__ import annotations

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
