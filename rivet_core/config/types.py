"""Value types of the grammar: file sizes (`max_file_size`) and `columns:` type overrides → Arrow types.

pyarrow is imported only when an override is turned into an Arrow type: loading a config stays cheap.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?I?B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_SIZE_EXAMPLES = "e.g. 10B, 512KB, 256MB, 1.5GB, or a plain number of bytes"
MAX_FILE_SIZE = 1024**4  # 1 TiB


def parse_file_size(value: str | int) -> int:
    """Bytes of a size like "256MB", "1.5GB", "512KB", "10B" or 1024 (1024-based, case-insensitive; ≤ 1TB)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"must be a size, {_SIZE_EXAMPLES}")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"'{value}' is not a size; use {_SIZE_EXAMPLES}")
        unit = (match[2] or "").upper().replace("IB", "B")
        try:
            size = int(Decimal(match[1]) * _SIZE_UNITS[unit])
        except (InvalidOperation, KeyError):
            raise ValueError(f"'{value}' is not a size; use {_SIZE_EXAMPLES}") from None
    if size <= 0:
        raise ValueError(f"must be greater than 0 bytes ({_SIZE_EXAMPLES})")
    if size > MAX_FILE_SIZE:
        raise ValueError(f"must be at most 1TB ({_SIZE_EXAMPLES})")
    return size


# Names as rivet-cli 0.7.7 reads them (PostgreSQL's int2/int4/int8 are 16/32/64-bit), plus Arrow's and MySQL's.
_INT_ALIASES = {
    "tinyint": "int8",
    "int2": "int16", "int16": "int16", "smallint": "int16",
    "int4": "int32", "int32": "int32", "int": "int32", "integer": "int32",
    "int8": "int64", "int64": "int64", "bigint": "int64",
    "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
}  # fmt: skip
_TYPE_ALIASES = {
    **_INT_ALIASES,
    "float32": "float32", "float": "float32", "real": "float32", "float4": "float32",
    "float64": "float64", "double": "float64", "float8": "float64", "double precision": "float64",
    "string": "string", "text": "string", "utf8": "string", "varchar": "string", "char": "string",
    "bpchar": "string", "name": "string", "json": "string", "jsonb": "string", "uuid": "string",
    "binary": "binary", "bytes": "binary", "bytea": "binary", "blob": "binary", "varbinary": "binary",
    "bool": "bool", "boolean": "bool",
    "date": "date",
    "time": "time",
    "timestamp": "timestamp", "timestamp without time zone": "timestamp",
    "timestamptz": "timestamptz", "timestamp_tz": "timestamptz", "timestamp with time zone": "timestamptz",
    "timestamp_utc": "timestamptz",
}  # fmt: skip
_DECIMAL = re.compile(r"^(?:decimal|numeric)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$", re.IGNORECASE)
_VALID_TYPES = (
    "decimal(p,s), tinyint, int2/smallint, int4/int, int8/bigint, uint8/16/32/64, float4/real, float8/double, "
    "text/varchar/json/uuid, bytea/binary, bool, date, time, timestamp, timestamptz"
)


def type_override_spec(text: str) -> tuple[str, tuple[int, ...]]:
    """Parse a `columns:` type override into (canonical name, args); ValueError lists the valid types."""
    cleaned = text.strip()
    if match := _DECIMAL.match(cleaned):
        precision, scale = int(match[1]), int(match[2] or 0)
        if not 1 <= precision <= 76:
            raise ValueError(f"'{text}': decimal precision must be 1..76")
        if scale > precision:
            raise ValueError(f"'{text}': decimal scale must not exceed the precision")
        return "decimal", (precision, scale)
    name = _TYPE_ALIASES.get(" ".join(cleaned.lower().split()))
    if name is None:
        raise ValueError(f"unknown type '{text}' (valid: {_VALID_TYPES})")
    return name, ()


def decimal_type(precision: int, scale: int) -> pa.DataType:
    """decimal128 up to 38 digits, decimal256 beyond (MySQL decimal(65,30))."""
    import pyarrow as pa  # lazy: see the module doc

    return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)


def parse_type_override(text: str) -> pa.DataType:
    """The Arrow type of a `columns:` override such as "decimal(18,2)", "int8" (64-bit, as PostgreSQL's), "text"
    or "timestamptz"."""
    import pyarrow as pa  # lazy: see the module doc

    name, args = type_override_spec(text)
    if name == "decimal":
        return decimal_type(*args)
    simple: dict[str, pa.DataType] = {
        "float32": pa.float32(),
        "float64": pa.float64(),
        "string": pa.string(),
        "binary": pa.binary(),
        "bool": pa.bool_(),
        "date": pa.date32(),
        "time": pa.time64("us"),
        "timestamp": pa.timestamp("us"),
        "timestamptz": pa.timestamp("us", tz="UTC"),
    }
    if name in simple:
        return simple[name]
    return getattr(pa, name)()  # int8 … uint64
