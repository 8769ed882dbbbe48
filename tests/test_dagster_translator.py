"""rivet_dagster's public API: a RivetTranslator subclass changes keys, groups and source keys; `@rivet_assets`
puts several exports in one op whose body runs them through `RivetResource`; check metadata numbers stay numbers."""

# No `from __future__ import annotations`: Dagster reads the asset body's annotations at definition time.
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    DagsterInstance,
    FloatMetadataValue,
    IntMetadataValue,
    MaterializeResult,
    asset,
    materialize,
)
from e2e import export_config
from test_dagster import UNREACHABLE, add_orders, no_deprecation_warnings

from rivet_core.config import load_config
from rivet_dagster import (
    RivetExportData,
    RivetLocalIOManager,
    RivetResource,
    RivetTranslator,
    build_definitions,
    build_rivet_source_specs,
    rivet_assets,
)

pytestmark = [pytest.mark.dagster]


class WarehouseTranslator(RivetTranslator):
    """Keys under `warehouse/`, one group, source keys under `src/`."""

    def get_asset_key(self, data: RivetExportData) -> AssetKey:
        return AssetKey(["warehouse", data.export.name])

    def get_group_name(self, data: RivetExportData) -> str | None:
        return "warehouse"

    def get_source_asset_key(self, data: RivetExportData) -> AssetKey | None:
        return AssetKey(["src", data.export.name]) if data.export.table else None


@pytest.fixture
def two_tables(pg: Any, table_name: str) -> Iterator[tuple[str, str]]:
    """`<name>_a` (ids 1..20, note NULL in every third row) and `<name>_b` (ids 1..5)."""
    tables = (f"{table_name}_a", f"{table_name}_b")
    for table, ids in zip(tables, (range(1, 21), range(1, 6)), strict=True):
        pg.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, amount numeric(12,2), note text)")
        add_orders(pg, table, ids)
    yield tables
    for table in tables:
        pg.execute(f"DROP TABLE IF EXISTS {table}")


def test_a_translator_subclass_sets_keys_groups_and_source_keys(tmp_path: Path) -> None:
    config = export_config(
        tmp_path,
        {"name": "orders", "table": "public.orders", "dagster": {"key_prefix": "raw", "owners": ["ops"]}},
        {"name": "totals", "query": "SELECT 1 AS one"},
        url=UNREACHABLE,
    )
    with no_deprecation_warnings():
        defs = build_definitions(config, translator=WarehouseTranslator())
        specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    orders, totals, source = (
        AssetKey(["warehouse", "orders"]),
        AssetKey(["warehouse", "totals"]),
        AssetKey(["src", "orders"]),
    )
    assert set(specs) == {orders, totals, source}
    assert specs[orders].group_name == specs[totals].group_name == "warehouse"
    assert specs[orders].owners == ["team:ops"]  # the defaults the subclass did not override
    assert [d.asset_key for d in specs[orders].deps] == [source]
    assert {c.name for c in defs.get_assets_def(orders).check_specs} >= {"validate", "reconcile", "schema_drift"}


def test_exports_with_different_partitions_cannot_share_one_rivet_assets(tmp_path: Path) -> None:
    config = export_config(
        tmp_path,
        {"name": "whole", "table": "t"},
        {"name": "chunks", "table": "t", "mode": "chunked", "chunk_size": 10},
        url=UNREACHABLE,
    )
    with pytest.raises(ValueError, match="exports whole, chunks differ in partitions"):
        rivet_assets(config=config)


@pytest.mark.pg
def test_rivet_assets_runs_several_exports_in_one_op_and_yields_numeric_check_metadata(
    two_tables: tuple[str, str], tmp_path: Path
) -> None:
    first, second = two_tables
    quality = {"null_ratio_max": {"value": {"note": 0.1}, "severity": "warn"}}
    config = export_config(tmp_path, {"name": "a", "table": first, "quality": quality}, {"name": "b", "table": second})

    @rivet_assets(config=config, translator=WarehouseTranslator(), name="both")
    def both(context: AssetExecutionContext, rivet: RivetResource) -> Iterator[MaterializeResult | AssetCheckResult]:
        yield from rivet.run(context)

    @asset(ins={"rows": AssetIn(key=AssetKey(["warehouse", "b"]))})
    def b_count(rows: pl.LazyFrame) -> int:
        return int(rows.collect().height)

    with no_deprecation_warnings():
        result = materialize(
            [both, b_count, *build_rivet_source_specs(load_config(config), WarehouseTranslator())],
            resources={"rivet": RivetResource(), "rivet_io_manager": RivetLocalIOManager(config_path=str(config))},
            instance=DagsterInstance.ephemeral(),
        )
    assert result.success
    assert [e.step_key for e in result.all_events if e.is_step_start] == ["both", "b_count"]
    rows = {
        e.asset_key.path[-1]: e.materialization.metadata["dagster/row_count"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[0] == "warehouse"
    }
    assert rows == {"a": 20, "b": 5}
    assert result.output_for_node("b_count") == 5
    (null_ratio,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "null_ratio_max"
    ]
    assert not null_ratio.passed
    assert isinstance(null_ratio.metadata["ratios/note"], FloatMetadataValue)
    assert null_ratio.metadata["ratios/note"].value == 0.3
    assert null_ratio.metadata["ratios"].value == {"note": 0.3}
    (reconcile_b,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "reconcile"
        and e.asset_check_evaluation_data.asset_key == AssetKey(["warehouse", "b"])
    ]
    assert isinstance(reconcile_b.metadata["expected"], IntMetadataValue)
    assert reconcile_b.metadata["expected"].value == 5
