"""A Postgres-backed Dagster instance for tests: its own database on the local server, deploy/dagster.yaml with
short intervals, the daemon as a subprocess, and a sampler of the source's backends in pg_stat_activity."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml
from conftest import PG_URL
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.storage.tags import PARENT_RUN_ID_TAG, WILL_RETRY_TAG

DEPLOY_YAML = Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml"
DAEMON = [sys.executable, "-m", "dagster._daemon"]  # not bin/dagster-daemon: a copied venv's scripts point elsewhere


@dataclass(frozen=True)
class PgInstance:
    """A DAGSTER_HOME whose storage is the database `db`, and the environment its processes need."""

    home: Path
    db: str
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:5432/{self.db}"


@contextmanager
def pg_instance(folder: Path) -> Iterator[PgInstance]:
    """A fresh database and DAGSTER_HOME with deploy/dagster.yaml, its intervals shortened for a test."""
    db = f"dagster_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    home = folder / "dagster_home"
    home.mkdir()
    doc = yaml.safe_load(DEPLOY_YAML.read_text())
    doc["run_coordinator"]["config"]["dequeue_interval_seconds"] = 1
    doc["run_monitoring"]["poll_interval_seconds"] = 2
    doc["run_retries"]["max_retries"] = 1
    (home / "dagster.yaml").write_text(yaml.safe_dump(doc))
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": db,
        "DAGSTER_EVENT_LOG_CONSUMER_DAEMON_INTERVAL_SECONDS": "1",  # run retries are launched from this loop
    }
    try:
        yield PgInstance(home, db, env)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@contextmanager
def daemon(folder: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`dagster-daemon run -w workspace.yaml` in `folder`; on exit its whole process group is stopped."""
    log = (folder / "daemon.log").open("wb")
    proc = subprocess.Popen(
        [*DAEMON, "run", "-w", "workspace.yaml"],
        cwd=folder,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # a code server or run worker still in the group
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@dataclass
class BackendSampler:
    """Samples, every 20 ms, the sessions of `role` on the source and the live partition leases (per export, all)."""

    role: str
    state_url: str
    max_backends: int = 0
    max_leases: dict[str, int] = field(default_factory=dict)
    max_partition_runs: int = 0  # partition leases held at once, all exports
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> BackendSampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        with psycopg.connect(PG_URL, autocommit=True) as src, psycopg.connect(self.state_url, autocommit=True) as st:
            while not self._stop.wait(0.02):
                (n,) = src.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (self.role,)).fetchone()  # type: ignore[misc]
                self.max_backends = max(self.max_backends, n)
                self.samples += 1
                leases = _live_partition_leases(st)
                for export, live in leases:
                    self.max_leases[export] = max(self.max_leases.get(export, 0), live)
                self.max_partition_runs = max(self.max_partition_runs, sum(live for _, live in leases))


def _live_partition_leases(conn: Any) -> list[tuple[str, int]]:
    """(export, number of its partition leases whose session is alive); nothing before the table exists."""
    try:
        return conn.execute(
            "SELECT l.export, count(*) FROM rivet_leases l JOIN pg_stat_activity a ON a.pid = l.backend_pid "
            "WHERE l.scope <> 'export' GROUP BY l.export"
        ).fetchall()  # type: ignore[no-any-return]
    except psycopg.errors.UndefinedTable:
        return []


# Dagster's retry daemon reads RUN_FAILURE events and then the run: a run worker writes the event before the run's
# status, so a read between the two sees a run not yet failed, skips it and moves its cursor past it for good (the
# run is never retried; its backfill then waits for the retry forever). Seen once in ~15 scale-out runs.
MISSED_RETRY_AFTER_S = 10.0
_FAILURE_CURSOR = f"EVENT_LOG_CONSUMER_CURSOR-{DagsterEventType.RUN_FAILURE.value}"


def rewind_missed_retries(instance: DagsterInstance) -> list[str]:
    """Runs that failed, will be retried, and still have no retry MISSED_RETRY_AFTER_S after failing: the daemon's
    failure cursor is put back before the earliest one's failure, so the daemon itself retries them. Their ids."""
    missed: dict[str, int] = {}
    for record in instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.FAILURE])):
        run = record.dagster_run
        ended = record.end_time or time.time()
        if run.tags.get(WILL_RETRY_TAG) != "true" or time.time() - ended < MISSED_RETRY_AFTER_S:
            continue
        if instance.get_runs(RunsFilter(tags={PARENT_RUN_ID_TAG: run.run_id}), limit=1):
            continue
        failures = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_FAILURE).records
        missed[run.run_id] = min(f.storage_id for f in failures)
    if missed:
        instance.daemon_cursor_storage.set_cursor_values({_FAILURE_CURSOR: str(min(missed.values()) - 1)})
    return sorted(missed)


def wait_for(what: str, ready: Any, timeout_s: float, poll_s: float = 0.1) -> Any:
    """`ready()`'s first truthy value within `timeout_s` seconds, else a failed assertion naming `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
