"""Edge values (README: Types): each is written exactly or fails before anything is visible, naming the column,
the row and the `columns:` override that fixes it — value by value, both engines, both writers, through `rivet run`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import mysql.connector
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import MYSQL_URL, PG_URL, run_cli
from e2e import data_files

from rivet_core.errors import RivetError
from rivet_core.sources.mysql import connect_args
from rivet_core.writers import FormatOptions, RollingWriter

FORMATS = ["parquet", "csv"]
NINES_39 = "9" * 39
DIGITS_76 = "1234567890" * 7 + "123456"
MAX_76_38 = "9" * 38 + "." + "9" * 38


def run_export(folder: Path, engine: str, export: dict[str, Any], fmt: str) -> tuple[int, str]:
    """`rivet run` of one export (named `e`) to `folder/out`; (exit code, stderr)."""
    url = PG_URL if engine == "postgres" else MYSQL_URL
    doc = {
        "source": {"type": engine, "url": url},
        "exports": [{"name": "e", "format": fmt, "destination": {"type": "local", "path": "./out"}, **export}],
    }
    (folder / "rivet.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = run_cli("run", "-c", str(folder / "rivet.yaml"), cwd=folder)
    assert "Traceback" not in proc.stderr and "panicked" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr


def written(folder: Path, fmt: str) -> list[dict[str, Any]]:
    """The rows written, sorted by id: Parquet values as Python objects, CSV fields as their text."""
    (path,) = data_files(folder / "out", fmt)
    if fmt == "parquet":
        rows = pq.read_table(path).to_pylist()
    else:
        rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode(), newline="")))
    return sorted(rows, key=lambda r: int(r["id"]))


def assert_fails_cleanly(folder: Path, code: int, stderr: str, *needles: str) -> None:
    """Exit 1, one ERROR line holding every needle, nothing at a final path."""
    assert code == 1, stderr
    (line,) = [ln for ln in stderr.splitlines() if "ERROR e: " in ln and "failed," not in ln]
    for needle in needles:
        assert needle in line, line
    assert not (folder / "out").exists() or not [*data_files(folder / "out"), *data_files(folder / "out", "csv")]


# -- Postgres -----------------------------------------------------------------------------------------------


@pytest.fixture
def pg_table() -> Iterator[Any]:
    """`make(ddl_of_v, value)`: a table (id int PRIMARY KEY, v ...) holding (1, NULL) and (2, value)."""
    names: list[str] = []
    with psycopg.connect(PG_URL, autocommit=True) as conn:

        def make(ddl: str, value: str) -> str:
            name = f"edge_{uuid.uuid4().hex[:10]}"
            names.append(name)
            conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v {ddl})")
            conn.execute(f"INSERT INTO {name} VALUES (1, NULL), (2, %s::{ddl})", (value,))
            return name

        yield make
        for name in names:
            conn.execute(f"DROP TABLE {name}")


def pg_text(table: str) -> str:
    """The server's text form of row 2's value (what a `string` override writes)."""
    with psycopg.connect(PG_URL) as conn:
        row = conn.execute(f"SELECT v::text FROM {table} WHERE id = 2").fetchone()
    assert row is not None
    return str(row[0])


# (DDL of v, value inserted, `columns:` override, text the error's fix holds besides `v: string`)
PG_UNFIT = [
    ("numeric", NINES_39, "decimal(38,0)", "`v: decimal(39,0)` or "),
    ("numeric", "7" * 1000, "decimal(76,0)", "(1000 characters)"),
    ("numeric", "0." + "0" * 39 + "1", "decimal(38,38)", "`v: decimal(40,40)`"),
    ("numeric(10,2)", "NaN", None, "value 'nan'"),
    ("timestamp", "294276-12-31 23:59:59.999999", None, "a year outside 1 … 9999"),
    ("timestamp", "12000-01-01 00:00:00", None, "a year outside 1 … 9999"),
    ("timestamp", "0044-03-15 12:00:00 BC", None, "a year outside 1 … 9999"),
    ("timestamptz", "12000-01-01 00:00:00+00", None, "a year outside 1 … 9999"),
    ("date", "12000-01-01", None, "a year outside 1 … 9999"),
    ("date", "0001-12-31 BC", None, "a year outside 1 … 9999"),
    ("time", "24:00:00", None, "24:00:00 or later"),
]
PG_ARRAYS = [("int4[]", "{{1,2},{3,4}}", "[1:2][1:2]"), ("int4[]", "[0:2]={7,8,9}", "[0:2]"), ("text[]", "{{a}}", "")]


@pytest.mark.pg
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("ddl", "value", "override", "detail"), PG_UNFIT)
def test_pg_value_that_does_not_fit_fails_naming_column_row_and_fix(
    pg_table: Any, tmp_path: Path, fmt: str, ddl: str, value: str, override: str | None, detail: str
) -> None:
    table = pg_table(ddl, value)
    export: dict[str, Any] = {"table": table, **({"columns": {"v": override}} if override else {})}
    code, stderr = run_export(tmp_path, "postgres", export, fmt)
    assert_fails_cleanly(tmp_path, code, stderr, "postgres: column 'v'", "at id=2", "`v: string`", detail)


@pytest.mark.pg
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("ddl", "value", "dims"), PG_ARRAYS)
def test_pg_misshapen_array_fails_naming_the_column_and_string_override(
    pg_table: Any, tmp_path: Path, fmt: str, ddl: str, value: str, dims: str
) -> None:
    code, stderr = run_export(tmp_path, "postgres", {"table": pg_table(ddl, value)}, fmt)
    assert_fails_cleanly(tmp_path, code, stderr, "postgres: column 'v'", f"bounds {dims}", "`columns: {v: string}`")


@pytest.mark.pg
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("ddl", "value"), [(d, v) for d, v, _, _ in PG_UNFIT] + [(d, v) for d, v, _ in PG_ARRAYS])
def test_pg_string_override_writes_the_exact_text(
    pg_table: Any, tmp_path: Path, fmt: str, ddl: str, value: str
) -> None:
    table = pg_table(ddl, value)
    code, stderr = run_export(tmp_path, "postgres", {"table": table, "columns": {"v": "string"}}, fmt)
    assert code == 0, stderr
    rows = written(tmp_path, fmt)
    assert [r["v"] for r in rows] == [None if fmt == "parquet" else "", pg_text(table)]


# (DDL, value, override, Arrow type written): wide decimals are written exactly
PG_EXACT = [
    ("numeric(76,38)", MAX_76_38, None, pa.decimal256(76, 38)),
    ("numeric(76,38)", "-" + MAX_76_38, None, pa.decimal256(76, 38)),
    ("numeric", DIGITS_76, "decimal(76,0)", pa.decimal256(76, 0)),
    ("numeric", NINES_39, "decimal(39,0)", pa.decimal256(39, 0)),
    ("numeric", "-12.5", "decimal(10,1)", pa.decimal128(10, 1)),
]


@pytest.mark.pg
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("ddl", "value", "override", "arrow_type"), PG_EXACT)
def test_pg_wide_decimals_are_written_exactly(
    pg_table: Any, tmp_path: Path, fmt: str, ddl: str, value: str, override: str | None, arrow_type: pa.DataType
) -> None:
    export: dict[str, Any] = {"table": pg_table(ddl, value), **({"columns": {"v": override}} if override else {})}
    code, stderr = run_export(tmp_path, "postgres", export, fmt)
    assert code == 0, stderr
    rows = written(tmp_path, fmt)
    if fmt == "parquet":
        assert pq.read_schema(data_files(tmp_path / "out")[0]).field("v").type == arrow_type
        assert rows[1]["v"] == Decimal(value)
    else:
        assert rows[1]["v"] == value and rows[0]["v"] == ""


# -- MySQL / MariaDB ----------------------------------------------------------------------------------------


@pytest.fixture
def my_table() -> Iterator[Any]:
    """`make(ddl_of_v, *values)`: a table (id INT PRIMARY KEY, v ...) holding (1, NULL), (2, value), …"""
    conn = mysql.connector.connect(**connect_args(MYSQL_URL, None))
    names: list[str] = []

    def make(ddl: str, *values: Any) -> str:
        name = f"edge_{uuid.uuid4().hex[:10]}"
        names.append(name)
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, v {ddl})")
            rows = [(1, None), *((i, v) for i, v in enumerate(values, start=2))]
            cur.executemany(f"INSERT INTO {name} VALUES (%s, %s)", rows)
        conn.commit()
        return name

    try:
        yield make
    finally:
        with conn.cursor() as cur:
            for name in names:
                cur.execute(f"DROP TABLE IF EXISTS {name}")
        conn.close()


@pytest.mark.mysql
@pytest.mark.parametrize("fmt", FORMATS)
def test_mysql_query_decimal_65_0_fails_naming_the_width_then_is_exact_with_it(
    my_table: Any, tmp_path: Path, fmt: str
) -> None:
    digits = "9" * 65
    query = f"SELECT id, v FROM {my_table('DECIMAL(65,0)', digits, '-1')} ORDER BY id"
    code, stderr = run_export(tmp_path, "mysql", {"query": query}, fmt)
    assert_fails_cleanly(tmp_path, code, stderr, "mysql: column 'v'", "row 2 of the stream", "`v: decimal(65,0)`")
    code, stderr = run_export(tmp_path, "mysql", {"query": query, "columns": {"v": "decimal(65,0)"}}, fmt)
    assert code == 0, stderr
    got = [r["v"] for r in written(tmp_path, fmt)]
    assert got == ([None, Decimal(digits), Decimal(-1)] if fmt == "parquet" else ["", digits, "-1"])


@pytest.mark.mysql
@pytest.mark.parametrize("fmt", FORMATS)
def test_mysql_decimal_65_30_is_written_exactly(my_table: Any, tmp_path: Path, fmt: str) -> None:
    values = ["9" * 35 + "." + "9" * 30, "-0.000000000000000000000000000001", "1.5"]
    code, stderr = run_export(tmp_path, "mysql", {"table": my_table("DECIMAL(65,30)", *values)}, fmt)
    assert code == 0, stderr
    got = [r["v"] for r in written(tmp_path, fmt)]
    if fmt == "parquet":
        assert got == [None, *map(Decimal, values)]
    else:
        assert got == ["", values[0], values[1], "1.500000000000000000000000000000"]


@pytest.mark.mysql
@pytest.mark.parametrize("fmt", FORMATS)
def test_mysql_tinyint1_other_than_0_1_fails_suggesting_int8(my_table: Any, tmp_path: Path, fmt: str) -> None:
    others = [2, -1, 127, -128]
    table = my_table("TINYINT(1)", 1, 0, *others)
    code, stderr = run_export(tmp_path, "mysql", {"table": table}, fmt)
    assert_fails_cleanly(tmp_path, code, stderr, "mysql: column 'v' (tinyint(1))", "at id=4", "`v: int8`")
    code, stderr = run_export(tmp_path, "mysql", {"table": table, "columns": {"v": "int8"}}, fmt)
    assert code == 0, stderr
    got = [r["v"] for r in written(tmp_path, fmt)]
    assert got == ([None, 1, 0, *others] if fmt == "parquet" else ["", "1", "0", *map(str, others)])


@pytest.mark.mysql
@pytest.mark.parametrize("fmt", FORMATS)
def test_mysql_tinyint1_of_0_and_1_is_bool(my_table: Any, tmp_path: Path, fmt: str) -> None:
    code, stderr = run_export(tmp_path, "mysql", {"table": my_table("TINYINT(1)", 1, 0)}, fmt)
    assert code == 0, stderr
    got = [r["v"] for r in written(tmp_path, fmt)]
    assert got == ([None, True, False] if fmt == "parquet" else ["", "true", "false"])


def csv_text_of(value: Any, arrow_type: pa.DataType) -> str:
    """What the CSV writer writes for a value read back from Parquet (README: Types, CSV)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, f".{arrow_type.scale}f")
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, dt.timedelta):
        us = abs(value) // dt.timedelta(microseconds=1)
        sign = "-" if value < dt.timedelta(0) else ""
        clock = f"{us // 3_600_000_000:02d}:{us // 60_000_000 % 60:02d}:{us // 1_000_000 % 60:02d}"
        return f"{sign}{clock}.{us % 1_000_000:06d}"
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@pytest.mark.mysql
def test_mysql_every_type_survives_the_csv_writer(tmp_path: Path) -> None:
    """The type table of tests/test_mysql.py exported to CSV: every field is the text of the Parquet value."""
    from test_mysql import TYPES

    conn = mysql.connector.connect(**connect_args(MYSQL_URL, None))
    table = f"edge_{uuid.uuid4().hex[:10]}"
    try:
        with conn.cursor() as cur:
            cur.execute("SET NAMES utf8mb4")
            cur.execute("SET SESSION sql_mode = '', time_zone = '+00:00'")
            columns = ", ".join(f"{name} {ddl}" for name, ddl, _, _ in TYPES)
            cur.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY, {columns}) CHARSET utf8mb4")
            for row in range(4):
                values = [None if rows[row] is None else rows[row][0] for _, _, _, rows in TYPES]
                cur.execute(f"INSERT INTO {table} VALUES (%s{', %s' * len(TYPES)})", (row + 1, *values))
        conn.commit()
        code, stderr = run_export(tmp_path, "mysql", {"table": table}, "csv")
        assert code == 0, stderr
        rows = written(tmp_path, "csv")
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()
    mismatches = []
    for name, _, arrow_type, expected in TYPES:
        want: list[Any] = [csv_text_of(None if r is None else r[1], arrow_type) for r in expected]
        got: list[Any] = [r[name] for r in rows]
        if pa.types.is_floating(arrow_type):  # the shortest text that reads back as the same float
            got = [g if g == "" else pa.scalar(float(g), arrow_type).as_py() for g in got]
            want = [w if w == "" else float(w) for w in want]
        if got != want:
            mismatches.append((name, got, want))
    assert not mismatches, mismatches


# -- the writer boundary ------------------------------------------------------------------------------------


def test_a_polars_panic_in_the_writer_is_one_error_naming_the_column() -> None:
    """Polars cannot import a decimal256 nested in a struct: its Rust panic (a BaseException) becomes a RivetError."""
    wide = pa.array([{"x": Decimal(1)}], pa.struct([("x", pa.decimal256(40, 0))]))
    batch = pa.record_batch({"id": pa.array([1]), "s": wide})
    writer = RollingWriter(batch.schema, FormatOptions("csv", compression="none"), "p", lambda n: (n, io.BytesIO()))
    with pytest.raises(RivetError, match=r"cannot write column 's' \(struct<x: decimal256\(40, 0\)>\) as csv"):
        writer.write(batch)
    writer.abort()
