"""`rivet check` type report against the real servers: 0.7.7's table, JSON keys, `--target`, `--strict`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import MYSQL_URL, run_cli
from e2e import export_config

# 0.7.7's keys of a column without and with a target (`target_note` only where a target warns or fails).
COLUMN_KEYS = {"column", "source_type", "rivet_type", "arrow_type", "fidelity"}
TARGET_KEYS = {"target_type", "target_status"}
VIOLATION_KEYS = {"column_name", "fidelity", "message", "fatal"}
HEADERS = ["Column", "Source type", "Rivet type", "Arrow type", "Fidelity"]


def check(config: Path, *args: str) -> Any:
    """`rivet check -c CONFIG ARGS` as a process."""
    return run_cli("check", "-c", str(config), *args, cwd=config.parent)


def check_json(config: Path, *args: str, code: int = 0) -> list[dict[str, Any]]:
    """`rivet check --json ARGS`: one JSON object per line, one line per export."""
    proc = check(config, "--json", *args)
    assert proc.returncode == code, proc.stdout + proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def table(stdout: str, export: str) -> tuple[list[str], dict[str, list[str]]]:
    """The headers and the rows (by column) of one export's type-report table; cells are 2+ spaces apart."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"Export: {export}"))
    headers = re.split(r"\s{2,}", lines[start + 1].strip())
    rows: dict[str, list[str]] = {}
    for line in lines[start + 3 :]:
        if not line.strip():
            break
        if not line.lstrip().startswith("note: "):
            cells = re.split(r"\s{2,}", line.strip())
            rows[cells[0]] = cells[1:]
    return headers, rows


