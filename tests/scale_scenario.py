"""The scale-out scenario shared by tests/test_scale_out.py (small) and bench/scale_out.py (big).

A table read by a login role of its own; two exports of it (aligned chunks, daily windows) with `multi_run`
backfills of one partition per run and a source pool limit; a Postgres-backed instance from deploy/dagster.yaml
with the daemon as a subprocess; one chunk run's step killed mid-way; then two runs of one more window started
at once (a double click), and runs of two more windows at once. What happened is returned as numbers, for the
caller to assert or print.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import yaml
from conftest import PG_URL, start_dagster
from dagster import AssetKey, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_START_TAG, PARTITION_NAME_TAG
from dagster_instance import BackendSampler, daemon, pg_instance, rewind_missed_retries, wait_for
from e2e import data_files, insert_series

from rivet_core.planning import chunk_key
from rivet_dagster.assets import build_definitions
from rivet_dagster.pools import apply_pool_limits, pool_limits

CHUNK_ROWS = 10
WINDOW_ROWS = 15  # one row every 96 minutes
FIRST_DAY = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
DONE = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)
BUSY = [s for s in DagsterRunStatus if s not in DONE]


@dataclass(frozen=True)
class Shape:
    """The size of a scenario: partitions, pool limit, and how slow each batch is."""

    chunks: int
    windows: int
    pool_limit: int
    throttle_ms: int

    @property
    def chunk_keys(self) -> list[str]:
        return [chunk_key(lo) for lo in range(0, self.chunks * CHUNK_ROWS, CHUNK_ROWS)]

    @property
    def window_keys(self) -> list[str]:
        return [(FIRST_DAY + dt.timedelta(days=i)).strftime("%Y-%m-%d") for i in range(self.windows)]

    @property
    def killed(self) -> str:
        """The chunk whose run's step is killed mid-way."""
        return self.chunk_keys[min(2, self.chunks - 1)]

    @property
    def double(self) -> str:
        """The window two runs are started for at once, after the backfills."""
        return self._day(self.windows)

    @property
    def side_by_side(self) -> list[str]:
        """Two more windows, one run each, started at once after the double click."""
        return [self._day(self.windows + 1), self._day(self.windows + 2)]

    @property
    def exported_windows(self) -> int:
        return self.windows + 3

    def _day(self, i: int) -> str:
        return (FIRST_DAY + dt.timedelta(days=i)).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Outcome:
    """What the scenario saw."""

    chunks: Counter[str]  # materializations per partition
    windows: Counter[str]
    runs: int
    retried: list[tuple[str | None, DagsterRunStatus]]  # (partition, status) of the runs retrying a failed one
    chunk_ids: list[int]  # primary keys in the committed files, duplicates kept
    window_ids: list[int]
    double_exits: list[int]
    double_log: str
    side_by_side_exits: list[int]
    max_backends: int
    max_leases: dict[str, int]
    max_partition_runs: int
    failed: list[str]  # partitions of the failed runs, sorted
    missed_retries: list[str]  # partitions of failed runs Dagster's retry daemon skipped (rewind_missed_retries)
    backfill_s: float
    total_s: float


@contextmanager
def source(rows: int) -> Iterator[tuple[str, str]]:
    """(table, role): ids 0..rows-1 96 minutes apart from FIRST_DAY, readable by a login role of their own."""
    suffix = uuid.uuid4().hex[:10]
    table, role = f"t_scale_{suffix}", f"rivet_scale_{suffix}"
    with psycopg.connect(PG_URL, autocommit=True) as pg:
        pg.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, ts timestamptz NOT NULL, v text)")
        insert_series(pg, table, "g, %s::timestamptz + g * interval '96 minutes', 'v' || g", range(rows), FIRST_DAY)
        pg.execute(f"CREATE ROLE {role} LOGIN")
        pg.execute(f"GRANT SELECT ON {table} TO {role}")
        try:
            yield table, role
        finally:
            pg.execute(f"DROP TABLE IF EXISTS {table}")
            pg.execute(f"DROP OWNED BY {role}")
            pg.execute(f"DROP ROLE IF EXISTS {role}")


