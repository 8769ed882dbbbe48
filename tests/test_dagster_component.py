"""`RivetComponent` through `dg` in a project with create-dagster's layout: listed, scaffolded, checked, launched
against the real servers; several rivet.yaml (Postgres + MySQL, two Postgres databases) in one code location."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from conftest import MYSQL_URL, PG_URL
from dagster import AssetKey, Definitions, materialize
from e2e import read_parquet
from test_dagster import add_orders, materialization_metadata

from rivet_dagster import build_definitions

pytestmark = [pytest.mark.dagster, pytest.mark.pg]

DG = str(Path(sys.executable).with_name("dg"))
PYPROJECT = """\
[project]
name = "acme"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["rivet-export[dagster]"]

[tool.dg]
directory_type = "project"

[tool.dg.project]
root_module = "acme"
registry_modules = ["acme.components.*"]
"""
DEFINITIONS = """\
from pathlib import Path

from dagster import definitions, load_from_defs_folder


@definitions
def defs():
    return load_from_defs_folder(path_within_project=Path(__file__).parent)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A dg project as create-dagster lays it out: pyproject `[tool.dg]`, src/acme/definitions.py, src/acme/defs/."""
    root = tmp_path / "acme"
    (root / "src" / "acme" / "defs").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "src" / "acme" / "__init__.py").write_text("")
    (root / "src" / "acme" / "defs" / "__init__.py").write_text("")
    (root / "src" / "acme" / "definitions.py").write_text(DEFINITIONS)
    (root / "dagster_home").mkdir()
    return root


def dg(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`dg ARGS` in the project with this interpreter's environment; exit 0 required."""
    full = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYTHONPATH": str(project / "src"),
        "DAGSTER_HOME": str(project / "dagster_home"),
        "NO_COLOR": "1",
        **env,
    }
    proc = subprocess.run([DG, *args], cwd=project, env=full, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture
def pg_orders(pg: Any, table_name: str) -> Iterator[str]:
    pg.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, amount numeric(12,2), note text)")
    add_orders(pg, table_name, range(1, 21))
    yield table_name
    pg.execute(f"DROP TABLE IF EXISTS {table_name}")


@pytest.fixture
def my_orders(mysql: Any, table_name: str) -> Iterator[str]:
    name = f"{table_name}_my"
    cur = mysql.cursor()
    cur.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, amount DECIMAL(12,2))")
    cur.execute(f"INSERT INTO {name} VALUES " + ", ".join(f"({i}, {i}.5)" for i in range(1, 8)))
    yield name
    cur.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.mark.mysql
