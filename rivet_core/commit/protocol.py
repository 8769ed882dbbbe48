"""Commit protocol: temp parts → intent → promote → manifest (the commit record) → `_SUCCESS`.

A crash before the manifest leaves an intent: the next run deletes the files it lists, so a unit is all or nothing;
a crash after it leaves a committed unit the next run rolls forward (`repair.roll_forward`). Key names come from
`Layout` (docs/commit-protocol.md).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import psutil

from rivet_core.commit.history import manifests
from rivet_core.commit.layout import INTENT, Layout, Unit
from rivet_core.commit.manifest import Manifest, Part
from rivet_core.commit.repair import pause_for_test, success_line, sweep_temp_files
from rivet_core.destinations.base import Destination
from rivet_core.writers import WrittenPart

log = logging.getLogger("rivet")

# A unit whose owner runs on another host is left alone by recover() until it is this old.
FOREIGN_OWNER_MAX_AGE_S = 24 * 3600


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=True, default=str).encode()


def claim(dest: Destination, unit: Unit) -> None:
    """Record which process writes a unit, so a concurrent run's recover() leaves its temp files alone."""
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
    dest.write_bytes(unit.owner_key, _dumps(owner))


def _alive(dest: Destination, layout: Layout, unit_id: str) -> bool:
    """Whether the unit's owner may still be running (same host: its pid exists; other host: recent)."""
    key = layout.owner_key(unit_id)
    if dest.size(key) is None:
        return False
    owner = json.loads(dest.read_bytes(key))
    if owner["host"] == socket.gethostname():
        return bool(psutil.pid_exists(owner["pid"]))
    return time.time() - owner["started"] < FOREIGN_OWNER_MAX_AGE_S


def commit(
    dest: Destination,
    unit: Unit,
    parts: list[WrittenPart],
    manifest: Manifest,
    *,
    check: Callable[[], None] | None = None,
) -> Manifest:
    """Publish `parts` and write the manifest last; returns the manifest as written.

    `check` (the lease's) runs before the intent and again right before the manifest: it raises to stop a run
    that may no longer commit. Any failure before the manifest is durable withdraws the unit entirely.
    """
    layout = unit.layout
    intent = layout.intent_key(unit.unit_id)
    manifest_key = layout.manifest_key(unit.unit_id)
    promoted: list[str] = []
    manifest = dataclasses.replace(
        manifest,
        status="committed",
        unit_id=unit.unit_id,
        row_count=sum(p.rows for p in parts),
        bytes=sum(p.bytes for p in parts),
        parts=[Part.of(p) for p in parts],
    )
    body = manifest.dumps()
    try:
        if check:
            check()
        dest.write_bytes(intent, _dumps({"keys": [p.final_key for p in parts]}))
        for part in parts:
            dest.promote(part.temp_key, part.final_key)
            promoted.append(part.final_key)
        if check:
            check()
        dest.write_bytes(manifest_key, body)
    except BaseException:
        # e.g. the name was taken by a concurrent run, the lease was lost, the disk is full: withdraw only what
        # this unit published (a possibly half-written manifest first), its intent and its temp parts, so that
        # no later recover() deletes another run's file listed in this intent.
        withdraw(dest, manifest_key, promoted, intent)
        discard(dest, unit, parts)
        raise
    pause_for_test("after_manifest")
    dest.write_bytes(layout.success_key(unit.unit_id), success_line(body))
    dest.delete(intent)
    dest.delete(unit.owner_key)
    return manifest


def withdraw(dest: Destination, manifest_key: str, promoted: list[str], intent: str) -> None:
    """Best-effort removal of an uncommitted unit's manifest, promoted files and intent (never raises)."""
    for key in [manifest_key, *promoted, intent]:
        try:
            dest.delete(key)
        except Exception as exc:  # the store is unreachable: the intent lets the next run's recover() finish
            log.warning("could not remove %s of an uncommitted unit: %s", key, exc)


def discard(dest: Destination, unit: Unit, parts: list[WrittenPart]) -> None:
    """Remove the temp objects (and unfinished uploads) of a unit that will not be committed."""
    dest.clear(unit.temp_prefix)
    for part in parts:
        dest.delete(part.temp_key)
    dest.delete(unit.owner_key)


def recover(dest: Destination, export: str) -> int:
    """Undo what crashed runs left: half-promoted units (intent, no manifest) and temp parts. Returns count.

    Units whose owner process is still alive (a concurrent run, another partition) are left alone.
    """
    layout = Layout(export)
    removed = 0
    for key in dest.list(layout.units_prefix):
        if not key.endswith(f"/{INTENT}"):
            continue
        unit_id = key[len(layout.units_prefix) :].split("/", 1)[0]
        if _alive(dest, layout, unit_id):
            continue
        if dest.size(layout.manifest_key(unit_id)) is None:
            for final_key in json.loads(dest.read_bytes(key))["keys"]:
                dest.delete(final_key)
                removed += 1
        dest.delete(key)
    tmp, owners = layout.tmp_prefix, layout.owners_prefix
    # Claims by unit id; a claim still being written (a local `.<name>.tmp<pid>`) is sweep_temp_files' to judge.
    claims = {k[len(owners) : -len(".json")]: k for k in dest.list(owners) if k.endswith(".json")}
    # Units with temp objects, and claimed units (an S3 multipart upload in progress is not an object yet).
    unit_ids = {k[len(tmp) :].split("/", 1)[0] for k in dest.list(tmp)} | set(claims)
    for unit_id in sorted(unit_ids):
        if not _alive(dest, layout, unit_id):
            removed += dest.clear(f"{layout.temp_prefix(unit_id)}/")
    for unit_id, key in claims.items():
        if not _alive(dest, layout, unit_id):
            dest.delete(key)
    removed += sweep_temp_files(dest, layout.root)
    if removed:
        log.info("removed %d leftover object(s) of an interrupted run of %s", removed, export)
    return removed


def supersede(dest: Destination, current: Manifest, units: list[Manifest] | None = None) -> int:
    """Remove older committed units of the same slice (a re-exported window): files first, then manifests.

    The new unit is already committed, so a crash here leaves both versions recorded; the next re-export of
    the slice, or `current_manifests`, resolves it to the newest. `units`: the export's manifests as read earlier
    under the same lease (a pass over many windows reads them once), else they are read now.
    """
    layout = Layout(current.export)
    removed = 0
    for old in manifests(dest, current.export) if units is None else units:
        if old.slice.key == current.slice.key and old.unit_id < current.unit_id:
            for part in old.parts:
                dest.delete(part.key)
            dest.delete(layout.manifest_key(old.unit_id))
            dest.delete(layout.success_key(old.unit_id))
            removed += 1
    return removed
