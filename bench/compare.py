"""rivet beside the database's own dump and its peers, on one mixed table per engine, in one interleaved loop.

Builds `bench_mixed_<rows>` in Postgres and MariaDB when absent, then `--repeat` times, per engine, runs each tool
as its own process (wall time, peak RSS of its process tree): the dump to /dev/null (`psql … COPY … (FORMAT
binary)`, `mariadb --quick`), `rivet run` (full, Parquet zstd), ConnectorX, dlt (pyarrow backend) and polars
`read_database_uri`, each → Parquet; checks every output's row count from the Parquet footers and prints medians.
Usage: `.venv/bin/python bench/compare.py [--rows 5000000] [--repeat 3] [--only rivet,dump] [--engines pg,mysql]
[--json results.json] [--profile]` (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import measure
import pyarrow.parquet as pq
from mixed_table import ENGINES, Engine, Server, ensure_table
from tools import TOOLS, Job

DEFAULT_URLS: dict[Engine, str] = {
    "pg": os.environ.get("RIVET_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("RIVET_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
}
ENGINE_LABELS: dict[Engine, str] = {"pg": "postgres", "mysql": "mariadb"}


@dataclass
class Result:
    """One tool on one engine: medians over its successful runs, or why it has none."""

    tool: str
    engine: Engine
    rows: int
    note: str = ""
    seconds: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)
    out_mib: list[float] = field(default_factory=list)

    @property
    def wall_s(self) -> float | None:
        return _median(self.seconds)

    @property
    def rows_per_s(self) -> float | None:
        wall = self.wall_s
        return self.rows / wall if wall else None

    def ratio(self, dump: Result | None) -> float | None:
        wall, base = self.wall_s, dump.wall_s if dump else None
        return wall / base if wall is not None and base else None

    def as_json(self, dump: Result | None) -> dict[str, object]:
        return {
            **asdict(self),
            "wall_s": self.wall_s,
            "rows_per_s": self.rows_per_s,
            "ratio_to_dump": self.ratio(dump),
            "peak_rss_mib": _median(self.rss_mib),
            "output_mib": _median(self.out_mib),
        }


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def parquet_rows(folder: Path) -> tuple[int, float]:
    """Rows (from the footers) and MiB of the Parquet files under a folder."""
    files = sorted(folder.rglob("*.parquet"))
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    return rows, sum(p.stat().st_size for p in files) / 2**20


def measure_once(job: Job, result: Result, timeout_s: float) -> None:
    """Run one job in a fresh folder; add its sample to `result`, or a note of what went wrong."""
    shutil.rmtree(job.work, ignore_errors=True)
    job.out.mkdir(parents=True)
    run = measure.run(job.command(), env=job.env(), cwd=job.work, timeout_s=timeout_s)
    try:
        if run.returncode != 0:
            lines = [line for line in run.stderr.strip().splitlines() if line.strip()]
            result.note = f"failed (exit {run.returncode}): {lines[-1] if lines else ''}"[:160]
            return
        written, out_mib = (result.rows, 0.0) if job.tool == "dump" else parquet_rows(job.data)
        if written != result.rows:
            result.note = f"wrote {written:,} rows, expected {result.rows:,}"
            return
    finally:
        shutil.rmtree(job.work, ignore_errors=True)
    result.seconds.append(run.seconds)
    result.rss_mib.append(run.rss_mib)
    result.out_mib.append(out_mib)
    print(
        f"  {job.tool:<10} {ENGINE_LABELS[job.server.engine]:<8} {run.seconds:7.2f}s {run.rss_mib:7.0f} MiB"
        f" {out_mib:7.1f} MiB out",
        flush=True,
    )


def bench(
    servers: dict[Engine, Server], tables: dict[Engine, str], tools: list[str], rows: int, repeat: int, timeout_s: float
) -> list[Result]:
    """The interleaved loop: per repeat, per engine, every tool once (after one uncounted dump warming the cache)."""
    work = Path(tempfile.mkdtemp(prefix="rivet-compare-"))
    results = {(t, e): Result(t, e, rows) for e in servers for t in tools}
    try:
        for engine, server in servers.items():
            warm = Job("dump", server, tables[engine], work / "warm")
            if warm.missing() is None:
                measure_once(warm, Result("dump", engine, rows), timeout_s)
        for i in range(repeat):
            print(f"run {i + 1}/{repeat}", flush=True)
            for engine, server in servers.items():
                for tool in tools:
                    result = results[tool, engine]
                    job = Job(tool, server, tables[engine], work / f"{engine}-{tool}")
                    if (why := job.missing()) is not None:
                        result.note = why
                    elif not result.note:  # a tool that failed once is not run again
                        measure_once(job, result, timeout_s)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return list(results.values())


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def print_table(results: list[Result], repeat: int) -> None:
    """One table: tool, engine, wall s, rows/s, ratio to the dump, peak RSS MiB, output MiB (medians)."""
    dumps = {r.engine: r for r in results if r.tool == "dump"}
    print(f"\nmedians of {repeat} run(s) each, process start included; load average now {os.getloadavg()[0]:.1f}")
    head = (
        f"{'tool':<11} {'engine':<9} {'wall s':>8} {'rows/s':>11} {'x dump':>7} {'peak RSS MiB':>13} {'output MiB':>11}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        line = (
            f"{r.tool:<11} {ENGINE_LABELS[r.engine]:<9} {_fmt(r.wall_s, '.2f'):>8} {_fmt(r.rows_per_s, ',.0f'):>11}"
            f" {_fmt(r.ratio(dumps.get(r.engine)), '.2f'):>7} {_fmt(_median(r.rss_mib), '.0f'):>13}"
            f" {_fmt(_median(r.out_mib), '.1f'):>11}"
        )
        print(f"{line}  {r.note}" if r.note else line)


def write_json(path: Path, results: list[Result], args: argparse.Namespace) -> None:
    dumps = {r.engine: r for r in results if r.tool == "dump"}
    doc = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "rows": args.rows,
        "repeat": args.repeat,
        "results": [r.as_json(dumps.get(r.engine)) for r in results],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {path}")


def _choices(value: str, allowed: tuple[str, ...], flag: str) -> list[str]:
    picked = [v.strip() for v in value.split(",") if v.strip()]
    unknown = sorted(set(picked) - set(allowed))
    if unknown or not picked:
        raise argparse.ArgumentTypeError(f"{flag}: choose from {','.join(allowed)} (got {value!r})")
    return [a for a in allowed if a in picked]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows of the mixed table (default 5,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool (medians reported; default 3)")
    parser.add_argument(
        "--only", type=lambda v: _choices(v, TOOLS, "--only"), default=list(TOOLS), help=f"tools: {','.join(TOOLS)}"
    )
    parser.add_argument(
        "--engines", type=lambda v: _choices(v, ENGINES, "--engines"), default=list(ENGINES), help="pg,mysql"
    )
    parser.add_argument("--pg-url", default=DEFAULT_URLS["pg"], help="default: $RIVET_BENCH_PG_URL or local test")
    parser.add_argument("--mysql-url", default=DEFAULT_URLS["mysql"], help="default: $RIVET_BENCH_MYSQL_URL or local")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before one run is killed")
    parser.add_argument("--profile", action="store_true", help="instead: profile rivet's engine per stage (pg/mysql)")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    servers: dict[Engine, Server] = {}
    for engine in args.engines:
        server = Server.parse(engine, args.pg_url if engine == "pg" else args.mysql_url)
        if server.client() is None:
            print(f"{engine}: skipped, its command-line client is not on the PATH", file=sys.stderr)
            continue
        servers[engine] = server
    tables = {engine: ensure_table(server, args.rows) for engine, server in servers.items()}
    if args.profile:
        import profile_stages  # lazily: only --profile needs it

        for engine, server in servers.items():
            profile_stages.profile(server, tables[engine])
        return 0
    results = bench(servers, tables, args.only, args.rows, args.repeat, args.timeout)
    print_table(results, args.repeat)
    if args.json:
        write_json(args.json, results, args)
    failed = [r for r in results if r.note and not r.seconds and "not installed" not in r.note]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
