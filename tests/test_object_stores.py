"""S3, GCS and Azure Blob destinations (docs/commit-protocol.md): the Destination contract against moto's S3
server, a GCS emulator and Azurite, and `rivet run` exports from the real PostgreSQL to each, including a SIGKILL
mid-upload. Network faults (a stalled or dead endpoint) are in tests/faults/test_object_store_faults.py; what only
Azure has (staged blocks, its credentials) in tests/test_azure.py."""

from __future__ import annotations

import io
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import PG_URL, run_cli
from e2e import export_config, kill_run_when, run_json
from servers import OFFLINE_ENV, S3_KEY_ENV, MotoS3
from stores import ENV, Store, add_items, items_fixture, rows_of, store_fixture  # noqa: F401  (fixtures)

from rivet_core.config import GcsDestinationConfig, S3DestinationConfig
from rivet_core.destinations import GcsDestination, S3Destination
from rivet_core.errors import ConfigError, DestinationError

CRASH_ROWS = 600_000


# -- the Destination contract, in process -------------------------------------------------------------------


def test_a_streamed_object_is_invisible_until_closed_and_reads_back_whole(store: Store) -> None:
    dest = store.open("root")
    dest.part_bytes = dest.chunk_bytes = 5 << 20  # type: ignore[union-attr]
    blocks = [os.urandom(1 << 20) for _ in range(12)]
    sink = dest.open_write("_tmp/u1/data.bin")
    for block in blocks:
        sink.write(block)
    assert dest.list("_tmp/") == []  # 10 MiB shipped, but no object until the upload completes
    sink.close()
    assert dest.list("_tmp/") == ["_tmp/u1/data.bin"]
    assert dest.size("_tmp/u1/data.bin") == 12 << 20
    assert dest.read_bytes("_tmp/u1/data.bin") == b"".join(blocks)
    with dest.open_read("_tmp/u1/data.bin") as f:
        f.seek(-3, io.SEEK_END)
        assert f.read() == blocks[-1][-3:]
    assert store.objects() == ["root/_tmp/u1/data.bin"]


def test_list_treats_the_prefix_as_a_path(store: Store) -> None:
    dest = store.open()
    for key in ("u/chunk1/a", "u/chunk10/b", "u/chunk1x", "v"):
        dest.write_bytes(key, b"x")
    assert dest.list("u/chunk1") == ["u/chunk1/a"]
    assert dest.list("u/chunk1/a") == ["u/chunk1/a"]
    assert dest.list("") == ["u/chunk1/a", "u/chunk10/b", "u/chunk1x", "v"]
    assert dest.clear("u/chunk1") == 1
    assert dest.list("u/") == ["u/chunk10/b", "u/chunk1x"]


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
    with pytest.raises(DestinationError, match=r"refusing to overwrite existing object .*exports/data/x\.parquet"):
        dest.promote("_tmp/b.parquet", "data/x.parquet")
    assert dest.list("") == ["_tmp/b.parquet", "data/x.parquet"]


def test_s3_objects_over_the_copy_limit_are_promoted_part_by_part(moto_s3: MotoS3) -> None:
    store = Store("s3", moto_s3, moto_s3.new_bucket())
    dest = store.open()
    body = os.urandom(12 << 20)
    dest.write_bytes("tmp/big", body)
    dest.copy_limit = 5 << 20  # type: ignore[union-attr]  # three UploadPartCopy ranges instead of one CopyObject
    dest.promote("tmp/big", "big")
    assert store.objects() == ["big"] and store.read("big") == body
    assert store.uploads() == []


def test_s3_clear_aborts_unfinished_multipart_uploads(moto_s3: MotoS3) -> None:
    store = Store("s3", moto_s3, moto_s3.new_bucket())
    dest = store.open("r")
    dest.part_bytes = 5 << 20  # type: ignore[union-attr]
    sink = dest.open_write("_tmp/u/part.bin")
    sink.write(os.urandom(6 << 20))
    sink._wait()  # type: ignore[attr-defined]  # the first part is up: a crash now leaves an unfinished upload
    assert store.uploads() == ["r/_tmp/u/part.bin"]
    assert dest.clear("_tmp/") == 1
    assert store.uploads() == [] and store.objects() == []


