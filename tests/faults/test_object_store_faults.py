"""Object-store faults (rivet_core/destinations/timeouts.py, docs/commit-protocol.md): S3 (moto server), GCS
(emulator) and Azure Blob (Azurite) behind a FaultProxy that stalls, resets or goes down mid-request.

In process, every Destination step ends in a DestinationError within its deadline, and a store found dead fails
the next step at once. Through `rivet run`, with short timeouts set by the RIVET_STORE_* variables (the real
mechanism, smaller numbers): a stall mid-upload during a full export, and the endpoint killed mid-export of an
incremental one, end in exit 1 within FAULT_BOUND_S of the fault with one line naming the bucket, the endpoint and
the step; nothing is visible at final keys, the cursor is unchanged, and the rerun once the fault cleared exports
every row exactly once (by primary key).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from conftest import start_cli
from e2e import export_config, insert_series, run_json, state_show
from faults.proxy import FaultProxy, Mode
from stores import ENV, Store, store_fixture  # noqa: F401  (fixture)

from rivet_core.destinations import StoreTimeouts
from rivet_core.errors import DestinationError

pytestmark = pytest.mark.slow

# Test-sized bounds: connect 1 s, read 2 s, a step 4 s (an 8 MiB part: 4 + 8 s), two S3 attempts.
SHORT_ENV = {
    "RIVET_STORE_CONNECT_TIMEOUT_S": "1",
    "RIVET_STORE_READ_TIMEOUT_S": "2",
    "RIVET_STORE_STEP_DEADLINE_S": "4",
    "AWS_MAX_ATTEMPTS": "2",
}
FAULT_BOUND_S = 15.0  # the longest deadline (one part: 12 s) plus the process's own exit
ROWS = 200_000  # ~11 MB of Parquet: one 8 MiB part and the rest, so the fault lands inside a part upload
MID_PART = 2 << 20  # client bytes after which an armed fault goes off: inside the first part


@pytest.fixture
def proxied(store: Store) -> Iterator[tuple[Store, FaultProxy]]:
    """The test's bucket reached through a FaultProxy (in `pass` mode) in front of its server."""
    with FaultProxy(store.server.port) as proxy:
        yield Store(store.kind, store.server, store.bucket, endpoint=proxy.endpoint), proxy


@pytest.fixture
def blobs(pg: Any, table_name: str) -> Iterator[str]:
    """An empty table whose rows are mostly incompressible bytes (`add_blobs` fills it)."""
    pg.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, payload bytea, label text)")
    yield table_name
    pg.execute(f"DROP TABLE {table_name}")


def add_blobs(pg: Any, table: str, ids: range) -> None:
    select = "g, decode(md5(g::text) || md5((-g)::text), 'hex'), md5(g::text)"
    insert_series(pg, table, select, ids)


def run_until_fault(config: Path, proxy: FaultProxy, mode: Mode) -> tuple[int, str, float]:
    """`rivet run` with the short bounds, `mode` armed mid-part: exit code, stderr, seconds from fault to exit."""
    proxy.arm(mode, MID_PART)
    proc = start_cli("run", "-c", str(config), env={**ENV, **SHORT_ENV}, stderr=subprocess.PIPE)
    try:
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    ended = time.monotonic()
    assert proxy.faulted_at is not None, f"the run ended before the fault:\n{stderr}"
    return proc.returncode, stderr, ended - proxy.faulted_at


def assert_one_clear_line(stderr: str, store: Store, step: str) -> None:
    """The failure is one line naming the bucket, the endpoint and the step; no traceback, no secret."""
    (line,) = [line for line in stderr.splitlines() if store.label in line]  # (the summary line names the URI)
    assert store.endpoint in line and step in line, line
    assert "Traceback" not in stderr
    assert ENV["RIVET_TEST_S3_SECRET"] not in stderr and ENV["RIVET_TEST_AZURE_KEY"] not in stderr


def ids_exactly_once(store: Store, export: str, rows: int) -> None:
    ids = store.table(export).column("id")
    assert len(ids) == rows and pc.count_distinct(ids).as_py() == rows
    assert store.temp_keys(export) == [] and store.uploads() == []


