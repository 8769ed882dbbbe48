"""Finishing what a killed run left: roll committed units forward (`_SUCCESS`), sweep orphaned hidden temp files.

A unit is committed once its manifest exists; a run killed between the manifest and `_SUCCESS` left a committed
unit that readers trusting `_SUCCESS` cannot see. `roll_forward` writes the missing marker (docs/commit-protocol.md).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import time
from collections.abc import Callable

import psutil

from rivet_core.commit.layout import INTENT, MANIFEST, SUCCESS, Layout
from rivet_core.commit.manifest import Manifest
from rivet_core.destinations.base import Destination
from rivet_core.errors import RivetError

log = logging.getLogger("rivet")

# A hidden temp file of an atomic small write (`.<name>.tmp<pid>`, the local destination's `write_bytes`).
TEMP_FILE = re.compile(r"^\..+\.tmp(\d+)$")
PAUSE_ENV = "RIVET_TEST_PAUSE_AT"  # test-only: a commit point where the process sleeps (to be SIGKILLed there)
PAUSE_S_ENV = "RIVET_TEST_PAUSE_S"


def success_line(manifest_body: bytes) -> bytes:
    """The `_SUCCESS` content: the sha256 of the manifest's bytes."""
    return ("sha256:" + hashlib.sha256(manifest_body).hexdigest() + "\n").encode()


def roll_forward(dest: Destination, export: str, *, only: Callable[[Manifest], bool] | None = None) -> int:
    """Write `_SUCCESS` (matching the manifest) for each committed unit without one and drop its intent.

    `only`: the units to finish (a partition run touches its own partitions only). Returns the count.
    """
    layout = Layout(export)
    keys = dest.list(layout.units_prefix)
    done = {k.removesuffix(f"/{SUCCESS}") for k in keys if k.endswith(f"/{SUCCESS}")}
    finished = 0
    for key in keys:
        unit_prefix = key.removesuffix(f"/{MANIFEST}")
        if not key.endswith(f"/{MANIFEST}") or unit_prefix in done:
            continue
        try:
            body = dest.read_bytes(key)
        except (OSError, RivetError):  # superseded meanwhile
            continue
        manifest = Manifest.loads(body)
        if only is not None and not only(manifest):
            continue
        dest.write_bytes(f"{unit_prefix}/{SUCCESS}", success_line(body))
        dest.delete(f"{unit_prefix}/{INTENT}")
        finished += 1
        log.warning("%s: unit %s was committed but not marked; _SUCCESS written", export, manifest.unit_id)
    return finished


def sweep_temp_files(dest: Destination, prefix: str) -> int:
    """Remove hidden temp files (`.<name>.tmp<pid>`) under `prefix` whose process no longer exists on this host."""
    removed = 0
    for key in dest.list(f"{prefix}/"):
        found = TEMP_FILE.match(key.rsplit("/", 1)[-1])
        if found and not psutil.pid_exists(int(found.group(1))):
            dest.delete(key)
            removed += 1
    return removed


def pause_for_test(point: str) -> None:
    """Test-only: sleep at `point` when RIVET_TEST_PAUSE_AT names it (a test SIGKILLs the process there)."""
    if os.environ.get(PAUSE_ENV) != point:
        return
    print(f"rivet: test pause at {point} (pid {os.getpid()})", file=sys.stderr, flush=True)
    time.sleep(float(os.environ.get(PAUSE_S_ENV, "300")))
