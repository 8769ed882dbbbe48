"""Postgres → Parquet/CSV type mapping (README: Types), end to end through `rivet run` on one table of every type."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import PG_URL, run_cli
from e2e import data_files, export_config, rivet_ok

pytestmark = pytest.mark.pg

UTC = dt.UTC
F4_MAX = pa.scalar(3.4028235e38, pa.float32()).as_py()

# (column, Postgres type, Arrow type written); `{enum}` is the test's enum type.
COLUMNS = [
    ("id", "int4 PRIMARY KEY", pa.int32()),
    ("n", "numeric(38,10)", pa.decimal128(38, 10)),
    ("nu", "numeric", pa.decimal128(38, 10)),  # unbounded: typed by the `columns:` override
    ("tstz", "timestamptz", pa.timestamp("us", tz="UTC")),
    ("ts", "timestamp", pa.timestamp("us")),
    ("d", "date", pa.date32()),
    ("txt", "text", pa.string()),
    ("vc", "varchar(20)", pa.string()),
    ("ch", "char(3)", pa.string()),
    ("b", "bytea", pa.binary()),
    ("j", "jsonb", pa.string()),
    ("js", "json", pa.string()),
    ("u", "uuid", pa.string()),
    ("ia", "int4[]", pa.list_(pa.int32())),
    ("ta", "text[]", pa.list_(pa.string())),
    ("e", "{enum}", pa.string()),
    ("iv", "interval", pa.string()),
    ("t", "time", pa.time64("us")),
    ("bo", "bool", pa.bool_()),
    ("i2", "int2", pa.int16()),
    ("i4", "int4", pa.int32()),
    ("i8", "int8", pa.int64()),
    ("f4", "float4", pa.float32()),
    ("f8", "float8", pa.float64()),
]

TEXT_WITH_SPECIALS = 'quote "x", comma\nnew line\r\nCRLF'

# Per row: column → (text inserted with the session TimeZone = Europe/Berlin, value expected back).
# A column missing from a row is NULL.
ROWS: list[dict[str, tuple[str, Any]]] = [
    {
        "n": ("9999999999999999999999999999.9999999999", Decimal("9999999999999999999999999999.9999999999")),
        "nu": ("123456789012345678901234567.8901234567", Decimal("123456789012345678901234567.8901234567")),
        # last second of CET before the spring-forward gap (Berlin 02:00 → 03:00)
        "tstz": ("2026-03-29 01:59:59.999999", dt.datetime(2026, 3, 29, 0, 59, 59, 999999, UTC)),
        "ts": ("1969-12-31 23:59:59.999999", dt.datetime(1969, 12, 31, 23, 59, 59, 999999)),
        "d": ("1969-12-31", dt.date(1969, 12, 31)),
        "txt": ("héllo wörld 🎉🚀 日本", "héllo wörld 🎉🚀 日本"),
        "vc": ("a,b", "a,b"),
        "ch": ("ab", "ab "),
        "b": ("\\x00ff0000", b"\x00\xff\x00\x00"),
        "j": ('{"b": "ü", "a": [1, null]}', '{"a": [1, null], "b": "ü"}'),  # jsonb: normalised
        "js": ('{"b": 1,  "a": "ü"}', '{"b": 1,  "a": "ü"}'),  # json: the text as stored
        "u": ("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        "ia": ("{1,NULL,2147483647}", [1, None, 2147483647]),
        "ta": ('{"x",NULL,"y,z","🎉",""}', ["x", None, "y,z", "🎉", ""]),
        "e": ("happy", "happy"),
        "iv": ("1 year 2 months 3 days 4 hours 5 minutes 6.5 seconds", "P1Y2M3DT4H5M6.5S"),
        "t": ("23:59:59.999999", dt.time(23, 59, 59, 999999)),
        "bo": ("true", True),
        "i2": ("32767", 32767),
        "i4": ("2147483647", 2147483647),
        "i8": ("9223372036854775807", 9223372036854775807),
        "f4": ("3.4028235e38", F4_MAX),
        "f8": ("1.7976931348623157e308", 1.7976931348623157e308),
    },
    {
        "n": ("-9999999999999999999999999999.9999999999", Decimal("-9999999999999999999999999999.9999999999")),
        "nu": ("-0.0000000001", Decimal("-0.0000000001")),
        # first second of CEST after the gap
        "tstz": ("2026-03-29 03:00:00", dt.datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC)),
        "ts": ("1900-01-01 00:00:00", dt.datetime(1900, 1, 1)),
        "d": ("1066-10-14", dt.date(1066, 10, 14)),
        "txt": ("", ""),
        "vc": ("", ""),
        "ch": ("", "   "),
        "b": ("\\x", b""),
        "j": ("[]", "[]"),
        "js": ("null", "null"),  # JSON null, not SQL NULL
        "u": ("00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"),
        "ia": ("{}", []),
        "ta": ("{NULL}", [None]),
        "e": ('sad, "very"', 'sad, "very"'),
        "iv": ("-1 day", "P-1D"),
        "t": ("00:00:00", dt.time(0, 0)),
        "bo": ("false", False),
        "i2": ("-32768", -32768),
        "i4": ("-2147483648", -2147483648),
        "i8": ("-9223372036854775808", -9223372036854775808),
        "f4": ("-Infinity", -math.inf),
        "f8": ("NaN", math.nan),
    },
    {},  # NULL in every column
    {
        "n": ("0.0000000001", Decimal("0.0000000001")),
        "nu": ("0", Decimal(0)),
        # the repeated hour of the autumn fall-back, first pass (CEST)
        "tstz": ("2026-10-25 02:30:00+02", dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        "ts": ("infinity", dt.datetime(9999, 12, 31, 23, 59, 59, 999999)),
        "d": ("infinity", dt.date(9999, 12, 31)),
        "txt": (TEXT_WITH_SPECIALS, TEXT_WITH_SPECIALS),
        "iv": ("0", "PT0S"),
        "t": ("12:34:56.789", dt.time(12, 34, 56, 789000)),
        "i8": ("0", 0),
        "f4": ("NaN", math.nan),
        "f8": ("-Infinity", -math.inf),
    },
    {
        # the repeated hour, second pass (CET)
        "tstz": ("2026-10-25 02:30:00+01", dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
        "ts": ("-infinity", dt.datetime(1, 1, 1)),
        "d": ("-infinity", dt.date(1, 1, 1)),
        "f4": ("Infinity", math.inf),
        "f8": ("5e-324", 5e-324),
    },
    {"tstz": ("infinity", dt.datetime(9999, 12, 31, 23, 59, 59, 999999, UTC))},
    {"tstz": ("-infinity", dt.datetime(1, 1, 1, tzinfo=UTC))},
    {"tstz": ("1969-07-20 21:17:40.5", dt.datetime(1969, 7, 20, 20, 17, 40, 500000, UTC))},  # CET, no DST in 1969
]


@pytest.fixture(scope="module")
def types_table() -> Iterator[str]:
    """The every-type table, filled from a session whose TimeZone is Europe/Berlin."""
    name = f"types_{uuid.uuid4().hex[:8]}"
    enum = f"{name}_mood"
    ddl = ", ".join(f'"{c}" {t.format(enum=enum)}' for c, t, _ in COLUMNS)
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE TYPE {enum} AS ENUM ('happy', 'sad, \"very\"')")
        conn.execute(f"CREATE TABLE {name} ({ddl})")
        conn.execute("SET TimeZone = 'Europe/Berlin'")
        names = [c for c, _, _ in COLUMNS]
        for i, row in enumerate(ROWS, start=1):
            values = [str(i)] + [row[c][0] if c in row else None for c in names[1:]]
            conn.execute(f"INSERT INTO {name} VALUES ({', '.join(['%s'] * len(names))})", values)
        try:
            yield name
        finally:
            conn.execute(f"DROP TABLE {name}")
            conn.execute(f"DROP TYPE {enum}")


def expected_column(column: str) -> list[Any]:
    return [row[column][1] if column in row else None for row in ROWS]


def same(a: Any, b: Any) -> bool:
    """Equality that holds NaN equal to NaN and keeps float types apart from ints and Decimals."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.fixture(scope="module")
