"""rivet_dagster observed sources: a source table's version signal as its data version, an eager export
requested by Dagster's automation only when the source changed; freshness policies from the `dagster:` block."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    FreshnessPolicy,
    evaluate_automation_conditions,
    materialize,
)
from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor
from e2e import export_config
from test_dagster import add_orders, no_deprecation_warnings, orders, orders_export  # noqa: F401 (fixture)

from rivet_core.config import load_config
from rivet_core.errors import ConfigError
from rivet_dagster.assets import build_definitions

pytestmark = [pytest.mark.dagster]

KEY = AssetKey(["raw", "orders"])


def observe(defs: Definitions, source: AssetKey, instance: DagsterInstance) -> str:
    """Run the source's observation job; the data version it recorded."""
    ident = source.to_python_identifier()
    result = defs.resolve_job_def(f"rivet_observe_{ident}_job").execute_in_process(instance=instance)
    (event,) = result.get_asset_observation_events()
    version = event.asset_observation_data.asset_observation.data_version
    assert version is not None
    return version


def requested(defs: Definitions, instance: DagsterInstance, cursor: AssetDaemonCursor | None) -> Any:
    return evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)


@pytest.mark.pg
def test_inserted_rows_give_a_new_data_version_and_the_eager_export_is_requested(
    pg: Any,
    orders: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    export = orders_export(orders, mode="incremental", cursor_column="id")
    export["dagster"]["automation"] = "eager"
    with no_deprecation_warnings():
        defs = build_definitions(export_config(tmp_path, export))
    source = AssetKey(["postgres", "test", orders])
    instance = DagsterInstance.ephemeral()
    first = observe(defs, source, instance)
    exports = [a for a in defs.assets or [] if getattr(a, "key", None) == KEY]
    assert materialize(exports, resources=defs.resources, instance=instance).success  # type: ignore[arg-type]
    settled = requested(defs, instance, None)

    assert observe(defs, source, instance) == first  # nothing changed: the same version
    quiet = requested(defs, instance, settled.cursor)
    assert quiet.total_requested == 0

    add_orders(pg, orders, range(21, 26))
    assert observe(defs, source, instance) != first
    changed = requested(defs, instance, quiet.cursor)
    assert changed.total_requested == 1
    assert changed.get_num_requested(KEY) == 1
    assert defs.resolve_schedule_def(f"rivet_observe_{source.to_python_identifier()}_schedule").cron_schedule == (
        "*/5 * * * *"
    )


def test_a_source_without_automation_stays_a_plain_external_asset(tmp_path: Path) -> None:
    defs = build_definitions(export_config(tmp_path, orders_export("public.orders")))
    graph = defs.resolve_asset_graph()
    (source,) = [k for k in graph.get_all_asset_keys() if k != KEY]
    assert not graph.get(source).is_observable
    assert list(defs.schedules or []) == []


def test_freshness_policies_come_from_the_dagster_block(tmp_path: Path) -> None:
    window = orders_export("public.orders")
    window["dagster"]["freshness"] = {"fail_window_minutes": 1440, "warn_window_minutes": 720}
    deadline = {**orders_export("public.items"), "name": "items"}
    deadline["dagster"] = {"freshness": {"deadline_cron": "0 9 * * *", "lower_bound_minutes": 60}}
    with no_deprecation_warnings():
        graph = build_definitions(export_config(tmp_path, window, deadline)).resolve_asset_graph()
    assert graph.get(KEY).freshness_policy == FreshnessPolicy.time_window(dt.timedelta(days=1), dt.timedelta(hours=12))
    assert graph.get(AssetKey("items")).freshness_policy == FreshnessPolicy.cron("0 9 * * *", dt.timedelta(hours=1))


def test_a_freshness_block_of_both_kinds_is_one_clear_error(tmp_path: Path) -> None:
    export = orders_export("public.orders")
    export["dagster"]["freshness"] = {"fail_window_minutes": 60, "deadline_cron": "0 9 * * *"}
    with pytest.raises(ConfigError, match=r"freshness.*fail_window_minutes.*deadline_cron"):
        load_config(export_config(tmp_path, export))
