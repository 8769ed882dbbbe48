"""MySQL/MariaDB type → Arrow type mapping (README: Types); the stream decodes the text protocol to these types."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from rivet_core.config import decimal_type
from rivet_core.sources.types import ColumnPlan

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
