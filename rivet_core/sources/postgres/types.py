"""Postgres type → Arrow type mapping (README: Types), and the per-batch casts that finish it.

`finish_batch` applies the few casts that must happen client-side (numeric text → decimal, `columns:`
overrides), checks every value fits (`checks.py`) and drops driver metadata. Arrays that a list cannot hold
(several dimensions, a lower bound other than 1) fail on the server: `ARRAY_SHAPE` marks that error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from rivet_core.config import decimal_type
from rivet_core.sources.checks import checked, decimal_from_text
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
# The text of the server error a multi-dimensional or non-1-based array raises: `rivet-array-shape #<col> <dims>`.
ARRAY_SHAPE = re.compile(r"rivet-array-shape #(\d+) ([^\s\"]+)")


@dataclass(frozen=True)
class PgDescribed:
    """What Postgres says about one result column (from the row description and pg_type)."""

    name: str
    typname: str
    typtype: str
    elem_typname: str | None
    precision: int | None
    scale: int | None


def pg_plan(col: PgDescribed, quoted: str, override: pa.DataType | None, path: str, index: int = 0) -> ColumnPlan:
    """The ColumnPlan of one Postgres column; `quoted` is the column reference in the wrapped query (the
    `index`-th column: a misshapen array's error names it)."""
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
            return ColumnPlan(name, typ, _one_based(quoted, index, typ), pa.list_(_PG_SCALARS[col.elem_typname]))
        return ColumnPlan(name, typ, _one_based(f"{quoted}::text[]", index, "_text"), pa.list_(pa.string()))
    # json, jsonb, uuid, interval (ISO-8601 via intervalstyle), enums and every other type: their text form.
    source_type = _PG_TEXT_NAMES.get(typ, "enum" if col.typtype == "e" else typ)
    return ColumnPlan(name, source_type, f"{quoted}::text", pa.string())


def _one_based(expr: str, index: int, array_type: str) -> str:
    """`expr` (an array) unless it has several dimensions or a lower bound other than 1: then a server error
    that `ARRAY_SHAPE` recognises (a list would flatten it or lose its bounds)."""
    shape = f"array_ndims({expr}) > 1 OR array_lower({expr}, 1) <> 1"
    fail = f"('rivet-array-shape #{index} ' || array_dims({expr}))::{array_type}"
    return f"CASE WHEN {shape} THEN {fail} ELSE {expr} END"


def finish_batch(batch: pa.RecordBatch, plans: list[ColumnPlan], schema: pa.Schema) -> pa.RecordBatch:
    """Apply client-side casts (text/opaque → decimal or override type), check every value fits its type
    (a `checks.BadValue` names the first that does not) and normalise to `schema`."""
    arrays = []
    for index, (array, plan) in enumerate(zip(batch.columns, plans, strict=True)):
        if isinstance(array, pa.ExtensionArray):
            array = array.storage
        if plan.cast:
            array = checked(index, plan, array, _caster(plan.arrow_type))
        elif array.type != plan.arrow_type:
            array = array.cast(plan.arrow_type)
        if pa.types.is_temporal(plan.arrow_type) and not plan.cast:
            array = checked(index, plan, array, _same)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _caster(target: pa.DataType) -> Callable[[pa.Array], pa.Array]:
    if pa.types.is_decimal(target):
        return lambda text: decimal_from_text(text, target)
    return lambda text: pc.cast(text, target)


def _same(array: pa.Array) -> pa.Array:
    return array
