"""Source type → Arrow type mapping (design §5), and the per-batch casts that finish it.

A source describes each result column; `ColumnPlan` says which SQL expression reads it (a server-side cast to
text where Arrow has no faithful type) and which Arrow type it is written as. `finish_batch` applies the few
casts that must happen client-side (numeric text → decimal) and drops driver metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from rivet_core.config import decimal_type
from rivet_core.errors import ConfigError

# Timestamps/dates outside Arrow's usual range (Postgres ±infinity) are clamped to these (README: Types).
TS_MAX = "9999-12-31 23:59:59.999999"
TS_MIN = "0001-01-01 00:00:00"
DATE_MAX = "9999-12-31"
DATE_MIN = "0001-01-01"


class UnmappedColumn(ConfigError):
    """A column with no faithful Arrow type and no `columns:` override (names it, so `rivet check` can list all)."""

    def __init__(self, message: str, column: str) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class ColumnPlan:
    """How one column is read: `expr` in the SELECT list, the Arrow type written, whether to cast client-side."""

    name: str
    source_type: str
    expr: str
    arrow_type: pa.DataType
    cast: bool = False


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


def target_schema(plans: list[ColumnPlan]) -> pa.Schema:
    """The schema every batch of the export is written with."""
    return pa.schema([pa.field(p.name, p.arrow_type) for p in plans])


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


# MySQL/MariaDB protocol field types and flags (the numbers of mysql.connector.constants.FieldType/FieldFlag;
# spelled out so that this module does not import the driver).
MY_TINY, MY_SHORT, MY_LONG, MY_FLOAT, MY_DOUBLE, MY_LONGLONG, MY_INT24, MY_BIT = 1, 2, 3, 4, 5, 8, 9, 16
MY_DECIMALS = (0, 246)
MY_UNSIGNED, MY_ENUM, MY_SET = 32, 256, 2048
MY_BINARY_CHARSET = 63
_MY_INTS: dict[int, tuple[str, pa.DataType, pa.DataType]] = {
    MY_TINY: ("tinyint", pa.int8(), pa.uint8()),
    MY_SHORT: ("smallint", pa.int16(), pa.uint16()),
    MY_INT24: ("mediumint", pa.int32(), pa.uint32()),
    MY_LONG: ("int", pa.int32(), pa.uint32()),
    MY_LONGLONG: ("bigint", pa.int64(), pa.uint64()),
}
# MySQL TIME spans -838:59:59.999999 .. 838:59:59.999999, which time64 cannot hold: it is written as a duration.
_MY_SCALARS: dict[int, tuple[str, pa.DataType]] = {
    MY_DOUBLE: ("double", pa.float64()),
    6: ("null", pa.string()),
    7: ("timestamp", pa.timestamp("us", tz="UTC")),
    10: ("date", pa.date32()),
    11: ("time", pa.duration("us")),
    12: ("datetime", pa.timestamp("us")),
    13: ("year", pa.int16()),
    14: ("date", pa.date32()),
    245: ("json", pa.string()),
    247: ("enum", pa.string()),
    248: ("set", pa.string()),
}
_MY_TEXTS = {
    15: "varchar",
    249: "tinyblob",
    250: "mediumblob",
    251: "longblob",
    252: "blob",
    253: "varchar",
    254: "char",
    255: "geometry",
    242: "vector",
}


@dataclass(frozen=True)
class MySQLDescribed:
    """What MySQL says about one result column: protocol metadata, plus the declared type for table columns.

    The C extension reports no display width, so `tinyint(1)` (bool), `bit(n)` widths and decimal precision
    come from information_schema (`column_type`, `precision`) and are only known for `table:` exports.
    """

    name: str
    type_code: int
    flags: int
    decimals: int
    charset: int
    column_type: str | None = None
    precision: int | None = None


def mysql_plan(col: MySQLDescribed, quoted: str, override: pa.DataType | None) -> ColumnPlan:
    """The ColumnPlan of one MySQL column; the stream decodes the text protocol's values to `arrow_type`."""
    plan = _mysql_natural_plan(col, quoted)
    return plan if override is None else ColumnPlan(plan.name, plan.source_type, plan.expr, override, cast=True)


def _mysql_natural_plan(col: MySQLDescribed, quoted: str) -> ColumnPlan:
    name, code = col.name, col.type_code
    unsigned = bool(col.flags & MY_UNSIGNED)
    declared = col.column_type.lower() if col.column_type else None
    if code in _MY_INTS:
        kind, signed_type, unsigned_type = _MY_INTS[code]
        if code == MY_TINY and declared and declared.startswith("tinyint(1)"):
            return ColumnPlan(name, declared, quoted, pa.bool_())
        source = declared or kind + (" unsigned" if unsigned else "")
        return ColumnPlan(name, source, quoted, unsigned_type if unsigned else signed_type)
    if code in MY_DECIMALS:
        # Without a declared precision (query columns) the widest decimal128 of that scale; a value that does
        # not fit fails the export with a hint to set the type under `columns:` — never a silent float.
        scale = min(col.decimals, 38)
        precision = max(col.precision or 38, scale, 1)
        return ColumnPlan(name, declared or "decimal", quoted, decimal_type(precision, scale))
    if code == MY_FLOAT:  # its text form has 6 digits; as a double it is exact
        return ColumnPlan(name, declared or "float", f"({quoted} + 0e0)", pa.float32())
    if code == MY_BIT:  # raw big-endian bytes on the wire; the server sends them as a number instead
        arrow_type = pa.bool_() if col.precision == 1 else pa.uint64()
        return ColumnPlan(name, declared or "bit", f"CAST({quoted} AS UNSIGNED)", arrow_type)
    if code in _MY_SCALARS:
        kind, arrow_type = _MY_SCALARS[code]
        return ColumnPlan(name, declared or kind, quoted, arrow_type)
    if col.flags & (MY_ENUM | MY_SET):
        return ColumnPlan(name, declared or "enum", quoted, pa.string())
    binary = col.charset == MY_BINARY_CHARSET
    kind = _MY_TEXTS.get(code, f"type {code}")
    return ColumnPlan(name, declared or kind, quoted, pa.binary() if binary else pa.string())