def columns(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A JSON report's columns by name."""
    return {c["column"]: c for c in report["columns"]}


@pytest.fixture
def pg_types(pg: Any, table_name: str) -> Iterator[str]:
    """A table with a spread of Postgres types (and an enum of its own), one row."""
    mood = f"{table_name}_mood"
    pg.execute(f"CREATE TYPE {mood} AS ENUM ('sad', 'ok')")
    pg.execute(
        f"CREATE TABLE {table_name} (id int PRIMARY KEY, b bigint, n12 numeric(12,2), nu numeric, "
        "big numeric(50,40), t text, v varchar(20), f bool, tz timestamptz, ts timestamp, d date, j json, "
        f"jb jsonb, by bytea, u uuid, fl float8, r real, m money, a int[], iv interval, e {mood})"
    )
    pg.execute(f"INSERT INTO {table_name} (id, b) VALUES (1, 2)")
    pg.execute(f"ANALYZE {table_name}")
    yield table_name
    pg.execute(f"DROP TABLE {table_name}")
    pg.execute(f"DROP TYPE {mood}")


def pg_config(folder: Path, table: str) -> Path:
    """`all` exports the table as it is; `safe` gives its unsupported and lossy columns an override."""
    safe = {"name": "safe", "table": table, "columns": {"nu": "decimal(20,4)", "m": "string", "jb": "string"}}
    return export_config(folder, {"name": "all", "table": table}, safe)


PG_EXPECTED = {  # column: source type, Rivet type, Arrow type, fidelity (as the table prints it)
    "id": ["int4", "int4", "int32", "exact"],
    "b": ["int8", "int8", "int64", "exact"],
    "n12": ["numeric", "decimal(12,2)", "decimal128(12, 2)", "exact"],
    "nu": ["numeric", "unsupported(numeric)", "(needs override)", "unsupported ✗"],
    "big": ["numeric", "decimal(50,40)", "decimal256(50, 40)", "exact"],
    "t": ["text", "text", "string", "exact"],
    "v": ["varchar", "text", "string", "exact"],
    "f": ["bool", "bool", "bool", "exact"],
    "tz": ["timestamptz", "timestamp_tz", "timestamp[us, tz=UTC]", "exact"],
    "ts": ["timestamp", "timestamp", "timestamp[us]", "exact"],
    "d": ["date", "date", "date32[day]", "exact"],
    "j": ["json", "json", "string", "logical_string ~"],
    "jb": ["jsonb", "json", "string", "logical_string ~"],
    "by": ["bytea", "binary", "binary", "exact"],
    "u": ["uuid", "uuid", "string", "compatible"],
    "fl": ["float8", "float8", "double", "exact"],
    "r": ["float4", "float4", "float", "exact"],
    "m": ["money", "text", "string", "lossy ✗"],
    "a": ["_int4", "list<int4>", "list<item: int32>", "compatible"],
    "iv": ["interval", "interval", "string", "compatible"],
    "e": ["enum", "enum", "string", "compatible"],
}


@pytest.mark.pg
def test_type_report_prints_the_table_of_every_column_with_fidelity(pg_types: str, tmp_path: Path) -> None:
    config = pg_config(tmp_path, pg_types)
    proc = check(config, "--type-report", "-e", "all")
    assert proc.returncode == 0, proc.stderr  # violations are warnings without --strict
    assert "all (full, table " in proc.stdout and "  verdict: " in proc.stdout  # our check report stays
    assert "type report: 21 column(s), 2 violation(s)" in proc.stdout
    headers, rows = table(proc.stdout, "all")
    assert headers == HEADERS and rows == PG_EXPECTED
    assert "  WARN: column 'nu' (source type 'numeric'): fidelity=unsupported: " in proc.stdout
    assert "  WARN: column 'm' (source type 'money'): fidelity=lossy: money has no Arrow type" in proc.stdout
    assert "Target type" not in proc.stdout and "FAIL:" not in proc.stdout


@pytest.mark.pg
def test_json_is_one_object_per_export_with_0_7_7_keys(pg_types: str, tmp_path: Path) -> None:
    config = pg_config(tmp_path, pg_types)
    everything, safe = check_json(config)
    assert (everything["export"], safe["export"]) == ("all", "safe")
    assert "target_failures" not in everything  # no target asked
    for report in (everything, safe):
        for c in report["columns"]:
            assert set(c) >= COLUMN_KEYS and not TARGET_KEYS & set(c) and c["name"] == c["column"]
    keys = ("source_type", "rivet_type", "arrow_type", "fidelity")
    assert {name: [c[k] for k in keys] for name, c in columns(everything).items()} == {
        name: [*v[:3], v[3].split()[0]]
        for name, v in PG_EXPECTED.items()  # the table's marker is not in the JSON
    }
    violations = {v["column_name"]: v for v in everything["violations"]}
    assert set(violations) == {"nu", "m"} and all(set(v) >= VIOLATION_KEYS for v in violations.values())
    assert (violations["nu"]["fidelity"], violations["m"]["fidelity"]) == ("unsupported", "lossy")
    assert violations["m"]["message"] == (
        "column 'm' (source type 'money'): fidelity=lossy: money has no Arrow type and is written as its text form"
    )
    assert not any(v["fatal"] for v in violations.values())
    overridden = columns(safe)
    assert (overridden["nu"]["rivet_type"], overridden["nu"]["fidelity"]) == ("decimal(20,4)", "exact")
    assert (overridden["m"]["rivet_type"], overridden["m"]["fidelity"]) == ("text", "exact")
    assert (overridden["jb"]["rivet_type"], overridden["jb"]["fidelity"]) == ("text", "exact")  # no longer json
    assert safe["violations"] == []
    strict, _ = check_json(config, "--strict", code=1)
    assert {v["column_name"]: v["fatal"] for v in strict["violations"]} == {"nu": True, "m": True}


@pytest.mark.pg
def test_target_bigquery_maps_every_column_and_names_the_failures(pg_types: str, tmp_path: Path) -> None:
    config = pg_config(tmp_path, pg_types)
    everything, safe = check_json(config, "--target", "bigquery")
    cols = columns(everything)
    assert all(set(c) >= TARGET_KEYS for c in everything["columns"])
    targets = {name: (c["target_type"], c["target_status"]) for name, c in cols.items()}
    assert targets == {
        "id": ("INT64", "ok"), "b": ("INT64", "ok"), "n12": ("NUMERIC", "ok"), "nu": ("-", "fail"),
        "big": ("-", "fail"), "t": ("STRING", "ok"), "v": ("STRING", "ok"), "f": ("BOOL", "ok"),
        "tz": ("TIMESTAMP", "ok"), "ts": ("DATETIME", "ok"), "d": ("DATE", "ok"), "j": ("STRING", "ok"),
        "jb": ("STRING", "ok"), "by": ("BYTES", "ok"), "u": ("STRING", "ok"), "fl": ("FLOAT64", "ok"),
        "r": ("FLOAT64", "ok"), "m": ("STRING", "ok"), "a": ("REPEATED INT64", "ok"), "iv": ("STRING", "ok"),
        "e": ("STRING", "ok"),
    }  # fmt: skip
    assert cols["big"]["target_note"] == (
        "decimal256(50, 40) exceeds BigQuery BIGNUMERIC limits (max precision 76, max scale 38)"
    )
    assert cols["nu"]["target_note"] == "no Arrow type — column is unsupported or needs a type override"
    assert "target_note" not in cols["id"]
    assert everything["target_failures"] is True and safe["target_failures"] is True  # `big` fails in both
    assert columns(safe)["nu"]["target_type"] == "NUMERIC"  # decimal(20,4) fits NUMERIC
    proc = check(config, "--target", "bq", "-e", "all")  # `bq` is the same target; the table turns on
    assert proc.returncode == 0, proc.stderr  # a target failure fails only with --strict (as 0.7.7)
    headers, rows = table(proc.stdout, "all  [target: bigquery]")
    assert headers == [*HEADERS, "Target type", "Status"]
    assert rows["big"][-2:] == ["-", "fail ✗"] and rows["n12"][-2:] == ["NUMERIC", "ok"]
    assert rows["j"][3] == "logical_string"  # with a target the marker follows the status
    assert "    note: decimal256(50, 40) exceeds BigQuery BIGNUMERIC limits" in proc.stdout


@pytest.mark.pg
def test_strict_exits_1_on_violations_and_target_failures_only(pg_types: str, tmp_path: Path) -> None:
    config = pg_config(tmp_path, pg_types)
    assert check(config, "--strict", "-e", "safe").returncode == 0  # no violation, verdict not unsafe
    assert check(config, "--type-report", "-e", "all").returncode == 0
    strict_all = check(config, "--strict", "-e", "all")
    assert strict_all.returncode == 1 and "  FAIL: column 'nu' (source type 'numeric')" in strict_all.stdout
    (safe,) = check_json(config, "--strict", "--target", "bq", "-e", "safe", code=1)  # only `big` fails
    assert safe["violations"] == [] and safe["verdict"] != "unsafe" and safe["target_failures"] is True
    doc = yaml.safe_load(config.read_text())
    doc["exports"][1]["columns"]["big"] = "decimal(50,30)"  # fits BIGNUMERIC
    config.write_text(yaml.safe_dump(doc))
    (fixed,) = check_json(config, "--strict", "--target", "bq", "-e", "safe")
    assert "target_failures" not in fixed and columns(fixed)["big"]["target_type"] == "BIGNUMERIC"


@pytest.mark.pg
@pytest.mark.parametrize("value", ["snowflake", "BIGQUERY2"])
def test_an_unknown_target_is_a_usage_error(pg_types: str, tmp_path: Path, value: str) -> None:
    proc = check(pg_config(tmp_path, pg_types), "--target", value)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"error: --target: {value!r} is not a known target (valid: bigquery, bq)"
    ]
    assert check(pg_config(tmp_path, pg_types), "--target", "BQ", "-e", "safe").returncode == 0  # any case


