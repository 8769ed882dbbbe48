"""rivet_dagster partitions and automation: time windows and aligned chunks, in process and through the CLI;
stable chunk keys, the chunk sensor, schedules, and definitions that load without a database."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from conftest import run_dagster
from dagster import (
    AssetKey,
    AssetsDefinition,
    DagsterInstance,
    DynamicPartitionsDefinition,
    ExecuteInProcessResult,
    TimeWindowPartitionsDefinition,
    asset,
    build_schedule_context,
    build_sensor_context,
    materialize,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from e2e import data_files, export_config, insert_series, manifests
from test_dagster import IN_PROCESS, UNREACHABLE, no_deprecation_warnings

from rivet_core.config import load_config
from rivet_core.planning import chunk_key
from rivet_dagster.assets import build_definitions
from rivet_dagster.partitions import register_chunks

pytestmark = [pytest.mark.dagster]

DAY = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@pytest.fixture
def events(pg: Any, table_name: str) -> Iterator[str]:
    """`id bigint PRIMARY KEY, ts timestamptz, v text`: ids 1..96, one per hour from 2026-11-01 01:00 UTC (4 days)."""
    pg.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, ts timestamptz, v text)")
    add_events(pg, table_name, range(1, 97))
    yield table_name
    pg.execute(f"DROP TABLE IF EXISTS {table_name}")


def add_events(pg: Any, table: str, ids: range) -> None:
    insert_series(pg, table, "g, %s::timestamptz + g * interval '1 hour', 'v' || g", ids, DAY)


def window_export(table: str) -> dict[str, Any]:
    return {
        "name": "ev",
        "table": table,
        "mode": "time_window",
        "time_column": "ts",
        "days_window": 2,
        "dagster": {"partition_start": "2026-10-30", "schedule": "0 3 * * *"},
    }


def chunk_export(table: str) -> dict[str, Any]:
    return {"name": "ev", "table": table, "mode": "chunked", "chunk_size": 30, "parallel": 2}


def in_process(
    config: Path, instance: DagsterInstance, first: str, last: str | None = None, *extra: AssetsDefinition
) -> ExecuteInProcessResult:
    """Materialize one partition, or a range `first…last` in one run (the single-run backfill policy), of the
    export, or of the `extra` assets."""
    with no_deprecation_warnings():
        defs = build_definitions(config)
        tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last} if last else None
        result = materialize(
            [*defs.assets, *extra],  # type: ignore[list-item]
            resources=defs.resources,
            instance=instance,
            partition_key=None if last else first,
            tags=tags,
            selection=[a.key for a in extra] or [AssetKey("ev")],
        )
    assert result.success
    return result


def partition_rows(result: ExecuteInProcessResult) -> dict[str, int]:
    """Rows per materialized partition, from each partition's own materialization metadata."""
    return {
        e.partition: e.materialization.metadata["dagster/row_count"].value  # type: ignore[misc]
        for e in result.get_asset_materialization_events()
    }


def ids_in(folder: Path) -> list[int]:
    return sorted(i for f in data_files(folder) for i in pq.read_table(f)["id"].to_pylist())


