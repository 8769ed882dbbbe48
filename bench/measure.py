"""One process, measured: wall seconds and the peak RSS of its whole process tree (psutil, polled every 20 ms).

Not `ru_maxrss` from wait4: Linux carries the high-water mark across exec, so a child forked from this Python
process (~70 MiB with pyarrow loaded) would never report less than that, whatever it runs.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

POLL_S = 0.02


@dataclass(frozen=True)
class Measured:
    """A finished child: exit code, wall seconds, peak RSS (MiB) of it and its descendants, its stderr's tail."""

    returncode: int
    seconds: float
    rss_mib: float
    stderr: str


def _tree_rss(proc: psutil.Process) -> int:
    """The summed RSS of a process and its descendants (processes that vanish meanwhile count as 0)."""
    total = 0
    try:
        family = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in family:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout_s: float) -> Measured:
    """Run `cmd` with stdout to /dev/null; sample its tree's RSS every 20 ms until it exits (or is killed)."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=cwd)
        proc = psutil.Process(child.pid)
        peak = 0
        while True:
            pid, status = os.waitpid(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout_s:
                child.kill()
            peak = max(peak, _tree_rss(proc))
            time.sleep(POLL_S)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-4000:].decode(errors="replace")
    return Measured(child.returncode, seconds, peak / 2**20, tail)
