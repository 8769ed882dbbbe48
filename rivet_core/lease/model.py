"""Lease values shared by every backend: the holder, the scope rule, the claim and backend protocols, the errors.

Scope rule (docs/lease.md): a scope is `export` (the whole export: full, incremental, unpartitioned chunked runs)
or `<kind>=<key>` for one partition (`window=2026-11-01`, `chunk=00000000000000100000`). Two leases of one export
conflict when their scopes are equal or either is `export`; two different partitions never conflict. Backends
implement it hierarchically: `export` holds the export-level lock exclusively, a partition holds it shared plus
its own partition lock exclusively.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from rivet_core.errors import RivetError

EXPORT_SCOPE = "export"
PartitionKind = Literal["window", "chunk"]
_SCOPE = re.compile(r"^(window|chunk)=[^\s/\\]{1,200}$")
_SAFE = re.compile(r"[^A-Za-z0-9._=-]")


class LeaseHeld(RivetError):
    """Another run holds a conflicting lease and did not release it within the wait (exit 1)."""


class LeaseLost(RivetError):
    """This run's lease can no longer be proven held (renewal failed or the lock's connection dropped)."""


def partition_scope(kind: PartitionKind, key: str) -> str:
    """The scope of one partition: `window=<key>` or `chunk=<key>`."""
    return check_scope(f"{kind}={key}")


def check_scope(scope: str) -> str:
    """`scope` itself when it is `export` or `<window|chunk>=<key>`; ValueError otherwise (a programming error)."""
    if scope != EXPORT_SCOPE and not _SCOPE.match(scope):
        raise ValueError(f"lease scope must be 'export' or 'window=KEY' / 'chunk=KEY', not {scope!r}")
    return scope


def conflicts(a: str, b: str) -> bool:
    """Whether leases of one export with scopes `a` and `b` exclude each other."""
    return a == b or EXPORT_SCOPE in (a, b)


def safe_name(text: str) -> str:
    """`text` usable as one file or object name component (anything outside [A-Za-z0-9._=-] as %XX)."""
    return _SAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)


def utc_text(moment: datetime) -> str:
    """ISO-8601 UTC with a `Z`, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class HolderInfo:
    """Who holds a lease: the run, its host and process, and since when (UTC)."""

    run_id: str
    host: str
    pid: int
    since: datetime

    @classmethod
    def current(cls, run_id: str) -> HolderInfo:
        """This process, now."""
        return cls(run_id=run_id, host=socket.gethostname(), pid=os.getpid(), since=datetime.now(UTC))

    def to_dict(self) -> dict[str, str | int]:
        return {"run_id": self.run_id, "host": self.host, "pid": self.pid, "since": utc_text(self.since)}

    @classmethod
    def from_dict(cls, data: object) -> HolderInfo | None:
        """The holder a backend stored, or None when it is missing or malformed (a half-written record)."""
        if not isinstance(data, dict):
            return None
        try:
            since = datetime.strptime(str(data["since"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            return cls(run_id=str(data["run_id"]), host=str(data["host"]), pid=int(data["pid"]), since=since)
        except (KeyError, TypeError, ValueError):
            return None

    @classmethod
    def from_json(cls, text: str | bytes) -> HolderInfo | None:
        try:
            return cls.from_dict(json.loads(text))
        except ValueError:
            return None


@dataclass(frozen=True)
class Conflict:
    """A backend's answer when a conflicting lease is held: by whom (None when unreadable) and under which scope."""

    scope: str
    holder: HolderInfo | None

    def message(self, export: str) -> str:
        """The user-facing sentence naming the holder."""
        what = f"export {export}" if self.scope == EXPORT_SCOPE else f"export {export} ({self.scope})"
        if self.holder is None:
            return f"{what} is being written by another run (holder not readable yet); wait or stop it"
        h = self.holder
        return (
            f"{what} is being written by run {h.run_id} on host {h.host} pid {h.pid} since {utc_text(h.since)}; "
            "wait or stop it"
        )


class Claim(Protocol):
    """One backend's held lock: provable with `check`, given back with `release` (idempotent)."""

    def check(self) -> None:
        """Raise LeaseLost when the lock can no longer be proven held."""

    def release(self) -> None:
        """Give the lock back; never raises for a lock already gone."""


class LeaseBackend(Protocol):
    """Somewhere a lease can be taken without waiting: a lock file, a Postgres advisory lock, a lease object."""

    name: str

    def try_acquire(self, export: str, scope: str, holder: HolderInfo) -> Claim | Conflict:
        """Take the lease now, or report who holds a conflicting one."""
