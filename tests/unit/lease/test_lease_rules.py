"""The lease's server-free parts: the scope rule, the holder message, lock keys, lock files and lease objects in a
local folder (docs/lease.md)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rivet_core.errors import EXIT_FAILED, RivetError
from rivet_core.lease import (
    Conflict,
    FileLockBackend,
    HolderInfo,
    LeaseBackend,
    LeaseHeld,
    LeaseLost,
    LocalDirObjects,
    ObjectLeaseBackend,
    acquire,
    conflicts,
    partition_scope,
)
from rivet_core.lease.objects import lease_key
from rivet_core.lease.postgres import lock_key

HOLDER = HolderInfo(run_id="abc123", host="h", pid=42, since=datetime(2026, 12, 1, 23, 0, tzinfo=UTC))


def test_scope_rule() -> None:
    assert conflicts("export", "export")
    assert conflicts("export", "window=2026-11-01") and conflicts("chunk=1", "export")
    assert conflicts("window=2026-11-01", "window=2026-11-01")
    assert not conflicts("window=2026-11-01", "window=2026-11-02")
    assert partition_scope("chunk", "00000000000000100000") == "chunk=00000000000000100000"
    with pytest.raises(ValueError, match="lease scope"):
        partition_scope("window", "a/b")
    with (
        pytest.raises(ValueError, match="lease scope"),
        acquire(export="e", scope="everything", holder=HOLDER, backends=[], wait_s=0),
    ):
        pass


def test_holder_message_and_error_kinds() -> None:
    assert Conflict("export", HOLDER).message("orders") == (
        "export orders is being written by run abc123 on host h pid 42 since 2026-12-01T23:00:00Z; wait or stop it"
    )
    assert Conflict("window=2026-11-01", None).message("orders").startswith("export orders (window=2026-11-01) is")
    assert HolderInfo.from_json(json.dumps(HOLDER.to_dict())) == HOLDER
    assert HolderInfo.from_json(b"") is None and HolderInfo.from_dict({"run_id": "x"}) is None
    assert issubclass(LeaseHeld, RivetError) and LeaseHeld("x").exit_code == EXIT_FAILED
    assert issubclass(LeaseLost, RivetError) and LeaseLost("x").exit_code == EXIT_FAILED


def test_lock_key_is_a_stable_signed_bigint() -> None:
    key = lock_key("orders", "export")
    assert key == lock_key("orders", "export") and -(2**63) <= key < 2**63
    assert len({lock_key("orders", "export"), lock_key("orders", "window=1"), lock_key("order", "export")}) == 3


def _try(backends: Sequence[LeaseBackend], scope: str, wait_s: float = 0, export: str = "orders") -> str:
    try:
        with acquire(export=export, scope=scope, holder=HOLDER, backends=backends, wait_s=wait_s):
            return "ok"
    except LeaseHeld as exc:
        return str(exc)


def test_lock_files_follow_the_scope_rule(tmp_path: Path) -> None:
    backend = FileLockBackend(tmp_path)
    other = HolderInfo.current("run-2")
    with acquire(export="orders", scope="window=2026-11-01", holder=other, backends=[backend], wait_s=0):
        assert _try([backend], "window=2026-11-02") == "ok"
        assert "(window=2026-11-01) is being written by run run-2" in _try([backend], "export")
        assert "(window=2026-11-01) is being written by run run-2" in _try([backend], "window=2026-11-01")
        assert _try([backend], "export", export="customers") == "ok"
    assert _try([backend], "export") == "ok"
    t0 = time.monotonic()
    with acquire(export="orders", scope="export", holder=other, backends=[backend], wait_s=0):
        assert _try([backend], "chunk=7", wait_s=0.3).startswith("export orders is being written by run run-2")
    assert time.monotonic() - t0 >= 0.3
    assert (tmp_path / ".rivet_locks" / "orders" / "export.lock").exists()


def test_lease_objects_in_a_folder(tmp_path: Path) -> None:
    backend = ObjectLeaseBackend(LocalDirObjects(tmp_path), ttl_s=0.6, skew_s=0.05)
    key = tmp_path / lease_key("orders", "export")
    with acquire(export="orders", scope="export", holder=HOLDER, backends=[backend], wait_s=0) as lease:
        assert json.loads(key.read_bytes())["run_id"] == "abc123"
        time.sleep(1.0)  # past the ttl: the heartbeat kept it
        lease.check()
        assert "is being written by run abc123" in _try([backend], "window=2026-11-01")
        key.unlink()  # taken from under it: the next renewal fails and the lease is lost
        time.sleep(0.4)
        with pytest.raises(LeaseLost, match="taken over or deleted"):
            lease.check()
    assert not key.exists()


def test_an_expired_lease_object_is_taken_over(tmp_path: Path) -> None:
    store = LocalDirObjects(tmp_path)
    dead = ObjectLeaseBackend(store, ttl_s=0.5, skew_s=0.05)
    claim = dead.try_acquire("orders", "window=2026-11-01", HOLDER)
    assert not isinstance(claim, Conflict)
    claim._stop.set()  # type: ignore[union-attr]  # the holder freezes: no more renewals, object left behind
    backend = ObjectLeaseBackend(store, ttl_s=5, skew_s=0.05)
    assert "is being written by run abc123" in _try([backend], "export")
    t0 = time.monotonic()
    assert _try([backend], "export", wait_s=3) == "ok"
    assert 0.2 < time.monotonic() - t0 < 2
    with pytest.raises(LeaseLost):
        claim.check()
