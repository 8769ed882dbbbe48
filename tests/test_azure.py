"""What only the Azure Blob destination has (rivet_core/destinations/azure.py), against Azurite started by the
suite: staged blocks that stay invisible until committed and that `clear` discards, the conditional server-side
copy, account-key credentials, and the container named by `rivet run` and `rivet doctor`. The contract and the
exports shared with S3 and GCS run for Azure too, in tests/test_object_stores.py and
tests/faults/test_object_store_faults.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_cli
from e2e import export_config
from servers import AZURE_KEY_ENV, AZURITE_ACCOUNT, OFFLINE_ENV, Azurite
from stores import ENV, Store, items_fixture  # noqa: F401  (fixture)

from rivet_core.config import AzureDestinationConfig
from rivet_core.destinations import AzureDestination
from rivet_core.errors import ConfigError, DestinationError


@pytest.fixture
def store(azurite: Azurite) -> Store:
    return Store("azure", azurite, azurite.new_bucket())


# -- the Destination contract, in process -------------------------------------------------------------------


def test_a_streamed_blob_is_invisible_until_committed_and_reads_back_whole(store: Store) -> None:
    dest = store.open("root")
    dest.block_bytes = 1 << 20
    blocks = [os.urandom(1 << 19) for _ in range(7)]
    sink = dest.open_write("_tmp/u1/data.bin")
    for block in blocks:
        sink.write(block)
    sink._wait()  # three blocks staged
    assert dest.list("_tmp/") == [] and store.uploads() == ["root/_tmp/u1/data.bin"]
    sink.close()
    assert dest.list("_tmp/") == ["_tmp/u1/data.bin"] and store.uploads() == []
    assert dest.size("_tmp/u1/data.bin") == 7 << 19
    assert dest.read_bytes("_tmp/u1/data.bin") == b"".join(blocks)
    with dest.open_read("_tmp/u1/data.bin") as f:
        f.seek(-3, os.SEEK_END)
        assert f.read() == blocks[-1][-3:]
    assert dest.uri("x") == f"az://{store.bucket}/root/x"


def test_promote_copies_server_side_and_never_overwrites(store: Store) -> None:
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


def test_list_treats_the_prefix_as_a_path_and_clear_discards_staged_blocks(store: Store) -> None:
    dest = store.open()
    for key in ("u/chunk1/a", "u/chunk10/b", "u/chunk1x", "v"):
        dest.write_bytes(key, b"x")
    assert dest.list("u/chunk1") == ["u/chunk1/a"]
    assert dest.list("") == ["u/chunk1/a", "u/chunk10/b", "u/chunk1x", "v"]
    dest.block_bytes = 1 << 20
    sink = dest.open_write("u/chunk1/staged")
    sink.write(os.urandom(3 << 19))
    sink._wait()  # a crash now leaves staged, uncommitted blocks
    assert store.uploads() == ["u/chunk1/staged"]
    assert dest.clear("u/chunk1") == 2
    assert dest.list("u/") == ["u/chunk10/b", "u/chunk1x"] and store.uploads() == []


def test_missing_container_bad_key_and_unset_variable_fail_clearly(store: Store) -> None:
    missing = Store("azure", store.server, "rivet-no-such-container").open()
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


# -- `rivet run` and `rivet doctor` from PostgreSQL -------------------------------------------------------


@pytest.mark.pg
def test_errors_through_the_cli_name_the_container_or_the_field(store: Store, items: str, tmp_path: Path) -> None:
    gone = Store("azure", store.server, "rivet-missing-container")
    config = export_config(tmp_path, {"name": "ev", "table": items, "destination": gone.destination()})
    proc = run_cli("run", "-c", str(config), env=ENV)
    assert proc.returncode == 1 and "azure container 'rivet-missing-container' does not exist" in proc.stderr
    proc = run_cli("run", "-c", str(config), env={**OFFLINE_ENV, "RIVET_TEST_AZURE_KEY": ""})
    assert proc.returncode == 2, proc.stderr
    assert "destination.account_key_env: environment variable RIVET_TEST_AZURE_KEY is not set" in proc.stderr
    assert "Traceback" not in proc.stderr and AZURE_KEY_ENV["RIVET_TEST_AZURE_KEY"] not in proc.stderr


@pytest.mark.pg
def test_doctor_probes_the_container(store: Store, items: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "dr", "table": items, "destination": store.destination()})
    proc = run_cli("doctor", "-c", str(config), env=ENV)
    (line,) = [line for line in proc.stdout.splitlines() if "destination dr" in line]
    assert "OK" in line and f"az://{store.bucket}/exports/dr is writable" in line, proc.stdout
    assert store.objects() == []  # the probe blob was deleted
    absent = Store("azure", store.server, "rivet-absent").destination()
    config = export_config(tmp_path, {"name": "dr", "table": items, "destination": absent})
    proc = run_cli("doctor", "-c", str(config), env=ENV)
    (line,) = [line for line in proc.stdout.splitlines() if "destination dr" in line]
    assert "FAIL" in line and "azure container 'rivet-absent' does not exist" in line, proc.stdout
