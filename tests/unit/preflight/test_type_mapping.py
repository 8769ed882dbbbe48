"""Rivet types, fidelity (0.7.7's `derive_fidelity`) and BigQuery compatibility (0.7.7's target.rs), no server."""

from __future__ import annotations

import pyarrow as pa
import pytest

from rivet_core.errors import EXIT_USAGE, ConfigError
from rivet_core.preflight.fidelity import RivetType, logical_type, rivet_type
from rivet_core.preflight.target import TargetCompat, bigquery, parse_target


@pytest.mark.parametrize(
    ("arrow_type", "label"),
    [
        (pa.bool_(), "bool"),
        (pa.int8(), "int1"),
        (pa.int16(), "int2"),
        (pa.int32(), "int4"),
        (pa.int64(), "int8"),  # 64-bit, as 0.7.7 (and PostgreSQL) name it
        (pa.uint8(), "uint1"),
        (pa.uint32(), "uint4"),
        (pa.uint64(), "uint8"),
        (pa.float32(), "float4"),
        (pa.float64(), "float8"),
        (pa.decimal128(18, 2), "decimal(18,2)"),
        (pa.decimal256(60, 2), "decimal(60,2)"),
        (pa.decimal128(5, -2), "decimal(5,-2)"),
        (pa.date32(), "date"),
        (pa.time64("us"), "time"),
        (pa.timestamp("us"), "timestamp"),
        (pa.timestamp("us", tz="UTC"), "timestamp_tz"),
        (pa.string(), "text"),
        (pa.binary(), "binary"),
        (pa.duration("us"), "duration"),  # MySQL TIME: 0.7.7 has no such type
        (pa.float16(), "halffloat"),  # a `columns:` override 0.7.7 has no name for: Arrow's
    ],
)
def test_plain_arrow_types_are_exact_under_0_7_7_labels(arrow_type: pa.DataType, label: str) -> None:
    assert rivet_type(arrow_type, "whatever") == RivetType(label, "exact")


@pytest.mark.parametrize(
    ("source_type", "expected"),
    [
        ("json", RivetType("json", "logical_string")),
        ("jsonb", RivetType("json", "logical_string")),
        ("uuid", RivetType("uuid", "compatible")),
        ("interval", RivetType("interval", "compatible")),
        ("enum", RivetType("enum", "compatible")),
        ("enum('a','b')", RivetType("enum", "compatible")),  # MySQL's declared types
        ("SET('x')", RivetType("enum", "compatible")),
        ("varchar", RivetType("text", "exact")),
        ("longtext", RivetType("text", "exact")),  # MariaDB's json
    ],
)
def test_text_columns_keep_their_logical_type(source_type: str, expected: RivetType) -> None:
    assert rivet_type(pa.string(), source_type) == expected


def test_an_override_or_a_non_text_column_has_no_logical_type() -> None:
    assert rivet_type(pa.string(), "jsonb", overridden=True) == RivetType("text", "exact")
    assert rivet_type(pa.binary(), "uuid") == RivetType("binary", "exact")  # MariaDB uuid read as bytes
    assert logical_type("money") is None and logical_type(" Interval ") == "interval"


def test_lists_are_compatible_and_a_missing_type_is_unsupported() -> None:
    assert rivet_type(pa.list_(pa.int64()), "_int8") == RivetType("list<int8>", "compatible")
    assert rivet_type(pa.list_(pa.string()), "_uuid") == RivetType("list<text>", "compatible")
    assert rivet_type(None, "numeric") == RivetType("unsupported(numeric)", "unsupported")


@pytest.mark.parametrize(
    ("arrow_type", "target_type"),
    [
        (pa.bool_(), "BOOL"),
        (pa.int8(), "INT64"),
        (pa.int64(), "INT64"),
        (pa.uint32(), "INT64"),
        (pa.float32(), "FLOAT64"),
        (pa.float64(), "FLOAT64"),
        (pa.date32(), "DATE"),
        (pa.time64("us"), "TIME"),
        (pa.timestamp("us", tz="UTC"), "TIMESTAMP"),
        (pa.timestamp("us"), "DATETIME"),
        (pa.string(), "STRING"),
        (pa.binary(), "BYTES"),
        (pa.decimal128(18, 2), "NUMERIC"),
        (pa.decimal128(29, 9), "NUMERIC"),
        (pa.decimal128(30, 2), "BIGNUMERIC"),  # precision above 29
        (pa.decimal128(18, 12), "BIGNUMERIC"),  # scale above 9
        (pa.decimal128(38, 9), "BIGNUMERIC"),
        (pa.decimal256(60, 20), "BIGNUMERIC"),
        (pa.list_(pa.int32()), "REPEATED INT64"),
    ],
)
def test_bigquery_loads_these_as_their_type(arrow_type: pa.DataType, target_type: str) -> None:
    assert bigquery(arrow_type) == TargetCompat(target_type, "ok")


def test_bigquery_warns_on_uint64_and_decimals_near_bignumeric_limits() -> None:
    assert bigquery(pa.uint64()) == TargetCompat(
        "INT64", "warn", "UINT64 has no direct BigQuery type; values > INT64_MAX will overflow"
    )
    near = bigquery(pa.decimal256(75, 35))
    assert (near.target_type, near.status) == ("BIGNUMERIC", "warn") and "near BigQuery BIGNUMERIC" in str(near.note)
    assert bigquery(pa.decimal256(71, 33)).status == "ok"  # just outside the 5-digit margin
    assert bigquery(pa.decimal256(72, 2)).status == "warn"
    assert bigquery(pa.list_(pa.uint64())) == TargetCompat("REPEATED INT64", "warn", bigquery(pa.uint64()).note)


@pytest.mark.parametrize(
    ("arrow_type", "note"),
    [
        (None, "no Arrow type — column is unsupported or needs a type override"),
        (
            pa.decimal128(5, -2),
            "BigQuery does not support negative scale; decimal128(5, -2) would need to be cast to STRING or INT64",
        ),
        (
            pa.decimal256(50, 40),
            "decimal256(50, 40) exceeds BigQuery BIGNUMERIC limits (max precision 76, max scale 38)",
        ),
        (pa.duration("us"), "Arrow type duration[us] has no supported BigQuery mapping"),
        (
            pa.list_(pa.duration("us")),
            "REPEATED - (inner type unsupported: Arrow type duration[us] has no supported BigQuery mapping)",
        ),
    ],
)
def test_bigquery_fails_what_it_cannot_load(arrow_type: pa.DataType | None, note: str) -> None:
    assert bigquery(arrow_type) == TargetCompat("-", "fail", note)


def test_the_target_is_bigquery_or_bq_in_any_case_else_a_usage_error() -> None:
    assert [parse_target(v) for v in ("bigquery", "bq", "BigQuery", "BQ")] == ["bigquery"] * 4
    with pytest.raises(ConfigError) as err:
        parse_target("snowflake")
    assert str(err.value) == "--target: 'snowflake' is not a known target (valid: bigquery, bq)"
    assert err.value.exit_code == EXIT_USAGE
