"""What the late-commit fence costs per incremental run: its time with an idle source and under busy writers.

`.venv/bin/python bench/late_commit_fence.py [--runs 10] [--hold 0.12]` against the local test databases: per
engine, the median and max time of `late_commit_fence` (MAX(id) + waiting for open transactions) over a small
table (the MAX is an index seek), idle and with 4 writers holding each transaction up to `--hold` s (docs/cursor.md).
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from typing import Any

import rivet_core.sources.mysql  # noqa: F401 - before pyarrow (the MySQL C extension's TLS)
from rivet_core.config import PROFILES, ExportConfig, Tuning
from rivet_core.planning.fence import late_commit_fence
from rivet_core.sources.base import Query, Source
from rivet_core.sources.mysql.source import MySQLSource
from rivet_core.sources.postgres.source import PostgresSource

URLS = {"postgres": "postgresql://postgres@127.0.0.1:5432/test", "mysql": "mysql://root@127.0.0.1:3306/test"}
TABLE = "bench_late_commit_fence"
DDL = {
    "postgres": f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, v int)",
    "mysql": f"CREATE TABLE IF NOT EXISTS {TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT)",
}


def connect(kind: str) -> Any:
    if kind == "postgres":
        import psycopg

        return psycopg.connect(URLS[kind])
    import mysql.connector

    return mysql.connector.connect(host="127.0.0.1", port=3306, user="root", password="", database="test")


def writer(kind: str, hold: float, stop: threading.Event) -> None:
    rng, conn = random.Random(), connect(kind)
    with conn:
        while not stop.is_set():
            with conn.cursor() as cur:
                cur.execute(f"INSERT INTO {TABLE} (v) VALUES (1)")
            time.sleep(rng.uniform(0, hold))
            conn.commit()


def timings(source: Source, export: ExportConfig, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.monotonic()
        late_commit_fence(source, Query(table=(None, TABLE)), export)
        out.append(time.monotonic() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--hold", type=float, default=0.12)
    args = parser.parse_args()
    tuning = Tuning(profile="fast", **PROFILES["fast"])
    export = ExportConfig.model_validate(
        {
            "name": "bench",
            "table": TABLE,
            "mode": "incremental",
            "cursor_column": "id",
            "format": "parquet",
            "destination": {"type": "local", "path": "./out"},
        }
    )
    for kind, cls in (("postgres", PostgresSource), ("mysql", MySQLSource)):
        setup = connect(kind)
        with setup.cursor() as cur:
            cur.execute(DDL[kind])
            cur.execute(f"INSERT INTO {TABLE} (v) VALUES (1)")
        setup.commit()
        source: Source = cls(URLS[kind], tuning)
        idle = timings(source, export, args.runs)
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(kind, args.hold, stop)) for _ in range(4)]
        for thread in threads:
            thread.start()
        busy = timings(source, export, args.runs)
        stop.set()
        for thread in threads:
            thread.join()
        for label, values in (("idle", idle), (f"4 writers, hold ≤ {args.hold}s", busy)):
            print(f"{kind:8} {label:24} median {statistics.median(values):.3f}s  max {max(values):.3f}s")


if __name__ == "__main__":
    main()