# -- in process: every step bounded -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["stall", "reset", "down"])
def test_each_step_ends_within_its_deadline_and_a_dead_store_fails_at_once(
    proxied: tuple[Store, FaultProxy], mode: Mode
) -> None:
    store, proxy = proxied
    dest = store.open("r", StoreTimeouts(connect_timeout_s=0.5, read_timeout_s=1, step_deadline_s=2))
    dest.write_bytes("before", b"1")
    proxy.set(mode)
    started = time.monotonic()
    with pytest.raises(DestinationError, match=store.label) as failure:
        dest.write_bytes("manifest.json", b"{}")
    assert time.monotonic() - started < 3.5  # the 2 s step deadline (and slack), whatever the SDK would retry
    assert "writing r/manifest.json" in str(failure.value) and proxy.endpoint in str(failure.value)
    started = time.monotonic()
    with pytest.raises(DestinationError, match=r"writing r/manifest\.json"):
        dest.list("")  # the store is down for this destination: no second wait
    assert time.monotonic() - started < 0.1


# -- `rivet run` --------------------------------------------------------------------------------------------


@pytest.mark.pg
def test_a_stall_mid_upload_of_a_full_export_fails_within_the_bound_and_the_rerun_exports_once(
    proxied: tuple[Store, FaultProxy], pg: Any, blobs: str, tmp_path: Path
) -> None:
    store, proxy = proxied
    add_blobs(pg, blobs, range(1, ROWS + 1))
    # a 1 s source stall bound: the fetch thread waits on the stalled writer for far longer, which is no stall
    export = {"name": "full", "table": blobs, "destination": store.destination(), "tuning": {"stall_timeout_s": 1}}
    config = export_config(tmp_path, export)

    code, stderr, seconds = run_until_fault(config, proxy, "stall")
    print(f"{store.kind} stall mid-upload: exit {code} {seconds:.1f}s after the fault\n{stderr}")
    assert code == 1 and seconds < FAULT_BOUND_S, stderr
    assert_one_clear_line(stderr, store, "uploading part 1 of ")
    assert "stalled" not in stderr

    proxy.set("reset")  # the path recovers: stale connections are gone (the GCS emulator serves one at a time)
    proxy.set("pass")
    assert store.data_keys() == [] and store.manifests("full") == []
    assert run_json(config, env=ENV)["rows"] == ROWS
    ids_exactly_once(store, "full", ROWS)


@pytest.mark.pg
def test_the_endpoint_killed_mid_export_fails_within_the_bound_without_commit_and_the_rerun_exports_once(
    proxied: tuple[Store, FaultProxy], pg: Any, blobs: str, tmp_path: Path
) -> None:
    store, proxy = proxied
    export = {"name": "inc", "table": blobs, "mode": "incremental", "cursor_column": "id",
              "destination": store.destination()}  # fmt: skip
    config = export_config(tmp_path, export)
    add_blobs(pg, blobs, range(1, 1001))
    assert run_json(config, env=ENV)["rows"] == 1000
    before = (state_show(config, "inc", env=ENV), store.objects())
    before_keys = store.data_keys()
    add_blobs(pg, blobs, range(1001, ROWS + 1))

    code, stderr, seconds = run_until_fault(config, proxy, "down")
    print(f"{store.kind} endpoint killed mid-export: exit {code} {seconds:.1f}s after the fault\n{stderr}")
    assert code == 1 and seconds < FAULT_BOUND_S, stderr
    assert_one_clear_line(stderr, store, "uploading part 1 of ")

    proxy.start()
    # the failed run's claim and its lease object (unreachable at release), both removed by the next run
    outside_bookkeeping = ("/_rivet/inc/owners/", "/_rivet/inc/lease/")
    after = [k for k in store.objects() if not any(b in k for b in outside_bookkeeping)]
    assert (state_show(config, "inc", env=ENV), after) == before
    assert len(store.manifests("inc")) == 1 and store.data_keys() == before_keys
    rerun = run_json(config, env=ENV)
    assert rerun["status"] == "success" and rerun["rows"] == ROWS - 1000
    assert rerun["cursor"]["value"] == str(ROWS)
    ids_exactly_once(store, "inc", ROWS)
    assert len(store.manifests("inc")) == 2
