"""rivet_dagster conventions and visibility: Dagster's standard metadata keys with numbers as numbers, a real
URI, each partition's own numbers, progress and summary lines in the run log and in the CLI's non-TTY output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    ExecuteInProcessResult,
    FloatMetadataValue,
    IntMetadataValue,
    materialize,
)
from e2e import export_config, rivet_ok
from test_dagster import add_orders, orders, orders_export  # noqa: F401 (fixture)
from test_dagster_partitions import events, in_process, window_export  # noqa: F401 (fixture)

from rivet_dagster.assets import build_definitions

pytestmark = [pytest.mark.dagster, pytest.mark.pg]

KEY = AssetKey(["raw", "orders"])


def run_log(instance: DagsterInstance, result: ExecuteInProcessResult) -> list[str]:
    """The run's log lines from the asset body (rivet's), as the instance stored them."""
    return [r.user_message for r in instance.all_logs(result.run_id) if r.dagster_event is None]


def materialize_with(config: Path, instance: DagsterInstance) -> ExecuteInProcessResult:
    defs = build_definitions(config)
    return materialize(defs.assets, resources=defs.resources, instance=instance)  # type: ignore[arg-type]


def test_metadata_follows_dagster_conventions_and_the_run_log_shows_progress_and_a_summary(
    pg: Any,
    orders: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RIVET_PROGRESS_INTERVAL_S", "0")  # a line per batch: the table is small
    config = export_config(tmp_path, orders_export(orders, mode="incremental", cursor_column="id"))
    instance = DagsterInstance.ephemeral()
    assert materialize_with(config, instance).success
    add_orders(pg, orders, range(21, 26))
    result = materialize_with(config, instance)

    assert result.success
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    assert isinstance(meta["dagster/row_count"], IntMetadataValue) and meta["dagster/row_count"].value == 5
    assert meta["rivet/total_rows"] == IntMetadataValue(25)  # both increments at the destination
    assert meta["dagster/uri"].value == (tmp_path / "out").resolve().as_uri()
    assert meta["dagster/table_name"].value == "raw.orders"
    assert isinstance(meta["bytes"], IntMetadataValue) and meta["bytes"].value > 0
    assert isinstance(meta["duration_s"], FloatMetadataValue)
    assert meta["rivet/file_count"] == IntMetadataValue(1)
    assert all(f.startswith("file://") for f in meta["files"].value)  # type: ignore[union-attr]
    lines = run_log(instance, result)
    assert any(line.startswith("orders: 5 rows, ") and "rows/s" in line and "s elapsed" in line for line in lines)
    (summary,) = [line for line in lines if "file(s)" in line]
    assert summary.startswith("orders: 5 rows, 1 file(s), ") and summary.endswith(
        f"→ {(tmp_path / 'out').resolve().as_uri()} (success)"
    )


def test_definitions_name_tables_and_storage_kinds(orders: str, tmp_path: Path) -> None:  # noqa: F811
    defs = build_definitions(export_config(tmp_path, orders_export(orders)))
    graph = defs.resolve_asset_graph()
    export = graph.get(KEY)
    assert export.metadata["dagster/table_name"] == "raw.orders"
    assert export.metadata["dagster/storage_kind"] == "local"
    assert {"postgres", "parquet", "local"} <= export.kinds
    (source,) = [graph.get(k) for k in graph.get_all_asset_keys() if k != KEY]
    assert source.metadata["dagster/table_name"] == f"test.{orders}"  # database.table: the export names no schema
    assert source.metadata["dagster/storage_kind"] == "postgres"


def test_partitions_of_one_run_carry_their_own_numbers(events: str, tmp_path: Path) -> None:  # noqa: F811
    config = export_config(tmp_path, window_export(events))
    result = in_process(config, DagsterInstance.ephemeral(), "2026-11-01", "2026-11-02")  # one run, two windows

    meta = {e.partition: e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert {p: m["dagster/partition_row_count"].value for p, m in meta.items()} == {
        "2026-11-01": 23,
        "2026-11-02": 24,
    }
    first, second = meta["2026-11-01"], meta["2026-11-02"]
    (first_file,), (second_file,) = first["files"].value, second["files"].value  # type: ignore[misc]
    assert "window=2026-11-01" in first_file and "window=2026-11-02" in second_file
    assert first["rivet/file_count"] == IntMetadataValue(1)
    assert first["bytes"].value != second["bytes"].value  # its own file, not the run's total
    assert first["bytes"].value == Path(first_file.removeprefix("file://")).stat().st_size
    assert isinstance(first["duration_s"], FloatMetadataValue) and first["duration_s"].value > 0
    assert first["rivet/total_rows"] == IntMetadataValue(47)  # the dataset after the run


def test_the_cli_off_a_terminal_logs_progress_and_a_summary_with_the_destination(
    orders: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    config = export_config(tmp_path, orders_export(orders))
    proc = rivet_ok("run", "-c", str(config), env={"RIVET_PROGRESS_INTERVAL_S": "0"})  # stderr is a pipe
    assert "orders: 20 rows, " in proc.stderr and " s elapsed" in proc.stderr
    assert "orders: success, 20 rows, 1 file(s)" in proc.stderr
    assert f"→ {(tmp_path / 'out').resolve()}" in proc.stderr