def write_project(folder: Path, table: str, role: str, shape: Shape) -> Path:
    """rivet.yaml (two exports of one table, multi_run backfills, the pool limit, 3-row batches) and workspace.yaml."""
    out = {"format": "parquet", "table": table}
    doc = {
        "source": {
            "type": "postgres",
            "url": PG_URL.replace("postgres@", f"{role}@"),
            "tuning": {"batch_size": 3, "throttle_ms": shape.throttle_ms, "max_retries": 0},
        },
        "dagster": {"backfill": "multi_run", "max_partitions_per_run": 1, "pool_limit": shape.pool_limit},
        "exports": [
            {**out, "name": "chunks", "mode": "chunked", "chunk_size": CHUNK_ROWS, "chunk_column": "id",
             "destination": {"type": "local", "path": "./out/chunks"}},
            {**out, "name": "windows", "mode": "time_window", "time_column": "ts",
             "dagster": {"partition_start": FIRST_DAY.date().isoformat()},
             "destination": {"type": "local", "path": "./out/windows"}},
        ],
    }  # fmt: skip
    config = folder / "rivet.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    workspace = {"load_from": [{"python_module": {"module_name": "rivet_dagster.definitions"}}]}
    (folder / "workspace.yaml").write_text(yaml.safe_dump(workspace))
    return config


def add_backfill(
    instance: DagsterInstance, config: Path, export: str, keys: list[str], run_config: dict[str, Any] | None = None
) -> None:
    """A backfill of `keys` of the export's asset, for the daemon to split into runs by its backfill policy."""
    graph = build_definitions(config).resolve_asset_graph()
    instance.add_backfill(
        PartitionBackfill.from_asset_partitions(
            backfill_id=uuid.uuid4().hex[:8], asset_graph=graph, partition_names=keys,
            asset_selection=[AssetKey(export)], backfill_timestamp=time.time(), tags={},
            dynamic_partitions_store=instance, all_partitions=False, title=None, description=None,
            run_config=run_config,
        )
    )  # fmt: skip


def materialized(instance: DagsterInstance, export: str) -> Counter[str]:
    """Materializations per partition of the export's asset."""
    records = instance.fetch_materializations(AssetKey(export), limit=10_000).records
    return Counter(str(r.partition_key) for r in records)


def committed_ids(root: Path) -> list[int]:
    """Primary keys in the committed data files under `root`, duplicates kept."""
    return sorted(i for f in data_files(root) for i in pq.read_table(f)["id"].to_pylist())


def kill_mid_way(state_url: str, out: Path, scope: str, timeout_s: float) -> None:
    """SIGKILL the process holding the `scope` lease of export `chunks` once its unit has a part written."""

    def holder() -> int | None:
        with psycopg.connect(state_url, autocommit=True) as conn:
            try:
                row = conn.execute(
                    "SELECT l.pid FROM rivet_leases l JOIN pg_stat_activity a ON a.pid = l.backend_pid "
                    "WHERE l.export = 'chunks' AND l.scope = %s",
                    (scope,),
                ).fetchone()
            except psycopg.errors.UndefinedTable:
                return None
        if row is None:
            return None
        rivet = out / "_rivet" / "chunks"
        units = [m.stem for m in rivet.glob("owners/*.json") if json.loads(m.read_text() or "{}").get("pid") == row[0]]
        return int(row[0]) if any(any((rivet / "_tmp" / u).rglob("*.parquet")) for u in units) else None

    os.kill(wait_for(f"a part of {scope}", holder, timeout_s=timeout_s, poll_s=0.02), signal.SIGKILL)


