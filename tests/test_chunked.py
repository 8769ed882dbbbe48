"""Chunked exports through `rivet run` (issue 5): coverage, sparse keys, parallel connections, checkpoints, resume."""

from __future__ import annotations

import datetime as dt
import json
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import run_cli, start_cli
from e2e import data_files, export_config, kill_run_when, manifests, rivet_ok, run_json
from engines import Engine, engine_fixture  # noqa: F401 - the `engine` fixture

BILLION = 10**9
FAST = {"profile": "fast"}
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
GAPPY_IDS = [*range(1, 1001), *range(BILLION, BILLION + 1001)]
GAPPY = [(i, f"v{i}", START + (i % 1000) * dt.timedelta(minutes=90)) for i in GAPPY_IDS]


@pytest.fixture
def gappy(engine: Engine, table_name: str) -> Iterator[str]:
    """ids 1..1000 and 10^9..10^9+1000 (a span 10^6 times the row count); ts spread over ~60 UTC days."""
    engine.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, v varchar(20), ts {engine.utc_type} NOT NULL)")
    engine.insert(table_name, GAPPY)
    yield table_name
    engine.execute(f"DROP TABLE {table_name}")


@pytest.fixture
def r3k(pg: Any, table_name: str) -> Iterator[str]:
    """ids 1..3000."""
    pg.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, v text)")
    pg.execute(f"INSERT INTO {table_name} SELECT g, 'v' || g FROM generate_series(1, 3000) g")
    yield table_name
    pg.execute(f"DROP TABLE {table_name}")


def source_ids(pg: Any, table: str) -> list[int]:
    return [r[0] for r in pg.execute(f"SELECT id FROM {table} ORDER BY id")]


def ids_in(files: list[Path]) -> list[int]:
    """Every id in `files`, sorted, duplicates kept (so a row written twice shows)."""
    return sorted(i for f in files for i in pq.read_table(f).column("id").to_pylist())


def chunk_config(folder: Path, table: str, **extra: Any) -> Path:
    return export_config(folder, {"name": "ck", "table": table, "mode": "chunked", "tuning": FAST, **extra})


def chunk_export(table: str, **extra: Any) -> dict[str, Any]:
    return {"name": "ck", "table": table, "mode": "chunked", "chunk_column": "id", "tuning": FAST, **extra}


def chunk_state(config: Path) -> list[dict[str, Any]]:
    """`rivet state chunks -e ck`: the checkpointed runs with their tasks, oldest first."""
    return json.loads(rivet_ok("state", "chunks", "-c", str(config), "-e", "ck").stdout)  # type: ignore[no-any-return]


