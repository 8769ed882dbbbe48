"""Lease object at the destination, `_rivet/<export>/lease/<scope>.json`, for object stores and ephemeral workers.

Created conditionally, renewed by a heartbeat thread (conditional overwrite on the token), taken over by
conditional overwrite once expired (or at once when its holder was a process of this host that no longer
exists), deleted conditionally on release (docs/lease.md). The scope rule is kept by
announce-then-check: a lease first claims its own object, then looks for a live lease of a conflicting scope (a
partition looks at `export.json`, `export` lists every partition) and backs off if it finds one; with a strongly
consistent store at least one of two racing acquirers sees the other. An expired conflicting lease is deleted on
its token, so its slow holder's next renewal fails and it stops before committing.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psutil

from rivet_core.errors import RivetError
from rivet_core.lease.model import EXPORT_SCOPE, Claim, Conflict, HolderInfo, LeaseLost, safe_name
from rivet_core.lease.stores import ObjectStore

TTL_S = 60.0  # a lease object not renewed for this long (plus SKEW_S) may be taken over
HEARTBEAT_FRACTION = 1 / 3  # renew every TTL_S / 3 = 20 s, so two renewals may fail before expiry
SKEW_S = 5.0  # clock difference tolerated between hosts; a holder also stops trusting its lease this early
RELEASE_JOIN_S = 5.0


def lease_key(export: str, scope: str) -> str:
    """The lease object's key relative to the destination root."""
    return f"{lease_prefix(export)}{safe_name(scope)}.json"


def lease_prefix(export: str) -> str:
    return f"_rivet/{safe_name(export)}/lease/"


class _Record:
    """The parsed body of a lease object."""

    def __init__(self, body: bytes) -> None:
        try:
            data = json.loads(body)
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        self.holder = HolderInfo.from_dict(data)
        self.scope = str(data.get("scope", ""))
        self.nonce = str(data.get("nonce", ""))
        self.seq = data.get("seq")
        try:
            self.expires_at: datetime | None = datetime.fromisoformat(str(data["expires_at"]))
        except (KeyError, ValueError):
            self.expires_at = None

    def expired(self, skew_s: float) -> bool:
        """Past its expiry by more than the clock skew (an unreadable record counts as expired)."""
        return self.expires_at is None or self.expires_at + timedelta(seconds=skew_s) < datetime.now(UTC)

    def abandoned(self) -> bool:
        """Held by a process of this host that no longer exists (killed): free at once, without waiting for expiry."""
        h = self.holder
        return h is not None and h.host == socket.gethostname() and not psutil.pid_exists(h.pid)

    def free(self, skew_s: float) -> bool:
        return self.expired(skew_s) or self.abandoned()


class _ObjectClaim:
    """A held lease object and the daemon thread renewing it every heartbeat."""

    def __init__(self, backend: ObjectLeaseBackend, key: str, token: str, body: _Body, started: float) -> None:
        self._backend, self._key, self._token, self._body = backend, key, token, body
        self._valid_until = started + backend.ttl_s - backend.skew_s
        self._lost: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="rivet-lease-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self._backend.heartbeat_s):
            with self._lock:
                if self._stop.is_set() or self._lost:
                    return
                self._renew()

    def _renew(self) -> None:
        started = time.monotonic()
        body = self._body.next(self._backend.ttl_s)
        try:
            token = self._backend.store.replace(self._key, body.encode(), self._token)
            token = token or self._backend.mine(self._key, body)
        except RivetError as exc:  # unreachable store: keep trying until the lease can no longer be trusted
            if time.monotonic() > self._valid_until:
                self._lost = f"could not renew it ({exc})"
            return
        if token is None:
            self._lost = "it was taken over or deleted (not renewed in time)"
            return
        self._token, self._body = token, body
        self._valid_until = started + self._backend.ttl_s - self._backend.skew_s

    def check(self) -> None:
        where = f"{self._backend.store.where}/{self._key}"
        if self._lost:
            raise LeaseLost(f"lease {where} lost: {self._lost}; stopping before commit")
        if time.monotonic() > self._valid_until:
            raise LeaseLost(f"lease {where} lost: not renewed within its {self._backend.ttl_s:g} s ttl")

    def release(self) -> None:
        """Stop the heartbeat and delete the object, within RELEASE_JOIN_S in all (a store that does not answer
        in time is left behind: the object expires, or a run on this host takes it over once this process ends)."""
        deadline = time.monotonic() + RELEASE_JOIN_S
        self._stop.set()
        self._thread.join(RELEASE_JOIN_S)
        deleter = threading.Thread(target=self._delete, name="rivet-lease-release", daemon=True)
        deleter.start()
        deleter.join(max(0.0, deadline - time.monotonic()))

    def _delete(self) -> None:
        with self._lock:
            if self._lost:
                return
            self._lost = "released"
            with contextlib.suppress(RivetError):  # unreachable now: the object expires after its ttl
                self._backend.store.delete(self._key, self._token)


