"""MySQL/MariaDB source against the real MariaDB (issue 4): types, incremental, chunks, KILL mid-export, sessions."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import mysql.connector
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import MYSQL_URL, run_cli, start_cli
from e2e import data_files, manifests, read_parquet, run_json, state_show

from rivet_core.config import Tuning
from rivet_core.slices import full_slice
from rivet_core.sources.base import Query
from rivet_core.sources.batching import BatchSizing
from rivet_core.sources.mysql import (
    MySQLSource,
    connect_args,
    quote_ident,
    read_session,
    session_settings,
    session_variables,
)

pytestmark = pytest.mark.mysql

BALANCED = Tuning("balanced", 10000, 0, 300, 30, 3, 2000, 0)
UTC = dt.UTC


def mysql_config(folder: Path, *exports: dict[str, Any]) -> Path:
    """A rivet.yaml with the MariaDB source and `exports` (parquet to `./out` unless they say otherwise)."""
    defaults = {"format": "parquet", "destination": {"type": "local", "path": "./out"}}
    doc = {
        "source": {"type": "mysql", "url": MYSQL_URL, "environment": "local"},
        "exports": [{**defaults, **e} for e in exports],
    }
    path = folder / "rivet.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def execute(conn: Any, statement: str, params: Any = ()) -> list[tuple[Any, ...]]:
    with conn.cursor(buffered=True) as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.with_rows else []


@pytest.fixture
def db(mysql: Any) -> Any:
    """The autocommit test connection with utf8mb4 and a sql_mode that accepts zero dates."""
    execute(mysql, "SET NAMES utf8mb4")
    execute(mysql, "SET SESSION sql_mode = '', time_zone = '+00:00'")
    return mysql


@pytest.fixture
def new_table(db: Any, table_name: str) -> Iterator[str]:
    """A unique table name, dropped afterwards."""
    yield table_name
    execute(db, f"DROP TABLE IF EXISTS {table_name}")


# -- the type table ----------------------------------------------------------------------------------------

H = dt.timedelta(hours=1)
# name, DDL, Arrow type of a `table:` export, four rows of (value inserted, value read back); row 3 is all NULL.
TYPES: list[tuple[str, str, pa.DataType, list[Any]]] = [
    ("b1", "TINYINT(1)", pa.bool_(), [(1, True), (0, False), None, (1, True)]),  # 2, -1 …: tests/test_edge_values.py
    ("ti", "TINYINT", pa.int8(), [(-128, -128), (127, 127), None, (0, 0)]),
    ("tiu", "TINYINT UNSIGNED", pa.uint8(), [(255, 255), (0, 0), None, (1, 1)]),
    ("si", "SMALLINT", pa.int16(), [(-32768, -32768), (32767, 32767), None, (0, 0)]),
    ("siu", "SMALLINT UNSIGNED", pa.uint16(), [(65535, 65535), (0, 0), None, (1, 1)]),
    ("mi", "MEDIUMINT", pa.int32(), [(-8388608, -8388608), (8388607, 8388607), None, (0, 0)]),
    ("miu", "MEDIUMINT UNSIGNED", pa.uint32(), [(16777215, 16777215), (0, 0), None, (1, 1)]),
    ("i", "INT", pa.int32(), [(-(2**31), -(2**31)), (2**31 - 1, 2**31 - 1), None, (0, 0)]),
    ("iu", "INT UNSIGNED", pa.uint32(), [(2**32 - 1, 2**32 - 1), (0, 0), None, (1, 1)]),
    ("bi", "BIGINT", pa.int64(), [(-(2**63), -(2**63)), (2**63 - 1, 2**63 - 1), None, (0, 0)]),
    ("biu", "BIGINT UNSIGNED", pa.uint64(), [(2**64 - 1, 18446744073709551615), (0, 0), None, (1, 1)]),
    ("d65", "DECIMAL(65,30)", pa.decimal256(65, 30), [
        ("-12345678901234567890123456789012345.123456789012345678901234567890",
         Decimal("-12345678901234567890123456789012345.123456789012345678901234567890")),
        ("99999999999999999999999999999999999.999999999999999999999999999999",
         Decimal("99999999999999999999999999999999999.999999999999999999999999999999")),
        None,
        ("0.000000000000000000000000000001", Decimal("1E-30")),
    ]),
    ("d10", "DECIMAL(10,2)", pa.decimal128(10, 2), [
        ("-99999999.99", Decimal("-99999999.99")), ("0.01", Decimal("0.01")), None, ("12.50", Decimal("12.5"))
    ]),
    ("f", "FLOAT", pa.float32(), [
        (3.4028234e38, 3.4028234663852886e38), (-1.5, -1.5), None, (1.17549435e-38, 1.1754943508222875e-38)
    ]),
    ("db", "DOUBLE", pa.float64(), [
        (1.7976931348623157e308, 1.7976931348623157e308), (0.1, 0.1), None, (-5e-324, -5e-324)
    ]),
    ("bit1", "BIT(1)", pa.bool_(), [(1, True), (0, False), None, (1, True)]),
    ("bit12", "BIT(12)", pa.uint64(), [(4095, 4095), (1, 1), None, (2048, 2048)]),
    ("y", "YEAR", pa.int16(), [(2155, 2155), (1901, 1901), None, (0, 0)]),
    ("d", "DATE", pa.date32(), [
        ("0000-00-00", None), ("9999-12-31", dt.date(9999, 12, 31)), None, ("2020-00-15", None)
    ]),
    ("dtm", "DATETIME(6)", pa.timestamp("us"), [
        ("9999-12-31 23:59:59.999999", dt.datetime(9999, 12, 31, 23, 59, 59, 999999)),
        ("1000-01-01 00:00:00.000001", dt.datetime(1000, 1, 1, 0, 0, 0, 1)),
        None,
        ("0000-00-00 00:00:00", None),
    ]),
    ("ts", "TIMESTAMP(6) NULL", pa.timestamp("us", tz="UTC"), [
        ("2038-01-19 03:14:07.999999", dt.datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=UTC)),
        ("1970-01-01 00:00:01.000000", dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)),
        None,
        ("0000-00-00 00:00:00", None),
    ]),
    ("tm", "TIME(6)", pa.duration("us"), [
        ("-838:59:59.000000", -(838 * H + dt.timedelta(minutes=59, seconds=59))),
        ("838:59:59.999999", 838 * H + dt.timedelta(minutes=59, seconds=59, microseconds=999999)),
        None,
        ("-00:00:00.000001", dt.timedelta(microseconds=-1)),
    ]),
    ("c", "CHAR(10)", pa.string(), [("ab😀", "ab😀"), ("", ""), None, ("x", "x")]),
    ("vc", "VARCHAR(50)", pa.string(), [("héllo 😀 wörld", "héllo 😀 wörld"), ("", ""), None, ("'\"`", "'\"`")]),
    ("tx", "TEXT", pa.string(), [("a\nb\tc\\d\x00e", "a\nb\tc\\d\x00e"), ("", ""), None, ("z", "z")]),
    ("bl", "BLOB", pa.binary(), [(b"\x00\xff\x00\x01", b"\x00\xff\x00\x01"), (b"", b""), None, (b"\x00", b"\x00")]),
    ("vb", "VARBINARY(20)", pa.binary(), [(b"\x00\x00", b"\x00\x00"), (b"", b""), None, (b"\xff", b"\xff")]),
    ("bn", "BINARY(4)", pa.binary(), [
        (b"a\x00\x00b", b"a\x00\x00b"), (b"", b"\x00" * 4), None, (b"\x01", b"\x01\x00\x00\x00")
    ]),
    ("e", "ENUM('a','b c')", pa.string(), [("b c", "b c"), ("a", "a"), None, ("a", "a")]),
    ("st", "SET('x','y','z')", pa.string(), [("x,z", "x,z"), ("", ""), None, ("x,y,z", "x,y,z")]),
    ("j", "JSON", pa.string(), [('{"a": [1, 2.5]}', '{"a": [1, 2.5]}'), ("[]", "[]"), None, ('"😀"', '"😀"')]),
]  # fmt: skip


@pytest.fixture(scope="module")
def type_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    """The type table exported once as `table: test.<name>` and as a `query:` export."""
    folder = tmp_path_factory.mktemp("types")
    table = f"types_{uuid.uuid4().hex[:8]}"
    conn = mysql.connector.connect(**connect_args(MYSQL_URL, None))  # a writable session (rivet's are read-only)
    try:
        execute(conn, "SET NAMES utf8mb4")
        execute(conn, "SET SESSION sql_mode = '', time_zone = '+00:00'")
        columns = ", ".join(f"{name} {ddl}" for name, ddl, _, _ in TYPES)
        execute(conn, f"CREATE TABLE {table} (id INT PRIMARY KEY, {columns}) CHARSET utf8mb4")
        for row in range(4):
            values = [None if rows[row] is None else rows[row][0] for _, _, _, rows in TYPES]
            execute(conn, f"INSERT INTO {table} VALUES (%s{', %s' * len(TYPES)})", (row + 1, *values))
        query = f"SELECT id, b1, d10, d65, bit12, f, ts, tm, j FROM test.{table}"
        config = mysql_config(
            folder,
            {"name": "types", "table": f"test.{table}", "destination": {"type": "local", "path": "./out/t"}},
            {
                "name": "query",
                "query": query,
                "columns": {"d65": "decimal(65,30)"},
                "destination": {"type": "local", "path": "./out/q"},
            },
            {"name": "narrow", "query": query, "destination": {"type": "local", "path": "./out/n"}},
        )
        proc = run_cli("run", "-c", str(config), "--json")
        yield folder, proc
    finally:
        execute(conn, f"DROP TABLE IF EXISTS {table}")
        conn.close()


def test_type_table_export_succeeds_and_warns_once_about_zero_dates(type_run: Any) -> None:
    _, proc = type_run
    assert [(e["export"], e["status"], e["rows"]) for e in json.loads(proc.stdout)["exports"]] == [
        ("types", "success", 4), ("query", "success", 4), ("narrow", "failed", 0)
    ], proc.stderr  # fmt: skip
    warnings = [line.split(" WARNING ")[1] for line in proc.stderr.splitlines() if "zero date" in line]
    assert warnings == [  # one per export that met any
        "mysql: 4 zero dates (e.g. '0000-00-00') written as NULL: d (2), dtm (1), ts (1)",
        "mysql: 1 zero date (e.g. '0000-00-00') written as NULL: ts (1)",
    ]


def test_type_table_schema_is_the_design_mapping(type_run: Any) -> None:
    folder, _ = type_run
    schema = read_parquet(folder / "out" / "t").schema
    assert list(zip(schema.names, schema.types, strict=True)) == [("id", pa.int32())] + [
        (name, arrow_type) for name, _, arrow_type, _ in TYPES
    ]


@pytest.mark.parametrize("column", [t[0] for t in TYPES])
def test_type_table_values_round_trip(type_run: Any, column: str) -> None:
    folder, _ = type_run
    table = read_parquet(folder / "out" / "t").sort_by("id")
    (expected,) = [[None if r is None else r[1] for r in rows] for name, _, _, rows in TYPES if name == column]
    got = table.column(column).to_pylist()
    assert got == expected
    assert [type(v) for v in got] == [type(v) for v in expected]  # 1 is not True, 0.1 is not Decimal("0.1")


def test_a_query_decimal_that_does_not_fit_decimal_38_fails_naming_the_column_and_the_fix(type_run: Any) -> None:
    folder, proc = type_run
    assert "ERROR narrow: mysql: column 'd65' (decimal) cannot be written as decimal128(38, 30)" in proc.stderr
    assert "`d65: decimal(65,30)`" in proc.stderr and "Traceback" not in proc.stderr
    assert not (folder / "out" / "n").exists() or data_files(folder / "out" / "n") == []


def test_query_export_types_come_from_the_result_metadata(type_run: Any) -> None:
    """A query column has no declared width: tinyint(1) reads as int8, a decimal as decimal(38, scale)."""
    folder, _ = type_run
    table = read_parquet(folder / "out" / "q").sort_by("id")
    assert table.schema.types == [
        pa.int32(), pa.int8(), pa.decimal128(38, 2), pa.decimal256(65, 30), pa.uint64(), pa.float32(),
        pa.timestamp("us", tz="UTC"), pa.duration("us"), pa.string(),
    ]  # fmt: skip
    by_name = {name: [None if r is None else r[1] for r in rows] for name, _, _, rows in TYPES}
    for name in ("d10", "d65", "bit12", "f", "ts", "tm", "j"):
        assert table.column(name).to_pylist() == by_name[name], name
    assert table.column("b1").to_pylist() == [1, 0, None, 1]


# -- modes --------------------------------------------------------------------------------------------------


def create_events(db: Any, table: str) -> None:
    execute(
        db,
        f"CREATE TABLE {table} (id INT PRIMARY KEY, name VARCHAR(40), amount DECIMAL(12,2),"
        " created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NULL, payload TEXT)",
    )


def add_events(db: Any, table: str, ids: range, updated: bool = True, payload: int = 8) -> None:
    """Rows `ids`: created_at = 2026-01-01 + id hours; updated_at the same (or NULL); `payload` bytes of text."""
    rows = [
        (
            i,
            f"name {i}",
            Decimal(i) * Decimal("1.25"),
            dt.datetime(2026, 1, 1) + i * H,
            dt.datetime(2026, 1, 1) + i * H if updated else None,
            "p" * payload,
        )
        for i in ids
    ]
    with db.cursor() as cur:
        for start in range(0, len(rows), 1000):  # one statement per 1000 rows stays under max_allowed_packet
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s)", rows[start : start + 1000])


def source_rows(db: Any, table: str) -> list[tuple[Any, ...]]:
    return execute(db, f"SELECT * FROM {table} ORDER BY id")


def exported_rows(root: Path) -> list[tuple[Any, ...]]:
    """Every row under `root`, sorted by id, duplicates kept (so they show)."""
    return sorted((tuple(r.values()) for r in read_parquet(root).to_pylist()), key=lambda r: r[0])


def incremental(table: str, cursor: str = "id", **extra: Any) -> dict[str, Any]:
    return {"name": "ev", "table": table, "mode": "incremental", "cursor_column": cursor, **extra}


def test_incremental_twice_with_inserts_between_has_no_gap_and_no_duplicate(
    db: Any, new_table: str, tmp_path: Path
) -> None:
    create_events(db, new_table)
    config = mysql_config(tmp_path, incremental(new_table))
    add_events(db, new_table, range(1, 101))
    first = run_json(config)
    assert first["rows"] == 100 and first["cursor"] == {"column": "id", "value": "100"}
    add_events(db, new_table, range(101, 131))
    second = run_json(config)
    assert second["rows"] == 30 and second["cursor"]["value"] == "130"
    third = run_json(config)
    assert third["rows"] == 0 and third["files"] == []
    assert len(data_files(tmp_path / "out")) == 2
    assert exported_rows(tmp_path / "out") == source_rows(db, new_table)


def test_coalesce_cursor_mode_binds_datetimes_and_uses_the_fallback(db: Any, new_table: str, tmp_path: Path) -> None:
    create_events(db, new_table)
    extra = {"incremental_cursor_mode": "coalesce", "cursor_fallback_column": "created_at"}
    config = mysql_config(tmp_path, incremental(new_table, cursor="updated_at", **extra))
    add_events(db, new_table, range(1, 4), updated=False)  # keys = created_at: 01:00, 02:00, 03:00
    execute(db, f"UPDATE {new_table} SET updated_at = '2026-01-01 05:00' WHERE id = 2")  # key 05:00
    first = run_json(config)
    assert first["rows"] == 3 and first["cursor"]["value"] == "2026-01-01T05:00:00"
    add_events(db, new_table, range(4, 5), updated=False)  # key 04:00 ≤ 05:00: not exported
    add_events(db, new_table, range(6, 7), updated=False)  # key 06:00
    execute(db, f"UPDATE {new_table} SET updated_at = '2026-01-01 07:00:00.5' WHERE id = 1")  # key 07:00:00.5
    second = run_json(config)
    assert second["rows"] == 2 and second["cursor"]["value"] == "2026-01-01T07:00:00.500000"
    (newest,) = [f for f in data_files(tmp_path / "out") if f.name != Path(first["files"][0]).name]
    assert pq.read_table(newest).column("id").to_pylist() == [6, 1]  # in cursor order


# -- a killed connection ----------------------------------------------------------------------------------


def export_query_id(db: Any, table: str) -> int | None:
    """The connection id of the session running rivet's SELECT on `table`, if it is running."""
    rows = execute(
        db,
        "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' AND INFO LIKE %s"
        " AND ID <> CONNECTION_ID()",
        (f"%SELECT _rivet_q.`id` AS `id`,% FROM (SELECT * FROM `{table}`)%",),
    )
    return int(rows[0][0]) if rows else None


