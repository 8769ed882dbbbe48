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
from e2e import read_parquet
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


def config(folder: Path, table: str) -> Path:
    export = {"name": "orders", "table": table, "format": "parquet", "destination": {"type": "local", "path": "./out"}}
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
