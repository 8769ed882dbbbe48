"""Postgres type → Arrow type mapping (README: Types), and the per-batch casts that finish it.

`finish_batch` applies the few casts that must happen client-side (numeric text → decimal, `columns:`
overrides) and drops driver metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from rivet_core.config import decimal_type
from rivet_core.sources.types import DATE_MAX, DATE_MIN, TS_MAX, TS_MIN, ColumnPlan, UnmappedColumn

_PG_SCALARS: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    "bytea": pa.binary(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}
# Element types an array may have and still be read natively as a list; other arrays are read as text[].
_PG_ARRAY_ELEMENTS = {"bool", "int2", "int4", "int8", "float4", "float8", "text", "varchar", "bpchar"}
_PG_TEXT_NAMES = {"json": "json", "jsonb": "jsonb", "uuid": "uuid", "interval": "interval"}


@dataclass(frozen=True)
class PgDescribed:
    """What Postgres says about one result column (from the row description and pg_type)."""

    name: str
    typname: str
    typtype: str
    elem_typname: str | None
    precision: int | None
    scale: int | None


def pg_plan(col: PgDescribed, quoted: str, override: pa.DataType | None, path: str) -> ColumnPlan:
    """The ColumnPlan of one Postgres column; `quoted` is the column reference in the wrapped query."""
    name, typ = col.name, col.typname
    if override is not None:
        return ColumnPlan(name, typ, f"{quoted}::text", override, cast=True)
    if typ == "numeric":
        if col.precision is None:
            raise UnmappedColumn(
                f"{path}: column {name!r} is unbounded numeric; add an override such as "
                f"`columns: {{{name}: decimal(38,10)}}` (rivet never writes it as a float)",
                name,
            )
        return ColumnPlan(name, "numeric", quoted, decimal_type(col.precision, col.scale or 0), cast=True)
    if typ in ("timestamp", "timestamptz"):
        clamp = f"CASE WHEN {quoted} = 'infinity' THEN '{TS_MAX}' WHEN {quoted} = '-infinity' THEN '{TS_MIN}' "
        return ColumnPlan(name, typ, f"{clamp}ELSE {quoted} END::{typ}", _PG_SCALARS[typ])
    if typ == "date":
        clamp = f"CASE WHEN {quoted} = 'infinity' THEN '{DATE_MAX}' WHEN {quoted} = '-infinity' THEN '{DATE_MIN}' "
        return ColumnPlan(name, typ, f"{clamp}ELSE {quoted} END::date", pa.date32())
    if typ in _PG_SCALARS:
        return ColumnPlan(name, typ, quoted, _PG_SCALARS[typ])
    if col.elem_typname is not None:
        if col.elem_typname in _PG_ARRAY_ELEMENTS:
            return ColumnPlan(name, typ, quoted, pa.list_(_PG_SCALARS[col.elem_typname]))
        return ColumnPlan(name, typ, f"{quoted}::text[]", pa.list_(pa.string()))
    # json, jsonb, uuid, interval (ISO-8601 via intervalstyle), enums and every other type: their text form.
    source_type = _PG_TEXT_NAMES.get(typ, "enum" if col.typtype == "e" else typ)
    return ColumnPlan(name, source_type, f"{quoted}::text", pa.string())


def finish_batch(batch: pa.RecordBatch, plans: list[ColumnPlan], schema: pa.Schema) -> pa.RecordBatch:
    """Apply client-side casts (text/opaque → decimal or override type) and normalise to `schema`."""
    arrays = []
    for array, plan in zip(batch.columns, plans, strict=True):
        if plan.cast:
            storage = array.storage if isinstance(array, pa.ExtensionArray) else array
            array = pc.cast(storage, plan.arrow_type)
        elif array.type != plan.arrow_type:
            array = array.storage if isinstance(array, pa.ExtensionArray) else array.cast(plan.arrow_type)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
