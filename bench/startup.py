"""Start-up cost of the `rivet` CLI: `rivet run` of a 10-row table, and what its imports cost.

Medians of `--runs` (default 10) processes each: `python -c pass` (the interpreter alone), `rivet --help` (the CLI's
imports) and `rivet run` of `bench_mixed_10` (built if absent) to Parquet zstd; then the ten costliest top-level
imports of `python -X importtime -m rivet_core.cli --help` and whether the heavy optional SDKs were among them.
Usage: `.venv/bin/python bench/startup.py [--engine pg|mysql] [--runs 10]` (bench/README.md).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import measure
from compare import DEFAULT_URLS, parquet_rows
from mixed_table import ENGINES, Server, ensure_table
from tools import Job

ROWS = 10
# Imported by the CLI's start-up only if something pulls them in eagerly (each costs tens to hundreds of ms).
HEAVY = ("dagster", "boto3", "botocore", "google.cloud.storage", "polars", "pyarrow", "psycopg", "mysql.connector")


def _median_run(
    cmd: list[str], runs: int, env: dict[str, str] | None = None, job: Job | None = None
) -> tuple[float, float]:
    """Median wall seconds and peak RSS MiB of `runs` runs of a command (exits on a failure); a job's output is
    emptied before each run and its rows checked after."""
    walls, rss = [], []
    for _ in range(runs):
        if job is not None:
            shutil.rmtree(job.out, ignore_errors=True)
            job.out.mkdir(parents=True)
        cwd = job.work if job is not None else None
        run = measure.run(cmd, env=env, cwd=cwd, timeout_s=300)
        if run.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed: {run.stderr.strip()[-2000:]}")
        if job is not None and (written := parquet_rows(job.out)[0]) != ROWS:
            sys.exit(f"rivet run wrote {written} rows of {job.table}, expected {ROWS}")
        walls.append(run.seconds)
        rss.append(run.rss_mib)
    return statistics.median(walls), statistics.median(rss)


def import_costs(
    args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[list[tuple[int, int, str]], set[str]]:
    """(cumulative µs, self µs, module) of the top-level imports of `rivet ARGS`, costliest first; all modules."""
    cmd = [sys.executable, "-X", "importtime", "-m", "rivet_core.cli", *args]
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=True)
    top, names = [], set()
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        names.add(name.strip())
        if not name.startswith("  "):  # one space after the bar; nested imports are indented further
            top.append((int(cumulative), int(own), name.strip()))
    return sorted(top, reverse=True), names


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=ENGINES, default="pg")
    parser.add_argument("--url", help="database URL (default: compare.py's for the engine)")
    parser.add_argument("--runs", type=int, default=10, help="processes per measurement (median)")
    args = parser.parse_args()
    server = Server.parse(args.engine, args.url or DEFAULT_URLS[args.engine])
    table = ensure_table(server, ROWS)
    work = Path(tempfile.mkdtemp(prefix="rivet-startup-"))
    try:
        job = Job("rivet", server, table, work)
        python = _median_run([sys.executable, "-c", "pass"], args.runs)
        help_ = _median_run([sys.executable, "-m", "rivet_core.cli", "--help"], args.runs)
        run = _median_run(job.command(), args.runs, env=job.env(), job=job)
        print(f"\nmedians of {args.runs} processes ({args.engine})")
        print(f"{'process':<28} {'wall s':>7} {'peak RSS MiB':>13}")
        for label, (wall, rss) in (
            ("python -c pass", python),
            ("rivet --help", help_),
            (f"rivet run ({ROWS} rows)", run),
        ):
            print(f"{label:<28} {wall:>7.3f} {rss:>13.0f}")
        print_imports("--help", ["--help"])
        print_imports(f"run ({ROWS} rows)", job.command()[3:], env=job.env(), cwd=work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def print_imports(label: str, args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    """The ten costliest top-level imports of `rivet ARGS`, and which heavy modules it imported."""
    top, names = import_costs(args, env, cwd)
    print(f"\ncostliest top-level imports of `rivet {label}` (python -X importtime)")
    print(f"{'cumulative ms':>13} {'self ms':>8}  module")
    for cumulative, own, name in top[:10]:
        print(f"{cumulative / 1000:>13.1f} {own / 1000:>8.1f}  {name}")
    print(f"heavy modules imported by `rivet {label}`: " + (", ".join(m for m in HEAVY if m in names) or "none"))


if __name__ == "__main__":
    main()
