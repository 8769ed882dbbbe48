"""Exactly once across processes (docs/lease.md, docs/commit-protocol.md): concurrent runs of one export never
duplicate a row (CLI vs CLI on local and S3, Dagster vs Dagster, CLI vs Dagster, checkpointed chunks), different
windows run in parallel, a run SIGKILLed between manifest and `_SUCCESS` is rolled forward by the next run (local,
S3, GCS), and a data connection killed mid-stream ends in one clear line, no traceback.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import CliProcess, run_dagster, start_cli, start_dagster
from e2e import export_config, insert_series
from servers import GcsEmulator, MotoS3
from stores import ENV, Store, querying

from rivet_core.commit import Layout, success_line
from rivet_core.destinations.base import Destination
from rivet_core.destinations.local import LocalDestination

IN_PROCESS = '{"execution": {"config": {"in_process": {}}}}'
ROWS = 50_000
SLOW = {"batch_size": 5_000, "throttle_ms": 350}  # 10 batches: a run streams for ~4 s
SLOWER = {"batch_size": 2_500, "throttle_ms": 500}  # 20 batches, ~10 s: outlasts a second Dagster process's start
HELD = "is being written by run"

pytestmark = pytest.mark.pg


@pytest.fixture
def big(pg: Any, table_name: str) -> Iterator[str]:
    """`id bigint PRIMARY KEY, day timestamptz, note text` with ids 1..ROWS over two days."""
    pg.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, day timestamptz NOT NULL, note text)")
    add_rows(pg, table_name, range(1, ROWS + 1))
    yield table_name
    pg.execute(f"DROP TABLE IF EXISTS {table_name}")


def add_rows(pg: Any, table: str, ids: range) -> None:
    day = f"timestamptz '2026-01-01 00:00:00+00' + (g * 2 / {ROWS}) * interval '1 day'"
    insert_series(pg, table, f"g, {day}, 'n' || g", ids)


def export_of(
    table: str, dest: dict[str, Any] | None = None, mode: str = "incremental", **extra: Any
) -> dict[str, Any]:
    e: dict[str, Any] = {"name": "orders", "table": table, "mode": mode, "tuning": SLOW}
    e.update({"cursor_column": "id"} if mode == "incremental" else {})
    e.update({"dagster": {"key_prefix": ["raw"]}, **extra})
    return {**e, "destination": dest} if dest else e


# -- reading what a destination holds ---------------------------------------------------------------------------


def ids_of(dest: Destination, keys: list[str]) -> list[int]:
    tables = [pq.read_table(pa.BufferReader(dest.read_bytes(k)), columns=["id"]) for k in keys]
    return [i for t in tables for i in t.column("id").to_pylist()]


def trusted_ids(dest: Destination, export: str = "orders") -> list[int]:
    """The ids a reader trusting `_SUCCESS` sees: the parts of units whose `_SUCCESS` matches their manifest."""
    layout, keys = Layout(export), []
    for key in dest.list(layout.units_prefix):
        if key.endswith("/manifest.json"):
            body, success = dest.read_bytes(key), key.replace("/manifest.json", "/_SUCCESS")
            if dest.size(success) is not None and dest.read_bytes(success) == success_line(body):
                keys += [p["key"] for p in json.loads(body)["parts"]]
    return ids_of(dest, keys)


def file_ids(dest: Destination) -> list[int]:
    """The ids of every data file at its final key (what a reader listing the folder sees)."""
    return ids_of(dest, [k for k in dest.list("") if k.endswith(".parquet") and not k.startswith("_rivet/")])


def duplicates(ids: list[int]) -> int:
    return len(ids) - len(set(ids))


def assert_exactly_once(dest: Destination, rows: int = ROWS) -> None:
    trusted, listed = trusted_ids(dest), file_ids(dest)
    assert (duplicates(listed), duplicates(trusted)) == (0, 0), f"{duplicates(listed)} duplicated rows"
    assert sorted(trusted) == sorted(listed) == list(range(1, rows + 1))
    leftovers = [k for k in dest.list("_rivet/") if "/_tmp/" in k or "/owners/" in k or "/." in k or "intent" in k]
    assert leftovers == []


# -- processes --------------------------------------------------------------------------------------------------


def rivet(config: Path, *args: str, env: dict[str, str] | None = None) -> CliProcess:
    return start_cli("run", "-c", str(config), *args, env={**ENV, **(env or {})}, stderr=subprocess.PIPE)


def dagster(folder: Path, home: Path) -> CliProcess:
    env = {**ENV, "RIVET_CONFIG": "rivet.yaml", "DAGSTER_HOME": str(home)}
    if not home.exists():  # two processes creating one fresh SQLite instance race in Dagster's own schema setup
        home.mkdir()
        migrated = run_dagster("instance", "migrate", env=env, timeout=120)
        assert migrated.returncode == 0, migrated.stderr
    argv = ["asset", "materialize", "--select", "raw/orders", "--config-json", IN_PROCESS]
    return start_dagster(*argv, "-m", "rivet_dagster.definitions", cwd=folder, env=env, stderr=subprocess.PIPE,
                         stdout=subprocess.DEVNULL)  # fmt: skip


def finish(*procs: CliProcess) -> list[tuple[int, str]]:
    return [(p.wait(180), p.stderr.read() if p.stderr else "") for p in procs]


def one_wins(outcomes: list[tuple[int, str]]) -> None:
    """Every run ended 0, or 1 naming the holder; at least one wrote."""
    codes = [code for code, _ in outcomes]
    assert 0 in codes, outcomes
    for code, err in outcomes:
        assert code == 0 or (code == 1 and HELD in err and "Traceback" not in err), err[-2000:]


def when_streaming(pg: Any, table: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not querying(pg, f"COPY%{table}"):
        assert time.monotonic() < deadline, "the export never started streaming"
        time.sleep(0.02)


# -- concurrent runs of one export ------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 1, 3])
def test_cli_runs_of_one_export_at_once_never_duplicate_local(big: str, tmp_path: Path, offset: float) -> None:
    config = export_config(tmp_path, export_of(big))
    first = rivet(config)
    time.sleep(offset)
    outcomes = finish(first, rivet(config))
    one_wins(outcomes)
    assert_exactly_once(LocalDestination(tmp_path / "out"))


@pytest.mark.parametrize("offset", [0, 1, 3])
def test_cli_runs_of_one_export_at_once_never_duplicate_s3(
    big: str, tmp_path: Path, moto_s3: MotoS3, offset: float
) -> None:
    store = Store("s3", moto_s3, moto_s3.new_bucket())
    config = export_config(tmp_path, export_of(big, store.destination()))
    first = rivet(config)
    time.sleep(offset)
    outcomes = finish(first, rivet(config))
    one_wins(outcomes)
    assert_exactly_once(store.open("exports/orders"))


@pytest.mark.slow
@pytest.mark.dagster
def test_dagster_materializations_at_once_never_duplicate(big: str, tmp_path: Path) -> None:
    """Three at once: two sharing a DAGSTER_HOME, one with its own; one writes, the others fail naming it."""
    export_config(tmp_path, export_of(big, tuning=SLOWER))
    homes = ["home_a", "home_a", "home_b"]
    outcomes = finish(*[dagster(tmp_path, tmp_path / home) for home in homes])
    one_wins(outcomes)  # a loser that started after the winner's commit exports nothing new and exits 0
    assert [code for code, _ in outcomes].count(1) >= 1, outcomes  # they overlapped: at least one was refused
    assert_exactly_once(LocalDestination(tmp_path / "out"))


@pytest.mark.slow
@pytest.mark.dagster
def test_cli_and_dagster_at_once_never_duplicate(pg: Any, big: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, export_of(big, tuning=SLOWER))
    first = dagster(tmp_path, tmp_path / "home")
    when_streaming(pg, big)
    (code_a, err_a), (code_b, err_b) = finish(first, rivet(config))
    assert code_a == 0, err_a[-3000:]
    assert code_b == 1 and HELD in err_b and "Traceback" not in err_b, err_b
    assert_exactly_once(LocalDestination(tmp_path / "out"))


def test_checkpointed_chunk_runs_at_once_one_wins_the_other_names_the_holder(pg: Any, big: str, tmp_path: Path) -> None:
    chunked = {"chunk_column": "id", "chunk_size": 20_000, "chunk_checkpoint": True, "tuning": SLOWER}
    config = export_config(tmp_path, export_of(big, mode="chunked", **chunked))
    first = rivet(config)
    when_leased(tmp_path)  # the first holds the export's lease (and streams for ~10 s more)
    (code_a, err_a), (code_b, err_b) = finish(first, rivet(config))
    assert code_a == 0, err_a
    assert code_b == 1 and HELD in err_b and "pid" in err_b and "Traceback" not in err_b, err_b
    assert_exactly_once(LocalDestination(tmp_path / "out"))


def when_leased(folder: Path, timeout: float = 180) -> None:
    """Until a run holds the export's lease: its lock file beside the config names the holder."""
    lock = folder / ".rivet_locks" / "orders" / "export.lock"
    deadline = time.monotonic() + timeout
    while not (lock.exists() and b"run_id" in lock.read_bytes()):
        assert time.monotonic() < deadline, "no run took the export's lease"
        time.sleep(0.02)