def exported(types_table: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Export the table once as Parquet and once as CSV (with the override for the unbounded numeric)."""
    folder = tmp_path_factory.mktemp("types")
    override = {"columns": {"nu": "decimal(38,10)"}, "table": types_table}
    config = export_config(
        folder,
        {"name": "as_parquet", **override, "destination": {"type": "local", "path": "./parquet"}},
        {"name": "as_csv", **override, "format": "csv", "destination": {"type": "local", "path": "./csv"}},
    )
    rivet_ok("run", "-c", str(config))
    return folder


def test_unbounded_numeric_without_override_is_a_config_error(types_table: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "no_override", "table": types_table})
    proc = run_cli("run", "-c", str(config))
    assert proc.returncode == 2, proc.stderr
    assert "'nu'" in proc.stderr and "unbounded numeric" in proc.stderr
    assert "columns:" in proc.stderr  # says how to fix it
    assert "Traceback" not in proc.stderr
    assert not data_files(tmp_path / "out")


def test_parquet_schema_is_the_design_mapping(exported: Path) -> None:
    (path,) = data_files(exported / "parquet")
    schema = pq.read_schema(path)
    assert [(f.name, f.type) for f in schema] == [(c, t) for c, _, t in COLUMNS]


@pytest.mark.parametrize("column", [c for c, _, _ in COLUMNS])
def test_parquet_values_round_trip(exported: Path, column: str) -> None:
    (path,) = data_files(exported / "parquet")
    table = pq.read_table(path).sort_by("id")
    assert table.column("id").to_pylist() == list(range(1, len(ROWS) + 1))
    if column == "id":
        return
    got, want = table.column(column).to_pylist(), expected_column(column)
    mismatches = [(i + 1, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if not same_value(g, w)]
    assert not mismatches, f"{column}: (id, got, expected) {mismatches}"


def same_value(got: Any, want: Any) -> bool:
    """`same`, element by element for lists."""
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want, strict=True))
    return same(got, want)


def csv_text(exported: Path) -> str:
    (path,) = data_files(exported / "csv", "csv")
    return path.read_bytes().decode("utf-8")  # no newline translation: CRLF inside a field must stay


def csv_rows(exported: Path) -> dict[str, dict[str, str]]:
    """The CSV parsed per RFC 4180, keyed by id."""
    rows = list(csv.DictReader(io.StringIO(csv_text(exported), newline="")))
    return {r["id"]: r for r in rows}


def test_csv_header_and_row_count(exported: Path) -> None:
    text = csv_text(exported)
    assert text.split("\n", 1)[0] == ",".join(c for c, _, _ in COLUMNS)
    assert len(csv_rows(exported)) == len(ROWS)


def test_csv_null_is_an_empty_field_and_empty_string_is_quoted(exported: Path) -> None:
    lines = csv_text(exported).split("\n")
    assert "3" + "," * (len(COLUMNS) - 1) in lines  # the all-NULL row: every field empty, arrays included
    row2 = csv_rows(exported)["2"]
    assert row2["txt"] == "" and row2["vc"] == ""
    assert "2,-9999999999999999999999999999.9999999999,-0.0000000001," in csv_text(exported)
    assert ',"","",' in csv_text(exported)  # '' in txt and vc, quoted so it differs from NULL


def test_csv_quotes_commas_quotes_and_newlines(exported: Path) -> None:
    text = csv_text(exported)
    assert '"quote ""x"", comma\nnew line\r\nCRLF"' in text
    rows = csv_rows(exported)
    assert rows["4"]["txt"] == TEXT_WITH_SPECIALS
    assert rows["1"]["vc"] == "a,b"
    assert rows["2"]["e"] == 'sad, "very"'
    assert rows["1"]["txt"] == "héllo wörld 🎉🚀 日本"


def test_csv_timestamps_are_iso_8601_with_microseconds(exported: Path) -> None:
    rows = csv_rows(exported)
    assert rows["1"]["tstz"] == "2026-03-29T00:59:59.999999+00:00"
    assert rows["2"]["tstz"] == "2026-03-29T01:00:00.000000+00:00"
    assert rows["2"]["ts"] == "1900-01-01T00:00:00.000000"
    assert rows["4"]["ts"] == "9999-12-31T23:59:59.999999"
    assert rows["5"]["d"] == "0001-01-01"
    assert rows["1"]["t"] == "23:59:59.999999"


def test_csv_other_types_as_text(exported: Path) -> None:
    rows = csv_rows(exported)
    assert rows["1"]["n"] == "9999999999999999999999999999.9999999999"
    assert rows["1"]["b"] == "00ff0000"  # bytea as hex
    assert rows["1"]["ia"] == "[1,null,2147483647]"  # arrays as JSON
    assert rows["2"]["ia"] == "[]"
    assert rows["1"]["iv"] == "P1Y2M3DT4H5M6.5S"
    assert rows["1"]["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert rows["1"]["bo"] == "true"


def csv_field(value: Any) -> str:
    """The CSV text of a Parquet value of the type table (README: Types, CSV)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, dt.time):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


@pytest.mark.parametrize("column", [c for c, _, _ in COLUMNS])
def test_csv_field_is_the_text_of_the_parquet_value(exported: Path, column: str) -> None:
    """Every type of the table survives the CSV writer: each field is the text of the value Parquet holds."""
    (path,) = data_files(exported / "parquet")
    table = pq.read_table(path).sort_by("id")
    rows = csv_rows(exported)
    arrow_type = table.schema.field(column).type
    for i, value in enumerate(table.column(column).to_pylist(), start=1):
        got = rows[str(i)][column]
        if isinstance(value, float):  # the shortest text that reads back as the same float32/float64
            assert same(pa.scalar(float(got), arrow_type).as_py(), value), (i, got, value)
        elif isinstance(value, Decimal):
            assert Decimal(got) == value and "E" not in got, (i, got, value)
        else:
            assert got == csv_field(value), (i, got, value)