@pytest.mark.slow
def test_kill_mid_export_fails_cleanly_and_the_next_run_completes(db: Any, new_table: str, tmp_path: Path) -> None:
    create_events(db, new_table)
    add_events(db, new_table, range(1, 11))
    tuning = {"batch_size": 200, "throttle_ms": 50, "max_retries": 0}
    config = mysql_config(tmp_path, incremental(new_table, tuning=tuning))
    out = tmp_path / "out"
    assert run_json(config)["rows"] == 10
    before, files, units = state_show(config, "ev"), data_files(out), manifests(out, "ev")
    add_events(db, new_table, range(11, 20011), payload=1000)  # ~20 MB: the server blocks on the throttled client

    proc = start_cli("run", "-c", str(config), stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while (victim := export_query_id(db, new_table)) is None and proc.poll() is None:
            assert time.monotonic() < deadline, "the export query never showed up"
            time.sleep(0.02)
        assert victim is not None, "rivet finished before it could be killed"
        execute(db, f"KILL {victim}")
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1, stderr
    assert "ERROR ev: mysql: Lost connection" in stderr and "Traceback" not in stderr
    assert data_files(out) == files and manifests(out, "ev") == units
    assert state_show(config, "ev") == before

    mysql_config(tmp_path, incremental(new_table))  # same export without the throttle
    rerun = run_json(config)
    assert rerun["status"] == "success" and rerun["rows"] == 20000
    assert [r[0] for r in exported_rows(out)] == list(range(1, 20011))


def test_an_abandoned_stream_ends_its_session_instead_of_reading_the_rest(db: Any, new_table: str) -> None:
    """A consumer that stops early (writer failure) must not make rivet drain an unbuffered result."""
    create_events(db, new_table)
    add_events(db, new_table, range(1, 3001))
    query = Query(table=(None, new_table))
    with MySQLSource(MYSQL_URL, BALANCED).snapshot() as snap:
        batches = snap.stream(query, full_slice(), snap.plan(query, {}, "exports[ev]"), BatchSizing(100))
        assert next(batches).num_rows == 100
        batches.close()
        assert snap.conn.is_closed()
    with MySQLSource(MYSQL_URL, BALANCED).snapshot() as snap:  # a fresh snapshot streams everything
        plans = snap.plan(query, {}, "exports[ev]")
        sizes = [b.num_rows for b in snap.stream(query, full_slice(), plans, BatchSizing(1000))]
        assert sizes == [1000, 1000, 1000]
        assert snap.fetch_one("SELECT COUNT(*) FROM " + quote_ident(new_table), full_slice(), []) == (3000,)


# -- the connection and its session -------------------------------------------------------------------------


def test_the_connection_is_the_c_extension_also_after_the_cli_imports(mysql_url: str) -> None:
    from mysql.connector.connection_cext import CMySQLConnection

    conn = MySQLSource(mysql_url, BALANCED).connect()
    try:
        assert type(conn) is CMySQLConnection
    finally:
        conn.close()
    # The CLI imports pyarrow before any source: the C extension must still be the class in use there.
    code = (
        "import rivet_core.cli, rivet_core.engine, pyarrow.parquet\n"
        "from rivet_core.config import Tuning\nfrom rivet_core.sources.mysql import MySQLSource\n"
        f"c = MySQLSource({mysql_url!r}, Tuning('fast', 1, 0, 0, 0, 0, 0, 0)).connect()\n"
        "print(type(c).__name__)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "CMySQLConnection", proc.stderr


def test_without_the_c_extension_the_source_refuses_to_load() -> None:
    """pyarrow first, then rivet: the driver would fall back to pure Python silently; rivet says so instead."""
    code = "import pyarrow.compute\nimport rivet_core.sources.mysql"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "C extension of mysql-connector-python does not load" in proc.stderr


def test_snapshot_sets_the_session_and_restores_it_on_the_used_connection_after_a_failure(mysql_url: str) -> None:
    source = MySQLSource(mysql_url, BALANCED)
    names = ["time_zone", "max_statement_time", "innodb_lock_wait_timeout", "lock_wait_timeout"]
    seen: dict[str, dict[str, Any]] = {}
    with pytest.raises(RuntimeError, match="boom"), source.snapshot() as snap:
        conn = snap.conn
        original = conn.close

        def close() -> None:  # the session as it is when the snapshot hands its connection back
            seen["closing"] = read_session(conn, names)
            original()

        conn.close = close  # type: ignore[method-assign]
        seen["inside"] = read_session(conn, names)
        assert execute(conn, "SELECT @@in_transaction")[0][0] == 1
        raise RuntimeError("boom")
    fresh = source.connect()
    try:
        defaults = read_session(fresh, names)
    finally:
        fresh.close()
    assert seen["inside"] == {"time_zone": "+00:00", "max_statement_time": 300.0, "innodb_lock_wait_timeout": 30,
                              "lock_wait_timeout": 30}  # fmt: skip
    assert seen["closing"] == defaults


def test_session_settings_restore_after_success_and_failure(mysql_url: str) -> None:
    conn = MySQLSource(mysql_url, BALANCED).connect()
    try:
        wanted = session_variables(Tuning("safe", 1, 0, 120, 10, 0, 0, 0), mariadb=True)
        before = read_session(conn, list(wanted))
        with session_settings(conn, wanted) as saved:
            assert saved == before
            assert read_session(conn, list(wanted)) == {**wanted, "max_statement_time": 120.0}
        assert read_session(conn, list(wanted)) == before
        with pytest.raises(ZeroDivisionError), session_settings(conn, wanted):
            _ = 1 / 0
        assert read_session(conn, list(wanted)) == before
    finally:
        conn.close()


def test_zero_timeouts_mean_no_limit(mysql_url: str) -> None:
    fast = session_variables(Tuning("fast", 1, 0, 0, 0, 0, 0, 0), mariadb=False)
    assert fast["max_execution_time"] == 0 and fast["innodb_lock_wait_timeout"] == 1073741824


def test_a_syntax_error_in_a_query_export_is_one_clear_line(tmp_path: Path) -> None:
    proc = run_cli("run", "-c", str(mysql_config(tmp_path, {"name": "bad", "query": "SELEC 1"})))
    assert proc.returncode == 1
    assert "ERROR bad: mysql: You have an error in your SQL syntax" in proc.stderr and "(error 1064)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_refused_login_exits_1_without_the_password(tmp_path: Path) -> None:
    config = mysql_config(tmp_path, {"name": "ev", "table": "nowhere"})
    config.write_text(config.read_text().replace("mysql://root@", "mysql://root:s3cret-pw@"))
    proc = run_cli("run", "-c", str(config))
    assert proc.returncode == 1
    assert "mysql: Access denied" in proc.stderr
    assert "s3cret-pw" not in proc.stderr and "Traceback" not in proc.stderr
