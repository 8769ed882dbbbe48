"""Azure Blob destination (rivet_core/destinations/azure.py, docs/commit-protocol.md) against Azurite, started by the
suite (tests/servers.py), with the real PostgreSQL: the Destination contract in process; `rivet run` full,
incremental, parallel chunks and a replaced window read back equal to the source; a SIGKILL mid-upload; Azurite
unreachable mid-run through a FaultProxy; `rivet doctor` and `rivet validate`.

Fault bound: with RIVET_STORE_* set to connect 1 s, read 2 s, step 4 s, a run whose endpoint stalls or dies inside
an 8 MiB block upload exits 1 within FAULT_BOUND_S (the block's deadline, 4 + 8 s, plus the process's exit).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import PG_URL, RIVET, run_cli
from e2e import export_config, insert_series, kill_run_when, run_json, state_show
from faults.proxy import FaultProxy, Mode
from servers import AZURE_KEY_ENV, AZURITE_ACCOUNT, OFFLINE_ENV, Azurite
from servers import azurite as azurite  # the session's Azurite (fixture)
from stores import add_items, items_fixture, rows_of  # noqa: F401  (fixture)

from rivet_core.config import AzureDestinationConfig
from rivet_core.destinations import AzureDestination, StoreTimeouts
from rivet_core.errors import ConfigError, DestinationError

ENV = {**OFFLINE_ENV, **AZURE_KEY_ENV}
SHORT_ENV = {
    "RIVET_STORE_CONNECT_TIMEOUT_S": "1",
    "RIVET_STORE_READ_TIMEOUT_S": "2",
    "RIVET_STORE_STEP_DEADLINE_S": "4",
}
FAULT_BOUND_S = 15.0
FAULT_ROWS = 200_000  # ~11 MB of Parquet: one 8 MiB block and the rest
MID_BLOCK = 2 << 20  # client bytes after which an armed fault goes off: inside the first block
CRASH_ROWS = 400_000


@dataclass
class AzureStore:
    """A container on Azurite, seen both as rivet config and through the SDK's own client."""

    server: Azurite
    bucket: str
    endpoint: str = ""

    def __post_init__(self) -> None:
        self.endpoint = self.endpoint or self.server.endpoint  # no path: rivet appends the account (path style)

    def destination(self, prefix: str = "exports/{export}", **overrides: Any) -> dict[str, Any]:
        base = {"type": "azure", "bucket": self.bucket, "prefix": prefix, "endpoint": self.endpoint,
                "account_name": AZURITE_ACCOUNT, "account_key_env": "RIVET_TEST_AZURE_KEY"}  # fmt: skip
        return {**base, **overrides}

    def open(self, root: str = "", timeouts: StoreTimeouts | None = None, **overrides: Any) -> AzureDestination:
        config = AzureDestinationConfig(**self.destination(root, **overrides))
        return AzureDestination(config, root, env=ENV, timeouts=timeouts)

    def container(self) -> Any:
        return self.server.client().get_container_client(self.bucket)

    def objects(self, prefix: str = "") -> list[str]:
        return sorted(b.name for b in self.container().list_blobs(name_starts_with=prefix or None))

    def uncommitted(self) -> list[str]:
        """Blobs with staged blocks and no committed version (an upload in progress or abandoned)."""
        every = {b.name for b in self.container().list_blobs(include=["uncommittedblobs"])}
        return sorted(every - set(self.objects()))

    def read(self, key: str) -> bytes:
        return bytes(self.container().get_blob_client(key).download_blob().readall())

    def data_keys(self, prefix: str = "exports/") -> list[str]:
        return [k for k in self.objects(prefix) if "/_rivet/" not in k and not k.endswith((".json", "_SUCCESS"))]

    def manifests(self, export: str) -> list[dict[str, Any]]:
        keys = self.objects(f"exports/{export}/_rivet/{export}/units/")
        return [json.loads(self.read(k)) for k in keys if k.endswith("/manifest.json")]

    def temp_keys(self, export: str) -> list[str]:
        return self.objects(f"exports/{export}/_rivet/{export}/_tmp/")

    def table(self, export: str) -> pa.Table:
        keys = self.data_keys(f"exports/{export}/")
        return pa.concat_tables([pq.read_table(pa.BufferReader(self.read(k))) for k in keys])


@pytest.fixture
def store(azurite: Azurite) -> AzureStore:
    return AzureStore(azurite, azurite.new_bucket())


def exactly_once(store: AzureStore, export: str, rows: int) -> None:
    ids = store.table(export).column("id")
    assert len(ids) == rows and pc.count_distinct(ids).as_py() == rows
    assert store.temp_keys(export) == [] and store.uncommitted() == []


