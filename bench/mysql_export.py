"""Benchmark: `rivet run` (MariaDB/MySQL → Parquet zstd) against `mariadb --quick` to /dev/null, at 1M and 2M rows.

Creates the tables when they are absent or differ (`bench_events`: 2M rows of the mixed types of
bench/pg_export.py; `bench_events_half`: its first half), then, per size and repeat, times
`mariadb --quick -e 'SELECT * FROM t' > /dev/null` (the client's own streaming read: the limit) and a full
`rivet run` export as a subprocess, and reports medians: seconds, ratio rivet/client and rivet's peak RSS (the
child's ru_maxrss from wait4). Usage: `.venv/bin/python bench/mysql_export.py [--repeat 3]`.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

import _mysql_connector  # noqa: F401  (before common's pyarrow: see rivet_core/__init__.py)
import mysql.connector
from common import TABLE, arg_parser, bench, ensure_tables, finish, print_table, rss_verdict  # bench/ is on sys.path

from rivet_core.config import Tuning
from rivet_core.sources.mysql import MySQLSource, connect_args

DEFAULT_URL = os.environ.get("RIVET_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
COLUMNS = [  # name, DDL, information_schema DATA_TYPE (MariaDB reports JSON as longtext)
    ("id", "BIGINT", "bigint"),
    ("account_id", "INT", "int"),
    ("note", "TEXT", "text"),
    ("amount", "DECIMAL(12,2)", "decimal"),
    ("created_at", "DATETIME(6)", "datetime"),
    ("active", "BOOL", "tinyint"),
    ("attrs", "JSON", "json"),
]
# The rows of bench/pg_export.py: ~60-char text (40 to 80) with 10% NULL, the other mixed types; deterministic.
# 1000 x 1000 x n ids from a recursive CTE no deeper than MySQL's default cte_max_recursion_depth (1000).
_FILL = """
INSERT INTO {table}
WITH RECURSIVE d(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM d WHERE k < 999),
     s(i) AS (SELECT c.k * 1000000 + a.k * 1000 + b.k + 1 FROM d a CROSS JOIN d b CROSS JOIN d c WHERE c.k < %s)
SELECT i,
       (i * 7919) % 100000,
       IF(i % 10 = 0, NULL, LEFT(REPEAT(MD5(i), 3), 40 + (i * 7919) % 41)),
       ((i * 104729) % 10000000) / 100.0,
       TIMESTAMP('2026-01-01 00:00:00') + INTERVAL i SECOND,
       i % 3 = 0,
       JSON_OBJECT('k', i % 1000, 'tag', CONCAT('t', i % 17), 'ok', i % 2 = 0)
FROM s WHERE i <= %s
"""


def query(conn: Any, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with conn.cursor(buffered=True) as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.with_rows else []


def table_ok(conn: Any, table: str, rows: int) -> bool:
    """True when `table` has exactly the benchmark's columns, `rows` rows and ~60-char notes."""
    cols = query(
        conn,
        "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
        " AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
        (table,),
    )
    if [(str(n), str(t).replace("longtext", "json")) for n, t in cols] != [(n, t) for n, _, t in COLUMNS]:
        return False
    ((count, avg_len, nulls),) = query(conn, f"SELECT COUNT(*), AVG(CHAR_LENGTH(note)), AVG(note IS NULL) FROM {table}")
    return count == rows and 55 <= float(avg_len) <= 65 and abs(float(nulls) - 0.1) < 0.01


def ensure_tables_mysql(source: MySQLSource, rows: int) -> dict[int, str]:
    """Create `bench_events` (rows) and `bench_events_half` (its first half) unless they already match."""

    def create(table: str, size: int, full: bool) -> None:
        cols = ", ".join(f"{name} {ddl}" for name, ddl, _ in COLUMNS)
        query(conn, f"DROP TABLE IF EXISTS {table}")
        query(conn, f"CREATE TABLE {table} ({cols}, PRIMARY KEY (id)) ENGINE=InnoDB CHARSET utf8mb4")
        if full:
            query(conn, _FILL.format(table=table), (-(-size // 1_000_000), size))
        else:
            query(conn, f"INSERT INTO {table} SELECT * FROM {TABLE} WHERE id <= %s", (size,))
        query(conn, f"ANALYZE TABLE {table}")

    conn = mysql.connector.connect(**connect_args(source.url, None))  # writable: rivet's own sessions are read-only
    try:
        return ensure_tables(rows, lambda table, size: table_ok(conn, table, size), create)
    finally:
        conn.close()


def client_cmd(args: dict[str, Any], table: str) -> list[str]:
    """`mariadb --quick` (or `mysql`): rows streamed by the C client straight to stdout."""
    client = shutil.which("mariadb") or shutil.which("mysql") or "mariadb"
    return [
        client, "--quick", "-h", args["host"], "-P", str(args["port"]), "-u", args["user"], args["database"] or "",
        "-e", f"SELECT * FROM {table}",
    ]  # fmt: skip


def report(results: list[dict[str, float]], repeat: int) -> bool:
    """Print the table and the verdict on the targets (ratio ≤ 2.5, RSS < 400 MiB and flat in rows)."""
    print_table(results, repeat, "client s")
    ok_ratio = all(r["ratio"] <= 2.5 for r in results)
    rss_text, ok_rss = rss_verdict(results)
    print(f"ratio ≤ 2.5: {'ok' if ok_ratio else 'MISSED'}; {rss_text}")
    return ok_ratio and ok_rss


def main() -> None:
    parser = arg_parser(__doc__, DEFAULT_URL, "MySQL URL (default: $RIVET_BENCH_MYSQL_URL or local test)")
    args = parser.parse_args()
    if not (shutil.which("mariadb") or shutil.which("mysql")):
        sys.exit("the mariadb (or mysql) client is needed for the baseline (apt-get install mariadb-client)")
    source = MySQLSource(args.url, Tuning("fast", 50000, 0, 0, 0, 0, 0, 0))
    tables = ensure_tables_mysql(source, args.rows)
    connect = connect_args(args.url, None)
    env = {**os.environ, "RIVET_BENCH_MYSQL_URL": args.url, "MYSQL_PWD": connect["password"]}
    load = os.getloadavg()[0]
    results = bench(
        tables, args.repeat, "mysql", "RIVET_BENCH_MYSQL_URL", env, lambda t: client_cmd(connect, t), "mariadb --quick"
    )
    finish(report(results, args.repeat), load)


if __name__ == "__main__":
    main()