def test_two_windows_of_one_export_run_in_parallel(pg: Any, big: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, export_of(big, mode="time_window", time_column="day"))
    first = rivet(config, "--window", "2026-01-01")
    when_streaming(pg, big)
    second = rivet(config, "--window", "2026-01-02")
    outcomes = finish(first, second)
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    ids = file_ids(LocalDestination(tmp_path / "out"))
    assert duplicates(ids) == 0 and len(ids) == ROWS - 1  # the last row falls on 2026-01-03


# -- a commit killed between manifest and _SUCCESS is rolled forward ---------------------------------------------


def kill_after_manifest(config: Path) -> None:
    """Run until the commit pauses after the manifest (test hook), then SIGKILL the process."""
    proc = rivet(config, env={"RIVET_TEST_PAUSE_AT": "after_manifest"})
    assert proc.stderr is not None
    for line in proc.stderr:
        if "test pause at after_manifest" in line:
            break
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL


@pytest.mark.parametrize("kind", ["local", "s3", "gcs"])
def test_a_run_killed_after_its_manifest_is_rolled_forward_by_the_next(
    request: pytest.FixtureRequest, pg: Any, table_name: str, tmp_path: Path, kind: str
) -> None:
    pg.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, day timestamptz NOT NULL, note text)")
    try:
        add_rows(pg, table_name, range(1, 5001))
        dest: Destination
        if kind == "local":
            config = export_config(tmp_path, export_of(table_name, tuning={}))
            dest = LocalDestination(tmp_path / "out")
        else:
            server: MotoS3 | GcsEmulator = request.getfixturevalue("moto_s3" if kind == "s3" else "gcs_emulator")
            store = Store(kind, server, server.new_bucket())
            config = export_config(tmp_path, export_of(table_name, store.destination(), tuning={}))
            dest = store.open("exports/orders")
        kill_after_manifest(config)
        (manifest,) = [k for k in dest.list("_rivet/orders/units/") if k.endswith("manifest.json")]
        assert trusted_ids(dest) == []  # committed, but not visible to a reader trusting _SUCCESS
        if kind == "local":  # an orphaned hidden temp file of a dead process
            (tmp_path / "out" / manifest).with_name("._SUCCESS.tmp999999999").write_bytes(b"x")
        add_rows(pg, table_name, range(5001, 6001))
        (code, err), = finish(rivet(config))  # fmt: skip
        assert code == 0, err
        assert "Traceback" not in err
        assert_exactly_once(dest, 6000)
        assert len([k for k in dest.list("_rivet/orders/units/") if k.endswith("/_SUCCESS")]) == 2
    finally:
        pg.execute(f"DROP TABLE IF EXISTS {table_name}")


# -- no stray tracebacks -----------------------------------------------------------------------------------------


def test_a_data_connection_killed_mid_stream_ends_in_one_line_no_traceback(pg: Any, big: str, tmp_path: Path) -> None:
    # More rows than the socket buffers hold, read slowly: the server's COPY is still sending when terminated.
    query = f"SELECT g AS id, repeat('x', 50) AS note FROM generate_series(1, 3000000) AS {big}(g)"
    export = {"name": "orders", "query": query, "mode": "full", "tuning": {**SLOW, "max_retries": 0}}
    config = export_config(tmp_path, export)
    proc = rivet(config)

    def terminate() -> None:
        when_streaming(pg, big)
        pg.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
            (f"COPY%{big}%",),
        )

    killer = threading.Thread(target=terminate)
    killer.start()
    ((code, err),) = finish(proc)
    killer.join()
    assert code == 1, err
    assert "Exception ignored" not in err and "Traceback" not in err, err
    assert [k for k in LocalDestination(tmp_path / "out").list("") if "/_tmp/" in k] == []
