"""rivet_dagster: definitions from rivet.yaml, `dagster asset materialize` as a process, the IO manager both ways."""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from conftest import run_dagster
from dagster import (
    AssetIn,
    AssetKey,
    BetaWarning,
    DagsterInstance,
    ExecuteInProcessResult,
    Output,
    PreviewWarning,
    SupersessionWarning,
    asset,
    materialize,
)
from e2e import data_files, export_config, insert_series, manifests, read_parquet

from rivet_core.config import export_fingerprint, load_config
from rivet_dagster.assets import IO_MANAGER_KEY, build_definitions
from rivet_dagster.io_managers import RivetLocalIOManager

IN_PROCESS = '{"execution": {"config": {"in_process": {}}}}'
UNREACHABLE = "postgresql://rivet:s3cret-pw@127.0.0.1:1/nowhere"

pytestmark = pytest.mark.dagster


@pytest.fixture
def orders(pg: Any, table_name: str) -> Iterator[str]:
    """A small table `id bigint, amount numeric(12,2), note text` with ids 1..20."""
    pg.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, amount numeric(12,2), note text)")
    add_orders(pg, table_name, range(1, 21))
    yield table_name
    pg.execute(f"DROP TABLE IF EXISTS {table_name}")


def add_orders(pg: Any, table: str, ids: range) -> None:
    insert_series(pg, table, "g, g * 1.25, CASE WHEN g %% 3 = 0 THEN NULL ELSE 'n' || g END", ids)


def orders_export(table: str, **extra: Any) -> dict[str, Any]:
    return {"name": "orders", "table": table, "dagster": {"key_prefix": ["raw"]}, **extra}


