"""`rivet init` as a process against the real servers: source flags, schema, discovery, cloud scaffolds."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import MYSQL_URL, PG_URL, run_cli
from e2e import export_config, rivet_ok

from rivet_core.config import load_config


@pytest.fixture
def pg_schema(pg: Any) -> Iterator[str]:
    """A fresh schema with a table that has an unbounded numeric and a cursor column, and a plain one."""
    schema = f"s_{uuid.uuid4().hex[:8]}"
    pg.execute(f"CREATE SCHEMA {schema}")
    pg.execute(f"CREATE TABLE {schema}.orders (id int PRIMARY KEY, amount numeric, updated_at timestamptz)")
    pg.execute(f"CREATE TABLE {schema}.plain (id int, v text)")
    yield schema
    pg.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.pg
def test_init_all_tables_of_a_schema_warns_about_unbounded_numeric(pg_schema: str, tmp_path: Path) -> None:
    proc = run_cli(
        "init", "--source-env", "RIVET_TEST_INIT_URL", "--schema", pg_schema, env={"RIVET_TEST_INIT_URL": PG_URL}
    )
    assert proc.returncode == 0, proc.stderr
    doc = yaml.safe_load(proc.stdout)
    assert doc["source"] == {"type": "postgres", "url_env": "RIVET_TEST_INIT_URL", "environment": "production"}
    by_name = {e["name"]: e for e in doc["exports"]}
    assert list(by_name) == ["orders", "plain"]
    assert by_name["orders"]["table"] == f"{pg_schema}.orders"
    assert by_name["orders"]["mode"] == "incremental" and by_name["orders"]["cursor_column"] == "updated_at"
    assert "mode" not in by_name["plain"]
    assert "column amount is an unbounded numeric" in proc.stderr and "columns: {amount:" in proc.stderr
    assert "# WARNING: exports[orders]: column amount" in proc.stdout
    config = tmp_path / "rivet.yaml"
    config.write_text(proc.stdout)
    load_config(config, {"RIVET_TEST_INIT_URL": PG_URL})  # what init writes loads


@pytest.mark.pg
def test_init_source_url_discover_and_output_file(pg_schema: str, tmp_path: Path) -> None:
    url = PG_URL.replace("postgres@", "postgres:NotWritten42@")
    out = tmp_path / "rivet.yaml"
    proc = run_cli("init", "--source", url, "--table", f"{pg_schema}.plain", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and f"wrote {out}" in proc.stderr
    text = out.read_text()
    assert "NotWritten42" not in text and "${RIVET_SOURCE_PASSWORD}" in text
    assert yaml.safe_load(text)["exports"][0]["name"] == f"{pg_schema}_plain"
    again = run_cli("init", "--source", url, "--table", f"{pg_schema}.plain", "-o", str(out))
    assert again.returncode == 2 and "--force" in again.stderr

    found = json.loads(rivet_ok("init", "--source", PG_URL, "--schema", pg_schema, "--discover").stdout)
    tables = {t["table"]: t for t in found["tables"]}
    assert found["engine"] == "postgres" and set(tables) == {"orders", "plain"}
    assert tables["orders"]["primary_key"] == ["id"] and tables["plain"]["primary_key"] == []
    assert [c["name"] for c in tables["orders"]["columns"]] == ["id", "amount", "updated_at"]
    assert tables["orders"]["warnings"] and tables["orders"]["cursor_column"] == "updated_at"


@pytest.mark.mysql
def test_init_mysql_from_a_source_file_with_a_gcs_scaffold(mysql: Any, table_name: str, tmp_path: Path) -> None:
    cur = mysql.cursor()
    cur.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, d decimal(10,2), updated_at datetime)")
    try:
        url_file = tmp_path / "url.txt"
        url_file.write_text(MYSQL_URL + "\n")
        proc = rivet_ok(
            "init", "--source-file", str(url_file), "--table", table_name,
            "--gcs-bucket", "lake", "--gcs-credentials-file", "sa.json", "--format", "csv",
        )  # fmt: skip
    finally:
        cur.execute(f"DROP TABLE {table_name}")
    doc = yaml.safe_load(proc.stdout)
    assert doc["source"]["type"] == "mysql" and doc["source"]["url_file"] == str(url_file)
    (export,) = doc["exports"]
    assert export["destination"] == {
        "type": "gcs", "bucket": "lake", "prefix": f"exports/{table_name}/", "credentials_file": "sa.json",
    }  # fmt: skip
    assert export["format"] == "csv" and export["cursor_column"] == "updated_at"
    assert "WARNING" not in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "exactly one of --source URL, --source-env VAR or --source-file PATH"),
        (("--source", PG_URL, "--source-env", "X"), "exactly one of"),
        (("--source", PG_URL, "--discover", "--s3-bucket", "b"), "--discover: cannot be combined"),
        (("--source", PG_URL, "--s3-bucket", "b", "--gcs-bucket", "g"), "at most one"),
        (("--source", PG_URL, "--s3-region", "eu-west-1"), "--s3-region: needs --s3-bucket"),
        (("--source", PG_URL, "--gcs-credentials-file", "x"), "--gcs-credentials-file: needs --gcs-bucket"),
        (("--source-env", "RIVET_TEST_UNSET_INIT"), "--source-env: environment variable RIVET_TEST_UNSET_INIT"),
        (("--source", "oracle://x/y"), "unsupported URL scheme"),
    ],
)
def test_init_flag_errors_exit_2(args: tuple[str, ...], message: str) -> None:
    proc = run_cli("init", *args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_completions_prints_a_shell_script() -> None:
    for shell in ("bash", "zsh", "fish"):
        proc = rivet_ok("completions", shell)
        assert "_RIVET_COMPLETE" in proc.stdout
    assert run_cli("completions", "tcsh").returncode == 2


@pytest.mark.pg
def test_check_json_has_violations_per_export(pg: Any, table_name: str, tmp_path: Path) -> None:
    pg.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, amount numeric, price numeric(10,2), m money)")
    try:
        config = export_config(tmp_path, {"name": "a", "table": table_name}, {"name": "b", "table": table_name})
        proc = run_cli("check", "-c", str(config), "--json")
        text = run_cli("check", "-c", str(config), "--type-report", "-e", "a")
    finally:
        pg.execute(f"DROP TABLE {table_name}")
    assert proc.returncode == 0, proc.stderr
    reports = [json.loads(line) for line in proc.stdout.splitlines()]  # one object per line, as 0.7.7
    assert [r["export"] for r in reports] == ["a", "b"]
    for report in reports:
        assert [c["name"] for c in report["columns"]] == ["id", "amount", "price", "m"]
        violations = {v["column"]: v for v in report["violations"]}
        assert set(violations) == {"amount", "m"}
        assert violations["amount"]["severity"] == "unsupported" and violations["m"]["severity"] == "lossy"
    assert "type report: 4 column(s), 2 violation(s)" in text.stdout
