"""rivet_dagster checks selected without their asset: evaluated on the latest committed run at the destination
(validate re-reads it, quality rules recompute on its files, reconcile counts the source for its bounds, drift
compares its schema), with no export and no materialization."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster import AssetCheckKey, AssetKey, AssetSelection, DagsterInstance, ExecuteInProcessResult, materialize
from e2e import data_files, export_config
from test_dagster import add_orders
from test_dagster_checks import metadata, orders_table  # noqa: F401 (fixture)

from rivet_dagster.assets import build_definitions

pytestmark = [pytest.mark.dagster, pytest.mark.pg]

KEY = AssetKey("orders")
QUALITY = {"null_ratio_max": {"note": 0.5}, "row_count_min": 1}


def run(config: Path, instance: DagsterInstance, selection: AssetSelection) -> ExecuteInProcessResult:
    defs = build_definitions(config)
    return materialize(
        defs.assets,  # type: ignore[arg-type]
        resources=defs.resources,
        instance=instance,
        selection=selection,
        raise_on_error=False,
    )


def checks_alone(config: Path, instance: DagsterInstance) -> tuple[ExecuteInProcessResult, dict[str, Any]]:
    """Every check of `orders` without the asset; the run and its check evaluations by name."""
    result = run(config, instance, AssetSelection.checks_for_assets(KEY))
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    return result, evaluations


def test_checks_alone_pass_on_good_data_and_catch_a_source_change_and_a_damaged_file(
    pg: Any,
    orders_table: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    config = export_config(tmp_path, {"name": "orders", "table": orders_table, "quality": QUALITY})
    instance = DagsterInstance.ephemeral()
    assert run(config, instance, AssetSelection.assets(KEY)).success
    (part,) = data_files(tmp_path / "out")

    result, checks = checks_alone(config, instance)
    assert result.success and result.get_asset_materialization_events() == []
    assert set(checks) == {"validate", "reconcile", "null_ratio_max", "row_count_min", "schema_drift"}
    assert all(c.passed for c in checks.values())
    assert metadata(checks["reconcile"])["expected"] == 20
    assert metadata(checks["null_ratio_max"])["ratios/note"] == pytest.approx(6 / 20)  # from the file's rows
    assert metadata(checks["row_count_min"])["actual"] == 20

    pg.execute(f"DELETE FROM {orders_table} WHERE id > 15")
    with part.open("r+b") as f:  # one byte changed inside the committed file
        f.seek(10)
        byte = f.read(1)
        f.seek(10)
        f.write(bytes([byte[0] ^ 0xFF]))
    result, checks = checks_alone(config, instance)

    assert not checks["reconcile"].passed
    assert (metadata(checks["reconcile"])["expected"], metadata(checks["reconcile"])["actual"]) == (15, 20)
    assert not checks["validate"].passed
    assert result.get_asset_materialization_events() == []
    assert data_files(tmp_path / "out") == [part]  # nothing exported again


def test_drift_alone_compares_the_latest_run_with_the_one_before(
    pg: Any,
    orders_table: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    config = export_config(tmp_path, {"name": "orders", "table": orders_table, "on_schema_drift": "warn"})
    instance = DagsterInstance.ephemeral()
    assert run(config, instance, AssetSelection.assets(KEY)).success
    pg.execute(f"ALTER TABLE {orders_table} ADD COLUMN extra int")
    assert run(config, instance, AssetSelection.assets(KEY).without_checks()).success

    result = run(config, instance, AssetSelection.checks(AssetCheckKey(KEY, "schema_drift")))
    (drift,) = result.get_asset_check_evaluations()
    assert not drift.passed and metadata(drift)["added"] == ["extra"]


def test_checks_alone_before_any_export_fail_with_a_clear_message(orders_table: str, tmp_path: Path) -> None:  # noqa: F811
    config = export_config(tmp_path, {"name": "orders", "table": orders_table})
    result, checks = checks_alone(config, DagsterInstance.ephemeral())
    assert not result.success and checks == {}
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "nothing committed at" in failure.step_failure_data.user_failure_data.description  # type: ignore[union-attr]


def test_a_chunked_run_is_checked_as_one_scope_with_a_count_per_chunk(
    orders_table: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    export = {"name": "orders", "table": orders_table, "mode": "chunked", "chunk_column": "id", "chunk_count": 4}
    config = export_config(tmp_path, {**export, "quality": {"row_count_min": 15}})
    instance = DagsterInstance.ephemeral()
    assert run(config, instance, AssetSelection.assets(KEY)).success
    _, checks = checks_alone(config, instance)

    assert checks["row_count_min"].passed  # 20 rows over the run's chunks, though no chunk holds 15
    assert metadata(checks["row_count_min"])["actual"] == 20
    reconcile = metadata(checks["reconcile"])
    assert checks["reconcile"].passed and reconcile["failing_slices"] == 0
    assert sum(s["expected"] for s in reconcile["slices"]) == 20 and len(reconcile["slices"]) == 4


def test_reconcile_alone_counts_the_latest_increment_within_its_recorded_bounds(
    pg: Any,
    orders_table: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    export = {"name": "orders", "table": orders_table, "mode": "incremental", "cursor_column": "id"}
    config = export_config(tmp_path, export)
    instance = DagsterInstance.ephemeral()
    assert run(config, instance, AssetSelection.assets(KEY)).success
    add_orders(pg, orders_table, range(21, 26))
    assert run(config, instance, AssetSelection.assets(KEY)).success
    add_orders(pg, orders_table, range(26, 31))  # after the cursor: not the increment's rows
    _, checks = checks_alone(config, instance)

    assert checks["reconcile"].passed
    assert (metadata(checks["reconcile"])["expected"], metadata(checks["reconcile"])["actual"]) == (5, 5)
