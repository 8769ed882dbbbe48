"""rivet_core.config: A full example (every field loads) and the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from rivet_core.config import (
    NullRatioRule,
    QualityRule,
    S3DestinationConfig,
    load_config,
)
from rivet_core.errors import ConfigError

from .config_cases import FULL_YAML, MINIMAL, load_dict, write


def test_full_example_loads_every_field(tmp_path: Path) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "events.sql").write_text("SELECT id, kind FROM events ;\n  \n", encoding="utf-8")
    cfg = load_config(write(tmp_path, FULL_YAML), env={})

    assert cfg.path == (tmp_path / "rivet.yaml").resolve()
    assert cfg.base_dir == tmp_path.resolve()
    assert cfg.parallel_exports is True
    assert cfg.source.port == 6432
    assert cfg.source.tls is not None and cfg.source.tls.mode == "verify-full"
    assert cfg.notifications is not None and cfg.notifications.slack is not None
    assert cfg.notifications.slack.on == ["failure", "schema_change", "degraded"]
    assert [e.name for e in cfg.exports] == ["orders", "events.v2", "daily"]

    orders = cfg.export("orders")
    assert orders.source_table == ("public", "orders")
    assert orders.incremental_cursor_mode == "coalesce"
    assert orders.max_file_size_bytes == 256 * 1024 * 1024
    assert orders.parquet is not None and orders.parquet.row_group_rows == 100000
    assert isinstance(orders.destination, S3DestinationConfig)
    assert orders.destination.prefix == "raw/{export}/{date}/"
    assert orders.meta_columns is not None and orders.meta_columns.row_hash is True
    assert orders.columns == {"amount": "decimal(18,2)", "qty": "int64"}
    assert orders.on_schema_drift == "fail"
    assert orders.resolved_query(cfg.base_dir) is None

    quality = orders.quality
    assert quality is not None
    assert isinstance(quality.row_count_min, QualityRule)
    assert (quality.row_count_min.value, quality.row_count_min.severity) == (1, "warn")
    assert quality.row_count_max is not None and quality.row_count_max.value == 1_000_000
    assert quality.row_count_max.severity == "error"
    assert isinstance(quality.null_ratio_max, NullRatioRule)
    assert quality.null_ratio_max.value == {"email": 0.1}
    assert quality.null_ratio_max.severity == "warn"
    assert quality.unique_columns is not None and quality.unique_columns.value == ["id"]
    assert quality.unique_max_entries == 5000

    events = cfg.export("events.v2")
    assert events.source_table is None
    assert events.resolved_query(cfg.base_dir) == "SELECT id, kind FROM events"
    assert events.destination.type == "gcs"
    assert (events.chunk_count, events.parallel, events.chunk_max_attempts) == (8, 4, 5)

    daily = cfg.export("daily")
    assert daily.window_count == 7
    assert daily.resolved_query(cfg.base_dir) == "SELECT * FROM audit WHERE kind = 'x'"
    assert daily.destination.type == "local"


def test_minimal_defaults(tmp_path: Path) -> None:
    export = load_dict(tmp_path, MINIMAL).exports[0]
    assert (export.mode, export.compression, export.on_schema_drift) == ("full", "zstd", "warn")
    assert (export.parallel, export.chunk_max_attempts, export.chunk_size) == (1, 3, None)
    assert export.max_file_size_bytes is None
    assert export.window_count == 1
    assert export.source_table == (None, "orders")


def test_config_is_frozen(tmp_path: Path) -> None:
    cfg = load_dict(tmp_path, MINIMAL)
    with pytest.raises(ValueError, match="frozen"):
        cfg.exports[0].format = "csv"  # type: ignore[misc]


def test_unknown_export_name_lists_known(tmp_path: Path) -> None:
    cfg = load_dict(tmp_path, MINIMAL)
    with pytest.raises(ConfigError, match=r"no export named 'nope' \(known: orders\)"):
        cfg.export("nope")
