"""Commit protocol (design §5): temp parts → intent → promote → manifest (the commit record) → `_SUCCESS`.

Layout under a destination root, per export:
  <data files at their final keys>
  _rivet/<export>/_tmp/<unit>/…            parts while being written (removed by the next run after a crash)
  _rivet/<export>/units/<unit>/intent.json  the final keys about to be promoted (present only mid-commit)
  _rivet/<export>/units/<unit>/manifest.json  the commit record
  _rivet/<export>/units/<unit>/_SUCCESS     sha256 of the manifest bytes
A crash before the manifest leaves an intent: the next run deletes the files it lists, so a unit is all or nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import psutil

from rivet_core.destinations.base import Destination
from rivet_core.writers import WrittenPart

log = logging.getLogger("rivet")


@dataclass(frozen=True)
class Unit:
    """One committed unit of an export: a run's slice (full, cursor range, chunk or window)."""

    export: str
    unit_id: str

    @property
    def temp_prefix(self) -> str:
        return f"_rivet/{self.export}/_tmp/{self.unit_id}"

    @property
    def prefix(self) -> str:
        return f"_rivet/{self.export}/units/{self.unit_id}"

    @property
    def owner_key(self) -> str:
        return f"_rivet/{self.export}/owners/{self.unit_id}.json"

    def temp_key(self, final_key: str) -> str:
        return f"{self.temp_prefix}/{final_key}"


# A unit whose owner runs on another host is left alone by recover() until it is this old.
FOREIGN_OWNER_MAX_AGE_S = 24 * 3600


def claim(dest: Destination, unit: Unit) -> None:
    """Record which process writes a unit, so a concurrent run's recover() leaves its temp files alone."""
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
    dest.write_bytes(unit.owner_key, _dumps(owner))


def _alive(dest: Destination, export: str, unit_id: str) -> bool:
    """Whether the unit's owner may still be running (same host: its pid exists; other host: recent)."""
    key = f"_rivet/{export}/owners/{unit_id}.json"
    if dest.size(key) is None:
        return False
    owner = json.loads(dest.read_bytes(key))
    if owner["host"] == socket.gethostname():
        return bool(psutil.pid_exists(owner["pid"]))
    return time.time() - owner["started"] < FOREIGN_OWNER_MAX_AGE_S


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=True, default=str).encode()


def commit(dest: Destination, unit: Unit, parts: list[WrittenPart], manifest: dict[str, Any]) -> dict[str, Any]:
    """Publish `parts` and write the manifest last; returns the manifest as written."""
    dest.write_bytes(f"{unit.prefix}/intent.json", _dumps({"keys": [p.final_key for p in parts]}))
    promoted: list[str] = []
    try:
        for part in parts:
            dest.promote(part.temp_key, part.final_key)
            promoted.append(part.final_key)
    except BaseException:
        # e.g. the name was taken by a concurrent run: withdraw only what this unit published, and its intent,
        # so that no later recover() deletes the other run's file listed in this intent.
        for key in promoted:
            dest.delete(key)
        dest.delete(f"{unit.prefix}/intent.json")
        raise
    manifest = {
        **manifest,
        "status": "committed",
        "unit_id": unit.unit_id,
        "row_count": sum(p.rows for p in parts),
        "bytes": sum(p.bytes for p in parts),
        "parts": [{"key": p.final_key, "rows": p.rows, "bytes": p.bytes, "fingerprint": p.fingerprint} for p in parts],
    }
    body = _dumps(manifest)
    dest.write_bytes(f"{unit.prefix}/manifest.json", body)
    dest.write_bytes(f"{unit.prefix}/_SUCCESS", ("sha256:" + hashlib.sha256(body).hexdigest() + "\n").encode())
    dest.delete(f"{unit.prefix}/intent.json")
    dest.delete(unit.owner_key)
    return manifest


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
    removed = 0
    for key in dest.list(f"_rivet/{export}/units/"):
        if not key.endswith("/intent.json"):
            continue
        prefix = key[: -len("/intent.json")]
        if _alive(dest, export, prefix.rsplit("/", 1)[1]):
            continue
        if dest.size(f"{prefix}/manifest.json") is None:
            for final_key in json.loads(dest.read_bytes(key))["keys"]:
                dest.delete(final_key)
                removed += 1
        dest.delete(key)
    tmp, owners = f"_rivet/{export}/_tmp/", f"_rivet/{export}/owners/"
    # Units with temp objects, and claimed units (an S3 multipart upload in progress is not an object yet).
    unit_ids = {k[len(tmp) :].split("/", 1)[0] for k in dest.list(tmp)}
    unit_ids |= {k[len(owners) :].removesuffix(".json") for k in dest.list(owners)}
    for unit_id in sorted(unit_ids):
        if not _alive(dest, export, unit_id):
            removed += dest.clear(f"{tmp}{unit_id}/")
    for key in dest.list(owners):
        if not _alive(dest, export, key.rsplit("/", 1)[1].removesuffix(".json")):
            dest.delete(key)
    if removed:
        log.info("removed %d leftover object(s) of an interrupted run of %s", removed, export)
    return removed


def manifests(dest: Destination, export: str) -> list[dict[str, Any]]:
    """Every committed manifest of an export, oldest first (unit ids sort by time)."""
    out = []
    for key in dest.list(f"_rivet/{export}/units/"):
        if key.endswith("/manifest.json"):
            out.append(json.loads(dest.read_bytes(key)))
    return sorted(out, key=lambda m: m["unit_id"])


def latest_reset(dest: Destination, export: str) -> str | None:
    """The unit-id watermark written by `rivet state reset` (manifests at or before it are ignored)."""
    key = f"_rivet/{export}/reset.json"
    if dest.size(key) is None:
        return None
    return str(json.loads(dest.read_bytes(key))["after_unit"])


def write_reset(dest: Destination, export: str, after_unit: str) -> None:
    """Forget the export's history at the destination (cursor recovery starts after `after_unit`)."""
    dest.write_bytes(f"_rivet/{export}/reset.json", _dumps({"after_unit": after_unit}))


def supersede(dest: Destination, export: str, current: dict[str, Any]) -> int:
    """Remove older committed units of the same slice (a re-exported window): files first, then manifests.

    The new unit is already committed, so a crash here leaves both versions recorded; the next re-export of
    the slice, or `current_manifests`, resolves it to the newest.
    """
    key = current["slice"]["key"]
    removed = 0
    for old in manifests(dest, export):
        if old["slice"]["key"] == key and old["unit_id"] < current["unit_id"]:
            for part in old["parts"]:
                dest.delete(part["key"])
            prefix = f"_rivet/{export}/units/{old['unit_id']}"
            dest.delete(f"{prefix}/manifest.json")
            dest.delete(f"{prefix}/_SUCCESS")
            removed += 1
    return removed


def current_manifests(dest: Destination, export: str) -> list[dict[str, Any]]:
    """The committed units readers should see: for windows, only the newest unit of each window."""
    latest: dict[str, dict[str, Any]] = {}
    out = []
    for m in manifests(dest, export):
        if m.get("replaces_slice"):
            latest[m["slice"]["key"]] = m
        else:
            out.append(m)
    return out + list(latest.values())