def test_missing_bucket_fails_naming_it(store: Store) -> None:
    store.bucket = "rivet-no-such-bucket"
    dest = store.open()
    with pytest.raises(DestinationError, match=f"{store.label} does not exist"):
        dest.list("")
    with pytest.raises(DestinationError, match="'rivet-no-such-bucket' does not exist"):
        dest.write_bytes("x", b"1")


def test_s3_credentials_are_read_from_the_named_variables(moto_s3: MotoS3) -> None:
    config = S3DestinationConfig(**Store("s3", moto_s3, "b").destination(session_token_env="RIVET_TEST_S3_TOKEN"))
    with pytest.raises(ConfigError, match=r"destination\.session_token_env: environment variable RIVET_TEST_S3_TOKEN"):
        S3Destination(config, "", env=S3_KEY_ENV)
    config = S3DestinationConfig(type="s3", bucket="b", aws_profile="rivet-no-such-profile")
    with pytest.raises(ConfigError, match=r"destination\.aws_profile: profile 'rivet-no-such-profile'"):
        S3Destination(config, "", env={})


def test_s3_default_chain_and_anonymous_access(moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store("s3", moto_s3, moto_s3.new_bucket())
    plain = {"type": "s3", "bucket": store.bucket, "endpoint": store.endpoint, "region": "us-east-1"}
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    with pytest.raises(ConfigError, match="no AWS credentials found for s3 bucket"):
        S3Destination(S3DestinationConfig(**plain), "").list("")
    S3Destination(S3DestinationConfig(**plain, allow_anonymous=True), "").write_bytes("anon", b"1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-the-environment")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "chain-secret")
    S3Destination(S3DestinationConfig(**plain), "").write_bytes("chain", b"2")
    assert store.objects() == ["anon", "chain"]


def test_gcs_credentials_file_must_exist(tmp_path: Path) -> None:
    config = GcsDestinationConfig(type="gcs", bucket="b", credentials_file="keys/sa.json")
    with pytest.raises(ConfigError, match=r"destination.credentials_file: .*keys/sa\.json does not exist"):
        GcsDestination(config, "", base_dir=tmp_path)


# -- `rivet run` from PostgreSQL ----------------------------------------------------------------------------


@pytest.mark.pg
def test_full_and_incremental_exports_to_the_bucket_read_back_equal(
    store: Store, pg: Any, items: str, tmp_path: Path
) -> None:
    add_items(pg, items, range(1, 20_001))
    config = export_config(
        tmp_path,
        {"name": "full", "table": items, "destination": store.destination()},
        {"name": "inc", "table": items, "mode": "incremental", "cursor_column": "id",
         "destination": store.destination()},
    )  # fmt: skip
    summary = run_json(config, "-e", "full", "--validate", env=ENV)
    assert summary["status"] == "success" and summary["rows"] == 20_000 and summary["validated"] == "passed"
    assert summary["files"][0].startswith(f"{store.scheme}://{store.bucket}/exports/full/full_")
    source = pg.execute(f"SELECT * FROM {items} ORDER BY id").fetchall()
    assert rows_of(store.table("full")) == source

    assert run_json(config, "-e", "inc", env=ENV)["rows"] == 20_000
    add_items(pg, items, range(20_001, 30_001))
    second = run_json(config, "-e", "inc", "--validate", env=ENV)
    assert second["rows"] == 10_000 and second["cursor"]["value"] == "30000"
    assert run_json(config, "-e", "inc", env=ENV)["rows"] == 0
    assert rows_of(store.table("inc")) == pg.execute(f"SELECT * FROM {items} ORDER BY id").fetchall()
    assert len(store.data_keys("exports/inc/")) == 2 and len(store.manifests("inc")) == 2
    assert store.temp_keys("inc") == [] and store.uploads() == []


