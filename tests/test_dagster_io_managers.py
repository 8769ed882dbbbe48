"""rivet_dagster's object-store IO managers: exports to S3 and GCS load downstream as LazyFrames, and assets that
are not exports are committed to the IO manager's bucket (moto's S3 server and the GCS emulator)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from dagster import AssetIn, AssetKey, DagsterInstance, asset, materialize
from e2e import export_config
from servers import OFFLINE_ENV, S3_KEY_ENV
from test_dagster import add_orders, no_deprecation_warnings
from test_object_stores import Store

from rivet_dagster.assets import IO_MANAGER_KEYS, build_definitions
from rivet_dagster.io_managers import RivetGcsIOManager, RivetS3IOManager

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


def test_an_object_store_export_loads_downstream_as_a_lazyframe(bucket: Store, amounts: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "orders", "table": amounts, "destination": bucket.destination()})
    kind = bucket.kind
    seen: dict[str, Any] = {}

    @asset(ins={"orders": AssetIn(key=AssetKey("orders"))}, io_manager_key=IO_MANAGER_KEYS[kind])
    def big_orders(orders: pl.LazyFrame) -> pl.DataFrame:
        seen["type"] = type(orders)
        return orders.filter(pl.col("id") > 15).select("id", "amount").collect()

    @asset(ins={"big": AssetIn(key=AssetKey("big_orders"))})
    def total(big: pl.LazyFrame) -> float:
        return float(big.select(pl.col("amount").sum()).collect().item())

    with no_deprecation_warnings():
        defs = build_definitions(config)
    manager = RivetS3IOManager if kind == "s3" else RivetGcsIOManager
    settings = bucket.destination()
    del settings["type"], settings["prefix"]
    resources = {**defs.resources, IO_MANAGER_KEYS[kind]: manager(config_path=str(config), prefix="assets", **settings)}
    result = materialize(
        [*defs.assets, big_orders, total],  # type: ignore[list-item]
        resources=resources,
        instance=DagsterInstance.ephemeral(),
    )

    assert result.success
    assert seen["type"] is pl.LazyFrame
    assert result.output_for_node("total") == sum(i * 1.25 for i in range(16, 21))
    (exported,) = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("orders")]
    scheme = "s3" if kind == "s3" else "gs"
    assert exported.materialization.metadata["dagster/uri"].value == f"{scheme}://{bucket.bucket}/exports/orders"
    assert [m["row_count"] for m in bucket.manifests("orders")] == [20]
    (asset_file,) = [k for k in bucket.data_keys("assets/") if k.endswith(".parquet")]
    assert asset_file.startswith("assets/big_orders/big_orders_")
