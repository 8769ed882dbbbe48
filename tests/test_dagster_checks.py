"""rivet_dagster asset checks: gates as checks (blocking on error, WARN on warn) with their numbers, recorded in the
instance even when the export fails before commit; the Slack run-failure sensor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import (
    AssetCheckKey,
    AssetCheckSeverity,
    AssetIn,
    AssetKey,
    AssetSelection,
    DagsterInstance,
    ExecuteInProcessResult,
    asset,
    build_run_status_sensor_context,
    materialize,
)
from e2e import data_files, export_config
from servers import Recorder
from test_dagster import UNREACHABLE, add_orders, no_deprecation_warnings

from rivet_dagster.assets import build_definitions

pytestmark = [pytest.mark.dagster]

KEY = AssetKey("orders")


@pytest.fixture
def orders_table(pg: Any, table_name: str) -> Iterator[str]:
    """`id, amount, note` with ids 1..20 and note NULL in every third row (6 of 20)."""
    pg.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, amount numeric(12,2), note text)")
    add_orders(pg, table_name, range(1, 21))
    yield table_name
    pg.execute(f"DROP TABLE IF EXISTS {table_name}")


@asset(ins={"rows": AssetIn(key=KEY)})
def order_count(rows: Any) -> int:
    return int(rows.collect().height)


def run(config: Path, instance: DagsterInstance, *extra: Any, selection: Any = None) -> ExecuteInProcessResult:
    with no_deprecation_warnings():
        defs = build_definitions(config)
        return materialize(
            [*defs.assets, *extra],  # type: ignore[misc]
            resources=defs.resources,
            instance=instance,
            selection=selection,
            raise_on_error=False,
        )


def latest_checks(instance: DagsterInstance, *names: str) -> dict[str, Any]:
    """The latest evaluation of each named check of `orders`, as the instance stored it."""
    keys = [AssetCheckKey(KEY, n) for n in names]
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    out = {}
    for key, record in records.items():
        assert record.event is not None and record.event.dagster_event is not None
        out[key.name] = record.event.dagster_event.event_specific_data
    return out


def metadata(evaluation: Any) -> dict[str, Any]:
    return {k: v.value for k, v in evaluation.metadata.items()}


def test_checks_are_declared_before_any_run_with_blocking_from_severity(tmp_path: Path) -> None:
    quality = {"row_count_min": 1, "null_ratio_max": {"value": {"note": 0.5}, "severity": "warn"}}
    config = export_config(tmp_path, {"name": "orders", "table": "orders", "quality": quality}, url=UNREACHABLE)
    with no_deprecation_warnings():
        specs = {s.name: s for s in build_definitions(config).get_assets_def(KEY).check_specs}
    assert {n: s.blocking for n, s in specs.items()} == {
        "validate": True,
        "reconcile": True,
        "row_count_min": True,
        "null_ratio_max": False,
        "schema_drift": False,  # on_schema_drift: warn (the default)
    }


@pytest.mark.pg
def test_a_failed_blocking_check_records_its_numbers_and_stops_downstream(orders_table: str, tmp_path: Path) -> None:
    quality = {"row_count_min": 1000, "null_ratio_max": {"note": 0.1}}  # 20 rows; note is NULL in 6 of them
    config = export_config(tmp_path, {"name": "orders", "table": orders_table, "quality": quality})
    instance = DagsterInstance.ephemeral()
    result = run(config, instance, order_count)

    assert not result.success
    assert result.get_asset_materialization_events() == []
    assert [e.step_key for e in result.all_events if e.is_step_start] == ["orders"]  # downstream never started
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]  # a verdict, not retried
    assert data_files(tmp_path / "out") == []  # nothing committed
    checks = latest_checks(instance, "row_count_min", "null_ratio_max")
    assert not checks["row_count_min"].passed and checks["row_count_min"].blocking
    assert metadata(checks["row_count_min"])["expected_min"] == 1000
    assert metadata(checks["row_count_min"])["actual"] == 20
    null_ratio = metadata(checks["null_ratio_max"])
    assert not checks["null_ratio_max"].passed
    assert null_ratio["failing_columns"] == ["note"]
    assert null_ratio["ratios"] == {"note": 0.3} and null_ratio["limits"] == {"note": 0.1}
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "row_count_min: 20 rows, minimum 1000" in str(failure.step_failure_data.user_failure_data.description)


@pytest.mark.pg
def test_a_warn_check_fails_with_warn_severity_and_the_step_succeeds(orders_table: str, tmp_path: Path) -> None:
    quality = {"row_count_max": {"value": 5, "severity": "warn"}}
    config = export_config(tmp_path, {"name": "orders", "table": orders_table, "quality": quality})
    instance = DagsterInstance.ephemeral()
    result = run(config, instance, order_count)

    assert result.success
    assert result.output_for_node("order_count") == 20
    (materialization,) = [e for e in result.get_asset_materialization_events() if e.asset_key == KEY]
    assert materialization.materialization.metadata["status"].value == "degraded"
    checks = latest_checks(instance, "row_count_max", "validate", "reconcile")
    assert not checks["row_count_max"].passed
    assert checks["row_count_max"].severity == AssetCheckSeverity.WARN
    assert metadata(checks["row_count_max"])["actual"] == 20
    assert checks["validate"].passed and checks["reconcile"].passed  # selected with the asset, so they ran
    assert metadata(checks["reconcile"])["expected"] == 20


@pytest.mark.pg
def test_validate_and_reconcile_run_only_when_their_checks_are_selected(orders_table: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "orders", "table": orders_table})
    instance = DagsterInstance.ephemeral()
    only_drift = AssetSelection.assets(KEY).without_checks() | AssetSelection.checks(AssetCheckKey(KEY, "schema_drift"))
    result = run(config, instance, selection=only_drift)

    assert result.success
    (materialization,) = result.get_asset_materialization_events()
    assert {"validated", "reconciled"}.isdisjoint(materialization.materialization.metadata)
    assert set(latest_checks(instance, "validate", "reconcile", "schema_drift")) == {"schema_drift"}


@pytest.mark.pg
def test_schema_drift_under_fail_blocks_with_the_added_column(pg: Any, orders_table: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "orders", "table": orders_table, "on_schema_drift": "fail"})
    instance = DagsterInstance.ephemeral()
    assert run(config, instance).success
    pg.execute(f"ALTER TABLE {orders_table} ADD COLUMN extra int")
    result = run(config, instance)

    assert not result.success
    drift = latest_checks(instance, "schema_drift")["schema_drift"]
    assert not drift.passed and drift.blocking
    assert metadata(drift)["added"] == ["extra"]
    assert len(data_files(tmp_path / "out")) == 1  # the first run's file only


def test_the_run_failure_sensor_posts_failures_the_engine_did_not_report(tmp_path: Path, slack: Recorder) -> None:
    config = export_config(
        tmp_path, {"name": "orders", "table": "orders", "tuning": {"max_retries": 0}}, url=UNREACHABLE
    )
    doc = yaml.safe_load(config.read_text())
    doc["notifications"] = {"slack": {"webhook_url": slack.url, "on": ["failure"]}}
    config.write_text(yaml.safe_dump(doc))
    with no_deprecation_warnings():
        sensor = build_definitions(config).get_sensor_def("rivet_slack_on_run_failure")

    @asset
    def broken() -> None:
        raise RuntimeError("upstream API returned 500")

    instance = DagsterInstance.ephemeral()
    for extra in ((), (broken,)):
        selection = [KEY] if not extra else [AssetKey("broken")]
        result = run(config, instance, *extra, selection=selection)
        assert not result.success
        context = build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),  # type: ignore[arg-type]
        ).for_run_failure()
        sensor(context)

    texts = [p["text"] for p in slack.posts]
    assert len(texts) == 2  # the export's own failure message (from the engine), then the other run's
    assert texts[0].startswith("rivet: export *orders* failed")
    assert texts[1].startswith("rivet: export *broken* failed")
    assert "upstream API returned 500" in texts[1]
    assert "s3cret-pw" not in "".join(texts)
