"""A column's Rivet type and its fidelity, in rivet-cli 0.7.7's vocabulary (`rivet check --type-report`).

The Rivet type is named after the Arrow type the column is written as (0.7.7's labels: `int8` is 64-bit, as
PostgreSQL's); a text column keeps the logical type of its source (json, uuid, interval, enum). Fidelity follows
0.7.7's `derive_fidelity`: exact, compatible (uuid, enum, interval, lists), logical_string (json), lossy (a type
written as its text form), unsupported (no Arrow type until a `columns:` override gives one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

Fidelity = Literal["exact", "compatible", "logical_string", "lossy", "unsupported"]

# Source types read as text by design, by the logical Rivet type they keep.
_LOGICAL_TYPES = {
    "json": "json",
    "jsonb": "json",
    "uuid": "uuid",
    "interval": "interval",
    "enum": "enum",
    "set": "enum",
}
_LOGICAL_FIDELITY: dict[str, Fidelity] = {
    "json": "logical_string",
    "uuid": "compatible",
    "interval": "compatible",
    "enum": "compatible",
}
_LABELS = {
    pa.bool_(): "bool",
    pa.int8(): "int1",
    pa.int16(): "int2",
    pa.int32(): "int4",
    pa.int64(): "int8",
    pa.uint8(): "uint1",
    pa.uint16(): "uint2",
    pa.uint32(): "uint4",
    pa.uint64(): "uint8",
    pa.float32(): "float4",
    pa.float64(): "float8",
    pa.date32(): "date",
    pa.string(): "text",
    pa.binary(): "binary",
}


@dataclass(frozen=True)
class RivetType:
    """0.7.7's label of the type a column is written as, and the fidelity that mapping keeps."""

    label: str
    fidelity: Fidelity


def logical_type(source_type: str) -> str | None:
    """The logical type a text-read source type keeps (`json`, `uuid`, `interval`, `enum`), else None."""
    return _LOGICAL_TYPES.get(source_type.split("(", 1)[0].strip().lower())


def rivet_type(arrow_type: pa.DataType | None, source_type: str, *, overridden: bool = False) -> RivetType:
    """The Rivet type of a column written as `arrow_type` (None: no Arrow type yet); an override's text is text."""
    if arrow_type is None:
        return RivetType(f"unsupported({source_type})", "unsupported")
    if pa.types.is_list(arrow_type):
        inner = rivet_type(arrow_type.value_type, source_type, overridden=True)
        return RivetType(f"list<{inner.label}>", "compatible")
    logical = None if overridden or not pa.types.is_string(arrow_type) else logical_type(source_type)
    if logical is not None:
        return RivetType(logical, _LOGICAL_FIDELITY[logical])
    return RivetType(_label(arrow_type), "exact")


def _label(arrow_type: pa.DataType) -> str:
    """0.7.7's name of a plain Arrow type (Arrow's own name where 0.7.7 has none)."""
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp_tz" if arrow_type.tz else "timestamp"
    if pa.types.is_time(arrow_type):
        return "time"
    if pa.types.is_duration(arrow_type):
        return "duration"
    return _LABELS.get(arrow_type, str(arrow_type))
