"""`rivet check --target`: whether each column's Arrow type loads into a warehouse as the type it should
(rivet-cli 0.7.7's rules; BigQuery is the one target)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from rivet_core.errors import ConfigError

TargetStatus = Literal["ok", "warn", "fail"]
TARGETS = {"bigquery": "bigquery", "bq": "bigquery"}  # --target value -> target

# BigQuery NUMERIC holds precision 1-29 with scale 0-9; BIGNUMERIC precision 1-76 with scale 0-38.
BQ_NUMERIC = (29, 9)
BQ_BIGNUMERIC = (76, 38)
BQ_NEAR_LIMIT = 5  # a decimal256 this close to BIGNUMERIC's limits is warned about


@dataclass(frozen=True)
class TargetCompat:
    """The target type a column loads as, its status, and why it warns or fails."""

    target_type: str
    status: TargetStatus
    note: str | None = None


def parse_target(value: str) -> str:
    """The target `--target VALUE` names; any other value is a usage error (0.7.7 silently ignores it)."""
    target = TARGETS.get(value.lower())
    if target is None:
        raise ConfigError(f"--target: {value!r} is not a known target (valid: {', '.join(TARGETS)})")
    return target


def bigquery(arrow_type: pa.DataType | None) -> TargetCompat:
    """How a column written as `arrow_type` loads into BigQuery from Parquet (None: the column has no type)."""
    if arrow_type is None:
        return _fail("no Arrow type — column is unsupported or needs a type override")
    if pa.types.is_list(arrow_type):
        inner = bigquery(arrow_type.value_type)
        if inner.status == "fail":
            return _fail(f"REPEATED {inner.target_type} (inner type unsupported: {inner.note})")
        return TargetCompat(f"REPEATED {inner.target_type}", inner.status, inner.note)
    if pa.types.is_decimal(arrow_type):
        return _bq_decimal(arrow_type)
    if arrow_type == pa.uint64():
        return TargetCompat("INT64", "warn", "UINT64 has no direct BigQuery type; values > INT64_MAX will overflow")
    if pa.types.is_timestamp(arrow_type):
        return TargetCompat("TIMESTAMP" if arrow_type.tz else "DATETIME", "ok")
    for matches, target_type in _BQ_TYPES:
        if matches(arrow_type):
            return TargetCompat(target_type, "ok")
    return _fail(f"Arrow type {arrow_type} has no supported BigQuery mapping")


_BQ_TYPES = (
    (pa.types.is_boolean, "BOOL"),
    (pa.types.is_integer, "INT64"),
    (pa.types.is_floating, "FLOAT64"),
    (pa.types.is_date, "DATE"),
    (pa.types.is_time, "TIME"),
    (pa.types.is_string, "STRING"),
    (pa.types.is_binary, "BYTES"),
)


def _bq_decimal(arrow_type: pa.Decimal128Type | pa.Decimal256Type) -> TargetCompat:
    """NUMERIC when it fits, else BIGNUMERIC (warned near its limits for decimal256), else a failure."""
    p, s, kind = arrow_type.precision, arrow_type.scale, str(arrow_type)
    if s < 0:
        return _fail(f"BigQuery does not support negative scale; {kind} would need to be cast to STRING or INT64")
    if pa.types.is_decimal128(arrow_type) and p <= BQ_NUMERIC[0] and s <= BQ_NUMERIC[1]:
        return TargetCompat("NUMERIC", "ok")
    if p > BQ_BIGNUMERIC[0] or s > BQ_BIGNUMERIC[1]:
        return _fail(f"{kind} exceeds BigQuery BIGNUMERIC limits (max precision 76, max scale 38)")
    if pa.types.is_decimal256(arrow_type) and (
        p > BQ_BIGNUMERIC[0] - BQ_NEAR_LIMIT or s > BQ_BIGNUMERIC[1] - BQ_NEAR_LIMIT
    ):
        note = f"{kind} is near BigQuery BIGNUMERIC limits (max 76,38); verify no overflow at load time"
        return TargetCompat("BIGNUMERIC", "warn", note)
    return TargetCompat("BIGNUMERIC", "ok")


def _fail(note: str) -> TargetCompat:
    return TargetCompat("-", "fail", note)


COMPAT = {"bigquery": bigquery}  # target -> its rules
