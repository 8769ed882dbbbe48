"""What the export benches share: timing a child process, the generated rivet.yaml, the measuring loop and report.

Each bench (bench/pg_export.py, bench/mysql_export.py) supplies its tables and its baseline command (the database
client streaming the table to /dev/null); this module runs baseline and `rivet run` interleaved per size and prints
the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pyarrow.parquet as pq

TABLE = "bench_events"
RSS_LIMIT_MIB = 400
RSS_GROWTH_LIMIT = 0.15


@dataclass
class Sample:
    """One timed process: wall seconds, peak RSS in MiB and what it printed on stdout (rivet: --json summary)."""

    seconds: float
    rss_mib: float
    stdout: bytes = b""


def arg_parser(doc: str, default_url: str, url_help: str) -> argparse.ArgumentParser:
    """The benches' options: --url, --rows (the big table; the small one is half) and --repeat."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--url", default=default_url, help=url_help)
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the big table (the small one: half)")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per size (median reported)")
    return parser


def ensure_tables(
    rows: int, table_ok: Callable[[str, int], bool], create: Callable[[str, int, bool], None]
) -> dict[int, str]:
    """`bench_events` (rows) and `bench_events_half` (its first half), each made by `create` unless `table_ok`."""
    half = rows // 2
    tables = {half: f"{TABLE}_half", rows: TABLE}
    for size, table in sorted(tables.items(), reverse=True):
        if table_ok(table, size):
            print(f"using existing {table} ({size:,} rows)", flush=True)
            continue
        print(f"creating {table} ({size:,} rows) …", flush=True)
        started = time.perf_counter()
        create(table, size, size == rows)
        print(f"  {time.perf_counter() - started:.1f}s", flush=True)
    return tables


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, keep: bool = False) -> Sample:
    """Run `cmd`; wall time and the child's peak RSS (ru_maxrss from wait4). stdout: /dev/null, or kept."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sink = out if keep else subprocess.DEVNULL
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=sink, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.exit(f"{' '.join(cmd)} exited {proc.returncode}:\n{err.read().decode(errors='replace')}")
        out.seek(0)
        return Sample(elapsed, usage.ru_maxrss / 1024, out.read())


def write_config(folder: Path, tables: dict[int, str], source_type: str, url_env: str) -> None:
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
          type: {source_type}
          url_env: {url_env}
          environment: local
        exports:{exports}"""
    (folder / "rivet.yaml").write_text(textwrap.dedent(text))


def parquet_rows(folder: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in folder.rglob("*.parquet"))


def bench(
    tables: dict[int, str],
    repeat: int,
    source_type: str,
    url_env: str,
    env: dict[str, str],
    baseline: Callable[[str], list[str]],
    label: str,
) -> list[dict[str, float]]:
    """Interleaved baseline / rivet runs per size (the first baseline run only warms the cache); medians per size."""
    work = Path(tempfile.mkdtemp(prefix="rivet-bench-"))
    write_config(work, tables, source_type, url_env)
    rivet = [sys.executable, "-m", "rivet_core.cli", "run", "--json", "-c", str(work / "rivet.yaml"), "-e"]
    results = []
    try:
        timed(baseline(TABLE), env=env)
        for rows, table in sorted(tables.items()):
            bases, runs, engine = [], [], []
            for i in range(repeat):
                shutil.rmtree(work / "out", ignore_errors=True)
                for state in work.glob(".rivet_state.db*"):
                    state.unlink()
                bases.append(timed(baseline(table), env=env))
                runs.append(timed([*rivet, table], env=env, cwd=work, keep=True))
                engine.append(json.loads(runs[-1].stdout)["exports"][0]["duration_s"])
                written = parquet_rows(work / "out" / table)
                if written != rows:
                    sys.exit(f"rivet wrote {written} rows of {table}, expected {rows}")
                out_mib = sum(p.stat().st_size for p in (work / "out").rglob("*.parquet")) / 2**20
                print(
                    f"  {table} #{i + 1}: {label} {bases[-1].seconds:.2f}s, rivet {runs[-1].seconds:.2f}s "
                    f"(engine {engine[-1]:.2f}s) {runs[-1].rss_mib:.0f} MiB, parquet {out_mib:.0f} MiB",
                    flush=True,
                )
            base_s = statistics.median(s.seconds for s in bases)
            rivet_s = statistics.median(s.seconds for s in runs)
            results.append(
                {
                    "rows": rows,
                    "base_s": base_s,
                    "rivet_s": rivet_s,
                    "engine_s": statistics.median(engine),
                    "ratio": rivet_s / base_s,
                    "rss_mib": statistics.median(s.rss_mib for s in runs),
                }
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def print_table(results: list[dict[str, float]], repeat: int, base_header: str) -> None:
    """The medians per size; `base_header` names the baseline's seconds column."""
    width = len(base_header) + 1
    print(
        f"\nmedian of {repeat} runs each; rivet s = the `rivet run` process, start-up included;"
        " engine s = its own duration_s (after imports and config)"
    )
    print(f"{'rows':>10} {base_header:>{width}} {'rivet s':>8} {'engine s':>9} {'ratio':>6} {'rivet RSS MiB':>14}")
    for r in results:
        print(
            f"{int(r['rows']):>10,} {r['base_s']:>{width}.2f} {r['rivet_s']:>8.2f} {r['engine_s']:>9.2f} "
            f"{r['ratio']:>6.2f} {r['rss_mib']:>14.0f}"
        )


def rss_verdict(results: list[dict[str, float]]) -> tuple[str, bool]:
    """The memory targets (RSS < 400 MiB at every size, < 15% growth from the small to the big table): text, met."""
    small, big = results[0], results[-1]
    growth = big["rss_mib"] / small["rss_mib"] - 1
    ok_rss = all(r["rss_mib"] < RSS_LIMIT_MIB for r in results)
    ok_flat = growth < RSS_GROWTH_LIMIT
    text = (
        f"RSS < {RSS_LIMIT_MIB} MiB: {'ok' if ok_rss else 'MISSED'}; "
        f"RSS growth {int(small['rows']):,} → {int(big['rows']):,} rows: {growth:+.0%} "
        f"({'flat' if ok_flat else 'GROWS'})"
    )
    return text, ok_rss and ok_flat


def finish(ok: bool, load_before: float) -> NoReturn:
    """Print the load average around the bench (other work skews it) and exit 1 when a target was missed."""
    print(f"load average (1 min) before/after: {load_before:.1f}/{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    sys.exit(0 if ok else 1)