def run_summary(config: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """`rivet run --json ARGS`: exit code, the export's summary, stderr."""
    proc = run_cli("run", "-c", str(config), "--json", *args)
    summary = json.loads(proc.stdout)["exports"][0] if proc.stdout.strip() else {}
    return proc.returncode, summary, proc.stderr


# -- coverage (PostgreSQL and MariaDB) -----------------------------------------------------------------------


@pytest.mark.parametrize("parallel", [1, 3])
def test_sparse_ids_every_row_once_with_at_most_parallel_plus_one_connections(
    engine: Engine, gappy: str, tmp_path: Path, parallel: int
) -> None:
    tuning = {"profile": "fast", "batch_size": 100, "throttle_ms": 30}  # slow enough to watch the connections
    export = {"name": "ck", "table": gappy, "mode": "chunked", "chunk_size": 250, "parallel": parallel}
    config = engine.config(tmp_path, {**export, "tuning": tuning})  # no chunk_column: the primary key (as 0.7.7)
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        proc = start_cli("run", "-c", str(config), stderr=err)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, engine.sessions_of(proc.pid))
    stderr = log.read_text()
    assert proc.returncode == 0, stderr
    control = 1 if engine.kind == "postgres" else 0  # the connection that exports the snapshot to the workers
    assert peak <= parallel + control  # one connection per worker, never more
    assert peak >= min(parallel, 2) + control  # the poll saw the readers (overlapping when parallel)

    assert "WARNING ck: chunk_column not set; using the primary key column id" in stderr
    assert "sparse key id" in stderr
    files = data_files(tmp_path / "out")
    suffixes = sorted(f.name.rsplit("_chunk", 1)[1].removesuffix(".parquet") for f in files)
    assert suffixes == sorted(str(i) for i in {r[0] // 250 for r in GAPPY})  # `_chunk<lo / chunk_size>`, no empty
    assert ids_in(files) == GAPPY_IDS


def test_chunk_count_covers_every_row_once(engine: Engine, gappy: str, tmp_path: Path) -> None:
    summary = run_json(engine.config(tmp_path, chunk_export(gappy, chunk_count=4)), "--reconcile")
    files = data_files(tmp_path / "out")
    assert 1 <= len(files) <= 4
    assert summary["reconciled"] == "match"
    assert ids_in(files) == GAPPY_IDS


def test_chunk_by_days_puts_each_week_of_utc_days_in_its_own_file(engine: Engine, gappy: str, tmp_path: Path) -> None:
    run_json(engine.config(tmp_path, chunk_export(gappy, chunk_column="ts", chunk_by_days=7)))
    files = data_files(tmp_path / "out")
    first = min(r[2] for r in GAPPY).date()  # every day holds rows, so the ranges are 7-day steps from it
    assert len(files) == len({(r[2].date() - first).days // 7 for r in GAPPY})
    for f in files:
        days = {(t.date() - first).days // 7 for t in pq.read_table(f).column("ts").to_pylist()}
        assert len(days) == 1, f.name
    assert ids_in(files) == GAPPY_IDS


def test_chunk_dense_files_hold_chunk_size_rows(engine: Engine, gappy: str, tmp_path: Path) -> None:
    run_json(engine.config(tmp_path, chunk_export(gappy, chunk_dense=True, chunk_size=300)))
    files = data_files(tmp_path / "out")
    assert sorted(pq.ParquetFile(f).metadata.num_rows for f in files) == [201] + [300] * 6  # 2001 rows
    assert ids_in(files) == GAPPY_IDS


@pytest.mark.pg
def test_non_integer_chunk_column_with_chunk_size_is_a_config_error(pg: Any, tmp_path: Path, table_name: str) -> None:
    pg.execute(f"CREATE TABLE {table_name} AS SELECT g AS id, 'v' || g AS v FROM generate_series(1, 10) g")
    try:
        proc = run_cli("run", "-c", str(chunk_config(tmp_path, table_name, chunk_column="v", chunk_size=100)))
    finally:
        pg.execute(f"DROP TABLE {table_name}")
    assert proc.returncode == 2, proc.stderr
    assert "exports[ck].chunk_column" in proc.stderr and "not an integer column" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert data_files(tmp_path / "out") == []


# -- checkpoints and resume (PostgreSQL: its division by zero fails a chunk) -----------------------------------


def per_chunk_manifests(out: Path) -> Counter[str]:
    return Counter(m["slice"]["key"] for m in manifests(out, "ck"))


@pytest.mark.pg
@pytest.mark.slow
def test_sigkill_then_resume_finishes_without_writing_a_chunk_twice(pg: Any, r3k: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    slow = {"profile": "fast", "batch_size": 100, "throttle_ms": 60}
    config = chunk_config(tmp_path, r3k, chunk_size=300, chunk_checkpoint=True, tuning=slow)  # 11 chunks
    assert kill_run_when(config, lambda: len(manifests(out, "ck")) >= 3) == -signal.SIGKILL
    done_before = per_chunk_manifests(out)
    assert 3 <= len(done_before) < 11

    refused = run_cli("run", "-c", str(config))
    assert refused.returncode == 1
    assert "--resume" in refused.stderr and "rivet state reset-chunks" in refused.stderr
    assert per_chunk_manifests(out) == done_before

    changed = chunk_config(tmp_path, r3k, chunk_size=500, chunk_checkpoint=True)
    other_plan = run_cli("run", "-c", str(changed), "--resume")
    assert other_plan.returncode == 1
    assert "plan of ck changed" in other_plan.stderr
    assert per_chunk_manifests(out) == done_before

    config = chunk_config(tmp_path, r3k, chunk_size=300, chunk_checkpoint=True)  # tuning is not part of the plan
    resumed = run_json(config, "--resume")
    before_kill = sum(m["row_count"] for m in manifests(out, "ck") if m["run_id"] != resumed["run_id"])
    assert resumed["rows"] == 3000 - before_kill
    counts = per_chunk_manifests(out)
    assert set(counts.values()) == {1} and len(counts) == 11
    assert ids_in(data_files(out)) == list(range(1, 3001))
    (run,) = chunk_state(config)
    assert run["status"] == "completed"
    assert [t["status"] for t in run["tasks"]] == ["completed"] * 11

    ok = rivet_ok("reconcile", "-c", str(config), "-e", "ck")
    assert ok.stdout.count("[MATCH]") == 11
    pg.execute(f"DELETE FROM {r3k} WHERE id BETWEEN 301 AND 310")
    bad = run_cli("reconcile", "-c", str(config), "-e", "ck")
    assert bad.returncode == 1
    (line,) = [x for x in bad.stdout.splitlines() if x.startswith("[MISMATCH]")]
    assert line.startswith("[MISMATCH] chunk 1 ") and "source 290, recorded 300, difference 10" in line


@pytest.mark.pg
def test_resume_skips_chunks_already_committed_at_the_destination(pg: Any, r3k: str, tmp_path: Path) -> None:
    """The state store lags the destination (killed between manifest and checkpoint): --resume trusts the manifests."""
    out = tmp_path / "out"
    query = f"SELECT id, v, 1 / (id - 1500) AS x FROM {r3k}"
    export = {"name": "ck", "query": query, "mode": "chunked", "chunk_column": "id", "chunk_size": 1000}
    config = export_config(tmp_path, {**export, "chunk_checkpoint": True, "chunk_max_attempts": 1, "tuning": FAST})
    assert run_cli("run", "-c", str(config)).returncode == 1  # chunk0 committed, chunk1 failed
    import sqlite3

    with sqlite3.connect(tmp_path / ".rivet_state.db") as db:  # as if killed before chunk0's checkpoint
        db.execute("UPDATE rivet_chunk_tasks SET status = 'running' WHERE idx = 0")
    pg.execute(f"DELETE FROM {r3k} WHERE id = 1500")
    run_json(config, "--resume")
    assert per_chunk_manifests(out) == Counter({"chunk0": 1, "chunk1": 1, "chunk2": 1, "chunk3": 1})
    assert ids_in(data_files(out)) == source_ids(pg, r3k)


@pytest.mark.pg
def test_chunk_failing_max_attempts_leaves_the_run_resumable(pg: Any, r3k: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    query = f"SELECT id, v, 1 / (id - 1500) AS x FROM {r3k}"  # division by zero in chunk1 (ids 1000..1999)
    export = {"name": "ck", "query": query, "mode": "chunked", "chunk_column": "id", "chunk_size": 1000}
    config = export_config(tmp_path, {**export, "chunk_checkpoint": True, "chunk_max_attempts": 2, "tuning": FAST})

    code, first, stderr = run_summary(config)
    assert code == 1 and first["status"] == "failed"
    assert "division by zero" in stderr and "chunk 1 attempt 2/2 failed" in stderr
    (run,) = chunk_state(config)
    assert run["status"] == "in_progress"
    tasks = {t["index"]: t for t in run["tasks"]}
    assert tasks[0]["status"] == "completed" and tasks[0]["rows"] == 999
    assert tasks[1]["status"] == "failed" and tasks[1]["attempts"] == 2 and "division by zero" in tasks[1]["error"]
    assert {tasks[i]["status"] for i in (2, 3)} == {"pending"}

    refused = run_cli("run", "-c", str(config))
    assert refused.returncode == 1 and "--resume" in refused.stderr and "reset-chunks" in refused.stderr

    reset = rivet_ok("state", "reset-chunks", "-c", str(config), "-e", "ck")
    assert "abandoned 1" in reset.stdout
    code, second, stderr = run_summary(config)  # not refused any more: a fresh plan that fails the same way
    assert code == 1 and "division by zero" in stderr and "in progress" not in stderr
    assert [r["status"] for r in chunk_state(config)] == ["abandoned", "in_progress"]

    pg.execute(f"DELETE FROM {r3k} WHERE id = 1500")
    resumed = run_json(config, "--resume")
    assert resumed["rows"] == 2000  # chunks 1..3; chunk0 stays as the second run committed it
    latest = {second["run_id"], resumed["run_id"]}
    files = [out / p["key"] for m in manifests(out, "ck") if m["run_id"] in latest for p in m["parts"]]
    assert ids_in(files) == source_ids(pg, r3k)
    assert chunk_state(config)[-1]["status"] == "completed"


@pytest.mark.pg
def test_non_checkpointed_chunk_failure_publishes_no_chunk(r3k: str, tmp_path: Path) -> None:
    query = f"SELECT id, v, 1 / (id - 1500) AS x FROM {r3k}"
    export = {"name": "ck", "query": query, "mode": "chunked", "chunk_column": "id", "chunk_size": 500}
    config = export_config(tmp_path, {**export, "parallel": 2, "tuning": FAST})
    code, summary, stderr = run_summary(config)
    assert code == 1 and summary["status"] == "failed" and "division by zero" in stderr
    out = tmp_path / "out"
    assert data_files(out) == [] and manifests(out, "ck") == []
    assert [p for p in (out / "_rivet" / "ck").rglob("*") if p.is_file()] == []