# -- MariaDB -----------------------------------------------------------------------------------------------


@pytest.fixture
def my_types(mysql: Any, table_name: str) -> Iterator[str]:
    """A MariaDB table with a spread of types, one row."""
    with mysql.cursor() as cur:
        cur.execute(
            f"CREATE TABLE {table_name} (id int PRIMARY KEY, ub bigint unsigned, flag tinyint(1), small tinyint, "
            "d12 decimal(12,2), d60 decimal(60,2), dt6 datetime(6), ts timestamp NULL, d date, tm time, j json, "
            "bl blob, tx text, vc varchar(20), f float, db double, e enum('a','b'))"
        )
        cur.execute(f"INSERT INTO {table_name} (id, ub) VALUES (1, 18446744073709551615)")
    yield table_name
    with mysql.cursor() as cur:
        cur.execute(f"DROP TABLE {table_name}")


MY_EXPECTED = {  # column: source type, Rivet type, Arrow type, fidelity, BigQuery type, status
    "id": ["int(11)", "int4", "int32", "exact", "INT64", "ok"],
    "ub": ["bigint(20) unsigned", "uint8", "uint64", "exact", "INT64", "warn"],
    "flag": ["tinyint(1)", "bool", "bool", "exact", "BOOL", "ok"],
    "small": ["tinyint(4)", "int1", "int8", "exact", "INT64", "ok"],
    "d12": ["decimal(12,2)", "decimal(12,2)", "decimal128(12, 2)", "exact", "NUMERIC", "ok"],
    "d60": ["decimal(60,2)", "decimal(60,2)", "decimal256(60, 2)", "exact", "BIGNUMERIC", "ok"],
    "dt6": ["datetime(6)", "timestamp", "timestamp[us]", "exact", "DATETIME", "ok"],
    "ts": ["timestamp", "timestamp_tz", "timestamp[us, tz=UTC]", "exact", "TIMESTAMP", "ok"],
    "d": ["date", "date", "date32[day]", "exact", "DATE", "ok"],
    "tm": ["time", "duration", "duration[us]", "exact", "-", "fail"],
    "j": ["longtext", "text", "string", "exact", "STRING", "ok"],  # MariaDB's json is longtext
    "bl": ["blob", "binary", "binary", "exact", "BYTES", "ok"],
    "tx": ["text", "text", "string", "exact", "STRING", "ok"],
    "vc": ["varchar(20)", "text", "string", "exact", "STRING", "ok"],
    "f": ["float", "float4", "float", "exact", "FLOAT64", "ok"],
    "db": ["double", "float8", "double", "exact", "FLOAT64", "ok"],
    "e": ["enum('a','b')", "enum", "string", "compatible", "STRING", "ok"],
}


