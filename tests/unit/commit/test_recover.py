"""recover() beside a live run: what it removes of a crashed run, and what it leaves of one still writing."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from rivet_core.commit import Layout, recover
from rivet_core.destinations.local import LocalDestination

NO_SUCH_PID = 2**31 - 1


def owner(pid: int) -> bytes:
    return json.dumps({"host": socket.gethostname(), "pid": pid, "started": time.time()}).encode()


def test_a_claim_being_written_by_a_live_run_is_left_and_a_dead_runs_claim_removed(tmp_path: Path) -> None:
    dest, layout = LocalDestination(tmp_path), Layout("ev")
    dest.write_bytes(layout.owner_key("dead"), owner(NO_SUCH_PID))
    dest.write_bytes(f"{layout.temp_prefix('dead')}/part.parquet", b"x")
    dest.write_bytes(layout.owner_key("live"), owner(os.getpid()))
    # another partition's run between writing its claim's temp file and renaming it into place
    writing = f"{layout.owners_prefix}.being-written.json.tmp{os.getpid()}"
    (tmp_path / writing).write_bytes(owner(os.getpid()))

    recover(dest, "ev")

    assert dest.list(layout.root) == sorted([layout.owner_key("live"), writing])
