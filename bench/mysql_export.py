"""Benchmark: `rivet run` (MariaDB/MySQL → Parquet zstd) against `mariadb --quick` to /dev/null, at 1M and 2M rows.

Creates the tables when they are absent or differ (`bench_events`: 2M rows of the mixed types of
bench/pg_export.py; `bench_events_half`: its first half), then, per size and repeat, times
`mariadb --quick -e 'SELECT * FROM t' > /dev/null` (the client's own streaming read: the limit) and a full
`rivet run` export as a subprocess, and reports medians: seconds, ratio rivet/client and rivet's peak RSS (the
child's ru_maxrss from wait4). Usage: `.venv/bin/python bench/mysql_export.py [--repeat 3]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import _mysql_connector  # noqa: F401  (before pg_export's pyarrow: see rivet_core/__init__.py)
from pg_export import parquet_rows, timed  # bench/ is on sys.path when this file runs

from rivet_core.config import Tuning
from rivet_core.sources.mysql import MySQLSource, connect_args

DEFAULT_URL = os.environ.get("RIVET_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
TABLE = "bench_events"
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


def ensure_tables(source: MySQLSource, rows: int) -> dict[int, str]:
    """Create `bench_events` (rows) and `bench_events_half` (its first half) unless they already match."""
    half = rows // 2
    tables = {half: f"{TABLE}_half", rows: TABLE}
    conn = source.connect()
    try:
        for size, table in sorted(tables.items(), reverse=True):
            if table_ok(conn, table, size):
                print(f"using existing {table} ({size:,} rows)", flush=True)
                continue
            print(f"creating {table} ({size:,} rows) …", flush=True)
            started = time.perf_counter()
            cols = ", ".join(f"{name} {ddl}" for name, ddl, _ in COLUMNS)
            query(conn, f"DROP TABLE IF EXISTS {table}")
            query(conn, f"CREATE TABLE {table} ({cols}, PRIMARY KEY (id)) ENGINE=InnoDB CHARSET utf8mb4")
            if size == rows:
                query(conn, _FILL.format(table=table), (-(-size // 1_000_000), size))
            else:
                query(conn, f"INSERT INTO {table} SELECT * FROM {TABLE} WHERE id <= %s", (size,))
            query(conn, f"ANALYZE TABLE {table}")
            print(f"  {time.perf_counter() - started:.1f}s", flush=True)
    finally:
        conn.close()
    return tables


def client_cmd(args: dict[str, Any], table: str) -> list[str]:
    """`mariadb --quick` (or `mysql`): rows streamed by the C client straight to stdout."""
    client = shutil.which("mariadb") or shutil.which("mysql") or "mariadb"
    return [
        client, "--quick", "-h", args["host"], "-P", str(args["port"]), "-u", args["user"], args["database"] or "",
        "-e", f"SELECT * FROM {table}",
    ]  # fmt: skip


def write_config(folder: Path, tables: dict[int, str]) -> None:
    """A rivet.yaml with one full Parquet zstd export per size (`environment: local` → the fast profile)."""
    exports = "".join(
        f"""
          - name: {table}
            table: {table}
            mode: full
            format: parquet
            compression: zstd
            destination:
              type: local
              path: ./out/{{export}}
        """
        for table in tables.values()
    )
    text = f"""
        source:
          type: mysql
          url_env: RIVET_BENCH_MYSQL_URL
          environment: local
        exports:{exports}"""
    (folder / "rivet.yaml").write_text(textwrap.dedent(text))


def bench(url: str, tables: dict[int, str], repeat: int) -> list[dict[str, float]]:
    """Interleaved client / rivet runs per size; medians per size."""
    args = connect_args(url, None)
    work = Path(tempfile.mkdtemp(prefix="rivet-bench-"))
    write_config(work, tables)
    env = {**os.environ, "RIVET_BENCH_MYSQL_URL": url, "MYSQL_PWD": args["password"]}
    rivet = [sys.executable, "-m", "rivet_core.cli", "run", "--json", "-c", str(work / "rivet.yaml"), "-e"]
    results = []
    try:
        timed(client_cmd(args, TABLE), env=env)  # warm the buffer pool
        for rows, table in sorted(tables.items()):
            clients, runs, engine = [], [], []
            for i in range(repeat):
                shutil.rmtree(work / "out", ignore_errors=True)
                for state in work.glob(".rivet_state.db*"):
                    state.unlink()
                clients.append(timed(client_cmd(args, table), env=env))
                runs.append(timed([*rivet, table], env=env, cwd=work, keep=True))
                engine.append(json.loads(runs[-1].stdout)["exports"][0]["duration_s"])
                written = parquet_rows(work / "out" / table)
                if written != rows:
                    sys.exit(f"rivet wrote {written} rows of {table}, expected {rows}")
                out_mib = sum(p.stat().st_size for p in (work / "out").rglob("*.parquet")) / 2**20
                print(
                    f"  {table} #{i + 1}: mariadb --quick {clients[-1].seconds:.2f}s, rivet {runs[-1].seconds:.2f}s "
                    f"(engine {engine[-1]:.2f}s) {runs[-1].rss_mib:.0f} MiB, parquet {out_mib:.0f} MiB",
                    flush=True,
                )
            client_s = statistics.median(s.seconds for s in clients)
            rivet_s = statistics.median(s.seconds for s in runs)
            results.append(
                {
                    "rows": rows,
                    "client_s": client_s,
                    "rivet_s": rivet_s,
                    "engine_s": statistics.median(engine),
                    "ratio": rivet_s / client_s,
                    "rss_mib": statistics.median(s.rss_mib for s in runs),
                }
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def report(results: list[dict[str, float]], repeat: int) -> bool:
    """Print the table and the verdict on the targets (ratio ≤ 2.5, RSS < 400 MiB and flat in rows)."""
    print(
        f"\nmedian of {repeat} runs each; rivet s = the `rivet run` process, start-up included;"
        " engine s = its own duration_s (after imports and config)"
    )
    print(f"{'rows':>10} {'client s':>9} {'rivet s':>8} {'engine s':>9} {'ratio':>6} {'rivet RSS MiB':>14}")
    for r in results:
        print(
            f"{int(r['rows']):>10,} {r['client_s']:>9.2f} {r['rivet_s']:>8.2f} {r['engine_s']:>9.2f} "
            f"{r['ratio']:>6.2f} {r['rss_mib']:>14.0f}"
        )
    small, big = results[0], results[-1]
    growth = big["rss_mib"] / small["rss_mib"] - 1
    ok_ratio = all(r["ratio"] <= 2.5 for r in results)
    ok_rss = all(r["rss_mib"] < 400 for r in results)
    ok_flat = growth < 0.15
    print(
        f"ratio ≤ 2.5: {'ok' if ok_ratio else 'MISSED'}; RSS < 400 MiB: {'ok' if ok_rss else 'MISSED'}; "
        f"RSS growth {int(small['rows']):,} → {int(big['rows']):,} rows: {growth:+.0%} "
        f"({'flat' if ok_flat else 'GROWS'})"
    )
    return ok_ratio and ok_rss and ok_flat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="MySQL URL (default: $RIVET_BENCH_MYSQL_URL or local test)")
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the big table (the small one: half)")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per size (median reported)")
    args = parser.parse_args()
    if not (shutil.which("mariadb") or shutil.which("mysql")):
        sys.exit("the mariadb (or mysql) client is needed for the baseline (apt-get install mariadb-client)")
    source = MySQLSource(args.url, Tuning("fast", 50000, 0, 0, 0, 0, 0, 0))
    tables = ensure_tables(source, args.rows)
    load = os.getloadavg()[0]
    results = bench(args.url, tables, args.repeat)
    ok = report(results, args.repeat)
    print(f"load average (1 min) before/after: {load:.1f}/{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