@pytest.mark.pg
def test_missing_bucket_exits_1_naming_it(store: Store, items: str, tmp_path: Path) -> None:
    store.bucket = "rivet-missing-bucket"
    config = export_config(tmp_path, {"name": "ev", "table": items, "destination": store.destination()})
    proc = run_cli("run", "-c", str(config), env=ENV)
    assert proc.returncode == 1, proc.stderr
    assert f"{store.label} does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr and S3_KEY_ENV["RIVET_TEST_S3_SECRET"] not in proc.stderr


@pytest.mark.pg
def test_missing_credential_variable_exits_2_naming_it(moto_s3: MotoS3, items: str, tmp_path: Path) -> None:
    store = Store("s3", moto_s3, moto_s3.new_bucket())
    config = export_config(tmp_path, {"name": "ev", "table": items, "destination": store.destination()})
    env = {**OFFLINE_ENV, "RIVET_TEST_S3_KEY": "key-id"}
    proc = run_cli("run", "-c", str(config), env={**env, "RIVET_TEST_S3_SECRET": ""})
    assert proc.returncode == 2, proc.stderr
    assert "destination.secret_key_env: environment variable RIVET_TEST_S3_SECRET is not set" in proc.stderr
    assert "Traceback" not in proc.stderr and store.objects() == []


# -- SIGKILL mid-upload -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crash_table() -> Iterator[str]:
    """CRASH_ROWS rows of hard-to-compress text (~25 MB of Parquet), created once for the module."""
    name = "t_object_store_crash"
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
    store: Store, crash_table: str, tmp_path: Path
) -> None:
    export = {
        "name": "big", "table": crash_table, "mode": "incremental", "cursor_column": "id",
        "destination": store.destination(), "tuning": {"batch_size": 10_000, "throttle_ms": 20},
        "parquet": {"row_group_strategy": "fixed_rows", "row_group_rows": 10_000},
    }  # fmt: skip
    if store.kind == "gcs":
        export["max_file_size"] = "6MB"  # a finished temp part is visible while the next one streams
    config = export_config(tmp_path, export)

    def uploading() -> bool:
        """S3/Azure: an upload of a temp part is open. GCS: a temp part exists and the next one streams."""
        return bool(store.temp_keys("big") if store.kind == "gcs" else store.uploads())

    assert kill_run_when(config, uploading, env=ENV) == -signal.SIGKILL, "the run finished before it could be killed"
    assert uploading()
    assert store.data_keys() == [] and store.manifests("big") == []

    rerun = run_json(config, env=ENV)
    assert rerun["status"] == "success" and rerun["rows"] == CRASH_ROWS
    assert store.temp_keys("big") == [] and store.uploads() == []
    ids = store.table("big").column("id")
    assert len(ids) == CRASH_ROWS and pc.count_distinct(ids).as_py() == CRASH_ROWS


@pytest.mark.pg
def test_parallel_chunks_and_a_replaced_window_in_the_bucket(store: Store, pg: Any, items: str, tmp_path: Path) -> None:
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
    assert len(store.data_keys("exports/ck/")) == 5  # key ranges aligned to chunk_size: 0-4999 … 20000-24999

    assert run_json(config, "-e", "tw", "--window", "2026-01-02", env=ENV)["rows"] == 1440
    add_items(pg, items, range(100_000, 100_001))
    pg.execute(f"UPDATE {items} SET created_at = '2026-01-02 12:00:00+00' WHERE id = 100000")
    assert run_json(config, "-e", "tw", "--window", "2026-01-02", env=ENV)["rows"] == 1441
    (key,) = store.data_keys("exports/tw/")
    assert "2026-01-02" in key
    day = "created_at >= '2026-01-02' AND created_at < '2026-01-03'"
    assert rows_of(store.table("tw")) == pg.execute(f"SELECT * FROM {items} WHERE {day} ORDER BY id").fetchall()
