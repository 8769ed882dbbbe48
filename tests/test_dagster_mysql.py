"""MySQL exports through Dagster in processes that imported pyarrow, polars and pandas before rivet (the MySQL C
extension cannot load there; the export runs in a worker process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import MYSQL_URL
from e2e import read_parquet, rivet_ok
from test_dagster import IN_PROCESS

pytestmark = [pytest.mark.dagster, pytest.mark.mysql]

FIRST = "import pyarrow, polars, pandas  # before rivet: the MySQL C extension can no longer load here\n"


@pytest.fixture
def orders(mysql: Any, table_name: str) -> Iterator[str]:
    cur = mysql.cursor()
    cur.execute(f"CREATE TABLE {table_name} (id INT PRIMARY KEY, amount DECIMAL(12,2), note VARCHAR(20))")
    cur.execute(f"INSERT INTO {table_name} VALUES " + ", ".join(f"({i}, {i}.25, 'n{i}')" for i in range(1, 31)))
    yield table_name
    cur.execute(f"DROP TABLE IF EXISTS {table_name}")


def config(folder: Path, table: str, **extra: Any) -> Path:
    export = {
        "name": "orders",
        "table": table,
        "format": "parquet",
        "destination": {"type": "local", "path": "./out"},
        **extra,
    }
    doc = {"source": {"type": "mysql", "url": MYSQL_URL}, "exports": [export]}
    (folder / "rivet.yaml").write_text(yaml.safe_dump(doc))
    return folder / "rivet.yaml"


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DAGSTER_HOME": str(folder / "home"), "PYTHONPATH": str(folder)}
    (folder / "home").mkdir(exist_ok=True)
    return subprocess.run([sys.executable, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=240)


def test_the_c_extension_does_not_load_after_pyarrow_so_the_test_is_real(tmp_path: Path) -> None:
    proc = run(tmp_path, "-c", FIRST + "import _mysql_connector")
    assert "static TLS" in proc.stderr


def test_in_process_materialize_after_pyarrow_polars_pandas(orders: str, tmp_path: Path) -> None:
    path = config(tmp_path, orders)
    script = FIRST + textwrap.dedent(f"""
        from dagster import AssetKey, materialize
        from rivet_dagster import build_definitions

        defs = build_definitions({str(path)!r})
        result = materialize(list(defs.assets), resources=defs.resources, raise_on_error=False)
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        (event,) = result.get_asset_materialization_events()
        print("ROWS", event.materialization.metadata["dagster/row_count"].value)
        checks = result.get_asset_check_evaluations()
        print("CHECKS", sorted((c.check_name, c.passed) for c in checks))
    """)
    proc = run(tmp_path, "-c", script)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ROWS 30" in proc.stdout
    assert "('validate', True)" in proc.stdout and "False" not in proc.stdout.split("CHECKS")[1]
    assert len(read_parquet(tmp_path / "out")) == 30


def test_dagster_asset_materialize_with_a_code_location_that_imports_pyarrow_first(orders: str, tmp_path: Path) -> None:
    path = config(tmp_path, orders)
    (tmp_path / "location.py").write_text(
        FIRST + f"from rivet_dagster import build_definitions\n\ndefs = build_definitions({str(path)!r})\n"
    )
    proc = run(tmp_path, "-m", "dagster", "asset", "materialize", "-m", "location", "--select", "orders",
               "--config-json", IN_PROCESS)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "orders: 30 rows, 1 file(s)" in proc.stderr  # the summary line in the run log
    assert sorted(read_parquet(tmp_path / "out")["id"].to_pylist()) == list(range(1, 31))


def test_checks_alone_and_an_observation_after_pyarrow_polars_pandas(orders: str, tmp_path: Path) -> None:
    path = config(tmp_path, orders, dagster={"automation": "eager"})
    rivet_ok("run", "-c", str(path))  # committed by the CLI: the script below starts no export worker
    script = FIRST + textwrap.dedent(f"""
        from dagster import AssetKey, AssetSelection, DagsterInstance, materialize
        from rivet_dagster import build_definitions

        defs = build_definitions({str(path)!r})
        instance = DagsterInstance.ephemeral()
        key = AssetKey("orders")
        alone = materialize(list(defs.assets), resources=defs.resources, instance=instance,
                            selection=AssetSelection.checks_for_assets(key), raise_on_error=False)
        assert alone.success, [e.message for e in alone.all_events if e.is_failure]
        checks = alone.get_asset_check_evaluations()
        print("CHECKS", sorted((c.check_name, c.passed) for c in checks))
        (schedule,) = [s for s in defs.schedules if s.name.startswith("rivet_observe_")]
        observed = defs.resolve_job_def(schedule.job_name).execute_in_process(instance=instance)
        (event,) = observed.get_asset_observation_events()
        print("MAX", event.asset_observation_data.asset_observation.metadata["rivet/max_value"].value)
    """)
    proc = run(tmp_path, "-c", script)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "('reconcile', True)" in proc.stdout and "('validate', True)" in proc.stdout
    assert "False" not in proc.stdout.split("CHECKS")[1].split("MAX")[0]
    assert "MAX 30" in proc.stdout  # the primary key's maximum, read by the worker process