def my_config(folder: Path, table: str) -> Path:
    """A rivet.yaml with the MariaDB source and one export of `table`."""
    export = {"name": "my", "table": table, "format": "parquet", "destination": {"type": "local", "path": "./out"}}
    doc = {"source": {"type": "mysql", "url": MYSQL_URL, "environment": "local"}, "exports": [export]}
    path = folder / "rivet.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.mysql
def test_mariadb_types_in_the_report_json_and_against_bigquery(my_types: str, tmp_path: Path) -> None:
    config = my_config(tmp_path, my_types)
    (report,) = check_json(config, "--target", "bq")
    keys = ("source_type", "rivet_type", "arrow_type", "fidelity", "target_type", "target_status")
    assert {name: [c[k] for k in keys] for name, c in columns(report).items()} == MY_EXPECTED
    assert report["violations"] == [] and report["target_failures"] is True  # time is a duration
    assert columns(report)["ub"]["target_note"].startswith("UINT64 has no direct BigQuery type")
    assert columns(report)["tm"]["target_note"] == "Arrow type duration[us] has no supported BigQuery mapping"
    plain = check(config, "--type-report")
    assert plain.returncode == 0, plain.stderr
    headers, rows = table(plain.stdout, "my")
    assert headers == HEADERS and rows == {name: v[:4] for name, v in MY_EXPECTED.items()}
    strict = check(config, "--strict", "--target", "bigquery")
    assert strict.returncode == 1 and table(strict.stdout, "my  [target: bigquery]")[1]["tm"][-1] == "fail ✗"
    assert check(config, "--strict").returncode == 0  # no violation without the target