class _Body:
    """What a lease object holds: the holder, the scope, a nonce and renewal count (so every write is unique)."""

    def __init__(self, holder: HolderInfo, scope: str, nonce: str, seq: int, ttl_s: float) -> None:
        self.holder, self.scope, self.nonce, self.seq = holder, scope, nonce, seq
        self.expires_at = datetime.now(UTC) + timedelta(seconds=ttl_s)

    def next(self, ttl_s: float) -> _Body:
        return _Body(self.holder, self.scope, self.nonce, self.seq + 1, ttl_s)

    def encode(self) -> bytes:
        data = {**self.holder.to_dict(), "scope": self.scope, "nonce": self.nonce, "seq": self.seq}
        data["expires_at"] = self.expires_at.isoformat(timespec="milliseconds")
        return json.dumps(data).encode()


class ObjectLeaseBackend:
    """Lease objects in one destination's store; `ttl_s` and `skew_s` shortened only by tests."""

    name = "destination lease object"

    def __init__(self, store: ObjectStore, *, ttl_s: float = TTL_S, skew_s: float = SKEW_S) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.skew_s = skew_s
        self.heartbeat_s = ttl_s * HEARTBEAT_FRACTION

    def mine(self, key: str, body: _Body) -> str | None:
        """The token of `key` when it holds exactly `body` (a write whose reply was lost but which landed)."""
        got = self.store.read(key)
        if got is None:
            return None
        record = _Record(got[0])
        return got[1] if record.nonce == body.nonce and record.seq == body.seq else None

    def try_acquire(self, export: str, scope: str, holder: HolderInfo) -> Claim | Conflict:
        started = time.monotonic()
        key = lease_key(export, scope)
        body = _Body(holder, scope, uuid.uuid4().hex, 0, self.ttl_s)
        got = self._claim(key, scope, body)
        if isinstance(got, Conflict):
            return got
        try:
            blocker = self._blocker(export, scope, key)
        except BaseException:
            with contextlib.suppress(RivetError):
                self.store.delete(key, got)
            raise
        if blocker is not None:
            self.store.delete(key, got)
            return blocker
        return _ObjectClaim(self, key, got, body, started)

    def _claim(self, key: str, scope: str, body: _Body) -> str | Conflict:
        """Create the object, or take it over when the one there has expired."""
        token = self.store.create(key, body.encode()) or self.mine(key, body)
        if token is not None:
            return token
        current = self.store.read(key)
        if current is None:  # released between the two requests: the next attempt creates it
            return Conflict(scope, None)
        record = _Record(current[0])
        if not record.free(self.skew_s):
            return Conflict(scope, record.holder)
        token = self.store.replace(key, body.encode(), current[1]) or self.mine(key, body)
        return token if token is not None else Conflict(scope, record.holder)

    def _blocker(self, export: str, scope: str, own: str) -> Conflict | None:
        """A live lease of a scope that conflicts with `scope` (expired ones are deleted on their token)."""
        if scope == EXPORT_SCOPE:
            keys = [k for k in self.store.list(lease_prefix(export)) if k != own and k.endswith(".json")]
        else:
            keys = [lease_key(export, EXPORT_SCOPE)]
        for key in keys:
            current = self.store.read(key)
            if current is None:
                continue
            record = _Record(current[0])
            if record.free(self.skew_s) and self.store.delete(key, current[1]):
                continue
            return Conflict(record.scope or EXPORT_SCOPE, record.holder)
        return None
