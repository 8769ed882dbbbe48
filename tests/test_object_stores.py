"""S3 and GCS destinations (design §3, §5): the Destination contract against moto's S3 server and a GCS emulator,
and `rivet run` exports from the real PostgreSQL to both, including a SIGKILL mid-upload and an S3 outage mid-run."""

from __future__ import annotations

import io
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
from servers import OFFLINE_ENV, S3_KEY_ENV, GcsEmulator, MotoS3, TcpProxy

from rivet_core.config import GcsDestinationConfig as GcsConfig
from rivet_core.config import S3DestinationConfig as S3Config
from rivet_core.destinations.gcs import GcsDestination
from rivet_core.destinations.s3 import S3Destination
from rivet_core.errors import ConfigError, DestinationError

ENV = {**OFFLINE_ENV, **S3_KEY_ENV}
CRASH_ROWS = 600_000


@dataclass
class Store:
    """A bucket on one of the test servers, seen both as rivet config and directly through the vendor's client."""

    kind: str
    server: MotoS3 | GcsEmulator
    bucket: str
    endpoint: str = ""

    def __post_init__(self) -> None:
        self.endpoint = self.endpoint or self.server.endpoint

    def destination(self, prefix: str = "exports/{export}", **overrides: Any) -> dict[str, Any]:
        if self.kind == "s3":
            base = {"type": "s3", "bucket": self.bucket, "prefix": prefix, "endpoint": self.endpoint,
                    "region": "us-east-1", "access_key_env": "RIVET_TEST_S3_KEY",
                    "secret_key_env": "RIVET_TEST_S3_SECRET"}  # fmt: skip
        else:
            base = {"type": "gcs", "bucket": self.bucket, "prefix": prefix, "endpoint": self.endpoint,
                    "allow_anonymous": True}  # fmt: skip
        return {**base, **overrides}

    def open(self, root: str = "") -> S3Destination | GcsDestination:
        """rivet's own destination object on this bucket."""
        if self.kind == "s3":
            return S3Destination(S3Config(**self.destination(root)), root, env=ENV)
        return GcsDestination(GcsConfig(**self.destination(root)), root)

    def objects(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket under `prefix`, read with the vendor's client."""
        if self.kind == "s3":
            pages = self.server.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        return sorted(b.name for b in self.server.client().list_blobs(self.bucket, prefix=prefix))

    def read(self, key: str) -> bytes:
        if self.kind == "s3":
            return self.server.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]
        return self.server.client().bucket(self.bucket).blob(key).download_as_bytes()  # type: ignore[no-any-return]

    def data_keys(self, prefix: str = "exports/") -> list[str]:
        """Data files at their final keys (rivet's `_rivet/` bookkeeping excluded)."""
        return [k for k in self.objects(prefix) if "/_rivet/" not in k and not k.endswith((".json", "_SUCCESS"))]

    def manifests(self, export: str, prefix: str = "exports/") -> list[dict[str, Any]]:
        keys = self.objects(f"{prefix}{export}/_rivet/{export}/units/")
        return [json.loads(self.read(k)) for k in keys if k.endswith("/manifest.json")]

    def temp_keys(self, export: str, prefix: str = "exports/") -> list[str]:
        return self.objects(f"{prefix}{export}/_rivet/{export}/_tmp/")

    def uploads(self) -> list[str]:
        """Keys with an unfinished multipart upload (S3; GCS resumable sessions are not listable)."""
        if self.kind != "s3":
            return []
        return [u["Key"] for u in self.server.client().list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])]

    def table(self, export: str) -> pa.Table:
        """The export's data files (listed with the vendor's client) read back with pyarrow, as one table."""
        keys = self.data_keys(f"exports/{export}/")
        return pa.concat_tables([pq.read_table(pa.BufferReader(self.read(k))) for k in keys])


@pytest.fixture(params=["s3", "gcs"])
def store(request: pytest.FixtureRequest) -> Store:
    """A fresh bucket on the session's S3 server or GCS emulator."""
    server = request.getfixturevalue("moto_s3" if request.param == "s3" else "gcs_emulator")
    return Store(request.param, server, server.new_bucket())


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
    with pytest.raises(DestinationError, match=f"{store.kind} bucket 'rivet-no-such-bucket' does not exist"):
        dest.list("")
    with pytest.raises(DestinationError, match="'rivet-no-such-bucket' does not exist"):
        dest.write_bytes("x", b"1")