# -- the Destination contract, in process -------------------------------------------------------------------


def test_a_streamed_blob_is_invisible_until_committed_and_reads_back_whole(store: AzureStore) -> None:
    dest = store.open("root")
    dest.block_bytes = 1 << 20
    blocks = [os.urandom(1 << 19) for _ in range(7)]
    sink = dest.open_write("_tmp/u1/data.bin")
    for block in blocks:
        sink.write(block)
    sink._wait()  # three blocks staged
    assert dest.list("_tmp/") == [] and store.uncommitted() == ["root/_tmp/u1/data.bin"]
    sink.close()
    assert dest.list("_tmp/") == ["_tmp/u1/data.bin"] and store.uncommitted() == []
    assert dest.size("_tmp/u1/data.bin") == 7 << 19
    assert dest.read_bytes("_tmp/u1/data.bin") == b"".join(blocks)
    with dest.open_read("_tmp/u1/data.bin") as f:
        f.seek(-3, os.SEEK_END)
        assert f.read() == blocks[-1][-3:]
    assert dest.uri("x") == f"az://{store.bucket}/root/x"


def test_promote_copies_server_side_and_never_overwrites(store: AzureStore) -> None:
    dest = store.open("exports")
    table = pa.table({"id": list(range(1000))})
    for name in ("a", "b"):
        with dest.open_write(f"_tmp/{name}.parquet") as f:
            pq.write_table(table, f)
    dest.promote("_tmp/a.parquet", "data/x.parquet")
    assert dest.list("") == ["_tmp/b.parquet", "data/x.parquet"]
    with dest.open_read("data/x.parquet") as f:
        assert pq.read_table(f).equals(table)
    assert dest._copy_if_absent("exports/_tmp/b.parquet", "exports/data/x.parquet", 1) is False  # If-None-Match: *
    with pytest.raises(DestinationError, match=r"refusing to overwrite existing object az://.*/data/x\.parquet"):
        dest.promote("_tmp/b.parquet", "data/x.parquet")
    assert dest.list("") == ["_tmp/b.parquet", "data/x.parquet"]


def test_list_treats_the_prefix_as_a_path_and_clear_discards_staged_blocks(store: AzureStore) -> None:
    dest = store.open()
    for key in ("u/chunk1/a", "u/chunk10/b", "u/chunk1x", "v"):
        dest.write_bytes(key, b"x")
    assert dest.list("u/chunk1") == ["u/chunk1/a"]
    assert dest.list("") == ["u/chunk1/a", "u/chunk10/b", "u/chunk1x", "v"]
    dest.block_bytes = 1 << 20
    sink = dest.open_write("u/chunk1/staged")
    sink.write(os.urandom(3 << 19))
    sink._wait()  # a crash now leaves staged, uncommitted blocks
    assert store.uncommitted() == ["u/chunk1/staged"]
    assert dest.clear("u/chunk1") == 2
    assert dest.list("u/") == ["u/chunk10/b", "u/chunk1x"] and store.uncommitted() == []


def test_missing_container_bad_key_and_unset_variable_fail_clearly(store: AzureStore) -> None:
    missing = AzureStore(store.server, "rivet-no-such-container").open()
    for step in (lambda: missing.list(""), lambda: missing.write_bytes("x", b"1"), lambda: missing.size("x")):
        with pytest.raises(DestinationError, match="azure container 'rivet-no-such-container' does not exist"):
            step()
    config = AzureDestinationConfig(**store.destination(""))
    wrong = AzureDestination(config, "", env={"RIVET_TEST_AZURE_KEY": "d3Jvbmcta2V5"})
    with pytest.raises(DestinationError, match=f"access denied .*storage account '{AZURITE_ACCOUNT}'") as denied:
        wrong.list("")
    assert "d3Jvbmcta2V5" not in str(denied.value)
    with pytest.raises(ConfigError, match=r"destination\.account_key_env: environment variable RIVET_TEST_AZURE_KEY"):
        AzureDestination(config, "", env={})


# -- `rivet run` from PostgreSQL ----------------------------------------------------------------------------


