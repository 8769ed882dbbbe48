"""A bucket on the S3, GCS or Azure test server seen both as rivet config and through the vendor's client, and a
Postgres table of several types to export into it (fixtures `store`, `items`: import `store_fixture`,
`items_fixture` where used)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from e2e import insert_series
from servers import AZURE_KEY_ENV, AZURITE_ACCOUNT, OFFLINE_ENV, S3_KEY_ENV, Azurite, GcsEmulator, MotoS3

from rivet_core.config import AzureDestinationConfig, GcsDestinationConfig, S3DestinationConfig
from rivet_core.destinations import AzureDestination, GcsDestination, S3Destination, StoreTimeouts

ENV = {**OFFLINE_ENV, **S3_KEY_ENV, **AZURE_KEY_ENV}
SCHEMES = {"s3": "s3", "gcs": "gs", "azure": "az"}
SERVERS = {"s3": "moto_s3", "gcs": "gcs_emulator", "azure": "azurite"}


@dataclass
class Store:
    """A bucket on one of the test servers, seen both as rivet config and directly through the vendor's client."""

    kind: str
    server: MotoS3 | GcsEmulator | Azurite
    bucket: str
    endpoint: str = ""

    def __post_init__(self) -> None:
        self.endpoint = self.endpoint or self.server.endpoint

    def destination(self, prefix: str = "exports/{export}", **overrides: Any) -> dict[str, Any]:
        if self.kind == "s3":
            base = {"type": "s3", "bucket": self.bucket, "prefix": prefix, "endpoint": self.endpoint,
                    "region": "us-east-1", "access_key_env": "RIVET_TEST_S3_KEY",
                    "secret_key_env": "RIVET_TEST_S3_SECRET"}  # fmt: skip
        elif self.kind == "gcs":
            base = {"type": "gcs", "bucket": self.bucket, "prefix": prefix, "endpoint": self.endpoint,
                    "allow_anonymous": True}  # fmt: skip
        else:  # azure: no path in the endpoint, rivet appends the account (path style)
            base = {"type": "azure", "bucket": self.bucket, "prefix": prefix, "endpoint": self.endpoint,
                    "account_name": AZURITE_ACCOUNT, "account_key_env": "RIVET_TEST_AZURE_KEY"}  # fmt: skip
        return {**base, **overrides}

    def open(
        self, root: str = "", timeouts: StoreTimeouts | None = None
    ) -> S3Destination | GcsDestination | AzureDestination:
        """rivet's own destination object on this bucket."""
        if self.kind == "s3":
            return S3Destination(S3DestinationConfig(**self.destination(root)), root, env=ENV, timeouts=timeouts)
        if self.kind == "gcs":
            return GcsDestination(GcsDestinationConfig(**self.destination(root)), root, timeouts=timeouts)
        return AzureDestination(AzureDestinationConfig(**self.destination(root)), root, env=ENV, timeouts=timeouts)

    @property
    def scheme(self) -> str:
        return SCHEMES[self.kind]

    @property
    def label(self) -> str:
        """How rivet's messages name this bucket: `s3 bucket 'b'`, `azure container 'c'`."""
        return f"{self.kind} {'container' if self.kind == 'azure' else 'bucket'} {self.bucket!r}"

    def container(self) -> Any:
        """Azure: the container's SDK client."""
        return self.server.client().get_container_client(self.bucket)

    def objects(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket under `prefix`, read with the vendor's client."""
        if self.kind == "s3":
            pages = self.server.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        if self.kind == "azure":
            return sorted(b.name for b in self.container().list_blobs(name_starts_with=prefix or None))
        return sorted(b.name for b in self.server.client().list_blobs(self.bucket, prefix=prefix))

    def read(self, key: str) -> bytes:
        if self.kind == "s3":
            return self.server.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]
        if self.kind == "azure":
            return bytes(self.container().get_blob_client(key).download_blob().readall())
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
        """Keys of an unfinished upload: S3 multipart uploads, Azure blobs with only staged blocks (GCS resumable
        sessions are not listable)."""
        if self.kind == "s3":
            listing = self.server.client().list_multipart_uploads(Bucket=self.bucket)
            return [u["Key"] for u in listing.get("Uploads", [])]
        if self.kind == "azure":
            every = {b.name for b in self.container().list_blobs(include=["uncommittedblobs"])}
            return sorted(every - set(self.objects()))
        return []

    def table(self, export: str) -> pa.Table:
        """The export's data files (listed with the vendor's client) read back with pyarrow, as one table."""
        keys = self.data_keys(f"exports/{export}/")
        return pa.concat_tables([pq.read_table(pa.BufferReader(self.read(k))) for k in keys])


@pytest.fixture(name="store", params=list(SERVERS))
def store_fixture(request: pytest.FixtureRequest) -> Store:
    """A fresh bucket on the session's S3 server, GCS emulator or Azurite."""
    server = request.getfixturevalue(SERVERS[request.param])
    return Store(request.param, server, server.new_bucket())


@pytest.fixture(name="items")
def items_fixture(pg: Any, table_name: str) -> Iterator[str]:
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