def test_s3_credentials_are_read_from_the_named_variables(moto_s3: MotoS3) -> None:
    config = S3Config(**Store("s3", moto_s3, "b").destination(session_token_env="RIVET_TEST_S3_TOKEN"))
    with pytest.raises(ConfigError, match=r"destination\.session_token_env: environment variable RIVET_TEST_S3_TOKEN"):
        S3Destination(config, "", env=S3_KEY_ENV)
    config = S3Config(type="s3", bucket="b", aws_profile="rivet-no-such-profile")
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
        S3Destination(S3Config(**plain), "").list("")
    S3Destination(S3Config(**plain, allow_anonymous=True), "").write_bytes("anon", b"1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-the-environment")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "chain-secret")
    S3Destination(S3Config(**plain), "").write_bytes("chain", b"2")
    assert store.objects() == ["anon", "chain"]


def test_gcs_credentials_file_must_exist(tmp_path: Path) -> None:
    config = GcsConfig(type="gcs", bucket="b", credentials_file="keys/sa.json")
    with pytest.raises(ConfigError, match=r"destination.credentials_file: .*keys/sa\.json does not exist"):
        GcsDestination(config, "", base_dir=tmp_path)


# -- `rivet run` from PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture
def items(pg: Any, table_name: str) -> Iterator[str]:
    """A table of several types; `add_items` fills it."""
    pg.execute(
        f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, name text, amount numeric(12,2),"
        " created_at timestamptz NOT NULL, flag bool)"
    )
    yield table_name
    pg.execute(f"DROP TABLE {table_name}")


def add_items(pg: Any, table: str, ids: range) -> None:
    select = "g, 'item ' || g, g * 1.25, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute', g %% 3 = 0"
    insert_series(pg, table, select, ids)


def querying(pg: Any, table: str) -> bool:
    """Whether another session is running a statement on `table` (the export is reading its source)."""
    sql = "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s AND pid <> pg_backend_pid()"
    return pg.execute(sql, (f"%{table}%",)).fetchone() is not None


def rows_of(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in table.sort_by("id").to_pylist()]


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
    scheme = {"s3": "s3", "gcs": "gs"}[store.kind]
    assert summary["files"][0].startswith(f"{scheme}://{store.bucket}/exports/full/full_")
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
    assert f"{store.kind} bucket 'rivet-missing-bucket' does not exist" in proc.stderr
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


@pytest.mark.pg
def test_s3_outage_mid_run_fails_without_commit_and_the_rerun_has_no_duplicates(
    moto_s3: MotoS3, pg: Any, items: str, tmp_path: Path
) -> None:
    proxy = TcpProxy(moto_s3.port)
    proxy.start()
    try:
        store = Store("s3", moto_s3, moto_s3.new_bucket(), endpoint=proxy.endpoint)
        export = {"name": "inc", "table": items, "mode": "incremental", "cursor_column": "id",
                  "destination": store.destination(), "tuning": {"batch_size": 1000, "throttle_ms": 50}}  # fmt: skip
        config = export_config(tmp_path, export)
        add_items(pg, items, range(1, 10_001))
        assert run_json(config, env=ENV)["rows"] == 10_000
        before = (state_show(config, "inc", env=ENV), store.objects())
        outside_bookkeeping = "/_rivet/inc/owners/"  # the failed run's claim, removed by the next run
        add_items(pg, items, range(10_001, 40_001))

        env = {**os.environ, **ENV, "AWS_MAX_ATTEMPTS": "2"}
        proc = subprocess.Popen([*RIVET, "run", "-c", str(config)], env=env, stderr=subprocess.PIPE, text=True)
        try:
            while proc.poll() is None and not querying(pg, items):
                time.sleep(0.01)
            assert proc.poll() is None, "the run ended before the outage"
            proxy.stop()  # the source is streaming: the upload of this run's part cannot reach S3
            _, stderr = proc.communicate(timeout=120)
        finally:
            proc.kill()
        assert proc.returncode == 1, stderr
        assert f"s3 bucket {store.bucket!r}" in stderr and "Traceback" not in stderr
        assert S3_KEY_ENV["RIVET_TEST_S3_SECRET"] not in stderr
        assert len(store.manifests("inc")) == 1

        proxy.start()
        after = [k for k in store.objects() if outside_bookkeeping not in k]
        assert (state_show(config, "inc", env=ENV), after) == before
        rerun = run_json(config, env=ENV)
        assert rerun["status"] == "success" and rerun["rows"] == 30_000
        assert rows_of(store.table("inc")) == pg.execute(f"SELECT * FROM {items} ORDER BY id").fetchall()
        assert store.temp_keys("inc") == [] and store.uploads() == []
    finally:
        proxy.stop()


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
        """S3: a multipart upload of a temp part is open. GCS: a temp part exists and the next one streams."""
        return bool(store.uploads() if store.kind == "s3" else store.temp_keys("big"))

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
