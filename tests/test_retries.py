"""Retries (tuning max_retries / retry_backoff_ms): transient source errors retried on a new snapshot, permanent
ones fail at once, nothing retried after a commit; and the memory_threshold_mb pause of the prefetch thread."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pyarrow as pa
import pytest
from conftest import PG_URL, CliProcess, run_cli, start_cli
from e2e import data_files, export_config, read_parquet

from rivet_core.pipeline.prefetch import Meter, Prefetch
from rivet_core.sources.postgres import is_transient

pytestmark = pytest.mark.pg

ROWS = 2000


@pytest.fixture
def slow(pg: Any, table_name: str) -> Iterator[str]:
    """A table and a query over it that sleeps ~1 ms per row on the server: its COPY stays active for seconds."""
    pg.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, payload text NOT NULL)")
    pg.execute(f"INSERT INTO {table_name} SELECT g, md5(g::text) FROM generate_series(1, {ROWS}) g")
    yield f"SELECT t.id, t.payload FROM {table_name} t CROSS JOIN LATERAL (SELECT pg_sleep(0.0005 + t.id * 0)) s"
    pg.execute(f"DROP TABLE {table_name}")


def _start(pg: Any, config: Path) -> tuple[CliProcess, Any]:
    """`rivet run --json` as a process, and the server time it started at (its backends start later)."""
    since = pg.execute("SELECT clock_timestamp()").fetchone()[0]
    proc = start_cli(
        "run", "-c", str(config), "--json", cwd=config.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    return proc, since


def _client_ports(pid: int) -> list[int]:
    """The local ports of process `pid`'s connections to the Postgres server (its sessions' client_port)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        return [c.laddr.port for c in psutil.Process(pid).net_connections("tcp") if c.raddr and c.raddr.port == 5432]
    return []


def _terminate(pg: Any, proc: CliProcess, since: Any, where: str) -> None:
    """pg_terminate_backend of this run's backends matching `where` (never another test's), once one shows up."""
    for _ in range(600):
        assert proc.poll() is None, f"the export ended before its backend was terminated: {proc.communicate()}"
        killed = pg.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rivet'"
            f" AND backend_start >= %s AND client_port = ANY(%s) AND {where}",
            (since, _client_ports(proc.pid))).fetchall()  # fmt: skip
        if any(row[0] for row in killed):
            return
        time.sleep(0.05)
    raise AssertionError("no rivet backend to terminate")


@pytest.mark.slow
def test_terminated_backend_is_retried_on_a_new_snapshot(pg: Any, slow: str, tmp_path: Path) -> None:
    tuning = {"max_retries": 2, "retry_backoff_ms": 50}
    config = export_config(tmp_path, {"name": "ev", "query": slow, "tuning": tuning})
    proc, since = _start(pg, config)
    _terminate(pg, proc, since, "state = 'active' AND query LIKE 'COPY%%'")
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    (summary,) = json.loads(out)["exports"]
    assert summary["status"] == "success" and summary["retries"] == 1
    assert summary["rows"] == ROWS
    assert err.count("transient source error, retry 1/2") == 1 and "retry 2/2" not in err
    ids = read_parquet(tmp_path / "out").column("id").to_pylist()
    assert sorted(ids) == list(range(1, ROWS + 1))
    assert len(data_files(tmp_path / "out")) == 1
    assert not list((tmp_path / "out" / "_rivet" / "ev").glob("_tmp/*/*"))  # the failed attempt left no part


def test_syntax_error_fails_at_once(tmp_path: Path) -> None:
    config = export_config(
        tmp_path,
        {"name": "bad", "query": "SELEC id FROM pg_class", "tuning": {"max_retries": 3, "retry_backoff_ms": 10}},
    )
    proc = run_cli("run", "-c", str(config), "--json", cwd=tmp_path)
    assert proc.returncode == 1
    (summary,) = json.loads(proc.stdout)["exports"]
    assert summary["retries"] == 0 and "syntax error" in summary["error"]
    assert "retry" not in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_nothing_is_retried_after_a_chunk_was_committed(pg: Any, slow: str, tmp_path: Path) -> None:
    export = {
        "name": "ev",
        "query": slow,
        "mode": "chunked",
        "chunk_column": "id",
        "chunk_count": 4,
        "chunk_checkpoint": True,
        "chunk_max_attempts": 1,
        "tuning": {"max_retries": 3, "retry_backoff_ms": 10},
    }
    config = export_config(tmp_path, export)
    proc, since = _start(pg, config)
    for _ in range(1200):  # wait until the first chunk is committed, then cut every rivet connection
        if data_files(tmp_path / "out") or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert data_files(tmp_path / "out"), "no chunk was committed"
    _terminate(pg, proc, since, "true")
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 1
    (summary,) = json.loads(out)["exports"]
    assert summary["retries"] == 0
    assert "not retried" in summary["error"] and "already committed" in summary["error"]
    assert "--resume" in summary["error"]
    committed = read_parquet(tmp_path / "out").column("id").to_pylist()
    assert len(committed) == len(set(committed)) < ROWS  # what was committed is whole, nothing twice
    resumed = run_cli("run", "-c", str(config), "--resume", "--json", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(read_parquet(tmp_path / "out").column("id").to_pylist()) == list(range(1, ROWS + 1))


def test_driver_errors_are_classified_from_the_real_server(pg: Any) -> None:
    with pytest.raises(psycopg.Error) as refused:
        psycopg.connect("postgresql://postgres@127.0.0.1:1/test", connect_timeout=5)
    assert is_transient(refused.value)
    for statement in ("SELEC 1", "SELECT * FROM rivet_no_such_table", "SELECT no_such_column FROM pg_class"):
        with pytest.raises(psycopg.Error) as permanent:
            pg.execute(statement)
        assert not is_transient(permanent.value), statement
    with pytest.raises(psycopg.Error) as missing_db:
        psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/rivet_no_such_db")
    assert not is_transient(missing_db.value)
    with psycopg.connect(PG_URL) as victim:
        pid = victim.execute("SELECT pg_backend_pid()").fetchone()
        pg.execute("SELECT pg_terminate_backend(%s)", pid)
        with pytest.raises(psycopg.Error) as killed:
            victim.execute("SELECT 1")
    assert is_transient(killed.value)


# -- memory_threshold_mb -----------------------------------------------------------------------------------


def _lead(memory_mb: int) -> int:
    """How far the prefetch thread runs ahead of a consumer that waits before taking each batch."""
    produced = 0
    lock = threading.Lock()

    def batches() -> Iterator[pa.RecordBatch]:
        nonlocal produced
        for i in range(12):
            with lock:
                produced += 1
            yield pa.record_batch({"i": [i]})

    lead = 0
    with Prefetch(batches(), 8, memory_mb, Meter()) as fetched:
        for consumed, _ in enumerate(fetched, start=1):
            deadline = time.monotonic() + 0.1  # give the producer every chance to run ahead
            while time.monotonic() < deadline and produced < min(12, consumed + 9):
                time.sleep(0.01)
            lead = max(lead, produced - consumed)
    return lead


def test_memory_threshold_pauses_fetching_while_rss_is_above_it() -> None:
    assert _lead(memory_mb=0) >= 8  # no guard: the queue (depth 8) fills ahead of the consumer
    assert _lead(memory_mb=1) <= 2  # RSS is always above 1 MiB: one batch at a time, yet every batch arrives