@pytest.mark.pg
def test_full_and_incremental_exports_read_back_equal(store: AzureStore, pg: Any, items: str, tmp_path: Path) -> None:
    add_items(pg, items, range(1, 20_001))
    config = export_config(
        tmp_path,
        {"name": "full", "table": items, "destination": store.destination()},
        {"name": "inc", "table": items, "mode": "incremental", "cursor_column": "id",
         "destination": store.destination()},
    )  # fmt: skip
    summary = run_json(config, "-e", "full", "--validate", env=ENV)
    assert summary["status"] == "success" and summary["rows"] == 20_000 and summary["validated"] == "passed"
    assert summary["files"][0].startswith(f"az://{store.bucket}/exports/full/full_")
    assert rows_of(store.table("full")) == pg.execute(f"SELECT * FROM {items} ORDER BY id").fetchall()

    assert run_json(config, "-e", "inc", env=ENV)["rows"] == 20_000
    add_items(pg, items, range(20_001, 30_001))
    second = run_json(config, "-e", "inc", "--validate", env=ENV)
    assert second["rows"] == 10_000 and second["cursor"]["value"] == "30000"
    assert run_json(config, "-e", "inc", env=ENV)["rows"] == 0
    assert rows_of(store.table("inc")) == pg.execute(f"SELECT * FROM {items} ORDER BY id").fetchall()
    assert len(store.data_keys("exports/inc/")) == 2 and len(store.manifests("inc")) == 2
    assert store.temp_keys("inc") == [] and store.uncommitted() == []

    proc = run_cli("validate", "-c", str(config), "-e", "inc", env=ENV)
    assert proc.returncode == 0 and "[OK]" in proc.stdout, proc.stdout + proc.stderr
    (last,) = store.data_keys("exports/full/")
    store.container().upload_blob(last, b"not parquet", overwrite=True)
    proc = run_cli("validate", "-c", str(config), "-e", "full", env=ENV)
    assert proc.returncode == 1 and "[FAIL]" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.pg
def test_parallel_chunks_and_a_replaced_window(store: AzureStore, pg: Any, items: str, tmp_path: Path) -> None:
    add_items(pg, items, range(1, 20_001))
    config = export_config(
        tmp_path,
        {"name": "ck", "table": items, "mode": "chunked", "chunk_column": "id", "chunk_size": 5000, "parallel": 2,
         "destination": store.destination()},
        {"name": "tw", "table": items, "mode": "time_window", "time_column": "created_at",
         "destination": store.destination()},
    )  # fmt: skip
    assert run_json(config, "-e", "ck", "--validate", env=ENV)["rows"] == 20_000
    assert rows_of(store.table("ck")) == pg.execute(f"SELECT * FROM {items} ORDER BY id").fetchall()
    assert len(store.data_keys("exports/ck/")) == 5

    assert run_json(config, "-e", "tw", "--window", "2026-01-02", env=ENV)["rows"] == 1440
    add_items(pg, items, range(100_000, 100_001))
    pg.execute(f"UPDATE {items} SET created_at = '2026-01-02 12:00:00+00' WHERE id = 100000")
    assert run_json(config, "-e", "tw", "--window", "2026-01-02", env=ENV)["rows"] == 1441
    (key,) = store.data_keys("exports/tw/")
    assert "2026-01-02" in key
    day = "created_at >= '2026-01-02' AND created_at < '2026-01-03'"
    assert rows_of(store.table("tw")) == pg.execute(f"SELECT * FROM {items} WHERE {day} ORDER BY id").fetchall()


@pytest.mark.pg
def test_errors_through_the_cli_name_the_container_or_the_field(store: AzureStore, items: str, tmp_path: Path) -> None:
    gone = AzureStore(store.server, "rivet-missing-container")
    config = export_config(tmp_path, {"name": "ev", "table": items, "destination": gone.destination()})
    proc = run_cli("run", "-c", str(config), env=ENV)
    assert proc.returncode == 1 and "azure container 'rivet-missing-container' does not exist" in proc.stderr
    proc = run_cli("run", "-c", str(config), env={**OFFLINE_ENV, "RIVET_TEST_AZURE_KEY": ""})
    assert proc.returncode == 2, proc.stderr
    assert "destination.account_key_env: environment variable RIVET_TEST_AZURE_KEY is not set" in proc.stderr
    assert "Traceback" not in proc.stderr and AZURE_KEY_ENV["RIVET_TEST_AZURE_KEY"] not in proc.stderr


@pytest.mark.pg
def test_doctor_probes_the_container(store: AzureStore, items: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "dr", "table": items, "destination": store.destination()})
    proc = run_cli("doctor", "-c", str(config), env=ENV)
    (line,) = [line for line in proc.stdout.splitlines() if "destination dr" in line]
    assert "OK" in line and f"az://{store.bucket}/exports/dr is writable" in line, proc.stdout
    assert store.objects() == []  # the probe blob was deleted
    absent = AzureStore(store.server, "rivet-absent").destination()
    config = export_config(tmp_path, {"name": "dr", "table": items, "destination": absent})
    proc = run_cli("doctor", "-c", str(config), env=ENV)
    (line,) = [line for line in proc.stdout.splitlines() if "destination dr" in line]
    assert "FAIL" in line and "azure container 'rivet-absent' does not exist" in line, proc.stdout


