"""Many time windows in one run: `rivet run` of a time_window export whose `days_window` spans N daily windows.

Builds `bench_windows_<N>` (a few rows per day for the N days up to today, UTC; rebuilt each time, as the windows
move with the date), runs `rivet run --json` of a time_window export over all of them `--repeat` times and prints
the median wall time, peak RSS and the committed windows (checked: every window, every row).
`--python` runs another interpreter's rivet (e.g. the main checkout's, for a before/after).
Usage: `.venv/bin/python bench/windows.py [--engine pg|mysql] [--windows 1500] [--rows-per-window 3]` (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

import measure
from compare import DEFAULT_URLS
from mixed_table import ENGINES, Server
from tools import URL_ENV


def build(server: Server, table: str, windows: int, per_window: int) -> int:
    """The table: `per_window` rows in each of the `windows` days up to today (UTC); its row count."""
    rows = windows * per_window
    if server.engine == "pg":
        server.query(
            f"DROP TABLE IF EXISTS {table}",
            f"CREATE TABLE {table} (id bigint PRIMARY KEY, ts timestamptz NOT NULL, v int)",
            f"INSERT INTO {table} SELECT g, date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
            f" - (g / {per_window}) * interval '1 day' + (g % {per_window}) * interval '1 minute', g"
            f" FROM generate_series(0, {rows - 1}) AS g",
        )
    else:
        server.query(
            f"DROP TABLE IF EXISTS {table}",
            f"CREATE TABLE {table} (id bigint PRIMARY KEY, ts datetime(6) NOT NULL, v int)",
            f"SET SESSION max_recursive_iterations = {rows}",
            f"INSERT INTO {table} WITH RECURSIVE s(g) AS"
            f" (SELECT 0 UNION ALL SELECT g + 1 FROM s WHERE g < {rows - 1}) SELECT g,"
            f" DATE(UTC_TIMESTAMP()) - INTERVAL (g DIV {per_window}) DAY + INTERVAL (g % {per_window}) MINUTE,"
            " g FROM s",
        )
    return rows


def write_config(work: Path, server: Server, table: str, windows: int) -> Path:
    """A rivet.yaml with one time_window export over the last `windows` days (today's included)."""
    source = "postgres" if server.engine == "pg" else "mysql"
    text = f"""\
        source:
          type: {source}
          url_env: {URL_ENV}
          environment: local
        exports:
          - name: {table}
            table: {table}
            mode: time_window
            time_column: ts
            days_window: {windows - 1}
            format: parquet
            compression: zstd
            destination:
              type: local
              path: {work / "out"}
        """
    path = work / "rivet.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def committed(out: Path, export: str) -> tuple[int, int]:
    """The committed units of the export (one per window) and their rows, from the manifests."""
    found = [json.loads(p.read_text()) for p in (out / "_rivet" / export / "units").glob("*/manifest.json")]
    return len({m["slice"]["key"] for m in found}), sum(m["row_count"] for m in found)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=ENGINES, default="pg")
    parser.add_argument("--url", help="database URL (default: compare.py's for the engine)")
    parser.add_argument("--windows", type=int, default=1500, help="daily windows the export spans")
    parser.add_argument("--rows-per-window", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="runs (median reported)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose rivet runs")
    args = parser.parse_args()
    server = Server.parse(args.engine, args.url or DEFAULT_URLS[args.engine])
    table = f"bench_windows_{args.windows}"
    rows = build(server, table, args.windows, args.rows_per_window)
    work = Path(tempfile.mkdtemp(prefix="rivet-windows-"))
    env = {**server.env(), URL_ENV: server.url}
    walls, rss = [], []
    try:
        config = write_config(work, server, table, args.windows)
        for _ in range(args.repeat):
            shutil.rmtree(work / "out", ignore_errors=True)
            cmd = [args.python, "-m", "rivet_core.cli", "run", "-c", str(config)]
            run = measure.run(cmd, env=env, cwd=work, timeout_s=3600)
            if run.returncode != 0:
                sys.exit(f"rivet run failed: {run.stderr[-2000:]}")
            units, written = committed(work / "out", table)
            if (units, written) != (args.windows, rows):
                sys.exit(f"rivet committed {written} rows in {units} windows; expected {rows} in {args.windows}")
            walls.append(run.seconds)
            rss.append(run.rss_mib)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        server.query(f"DROP TABLE IF EXISTS {table}")
    wall = statistics.median(walls)
    print(f"{args.engine}: {args.windows} windows, {rows} rows, median of {args.repeat}: {wall:.2f} s wall"
          f" ({wall / args.windows * 1000:.1f} ms/window), peak RSS {statistics.median(rss):.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