def dagster_cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dagster ARGS -m rivet_dagster.definitions` from `folder`, RIVET_CONFIG relative, a new empty DAGSTER_HOME."""
    home = folder / f"dagster_home_{len(list(folder.glob('dagster_home_*')))}"
    home.mkdir()
    env = {"RIVET_CONFIG": "rivet.yaml", "DAGSTER_HOME": str(home)}
    return run_dagster(*args, "-m", "rivet_dagster.definitions", cwd=folder, env=env, timeout=120)


def materialize_cli(folder: Path, select: str) -> None:
    """Materialize in process; exit 0 and no warning but Dagster's own notice that `dg launch` supersedes the CLI."""
    proc = dagster_cli(folder, "asset", "materialize", "--select", select, "--config-json", IN_PROCESS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    notices = [line for line in proc.stderr.splitlines() if "Warning" in line]
    assert [n for n in notices if "asset_materialize_command" not in n] == []


@contextmanager
def no_deprecation_warnings() -> Iterator[None]:
    """Fail if Dagster warns about a deprecated, superseded, beta or preview API while the block runs."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    kinds = (DeprecationWarning, BetaWarning, PreviewWarning, SupersessionWarning)
    assert [f"{w.filename}:{w.lineno}: {w.message}" for w in caught if issubclass(w.category, kinds)] == []


def run_in_process(config: Path, *extra: Any) -> ExecuteInProcessResult:
    """Materialize the config's assets (plus `extra` assets) in this process on a throwaway instance."""
    with no_deprecation_warnings():
        defs = build_definitions(config)
        return materialize(
            [*defs.assets, *extra],  # type: ignore[misc]
            resources=defs.resources,
            instance=DagsterInstance.ephemeral(),
            raise_on_error=False,
        )


def materialization_metadata(result: ExecuteInProcessResult, key: AssetKey) -> dict[str, Any]:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.mark.pg
def test_cli_materialize_writes_the_export(pg: Any, orders: str, tmp_path: Path) -> None:
    export_config(tmp_path, orders_export(orders))
    materialize_cli(tmp_path, "raw/orders")
    table = read_parquet(tmp_path / "out").sort_by("id")
    expected = pg.execute(f"SELECT id, amount, note FROM {orders} ORDER BY id").fetchall()
    assert [tuple(r.values()) for r in table.to_pylist()] == expected


@pytest.mark.slow
@pytest.mark.pg
def test_incremental_with_a_new_dagster_home_and_no_state_each_time_exports_each_row_once(
    pg: Any, orders: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = export_config(tmp_path, orders_export(orders, mode="incremental", cursor_column="id"))
    for new_ids in (None, range(21, 36), range(36, 41)):
        if new_ids:
            add_orders(pg, orders, new_ids)
        materialize_cli(tmp_path, "raw/orders")  # a new DAGSTER_HOME each time: rivet's state is in it, so new too
    ids = read_parquet(tmp_path / "out")["id"].to_pylist()
    assert sorted(ids) == list(range(1, 41))
    assert len(manifests(tmp_path / "out", "orders")) == 3
    assert not (tmp_path / ".rivet_state.db").exists()  # never next to the config (the code location's package)
    assert len(list(tmp_path.glob("dagster_home_*/rivet/*/.rivet_state.db"))) == 3

    add_orders(pg, orders, range(41, 46))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))  # no DAGSTER_HOME: a state folder, empty here
    key = AssetKey(["raw", "orders"])

    @asset(ins={"orders": AssetIn(key=key)})
    def all_ids(orders: pl.LazyFrame) -> list[int]:
        return sorted(orders.collect()["id"].to_list())

    result = run_in_process(config, all_ids)
    assert result.success
    meta = materialization_metadata(result, key)
    assert meta["cursor"] == {"column": "id", "value": "45"}
    assert meta["dagster/row_count"] == 5
    assert sorted(read_parquet(tmp_path / "out")["id"].to_pylist()) == list(range(1, 46))
    assert result.output_for_node("all_ids") == list(range(1, 46))  # the IO manager reads every increment


def test_loading_definitions_opens_no_connection_and_sets_keys_kinds_and_versions(tmp_path: Path) -> None:
    doc = {
        "source": {"type": "postgres", "url_env": "RIVET_TEST_NEVER_SET", "tuning": {"profile": "safe"}},
        "dagster": {"group": "rivet", "tags": {"team": "data eng/ops"}},
        "exports": [
            {
                "name": "orders",
                "table": "public.orders",
                "mode": "incremental",
                "cursor_column": "id",
                "format": "parquet",
                "destination": {"type": "local", "path": "./out"},
                "dagster": {
                    "key_prefix": "raw/pg",
                    "owners": ["data-eng", "ana@example.com"],
                    "tags": {"domain/sales": "x" * 80, "tier": "gold"},
                    "description": "orders for finance",
                },
            },
            {
                "name": "daily_totals",
                "query": "SELECT 1 AS one",
                "format": "csv",
                "destination": {"type": "local", "path": "./out"},
                "tuning": {"max_retries": 0},
            },
        ],
    }
    path = tmp_path / "rivet.yaml"
    path.write_text(yaml.safe_dump(doc))
    with no_deprecation_warnings():
        defs = build_definitions(path)
        specs = {s.key: s for s in defs.resolve_all_asset_specs()}
        job = defs.resolve_implicit_global_asset_job_def()

    config = load_config(path)
    orders, totals = AssetKey(["raw", "pg", "orders"]), AssetKey(["daily_totals"])
    source = AssetKey(["postgres", "public", "orders"])
    assert set(specs) == {orders, totals, source}
    spec = specs[orders]
    assert spec.kinds == {"postgres", "parquet", "local"}
    assert specs[totals].kinds == {"postgres", "csv", "local"}
    assert spec.code_version == export_fingerprint(config, config.exports[0])
    assert specs[totals].code_version == export_fingerprint(config, config.exports[1])
    assert spec.group_name == "rivet"
    assert spec.owners == ["team:data-eng", "ana@example.com"]
    assert spec.description == "orders for finance"
    assert [d.asset_key for d in spec.deps] == [source]
    assert list(specs[totals].deps) == []
    assert {k: v for k, v in spec.tags.items() if not k.startswith("dagster/")} == {
        "team": "data_eng_ops",
        "domain/sales": "x" * 63,
        "tier": "gold",
    }
    node = job.graph.node_named("raw__pg__orders").definition
    assert node.pool == "rivet_postgres"
    assert (node.retry_policy.max_retries, node.retry_policy.delay) == (5, 5.0)  # the safe profile
    assert job.graph.node_named("daily_totals").definition.retry_policy is None


def test_dagster_cli_loads_definitions_with_an_unreachable_source(tmp_path: Path) -> None:
    export_config(tmp_path, {"name": "orders", "table": "orders", "dagster": {"key_prefix": "raw"}}, url=UNREACHABLE)
    proc = dagster_cli(tmp_path, "asset", "list")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["raw/orders"]


def test_a_failed_export_fails_the_step_without_a_materialization_or_a_secret(tmp_path: Path) -> None:
    config = export_config(
        tmp_path, {"name": "orders", "table": "orders", "tuning": {"max_retries": 0}}, url=UNREACHABLE
    )
    result = run_in_process(config)
    assert not result.success
    assert result.get_asset_materialization_events() == []
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    error = failure.step_failure_data.user_failure_data
    assert error is not None and error.description
    assert "127.0.0.1" in error.description or "connect" in error.description.lower()
    assert "s3cret-pw" not in str(failure)
    assert data_files(tmp_path / "out") == []


@pytest.mark.pg
def test_a_downstream_asset_gets_a_lazyframe_of_the_latest_full_export(orders: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, orders_export(orders, format="csv"))
    seen: dict[str, Any] = {}

    @asset(ins={"orders": AssetIn(key=AssetKey(["raw", "orders"]))})
    def order_count(orders: pl.LazyFrame) -> int:
        seen["type"] = type(orders)
        return int(orders.select(pl.len()).collect().item())

    assert run_in_process(config).success  # a first full export: the second replaces it for readers
    result = run_in_process(config, order_count)
    assert result.success
    assert seen["type"] is pl.LazyFrame
    assert result.output_for_node("order_count") == 20
    assert len(data_files(tmp_path / "out", "csv")) == 2


def test_the_io_manager_streams_an_iterator_of_frames_into_one_committed_unit(tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "unused", "table": "unused"})
    temp = tmp_path / "out" / "assets" / "events" / "_rivet" / "events" / "_tmp"

    def batches() -> Iterator[pl.DataFrame]:
        for k in range(3):
            # frame k is produced only after frames 0..k-1 went to the writer (each rolled into its own part)
            assert len(list(temp.rglob("*.parquet"))) == k
            yield pl.DataFrame({"i": range(k * 100, (k + 1) * 100), "s": [f"row {k}"] * 100})

    @asset(io_manager_key=IO_MANAGER_KEY)
    def events() -> Output[Any]:
        return Output(value=batches())

    @asset(io_manager_key=IO_MANAGER_KEY)
    def summary(events: pl.LazyFrame) -> pl.DataFrame:
        return events.group_by("s").agg(pl.len().alias("n")).sort("s").collect()

    io_manager = RivetLocalIOManager(config_path=str(config), max_file_size="1KB")  # a part per frame
    result = materialize(
        [events, summary], resources={IO_MANAGER_KEY: io_manager}, instance=DagsterInstance.ephemeral()
    )
    assert result.success
    root = tmp_path / "out" / "assets"
    (manifest,) = manifests(root / "events", "events")
    assert manifest["row_count"] == 300
    assert len(manifest["parts"]) == 3
    assert sorted(read_parquet(root / "events")["i"].to_pylist()) == list(range(300))
    assert materialization_metadata(result, AssetKey("events"))["dagster/row_count"] == 300
    assert read_parquet(root / "summary").to_pylist() == [{"s": f"row {k}", "n": 100} for k in range(3)]
