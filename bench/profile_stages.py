"""Where a `rivet run` spends its time, per stage: fetch, decode, cast, encode, write, hash (and the rest).

py-spy (the bench extra) samples the `rivet run` process with native frames, every thread; each sample goes to the
stage of the innermost frame a rule matches. Without py-spy (or where it may not trace), the run is repeated
in-process under cProfile, every thread profiled, and each function's own time goes to the stage its name matches.
Rules match module paths and native symbols (rivet_core/sources, parquet::, sha256 …), not rivet's function
names, so they survive the engine being restructured; unmatched time is listed under "other" with its top frames.
"""

from __future__ import annotations

import cProfile
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from mixed_table import Server
from tools import NOT_INSTALLED, Job

RATE_HZ = 200
TIMEOUT_S = 3600
# Whole-stack rules first (a sample anywhere under an import is start-up), then per frame, innermost first.
_STACK_RULES = [("start-up (imports)", re.compile(r"_find_and_load|_call_with_frames_removed"))]
_FRAME_RULES = [
    ("python gc", re.compile(r"gc_collect|gc\.collect")),
    ("hash", re.compile(r"sha256|SHA256|_hashopenssl|EVP_(hash|Digest)|hashlib|_hashlib")),
    ("write", re.compile(r"rivet_core/destinations/|PyOutputStream::Write|fsync|fdatasync|FileIO|BufferedWriter")),
    ("state", re.compile(r"sqlite3|rivet_core/state|rivet_core/lease|rivet_core/commit")),
    ("encode", re.compile(r"parquet|Parquet|ZSTD_|HUF_|HIST_|FSE_|zstd|snappy|lz4|thrift|csv")),
    ("cast", re.compile(r"arrow::compute|pyarrow/compute|rivet_core/sources/types|finish_batch|cast")),
    ("decode", re.compile(r"adbcpq::PostgresCopy|ArrowBuffer|ArrowArray|arrow::py::|Concatenate|from_pylist")),
    (
        "fetch",
        re.compile(
            r"\bPQ\w+|\bpq[A-Z]\w+|libadbc|adbc_driver|fetch_row|MySQL_|vio_read|_mysql_connector|rivet_core/sources/"
        ),
    ),
]
# cProfile sees no stacks: its import machinery and lock waits (py-spy leaves idle threads out) by name.
_FUNCTION_RULES = [
    ("start-up (imports)", re.compile(r"<frozen importlib|_imp\.|marshal\.loads|builtins\.compile")),
    ("waiting (locks, sleep)", re.compile(r"_thread\.lock|\.acquire|time\.sleep|\bwait\b")),
]
STAGES = [name for name, _ in _STACK_RULES + _FUNCTION_RULES[1:] + _FRAME_RULES] + ["other"]


def stage_of_stack(frames: list[str]) -> str:
    """The stage of one sampled stack (outermost frame first)."""
    for name, rule in _STACK_RULES:
        if any(rule.search(f) for f in frames):
            return name
    for frame in reversed(frames):
        for name, rule in _FRAME_RULES:
            if rule.search(frame):
                return name
    return "other"


def stage_of_function(label: str) -> str:
    """The stage of one profiled function (`file:line(name)`), by its own name only."""
    for name, rule in _FUNCTION_RULES + _FRAME_RULES:
        if rule.search(label):
            return name
    return "other"


def _print(totals: Counter[str], unit: str, scale: float, other: Counter[str], how: str) -> None:
    total = sum(totals.values()) or 1
    print(f"\n{how}; {unit} = {sum(totals.values()) * scale:.2f} in all (threads add up)")
    print(f"{'stage':<24} {unit:>10} {'share':>7}")
    for stage in STAGES:
        if totals[stage]:
            print(f"{stage:<24} {totals[stage] * scale:>10.2f} {totals[stage] / total:>7.1%}")
    if other:
        print("top frames of 'other':")
        for frame, n in other.most_common(5):
            print(f"  {n * scale:8.2f}  {frame[:150]}")


def _pyspy(job: Job, pyspy: str, work: Path) -> bool:
    """Sample the run with py-spy; print the breakdown. False when py-spy could not trace it."""
    raw = work / "pyspy.txt"
    cmd = [pyspy, "record", "--native", "--format", "raw", "-r", str(RATE_HZ), "-o", str(raw), "--", *job.command()]
    proc = subprocess.run(cmd, env=job.env(), cwd=job.work, capture_output=True, text=True, timeout=TIMEOUT_S)
    if proc.returncode != 0 or not raw.exists():
        print(f"py-spy failed ({proc.stderr.strip().splitlines()[-1:]}); falling back to cProfile", file=sys.stderr)
        return False
    totals: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        stage = stage_of_stack(frames)
        totals[stage] += int(count)
        if stage == "other":
            other[next((f for f in reversed(frames) if not f.startswith("0x")), frames[-1])] += int(count)
    _print(totals, "samples s", 1 / RATE_HZ, other, f"py-spy, {RATE_HZ} Hz, native frames, every thread")
    return True


def _cprofile(job: Job, work: Path) -> None:
    """Run this module as the child (cProfile around the CLI, every thread); print the breakdown of own times."""
    stats_file = work / "rivet.pstats"
    cmd = [sys.executable, __file__, str(stats_file), *job.command()[1:]]
    proc = subprocess.run(cmd, env=job.env(), cwd=job.work, capture_output=True, text=True, timeout=TIMEOUT_S)
    if proc.returncode != 0:
        sys.exit(f"profiled run failed: {proc.stderr.strip()[-2000:]}")
    stats = pstats.Stats(str(stats_file))
    totals: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for (file, line, name), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        label = f"{file}:{line}({name})"
        stage = stage_of_function(label)
        totals[stage] += own
        if stage == "other":
            other[label] += own
    _print(totals, "own s", 1.0, other, "cProfile, own time per function, every thread")


def profile(server: Server, table: str) -> None:
    """One full `rivet run` of the table, profiled; prints the per-stage breakdown."""
    work = Path(tempfile.mkdtemp(prefix="rivet-profile-"))
    job = Job("rivet", server, table, work / "run")
    try:
        job.out.mkdir(parents=True)
        print(f"\nprofiling rivet run of {table} on {server.engine}", flush=True)
        pyspy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if pyspy is None:
            print(f"py-spy: {NOT_INSTALLED}; using cProfile", file=sys.stderr)
        if pyspy is None or not _pyspy(job, pyspy, work):
            shutil.rmtree(job.out, ignore_errors=True)
            job.out.mkdir(parents=True)
            _cprofile(job, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _child(stats_file: str, argv: list[str]) -> None:
    """The profiled process: `python -m rivet_core.cli …` in-process, a cProfile per thread, merged at exit."""
    from rivet_core.cli import main as cli_main

    profilers = [cProfile.Profile()]

    def per_thread(*_: object) -> None:
        sys.setprofile(None)
        profilers.append(cProfile.Profile())
        profilers[-1].enable()

    threading.setprofile(per_thread)
    sys.argv = ["rivet", *argv[2:]]  # argv: ["-m", "rivet_core.cli", "run", …]
    profilers[0].enable()
    try:
        cli_main()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        profilers[0].disable()
        merged = pstats.Stats(profilers[0])
        for extra in profilers[1:]:
            extra.disable()
            merged.add(extra)
        merged.dump_stats(stats_file)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2:])
