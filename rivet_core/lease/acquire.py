"""`acquire`: take one export unit's lease on every backend, waiting a bounded time with backoff (docs/lease.md)."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from rivet_core.destinations.base import Destination
from rivet_core.destinations.gcs import GcsDestination
from rivet_core.destinations.s3 import S3Destination
from rivet_core.lease.flock import FileLockBackend
from rivet_core.lease.model import Claim, Conflict, HolderInfo, LeaseBackend, LeaseHeld, check_scope
from rivet_core.lease.objects import ObjectLeaseBackend
from rivet_core.lease.postgres import PostgresLeaseBackend
from rivet_core.lease.stores import GcsObjects, S3Objects

# Polling between attempts: from FIRST_POLL_S doubling up to MAX_POLL_S, each sleep jittered ±25 %.
FIRST_POLL_S = 0.05
MAX_POLL_S = 1.0
# A holder that has just taken its lock may not have written who it is yet: past the deadline, keep polling this
# much longer so the error names the holder instead of "not readable yet".
HOLDER_GRACE_S = 2.0


class Lease:
    """The held lease of one export unit: `check()` before committing; released by `acquire`'s `with`."""

    def __init__(self, export: str, scope: str, holder: HolderInfo, claims: list[Claim]) -> None:
        self.export = export
        self.scope = scope
        self.holder = holder
        self._claims = claims

    def check(self) -> None:
        """Raise LeaseLost when any backend can no longer prove the lease held (call right before commit)."""
        for claim in self._claims:
            claim.check()

    def release(self) -> None:
        """Give every backend's lock back, last taken first."""
        claims, self._claims = self._claims, []
        for claim in reversed(claims):
            claim.release()


def _try_all(backends: Sequence[LeaseBackend], export: str, scope: str, holder: HolderInfo) -> list[Claim] | Conflict:
    """Every backend's claim, or the first conflict (with the claims taken so far released)."""
    claims: list[Claim] = []
    try:
        for backend in backends:
            got = backend.try_acquire(export, scope, holder)
            if isinstance(got, Conflict):
                Lease(export, scope, holder, claims).release()
                return got
            claims.append(got)
    except BaseException:  # a backend failed: give back what the others granted, then report the failure
        Lease(export, scope, holder, claims).release()
        raise
    return claims


@contextmanager
def acquire(
    *, export: str, scope: str, holder: HolderInfo, backends: Sequence[LeaseBackend], wait_s: float
) -> Iterator[Lease]:
    """Hold the lease of `export`/`scope` for the `with` body; raise LeaseHeld naming the holder after `wait_s`."""
    check_scope(scope)
    deadline = time.monotonic() + max(0.0, wait_s)
    poll = FIRST_POLL_S
    while True:
        got = _try_all(backends, export, scope, holder)
        if not isinstance(got, Conflict):
            break
        left = deadline - time.monotonic() + (HOLDER_GRACE_S if got.holder is None else 0.0)
        if left <= 0:
            raise LeaseHeld(got.message(export))
        time.sleep(min(left, poll * random.uniform(0.75, 1.25)))
        poll = min(poll * 2, MAX_POLL_S)
    lease = Lease(export, scope, holder, got)
    try:
        yield lease
    finally:
        lease.release()


def state_backend(config_dir: Path, env: Mapping[str, str] | None = None) -> LeaseBackend:
    """The lease beside the state store: a Postgres advisory lock with RIVET_STATE_URL, else lock files."""
    url = (env if env is not None else os.environ).get("RIVET_STATE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return PostgresLeaseBackend(url)
    return FileLockBackend(config_dir)


def destination_backends(destination: Destination) -> list[LeaseBackend]:
    """A lease object at an S3 or GCS destination root; none for a local one (lock files cover it)."""
    if isinstance(destination, S3Destination):
        s3 = S3Objects(destination.client, destination.bucket_name, destination.root, translate=destination.describe)
        return [ObjectLeaseBackend(s3)]
    if isinstance(destination, GcsDestination):
        gcs = GcsObjects(destination.bucket, destination.root, translate=destination.describe)
        return [ObjectLeaseBackend(gcs)]
    return []


class Leases:
    """Several held leases of one export (a run of several partitions): `check()` checks each."""

    def __init__(self, leases: list[Lease]) -> None:
        self.leases = leases

    def check(self) -> None:
        for lease in self.leases:
            lease.check()


@contextmanager
def acquire_all(
    *, export: str, scopes: Sequence[str], holder: HolderInfo, backends: Sequence[LeaseBackend], wait_s: float
) -> Iterator[Leases]:
    """Hold the leases of every scope (in sorted order, sharing one `wait_s` deadline) for the `with` body."""
    deadline = time.monotonic() + max(0.0, wait_s)
    with ExitStack() as stack:
        held = [
            stack.enter_context(
                acquire(
                    export=export,
                    scope=scope,
                    holder=holder,
                    backends=backends,
                    wait_s=max(0.0, deadline - time.monotonic()),
                )
            )
            for scope in sorted(set(scopes))
        ]
        yield Leases(held)
