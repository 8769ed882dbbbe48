"""rivet_core.config: max_file_size, type overrides, quality rules, the dagster block."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from rivet_core.config import (
    parse_file_size,
    parse_type_override,
)

from .config_cases import error_of, load_dict, minimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("256MB", 268435456),
        ("1.5GB", 1610612736),
        ("512kb", 524288),
        ("10B", 10),
        ("2 GiB", 2 * 1024**3),
        ("4096", 4096),
        (1024, 1024),
    ],
)
def test_parse_file_size(value: str | int, expected: int) -> None:
    assert parse_file_size(value) == expected


def test_max_file_size_bytes_on_export(tmp_path: Path) -> None:
    cfg = load_dict(tmp_path, minimal(max_file_size="1.5GB"))
    assert cfg.exports[0].max_file_size_bytes == 1610612736
    cfg = load_dict(tmp_path, minimal(max_file_size=1024))
    assert cfg.exports[0].max_file_size_bytes == 1024


@pytest.mark.parametrize("value", ["lots", "12XB", "MB", "-5MB", 0, 1.5, True])
def test_bad_max_file_size(tmp_path: Path, value: Any) -> None:
    message = error_of(tmp_path, minimal(max_file_size=value))
    assert "exports[0].max_file_size:" in message
    assert "e.g. 10B, 512KB, 256MB, 1.5GB" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("decimal(18,2)", pa.decimal128(18, 2)),
        ("NUMERIC(40, 4)", pa.decimal256(40, 4)),
        ("int64", pa.int64()),
        ("uint8", pa.uint8()),
        ("string", pa.string()),
        ("float64", pa.float64()),
        ("timestamp", pa.timestamp("us")),
        ("timestamptz", pa.timestamp("us", tz="UTC")),
        ("date", pa.date32()),
        ("bool", pa.bool_()),
        # rivet-cli 0.7.7's names: PostgreSQL's int2/int4/int8 widths, its text and binary families
        ("int8", pa.int64()),
        ("INT2", pa.int16()),
        ("int4", pa.int32()),
        ("tinyint", pa.int8()),
        ("float4", pa.float32()),
        ("double  precision", pa.float64()),
        ("bpchar", pa.string()),
        ("jsonb", pa.string()),
        ("uuid", pa.string()),
        ("bytea", pa.binary()),
        ("varbinary", pa.binary()),
        ("timestamp without time zone", pa.timestamp("us")),
        ("timestamp_tz", pa.timestamp("us", tz="UTC")),
        ("Timestamp With Time Zone", pa.timestamp("us", tz="UTC")),
        ("timestamp_utc", pa.timestamp("us", tz="UTC")),
    ],
)
def test_parse_type_override(text: str, expected: pa.DataType) -> None:
    assert parse_type_override(text) == expected


def test_bad_type_override_names_the_column(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(columns={"amount": "money", "qty": "int64", "x": "decimal(10,12)"}))
    assert "  exports[0].columns.amount: unknown type 'money' (valid: decimal(p,s), tinyint, int2/smallint" in message
    assert "  exports[0].columns.x: 'decimal(10,12)': decimal scale must not exceed the precision" in message
    assert "columns.qty" not in message


def test_quality_rule_errors_name_the_path(tmp_path: Path) -> None:
    data = minimal(quality={"row_count_min": {"value": 1, "severity": "fatal"}, "null_ratio_max": {"email": 1.5}})
    message = error_of(tmp_path, data)
    assert "exports[0].quality.row_count_min.severity: Input should be 'error' or 'warn'" in message
    assert "exports[0].quality.null_ratio_max.value.email: Input should be less than or equal to 1" in message


def test_quality_min_above_max(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(quality={"row_count_min": 10, "row_count_max": 5}))
    assert "exports[0].quality.row_count_min: is greater than row_count_max" in message


def test_quality_default_severity_is_error(tmp_path: Path) -> None:
    cfg = load_dict(tmp_path, minimal(quality={"row_count_max": 5, "unique_columns": ["id"]}))
    quality = cfg.exports[0].quality
    assert quality is not None
    assert {name: (rule.value, rule.severity) for name, rule in quality.rules().items()} == {
        "row_count_max": (5, "error"),
        "unique_columns": (["id"], "error"),
    }


def test_dagster_defaults_merge_with_export_block(tmp_path: Path) -> None:
    data = minimal(dagster={"group": "orders_grp", "tags": {"tier": "gold"}, "partition_start": "2024-02-01"})
    data["dagster"] = {"group": "shop", "key_prefix": "raw/shop", "tags": {"team": "data"}, "window": "hour"}
    data["exports"].append({**minimal()["exports"][0], "name": "plain"})
    cfg = load_dict(tmp_path, data)

    merged = cfg.dagster_for(cfg.export("orders"))
    assert merged.group == "orders_grp"
    assert merged.key_prefix == ["raw", "shop"]
    assert merged.tags == {"team": "data", "tier": "gold"}
    assert merged.window == "hour"
    assert merged.partition_start == date(2024, 2, 1)

    plain = cfg.dagster_for(cfg.export("plain"))
    assert (plain.group, plain.key_prefix, plain.tags) == ("shop", ["raw", "shop"], {"team": "data"})


def test_dagster_bad_schedule_and_start(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(dagster={"schedule": "0 3 * *", "partition_start": "2024-13-01"}))
    assert "exports[0].dagster.schedule: '0 3 * *' is not a 5-field cron string" in message
    assert "exports[0].dagster.partition_start: use a date YYYY-MM-DD" in message