# -- a crash and a dead endpoint ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crash_table() -> Iterator[str]:
    """CRASH_ROWS rows of hard-to-compress text, created once for the module."""
    name = "t_azure_crash"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(
            f"CREATE TABLE {name} AS SELECT g::bigint AS id, md5(g::text) AS a, md5((-g)::text) AS b"
            f" FROM generate_series(1, {CRASH_ROWS}) g"
        )
        conn.execute(f"ALTER TABLE {name} ADD PRIMARY KEY (id)")
        yield name
        conn.execute(f"DROP TABLE {name}")


@pytest.mark.pg
@pytest.mark.slow
def test_sigkill_mid_upload_publishes_nothing_and_the_next_run_cleans_up(
    store: AzureStore, crash_table: str, tmp_path: Path
) -> None:
    export = {
        "name": "big", "table": crash_table, "mode": "incremental", "cursor_column": "id",
        "destination": store.destination(), "tuning": {"batch_size": 10_000, "throttle_ms": 20},
        "parquet": {"row_group_strategy": "fixed_rows", "row_group_rows": 10_000},
    }  # fmt: skip
    config = export_config(tmp_path, export)
    assert kill_run_when(config, lambda: bool(store.uncommitted()), env=ENV) == -signal.SIGKILL
    assert store.uncommitted() and store.data_keys() == [] and store.manifests("big") == []

    rerun = run_json(config, env=ENV)
    assert rerun["status"] == "success" and rerun["rows"] == CRASH_ROWS
    exactly_once(store, "big", CRASH_ROWS)


@pytest.fixture
def blobs(pg: Any, table_name: str) -> Iterator[str]:
    pg.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, payload bytea, label text)")
    yield table_name
    pg.execute(f"DROP TABLE {table_name}")


def add_blobs(pg: Any, table: str, ids: range) -> None:
    insert_series(pg, table, "g, decode(md5(g::text) || md5((-g)::text), 'hex'), md5(g::text)", ids)


@pytest.mark.pg
@pytest.mark.parametrize("mode", ["down", "stall"])
def test_azurite_unreachable_mid_run_fails_within_the_bound_and_the_rerun_exports_once(
    store: AzureStore, pg: Any, blobs: str, tmp_path: Path, mode: Mode
) -> None:
    with FaultProxy(store.server.port) as proxy:
        proxied = AzureStore(store.server, store.bucket, endpoint=proxy.endpoint)
        export = {"name": "inc", "table": blobs, "mode": "incremental", "cursor_column": "id",
                  "destination": proxied.destination()}  # fmt: skip
        config = export_config(tmp_path, export)
        add_blobs(pg, blobs, range(1, 1001))
        assert run_json(config, env=ENV)["rows"] == 1000
        before = (state_show(config, "inc", env=ENV), store.data_keys(), len(store.manifests("inc")))
        add_blobs(pg, blobs, range(1001, FAULT_ROWS + 1))

        proxy.arm(mode, MID_BLOCK)
        proc = subprocess.Popen([*RIVET, "run", "-c", str(config)], env={**os.environ, **ENV, **SHORT_ENV},
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            _, stderr = proc.communicate(timeout=120)
        finally:
            proc.kill()
        assert proxy.faulted_at is not None, f"the run ended before the fault:\n{stderr}"
        seconds = time.monotonic() - proxy.faulted_at
        print(f"azure {mode} mid-upload: exit {proc.returncode} {seconds:.1f}s after the fault\n{stderr}")
        assert proc.returncode == 1 and seconds < FAULT_BOUND_S, stderr
        (line,) = [line for line in stderr.splitlines() if store.bucket in line]
        assert proxy.endpoint in line and "uploading part 1 of " in line, line
        assert "Traceback" not in stderr and AZURE_KEY_ENV["RIVET_TEST_AZURE_KEY"] not in stderr

        proxy.set("reset")
        proxy.set("pass")
        assert (state_show(config, "inc", env=ENV), store.data_keys(), len(store.manifests("inc"))) == before
        rerun = run_json(config, env=ENV)
        assert rerun["status"] == "success" and rerun["rows"] == FAULT_ROWS - 1000
        assert rerun["cursor"]["value"] == str(FAULT_ROWS)
        exactly_once(store, "inc", FAULT_ROWS)
        assert len(store.manifests("inc")) == 2