def dagster(folder: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dagster ARGS -m rivet_dagster.definitions` from `folder` with a persistent DAGSTER_HOME."""
    env = {"RIVET_CONFIG": "rivet.yaml", "DAGSTER_HOME": str(home)}
    proc = run_dagster(*args, "-m", "rivet_dagster.definitions", cwd=folder, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.pg
def test_time_window_partitions_in_process_and_by_cli(events: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, window_export(events))
    result = in_process(config, DagsterInstance.ephemeral(), "2026-11-01", "2026-11-02")  # one run, two windows
    assert partition_rows(result) == {"2026-11-01": 23, "2026-11-02": 24}  # ids 1..23 (01:00..23:00), 24..47
    assert ids_in(tmp_path / "out" / "window=2026-11-01") == list(range(1, 24))
    assert ids_in(tmp_path / "out" / "window=2026-11-02") == list(range(24, 48))

    @asset(partitions_def=TimeWindowPartitionsDefinition(start="2026-10-30", fmt="%Y-%m-%d", cron_schedule="0 0 * * *"))
    def daily_ids(ev: pl.LazyFrame) -> list[int]:
        return sorted(ev.collect()["id"].to_list())

    downstream = in_process(config, DagsterInstance.ephemeral(), "2026-11-02", None, daily_ids)
    assert downstream.output_for_node("daily_ids") == list(range(24, 48))  # only its own window's files

    home = tmp_path / "dagster_home"
    home.mkdir()
    for window in ("2026-11-03", "2026-11-04"):
        dagster(tmp_path, home, "asset", "materialize", "--select", "ev", "--partition", window,
                "--config-json", IN_PROCESS)  # fmt: skip
    assert ids_in(tmp_path / "out" / "window=2026-11-03") == list(range(48, 72))
    assert ids_in(tmp_path / "out" / "window=2026-11-04") == list(range(72, 96))
    with DagsterInstance.from_config(str(home)) as instance:
        records = instance.fetch_materializations(AssetKey("ev"), limit=10).records
        assert sorted(r.partition_key for r in records) == ["2026-11-03", "2026-11-04"]


@pytest.mark.pg
def test_chunk_partitions_stay_stable_as_the_table_grows_and_the_sensor_adds_new_ones(
    pg: Any, events: str, tmp_path: Path
) -> None:
    config_path = export_config(tmp_path, chunk_export(events))
    config = load_config(config_path)
    export = config.export("ev")
    instance = DagsterInstance.ephemeral()
    keys, new = register_chunks(instance, config, export)
    assert keys == new == [chunk_key(k) for k in (0, 30, 60, 90)] == [f"{k:020d}" for k in (0, 30, 60, 90)]

    result = in_process(config_path, instance, keys[1], keys[2])  # one run, parallel 2 within it
    assert partition_rows(result) == {keys[1]: 30, keys[2]: 30}
    assert ids_in(tmp_path / "out") == list(range(30, 90))
    assert sorted(m["slice"]["lo"] for m in manifests(tmp_path / "out", "ev")) == [30, 60]

    add_events(pg, events, range(97, 131))  # ids up to 130: chunk 90 fills up, chunk 120 appears
    with no_deprecation_warnings():
        sensor = build_definitions(config_path).get_sensor_def("rivet_ev_chunk_sensor")
        outcome = sensor(build_sensor_context(instance=instance))
    grown = [f"{k:020d}" for k in (0, 30, 60, 90, 120)]
    assert instance.get_dynamic_partitions("rivet_chunks_ev") == grown  # the old keys unchanged, in order
    assert [r.partition_key for r in outcome.run_requests] == [grown[3], grown[4]]  # the one that filled, the new
    with no_deprecation_warnings():
        again = sensor(build_sensor_context(instance=instance))
    assert again.run_requests == [] and again.skip_reason.skip_message == "ev: 5 chunk(s), 0 new"

    in_process(config_path, instance, grown[2])  # a re-export of a chunk replaces its files
    assert ids_in(tmp_path / "out") == list(range(30, 90))


@pytest.mark.slow
@pytest.mark.pg
def test_cli_materializes_chunk_partitions_registered_in_a_persistent_dagster_home(events: str, tmp_path: Path) -> None:
    export_config(tmp_path, chunk_export(events))
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    register = [sys.executable, "-m", "rivet_dagster.register_chunks", "-c", "rivet.yaml"]
    proc = subprocess.run(register, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ev: 4 chunk partition(s) in rivet_chunks_ev, 4 new"

    first, last = f"{0:020d}", f"{30:020d}"
    dagster(tmp_path, home, "asset", "materialize", "--select", "ev", "--partition-range", f"{first}...{last}",
            "--config-json", IN_PROCESS)  # fmt: skip
    assert ids_in(tmp_path / "out") == list(range(1, 60))
    dagster(tmp_path, home, "asset", "materialize", "--select", "ev", "--partition", f"{90:020d}",
            "--config-json", IN_PROCESS)  # fmt: skip
    assert ids_in(tmp_path / "out") == [*range(1, 60), *range(90, 97)]


def test_register_chunks_without_dagster_home_is_a_usage_error(tmp_path: Path) -> None:
    export_config(tmp_path, chunk_export("orders"), url=UNREACHABLE)
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    register = [sys.executable, "-m", "rivet_dagster.register_chunks", "-e", "ev"]
    proc = subprocess.run(register, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "DAGSTER_HOME is not set" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_definitions_load_without_a_database_with_partitions_schedules_and_sensors(tmp_path: Path) -> None:
    config = export_config(
        tmp_path,
        window_export("events"),
        {**chunk_export("events"), "name": "ev_chunks", "dagster": {"schedule": "*/15 * * * *"}},
        {**chunk_export("events"), "name": "ev_counted", "chunk_size": None, "chunk_count": 4},
        {"name": "totals", "query": "SELECT 1 AS one", "dagster": {"schedule": "@daily"}},
        {"name": "eager", "table": "events", "dagster": {"automation": "eager"}},
        url=UNREACHABLE,
    )
    with no_deprecation_warnings():
        defs = build_definitions(config)
        specs = {s.key.path[-1]: s for s in defs.resolve_all_asset_specs()}
        repository = defs.get_repository_def()
        schedules = {s.name: s for s in repository.schedule_defs}
        sensors = sorted(s.name for s in repository.sensor_defs)

    windows = specs["ev"].partitions_def
    assert isinstance(windows, TimeWindowPartitionsDefinition)
    assert (windows.start.isoformat(), windows.fmt, windows.timezone) == (
        "2026-10-30T00:00:00+00:00",
        "%Y-%m-%d",
        "UTC",
    )
    chunks = specs["ev_chunks"].partitions_def
    assert isinstance(chunks, DynamicPartitionsDefinition) and chunks.name == "rivet_chunks_ev_chunks"
    assert specs["ev_counted"].partitions_def is None  # chunk_count boundaries move with the data
    assert specs["totals"].partitions_def is None
    assert specs["eager"].automation_condition is not None and specs["totals"].automation_condition is None
    assert {n: s.cron_schedule for n, s in schedules.items()} == {
        "rivet_ev_schedule": "0 3 * * *",
        "rivet_ev_chunks_schedule": "*/15 * * * *",
        "rivet_totals_schedule": "@daily",
        "rivet_observe_postgres__nowhere__events_schedule": "*/5 * * * *",  # the eager export's source table
    }
    assert all(s.execution_timezone == "UTC" for s in schedules.values())
    assert sensors == [
        "default_automation_condition_sensor",
        "rivet_ev_chunks_chunk_sensor",
    ]  # no Slack: no failure sensor

    tick = dt.datetime(2026, 11, 5, 3, 0, tzinfo=dt.UTC)
    with no_deprecation_warnings():
        requests = schedules["rivet_ev_schedule"](build_schedule_context(scheduled_execution_time=tick))
    assert [r.partition_key for r in requests] == ["2026-11-03", "2026-11-04"]  # days_window: 2


@pytest.mark.parametrize("key", ["hello", "123", chunk_key(31), chunk_key(30)[1:]])
def test_a_chunk_key_the_plan_cannot_produce_fails_the_run_naming_it_and_the_expected_form(
    key: str, tmp_path: Path
) -> None:
    config = export_config(tmp_path, chunk_export("never_read"), url=UNREACHABLE)  # failed before any connection
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("rivet_chunks_ev", [key])
    defs = build_definitions(config)
    result = materialize(
        list(defs.assets),  # type: ignore[arg-type]
        resources=defs.resources,
        instance=instance,
        partition_key=key,
        selection=[AssetKey("ev")],
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description  # type: ignore[union-attr]
    assert f"partition key {key!r} is not a chunk of this export" in message
    assert f"aligned chunk_size=30 range, e.g. {chunk_key(0)} or {chunk_key(30)}" in message
    assert not result.get_asset_materialization_events()
