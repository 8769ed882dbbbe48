"""The `rivet` command as a user runs it: exit codes, error text on stderr, no tracebacks, no secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli, write_config
from e2e import data_files, export_config, rivet_ok, run_json, state_show

URL_SECRET = "UrlSecret4711"
ENV_SECRET = "EnvSecret0815"
ENV = {"RIVET_TEST_PW": ENV_SECRET}
SECRET_URL = f"postgresql://postgres:{URL_SECRET}@127.0.0.1:5432/test"

DEST = "destination: {type: local, path: ./out}"
SOURCE = """\
source:
  type: postgres
  url: postgresql://postgres:${RIVET_TEST_PW}@127.0.0.1:5432/test
"""


def export_yaml(fields: str, tail: str = f"format: parquet, {DEST}") -> str:
    """A config with the secret-bearing source and one export `x` with `fields`."""
    return f"{SOURCE}exports:\n  - {{name: x, {fields}, {tail}}}\n"


def source_yaml(source: str) -> str:
    """A config with the given flow-style source fields and one valid export."""
    return f"source: {{type: postgres, {source}}}\nexports:\n  - {{name: x, table: t, format: parquet, {DEST}}}\n"


# (case, rivet.yaml, text stderr must contain)
BAD_CONFIGS = [
    ("unknown key", export_yaml("table: t, bogus: 1"), "exports[0].bogus"),
    ("bad enum", export_yaml("table: t", f"format: xls, {DEST}"), "exports[0].format: Input should be 'parquet' or"),
    (
        "url and url_env",
        source_yaml(f"url: '{SECRET_URL}', url_env: RIVET_TEST_PW"),
        "source: use exactly one of url / url_env / url_file",
    ),
    (
        "password and password_env",
        source_yaml(
            f"host: 127.0.0.1, user: postgres, database: test, password: {URL_SECRET}, password_env: RIVET_TEST_PW"
        ),
        "password_env",
    ),
    ("query and table", export_yaml("table: t, query: 'SELECT 1'"), "exports[0]: set exactly one of table / query"),
    ("incremental without cursor", export_yaml("table: t, mode: incremental"), "exports[0].cursor_column"),
    ("chunked without chunk column", export_yaml("query: 'SELECT 1 AS a', mode: chunked"), "exports[0].chunk_column"),
    (
        "missing env var",
        source_yaml("url: 'postgresql://postgres:${RIVET_TEST_UNSET_VAR}@127.0.0.1/test'"),
        "RIVET_TEST_UNSET_VAR",
    ),
    ("query_file outside the config folder", export_yaml("query_file: ../q.sql"), "exports[0].query_file"),
    ("tuning key at export level", export_yaml("table: t, batch_size: 5"), "exports[0].tuning.batch_size"),
    (
        "unsupported destination",
        export_yaml("table: t", "format: parquet, destination: {type: azure, path: x}"),
        "exports[0].destination",
    ),
    ("malformed yaml", SOURCE + "exports:\n  - name: x\n    table: [t\n    format: parquet\n", "line 6"),
]


def assert_clean(proc: Any) -> None:
    """No traceback and neither secret anywhere in what the user sees."""
    shown = proc.stdout + proc.stderr
    assert "Traceback" not in shown
    assert URL_SECRET not in shown and ENV_SECRET not in shown


@pytest.mark.parametrize(("case", "text", "expected"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_exits_2_naming_the_field(tmp_path: Path, case: str, text: str, expected: str) -> None:
    (tmp_path / "sub").mkdir()
    config = write_config(tmp_path / "sub", text)
    (tmp_path / "q.sql").write_text("SELECT 1")
    proc = run_cli("run", "-c", str(config), env=ENV)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: ")
    assert_clean(proc)
    assert not (tmp_path / "sub" / "out").exists()


def test_bad_config_with_json_errors_is_one_json_object(tmp_path: Path) -> None:
    config = write_config(tmp_path, export_yaml("table: t", f"format: xls, {DEST}"))
    proc = run_cli("--json-errors", "run", "-c", str(config), env=ENV)
    assert proc.returncode == 2
    error = json.loads(proc.stderr)
    assert error["exit_code"] == 2 and "exports[0].format" in error["error"]
    assert_clean(proc)


def test_unknown_export_name_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, export_yaml("table: t"))
    proc = run_cli("run", "-c", str(config), "-e", "nope", env=ENV)
    assert proc.returncode == 2 and "nope" in proc.stderr
    assert_clean(proc)


@pytest.mark.pg
@pytest.mark.parametrize("form", ["url", "url_env"])
def test_connection_refused_exits_1_without_the_secret(tmp_path: Path, form: str) -> None:
    closed = f"postgresql://postgres:{URL_SECRET}@127.0.0.1:1/test"
    source = f"url: '{closed}'" if form == "url" else "url_env: RIVET_TEST_URL"
    config = write_config(tmp_path, source_yaml(f"{source}, tuning: {{max_retries: 0}}"))  # fail fast
    proc = run_cli("run", "-c", str(config), env={**ENV, "RIVET_TEST_URL": closed.replace(URL_SECRET, ENV_SECRET)})
    assert proc.returncode == 1, proc.stderr
    assert "connection" in proc.stderr and "port 1" in proc.stderr
    assert_clean(proc)


@pytest.mark.pg
def test_missing_source_table_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "x", "table": "no_such_table_rivet"}, url=SECRET_URL)
    proc = run_cli("run", "-c", str(config))
    assert proc.returncode == 1
    assert 'relation "no_such_table_rivet" does not exist' in proc.stderr
    assert_clean(proc)
    assert not data_files(tmp_path / "out")


@pytest.mark.pg
def test_failed_run_with_json_errors_ends_with_a_json_error(tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "x", "table": "no_such_table_rivet"}, url=SECRET_URL)
    proc = run_cli("--json-errors", "run", "-c", str(config))
    assert proc.returncode == 1
    error = json.loads(proc.stderr.strip().splitlines()[-1])
    assert error["exit_code"] == 1 and error["export"] == "x"
    assert "no_such_table_rivet" in error["error"]
    assert_clean(proc)


def test_schema_config_prints_the_json_schema() -> None:
    proc = rivet_ok("schema", "config")
    schema = json.loads(proc.stdout)
    assert {"source", "exports"} <= set(schema["properties"])
    assert set(schema["required"]) >= {"source", "exports"}


@pytest.fixture
def small_table(pg: Any, table_name: str) -> Any:
    pg.execute(f"CREATE TABLE {table_name} AS SELECT g AS id, 'v' || g AS v FROM generate_series(1, 25) g")
    yield table_name
    pg.execute(f"DROP TABLE {table_name}")


@pytest.mark.pg
def test_json_summary_state_show_and_metrics(small_table: str, tmp_path: Path) -> None:
    config = export_config(
        tmp_path,
        {"name": "inc", "table": small_table, "mode": "incremental", "cursor_column": "id"},
        {"name": "broken", "table": "no_such_table_rivet"},
        url=SECRET_URL,
    )
    summary = run_json(config, "-e", "inc")
    assert summary["status"] == "success" and summary["rows"] == 25
    assert summary["files"] == [str(p) for p in data_files(tmp_path / "out")]
    assert summary["cursor"] == {"column": "id", "value": "25"}
    assert run_cli("run", "-c", str(config), "-e", "broken").returncode == 1

    shown = state_show(config, "inc")
    assert shown["export"] == "inc" and shown["mode"] == "incremental"
    assert shown["cursor"] == {"column": "id", "value": {"type": "int", "value": "25"}}
    assert shown["committed_units"] == 1

    proc = rivet_ok("metrics", "-c", str(config), "--format", "json")
    runs = {r["export"]: r for r in json.loads(proc.stdout)}
    assert runs["inc"]["status"] == "success" and runs["inc"]["rows"] == 25 and runs["inc"]["files"] == 1
    assert runs["broken"]["status"] == "failed" and runs["broken"]["rows"] == 0
    assert "no_such_table_rivet" in runs["broken"]["error"]
    assert_clean(proc)
    only = json.loads(rivet_ok("metrics", "-c", str(config), "--format", "json", "-e", "inc").stdout)
    assert [r["export"] for r in only] == ["inc"]
    table = rivet_ok("metrics", "-c", str(config)).stdout
    assert "inc" in table and "success" in table


@pytest.mark.pg
def test_the_cli_exports_without_loading_pandas(pg: Any, table_name: str, tmp_path: Path) -> None:
    """pyarrow would import pandas (installed for dagster-gcp) on first use; the CLI refuses it (~45 MiB)."""
    import subprocess
    import sys

    pg.execute(f"CREATE TABLE {table_name} AS SELECT g AS id, g::text AS v FROM generate_series(1, 100) g")
    config = export_config(tmp_path, {"name": "np", "table": table_name})
    probe = (
        "import atexit, sys;"
        " atexit.register(lambda: print('pandas loaded:', 'pandas' in sys.modules, file=sys.stderr));"
        f"from rivet_core.cli import main; sys.argv = ['rivet', 'run', '-c', {str(config)!r}]; main()"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "pandas loaded: False" in proc.stderr
    assert len(data_files(tmp_path / "out")) == 1
