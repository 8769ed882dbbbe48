"""The `Slice` value: which rows of the base query one unit reads, with typed bounds and one JSON encoding.

It sits below planning (which makes slices) and the sources (which read them); see docs/slices-and-partitions.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, cast

SliceKind = Literal["full", "incremental", "chunk", "window"]
_BOUNDS = ("after", "lo", "hi")

# A bound's type name → its parser from the JSON text (datetimes, dates, times as ISO-8601, Decimal as text).
_PARSERS: dict[str, Callable[[str], Any]] = {
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "Decimal": Decimal,
    "int": int,
    "float": float,
    "str": str,
}


def _type_name(value: Any) -> str:
    kind = type(value).__name__
    if kind not in _PARSERS:
        raise TypeError(f"unsupported cursor value type {kind}")
    return kind


def plain_value(value: Any) -> Any:
    """A bound as a JSON value: numbers and strings as they are, the rest as ISO-8601 or text."""
    if isinstance(value, bool | int | float | str):
        return value
    iso = getattr(value, "isoformat", None)
    return iso() if iso else str(value)


def _parse(plain: Any, kind: str | None) -> Any:
    if kind is None or (kind in ("int", "float") and isinstance(plain, int | float)):
        return plain
    return _PARSERS[kind](str(plain))


def encode_value(value: Any) -> dict[str, str] | None:
    """A cursor value as `{"type", "value"}` text, as state and manifests store cursors (docs/cursor.md)."""
    if value is None:
        return None
    kind = _type_name(value)
    return {"type": kind, "value": value.isoformat() if hasattr(value, "isoformat") else str(value)}


def decode_value(obj: dict[str, str] | None) -> Any:
    """Inverse of `encode_value`."""
    return None if obj is None else _PARSERS[obj["type"]](obj["value"])


@dataclass(frozen=True)
class Slice:
    """The rows whose `column` lies in a range; a `full` slice (no column) is every row.

    `after` is exclusive (incremental cursor), `lo` inclusive, `hi` inclusive when `hi_inclusive` (chunks) else
    exclusive (windows). `fallback` makes the key `COALESCE(column, fallback)` (incremental coalesce mode).
    """

    kind: SliceKind = "full"
    column: str | None = None
    fallback: str | None = None
    after: Any = None
    lo: Any = None
    hi: Any = None
    hi_inclusive: bool = True
    index: int | None = None  # chunk: its position in the run's plan
    window: str | None = None  # window: its key (`2026-11-01`, `2026-11-01-13:00`)
    sort: bool = False  # read in key order though not incremental (a span of windows read in one pass)

    @property
    def key(self) -> str:
        """`full`, `incremental`, `chunk<i>` or the window key: the unit's name within an export."""
        if self.kind == "chunk":
            return "chunk" if self.index is None else f"chunk{self.index}"
        if self.kind == "window":
            return self.window or ""
        return self.kind

    @property
    def ordered(self) -> bool:
        """Read in key order (an incremental run remembers its last row's key; a window span is split by it)."""
        return self.kind == "incremental" or self.sort

    @property
    def chunk_index(self) -> int:
        """The chunk's position in its run's plan (chunk slices only)."""
        if self.kind != "chunk" or self.index is None:
            raise ValueError(f"slice {self.key} is not a planned chunk")
        return self.index

    def to_json(self) -> dict[str, Any]:
        """The one JSON form (manifests, state, plans, `--json`): plain bounds and their types, so it round-trips."""
        out: dict[str, Any] = {"key": self.key, "kind": self.kind}
        if self.column is not None:
            out["column"] = self.column
        if self.fallback is not None:
            out["fallback"] = self.fallback
        types = {}
        for name in _BOUNDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = plain_value(value)
                types[name] = _type_name(value)
        if types:
            out["types"] = types
            out["hi_inclusive"] = self.hi_inclusive
        if self.index is not None:
            out["index"] = self.index
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Slice:
        """Inverse of `to_json`; also reads the slices of manifests written before `kind` existed."""
        key = str(doc.get("key", "full"))
        kind = doc.get("kind") or _kind_of(key)
        types = doc.get("types", {})
        bounds = {name: _parse(doc[name], types.get(name)) for name in _BOUNDS if doc.get(name) is not None}
        index = doc.get("index")
        if index is None and kind == "chunk" and key.removeprefix("chunk").isdigit():
            index = int(key.removeprefix("chunk"))
        return cls(
            kind=cast(SliceKind, kind),
            column=doc.get("column"),
            fallback=doc.get("fallback"),
            hi_inclusive=bool(doc.get("hi_inclusive", True)),
            index=index,
            window=key if kind == "window" else None,
            **bounds,
        )


def _kind_of(key: str) -> SliceKind:
    if key in ("full", "incremental"):
        return cast(SliceKind, key)
    return "chunk" if key.startswith("chunk") else "window"


def full_slice() -> Slice:
    """Every row of the base query."""
    return Slice()


def cursor_slice(column: str, last: Any, fallback: str | None = None) -> Slice:
    """Rows with cursor > last (all rows on the first run), read in cursor order."""
    return Slice("incremental", column, fallback, after=last)


def chunk_slice(column: str, index: int, lo: Any, hi: Any, hi_inclusive: bool = True) -> Slice:
    """Rows with lo <= column <= hi (or < hi for time-based chunks)."""
    return Slice("chunk", column, lo=lo, hi=hi, hi_inclusive=hi_inclusive, index=index)
