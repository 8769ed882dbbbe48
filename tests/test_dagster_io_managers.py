"""rivet_dagster's object-store IO managers: exports to S3 and GCS load downstream as LazyFrames, and assets that
are not exports are committed to the IO manager's bucket (moto's S3 server and the GCS emulator), with rivet's own
clients or through a dagster-aws S3Resource / dagster-gcp GCSResource."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from dagster import AssetIn, AssetKey, AssetsDefinition, DagsterInstance, EnvVar, asset, materialize
from dagster_aws.s3 import S3Resource
from dagster_gcp import GCSResource
from e2e import export_config
from servers import OFFLINE_ENV, S3_KEY_ENV
from test_dagster import add_orders, no_deprecation_warnings
from test_object_stores import Store

from rivet_dagster import RivetGcsIOManager, RivetResource, RivetS3IOManager
from rivet_dagster.assets import IO_MANAGER_KEYS, build_definitions

pytestmark = [pytest.mark.dagster, pytest.mark.pg]


@pytest.fixture(params=["s3", "gcs"])
def bucket(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A fresh bucket on the session's S3 server or GCS emulator; this process holds the test credentials."""
    for name, value in {**OFFLINE_ENV, **S3_KEY_ENV}.items():
        monkeypatch.setenv(name, value)
    server = request.getfixturevalue("moto_s3" if request.param == "s3" else "gcs_emulator")
    return Store(request.param, server, server.new_bucket())


@pytest.fixture
def amounts(pg: Any, table_name: str) -> Iterator[str]:
    """`id, amount, note`: ids 1..20, amount = 1.25 * id."""
    pg.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, amount numeric(12,2), note text)")
    add_orders(pg, table_name, range(1, 21))
    yield table_name
    pg.execute(f"DROP TABLE IF EXISTS {table_name}")


def downstream(kind: str, seen: dict[str, Any]) -> list[AssetsDefinition]:
    """`big_orders` (ids > 15 of the `orders` export, stored by the object-store IO manager) and its `total`."""

    @asset(ins={"orders": AssetIn(key=AssetKey("orders"))}, io_manager_key=IO_MANAGER_KEYS[kind])
    def big_orders(orders: pl.LazyFrame) -> pl.DataFrame:
        seen["type"] = type(orders)
        return orders.filter(pl.col("id") > 15).select("id", "amount").collect()

    @asset(ins={"big": AssetIn(key=AssetKey("big_orders"))})
    def total(big: pl.LazyFrame) -> float:
        return float(big.select(pl.col("amount").sum()).collect().item())

    return [big_orders, total]


def assert_loaded_downstream(result: Any, bucket: Store, seen: dict[str, Any]) -> None:
    """The export and `big_orders` are committed in the bucket and `total` summed the LazyFrame it loaded."""
    assert result.success
    assert seen["type"] is pl.LazyFrame
    assert result.output_for_node("total") == sum(i * 1.25 for i in range(16, 21))
    (exported,) = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("orders")]
    scheme = "s3" if bucket.kind == "s3" else "gs"
    assert exported.materialization.metadata["dagster/uri"].value == f"{scheme}://{bucket.bucket}/exports/orders"
    assert [m["row_count"] for m in bucket.manifests("orders")] == [20]
    (asset_file,) = [k for k in bucket.data_keys("assets/") if k.endswith(".parquet")]
    assert asset_file.startswith("assets/big_orders/big_orders_")


def test_an_object_store_export_loads_downstream_as_a_lazyframe(bucket: Store, amounts: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "orders", "table": amounts, "destination": bucket.destination()})
    kind = bucket.kind
    seen: dict[str, Any] = {}
    with no_deprecation_warnings():
        defs = build_definitions(config)
    manager = RivetS3IOManager if kind == "s3" else RivetGcsIOManager
    settings = bucket.destination()
    del settings["type"], settings["prefix"]
    resources = {**defs.resources, IO_MANAGER_KEYS[kind]: manager(config_path=str(config), prefix="assets", **settings)}
    result = materialize(
        [*defs.assets, *downstream(kind, seen)],  # type: ignore[list-item]
        resources=resources,
        instance=DagsterInstance.ephemeral(),
    )
    assert_loaded_downstream(result, bucket, seen)


def test_the_rivet_resource_and_io_managers_use_a_dagster_aws_or_gcp_resource_for_every_call(
    bucket: Store, amounts: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rivet.yaml names only the bucket (no endpoint, no credentials): only the resource's client reaches it."""
    destination = {"type": bucket.kind, "bucket": bucket.bucket, "prefix": "exports/{export}"}
    config = export_config(tmp_path, {"name": "orders", "table": amounts, "destination": destination})
    key = IO_MANAGER_KEYS[bucket.kind]
    if bucket.kind == "s3":
        resource: Any = S3Resource(
            endpoint_url=bucket.endpoint, region_name="us-east-1",
            aws_access_key_id=EnvVar("RIVET_TEST_S3_KEY"), aws_secret_access_key=EnvVar("RIVET_TEST_S3_SECRET"),
        )  # fmt: skip
        manager: Any = RivetS3IOManager(config_path=str(config), bucket=bucket.bucket, prefix="assets", s3=resource)
        rivet = RivetResource(s3=resource)
    else:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", bucket.endpoint)  # how google-cloud-storage finds an emulator
        resource = GCSResource(project="rivet-test")
        manager = RivetGcsIOManager(config_path=str(config), bucket=bucket.bucket, prefix="assets", gcs=resource)
        rivet = RivetResource(gcs=resource)
    with no_deprecation_warnings():
        defs = build_definitions(config)
    instance = DagsterInstance.ephemeral()
    export_only = materialize(defs.assets, resources=defs.resources, instance=instance, raise_on_error=False)  # type: ignore[arg-type]
    (failure,) = export_only.get_step_failure_events()  # rivet's own client, from this rivet.yaml: no credentials
    assert f"no {'AWS' if bucket.kind == 's3' else 'Google'} credentials" in str(failure.step_failure_data.error)
    assert bucket.manifests("orders") == []

    seen: dict[str, Any] = {}
    result = materialize(
        [*defs.assets, *downstream(bucket.kind, seen)],  # type: ignore[list-item]
        resources={**defs.resources, key: manager, "rivet": rivet},  # the export runs with the resource's client
        instance=DagsterInstance.ephemeral(),
    )
    assert_loaded_downstream(result, bucket, seen)