def cli_runs(folder: Path, env: dict[str, str], windows: list[str]) -> tuple[list[int], str]:
    """`dagster asset materialize` runs of the windows, all started at once: their exit codes (sorted) and logs."""
    logs = [folder / f"cli_{i}_{w}.log" for i, w in enumerate(windows)]
    args = ["asset", "materialize", "-m", "rivet_dagster.definitions",
            "--select", "windows", "--config-json", json.dumps(IN_PROCESS), "--partition"]  # fmt: skip
    procs = [
        start_dagster(*args, w, cwd=folder, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        for w, log in zip(windows, logs, strict=True)
    ]
    exits = sorted(p.wait(timeout=300) for p in procs)
    return exits, "".join(log.read_text() for log in logs)


def run_scenario(folder: Path, shape: Shape, timeout_s: float = 240) -> Outcome:
    """The whole scenario in `folder` (the environment it needs is set in os.environ while it runs)."""
    rows = max(shape.chunks * CHUNK_ROWS, shape.exported_windows * WINDOW_ROWS)
    started = time.monotonic()
    with source(rows) as (table, role), pg_instance(folder) as pgi:
        config = write_project(folder, table, role, shape)
        env = {**pgi.env, "RIVET_CONFIG": str(config), "RIVET_STATE_URL": pgi.url}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            with DagsterInstance.get() as instance:
                return _drive(folder, shape, instance, config, env, role, pgi.url, started, timeout_s)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _drive(
    folder: Path,
    shape: Shape,
    instance: DagsterInstance,
    config: Path,
    env: dict[str, str],
    role: str,
    state_url: str,
    started: float,
    timeout_s: float,
) -> Outcome:
    """Backfills, the kill, the wait, the CLI runs; then what the instance and the files say."""
    instance.add_dynamic_partitions("rivet_chunks_chunks", shape.chunk_keys)
    apply_pool_limits(instance, pool_limits([config]))
    # Added before the daemon starts: its backfill loop (30 s apart) picks them up on its first pass. The run to be
    # killed keeps the multiprocess executor, so its step dies and its run fails and is retried (the default launcher
    # cannot see a dead run worker); the others run in process, one interpreter each.
    add_backfill(instance, config, "chunks", [k for k in shape.chunk_keys if k != shape.killed], IN_PROCESS)
    add_backfill(instance, config, "chunks", [shape.killed])
    add_backfill(instance, config, "windows", shape.window_keys, IN_PROCESS)
    with BackendSampler(role, state_url) as sampler, daemon(folder, env):
        kill_mid_way(state_url, folder / "out" / "chunks", f"chunk={shape.killed}", timeout_s)
        missed: set[str] = set()

        def all_done() -> bool:
            missed.update(rewind_missed_retries(instance))
            chunks, windows = materialized(instance, "chunks"), materialized(instance, "windows")
            complete = set(chunks) == set(shape.chunk_keys) and set(windows) == set(shape.window_keys)
            return complete and instance.get_runs_count(RunsFilter(statuses=BUSY)) == 0

        wait_for("every partition materialized", all_done, timeout_s=timeout_s, poll_s=0.5)
        backfill_s = time.monotonic() - started
        exits, log = cli_runs(folder, env, [shape.double, shape.double])
        side_by_side, _ = cli_runs(folder, env, shape.side_by_side)
    runs = instance.get_runs()
    failed = {r.run_id for r in runs if r.status == DagsterRunStatus.FAILURE}
    return Outcome(
        chunks=materialized(instance, "chunks"),
        windows=materialized(instance, "windows"),
        runs=len(runs),
        retried=[(_partition(r), r.status) for r in runs if r.tags.get("dagster/parent_run_id") in failed],
        chunk_ids=committed_ids(folder / "out" / "chunks"),
        window_ids=committed_ids(folder / "out" / "windows"),
        double_exits=exits,
        double_log=log,
        side_by_side_exits=side_by_side,
        max_backends=sampler.max_backends,
        max_leases=dict(sampler.max_leases),
        max_partition_runs=sampler.max_partition_runs,
        failed=sorted(_partition(r) or "" for r in runs if r.run_id in failed),
        missed_retries=sorted(_partition(r) or "" for r in runs if r.run_id in missed),
        backfill_s=backfill_s,
        total_s=time.monotonic() - started,
    )


def _partition(run: DagsterRun) -> str | None:
    """The partition of a one-partition run: a backfill run's range start, a CLI run's partition."""
    return run.tags.get(ASSET_PARTITION_RANGE_START_TAG) or run.tags.get(PARTITION_NAME_TAG)