@pytest.mark.slow
def test_dg_lists_scaffolds_checks_and_launches_postgres_and_mysql_side_by_side(
    project: Path, pg_orders: str, my_orders: str
) -> None:
    listed = dg(project, "list", "components", "--json").stdout
    assert "rivet_dagster.RivetComponent" in listed

    defs = project / "src" / "acme" / "defs"
    dg(project, "scaffold", "defs", "rivet_dagster.RivetComponent", "pg", "--url-env", "D2_PG_URL",
       "--table", pg_orders, D2_PG_URL=PG_URL)  # fmt: skip
    assert yaml.safe_load((defs / "pg" / "defs.yaml").read_text()) == {
        "type": "rivet_dagster.RivetComponent",
        "attributes": {"config": "rivet.yaml"},
    }
    generated = yaml.safe_load((defs / "pg" / "rivet.yaml").read_text())  # `rivet init`'s output
    assert generated["source"] == {"type": "postgres", "url_env": "D2_PG_URL", "environment": "production"}
    assert [e["table"] for e in generated["exports"]] == [pg_orders]

    dg(project, "scaffold", "defs", "rivet_dagster.RivetComponent", "my")
    assert "url_env: DATABASE_URL" in (defs / "my" / "rivet.yaml").read_text()  # the commented template
    (defs / "my" / "rivet.yaml").write_text(
        yaml.safe_dump(
            {
                "source": {"type": "mysql", "url_env": "D2_MY_URL"},
                "exports": [
                    {
                        "name": "orders",
                        "table": my_orders,
                        "format": "parquet",
                        "destination": {"type": "local", "path": "./out"},
                    }
                ],
            }
        )
    )
    (defs / "my" / "defs.yaml").write_text(
        textwrap.dedent("""\
            type: rivet_dagster.RivetComponent
            attributes:
              config: rivet.yaml
              exports: ["ord*"]
              state_url: "{{ env.D2_STATE }}"
              translation:
                key_prefix: [mysql_side]
                group_name: "{{ export.name }}_from_mysql"
        """)
    )
    env = {"D2_PG_URL": PG_URL, "D2_MY_URL": MYSQL_URL, "D2_STATE": str(project / "my_state")}
    checked = dg(project, "check", "defs", **env)
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr

    listed_defs = dg(project, "list", "defs", "--json", **env).stdout
    keys = {a.get("asset_key", a.get("key")) for a in json.loads(listed_defs)["assets"]}  # 1.13 | 1.12
    assert {pg_orders, "mysql_side/orders", f"postgres/test/{pg_orders}", f"mysql/test/{my_orders}"} <= keys

    run = dg(project, "launch", "--assets", f"{pg_orders},mysql_side/orders", **env)  # one run, both sides
    log = run.stdout + run.stderr
    assert "RUN_SUCCESS" in log
    for key in (pg_orders, "mysql_side/orders"):
        assert f"Asset check 'validate' on '{key}' passed" in log, log[-3000:]
    assert "failed" not in log.lower().replace("0 failed", "")
    assert len(read_parquet(defs / "pg" / "out" / pg_orders)) == 20
    assert len(read_parquet(defs / "my" / "out")) == 7
    assert list((project / "my_state").glob(".rivet_state.db"))  # state_url, templated from the environment
    assert list((project / "dagster_home" / "rivet").glob("pg-rivet-*/.rivet_state.db"))  # not the package


@pytest.fixture
def second_database() -> Iterator[str]:
    """A second Postgres database on the test server (dropped afterwards)."""
    name = f"rivet_d2_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_two_postgres_databases_with_the_same_table_names_share_one_definitions(
    pg: Any, pg_orders: str, second_database: str, tmp_path: Path
) -> None:
    with psycopg.connect(second_database, autocommit=True) as other:
        other.execute(f"CREATE TABLE {pg_orders} (id bigint PRIMARY KEY, amount numeric(12,2), note text)")
        other.execute(f"INSERT INTO {pg_orders} SELECT g, g, 'x' FROM generate_series(1, 5) g")
    configs = []
    for side, url in (("a", PG_URL), ("b", second_database)):
        folder = tmp_path / side
        folder.mkdir()
        export = {"name": "orders", "table": pg_orders, "format": "csv", "dagster": {"key_prefix": [side]}}
        export["destination"] = {"type": "local", "path": "./out"}
        doc = {"source": {"type": "postgres", "url": url}, "exports": [export]}
        (folder / "rivet.yaml").write_text(yaml.safe_dump(doc))
        configs.append(folder / "rivet.yaml")
    defs = Definitions.merge(*(build_definitions(c) for c in configs))
    sources = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys() if k.path[0] == "postgres"}
    assert sources == {f"postgres/test/{pg_orders}", f"postgres/{second_database.rsplit('/', 1)[1]}/{pg_orders}"}
    result = materialize(
        list(defs.assets or []),  # type: ignore[arg-type]
        resources=defs.resources,
        raise_on_error=False,
    )
    assert result.success
    assert materialization_metadata(result, AssetKey(["a", "orders"]))["dagster/row_count"] == 20
    assert materialization_metadata(result, AssetKey(["b", "orders"]))["dagster/row_count"] == 5
