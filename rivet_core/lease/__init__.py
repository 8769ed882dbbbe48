"""One writer per export unit at a time: a lease held from planning to commit (docs/lease.md).

Scopes: `export` for a whole-export run (full, incremental, unpartitioned chunked), `window=<key>` / `chunk=<key>`
for one partition. Equal scopes conflict and `export` conflicts with every scope of the same export; different
partitions of one export run in parallel. A second acquirer polls with backoff up to `wait_s`, then raises
LeaseHeld (exit 1) naming the holder. Call `lease.check()` right before committing: it raises LeaseLost when the
lease can no longer be proven held.
"""

from rivet_core.lease.acquire import Lease, Leases, acquire, acquire_all, destination_backends, state_backend
from rivet_core.lease.flock import FileLockBackend
from rivet_core.lease.model import (
    EXPORT_SCOPE,
    Claim,
    Conflict,
    HolderInfo,
    LeaseBackend,
    LeaseHeld,
    LeaseLost,
    conflicts,
    partition_scope,
)
from rivet_core.lease.objects import HEARTBEAT_FRACTION, SKEW_S, TTL_S, ObjectLeaseBackend
from rivet_core.lease.postgres import PostgresLeaseBackend
from rivet_core.lease.stores import GcsObjects, LocalDirObjects, ObjectStore, S3Objects

__all__ = [
    "EXPORT_SCOPE",
    "HEARTBEAT_FRACTION",
    "SKEW_S",
    "TTL_S",
    "Claim",
    "Conflict",
    "FileLockBackend",
    "GcsObjects",
    "HolderInfo",
    "Lease",
    "LeaseBackend",
    "LeaseHeld",
    "LeaseLost",
    "Leases",
    "LocalDirObjects",
    "ObjectLeaseBackend",
    "ObjectStore",
    "PostgresLeaseBackend",
    "S3Objects",
    "acquire",
    "acquire_all",
    "conflicts",
    "destination_backends",
    "partition_scope",
    "state_backend",
]
