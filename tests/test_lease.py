"""The export lease across processes, on every backend against real servers: lock files, Postgres advisory locks,
lease objects on moto S3 and the GCS emulator (docs/lease.md).

Each holder is a separate `python -c` process that takes the lease, prints ACQUIRED and keeps it until its stdin
closes (or it is SIGKILLed); a contender is a second such process or the test process itself.
"""

from __future__ import annotations

import inspect
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faults.proxy import FaultProxy
from servers import OFFLINE_ENV, S3_KEY_ENV, GcsEmulator, MotoS3

from rivet_core.lease import HolderInfo, LeaseHeld, LeaseLost, ObjectLeaseBackend, S3Objects, acquire

S3_CREDS = {"aws_access_key_id": "k", "aws_secret_access_key": "s"}


def build(spec: dict[str, Any]) -> Any:
    """The lease backend a spec names (also the source of the holder script's builder)."""
    from pathlib import Path

    from rivet_core.lease import FileLockBackend, GcsObjects, ObjectLeaseBackend, PostgresLeaseBackend, S3Objects

    if spec["kind"] == "file":
        return FileLockBackend(Path(spec["dir"]))
    if spec["kind"] == "pg":
        return PostgresLeaseBackend(spec["url"])
    if spec["kind"] == "s3":
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=spec["endpoint"],
            region_name="us-east-1",
            aws_access_key_id="k",
            aws_secret_access_key="s",
        )
        return ObjectLeaseBackend(S3Objects(client, spec["bucket"], "root"), ttl_s=spec["ttl"], skew_s=spec["skew"])
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    gcs = storage.Client(
        project="rivet-test", credentials=AnonymousCredentials(), client_options={"api_endpoint": spec["endpoint"]}
    )
    store = GcsObjects(gcs.bucket(spec["bucket"]), "root", settle_s=spec["settle"])
    return ObjectLeaseBackend(store, ttl_s=spec["ttl"], skew_s=spec["skew"])


SCRIPT = f"""
import dataclasses, json, sys
from typing import Any
from rivet_core.lease import HolderInfo, LeaseHeld, acquire

{inspect.getsource(build)}

spec, export, scope, run_id, wait_s = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
holder = HolderInfo.current(run_id)
if spec.get("host"):  # pose as a process of another host (whose death this host cannot see)
    holder = dataclasses.replace(holder, host=spec["host"])
try:
    with acquire(export=export, scope=scope, holder=holder, backends=[build(spec)],
                 wait_s=float(wait_s)) as lease:
        print("ACQUIRED", flush=True)
        sys.stdin.read()
        lease.check()
    print("RELEASED", flush=True)
except LeaseHeld as exc:
    print(f"HELD {{exc}}", flush=True)
    sys.exit(exc.exit_code)
"""


def contend(spec: dict[str, Any], export: str, scope: str, wait_s: float = 0) -> str:
    """Take and at once give back the lease in this (the test) process: ACQUIRED or HELD <message>."""
    try:
        with acquire(
            export=export, scope=scope, holder=HolderInfo.current("run-here"), backends=[build(spec)], wait_s=wait_s
        ):
            return "ACQUIRED"
    except LeaseHeld as exc:
        return f"HELD {exc}"


class Holder:
    """One lease-taking process."""

    def __init__(self, spec: dict[str, Any], scope: str, run_id: str, wait_s: float, export: str) -> None:
        env = {**os.environ, **OFFLINE_ENV, **S3_KEY_ENV}
        argv = [sys.executable, "-c", SCRIPT, json.dumps(spec), export, scope, run_id, str(wait_s)]
        self.run_id = run_id
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )

        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put("")

    def first_line(self, timeout: float = 20) -> str:
        """ACQUIRED, or HELD <message> (then the process has exited)."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no answer from the lease process in time") from None
        assert line, f"lease process exited {self.proc.wait(10)}: {self.proc.stderr.read()}"  # type: ignore[union-attr]
        return line

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(20) == 0, self.proc.stderr.read()  # type: ignore[union-attr]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def start() -> Iterator[Any]:
    """`start(spec, scope, run_id, wait_s=0, export=...)` → a Holder; every holder is killed at teardown."""
    holders: list[Holder] = []
    export = f"orders_{uuid.uuid4().hex[:8]}"

    def _start(spec: dict[str, Any], scope: str, run_id: str, wait_s: float = 0) -> Holder:
        holders.append(Holder(spec, scope, run_id, wait_s, export))
        return holders[-1]

    _start.export = export  # type: ignore[attr-defined]
    yield _start
    for holder in holders:
        if holder.proc.poll() is None:
            holder.kill()


def _held_by(line: str, export: str, run_id: str) -> None:
    assert line.startswith(f"HELD export {export}"), line
    assert f"is being written by run {run_id} on host " in line and " pid " in line and " since 20" in line, line
    assert line.endswith("Z; wait or stop it"), line


def _contention(start: Any, spec: dict[str, Any]) -> None:
    """Second waits and fails naming the holder; partitions run side by side; whole vs partition conflict."""
    first = start(spec, "export", "run-a")
    assert first.first_line() == "ACQUIRED"
    t0 = time.monotonic()
    _held_by(contend(spec, start.export, "export", wait_s=0.6), start.export, "run-a")
    assert time.monotonic() - t0 >= 0.6
    _held_by(contend(spec, start.export, "window=2026-11-01"), start.export, "run-a")
    waiting = start(spec, "export", "run-d", wait_s=15)
    time.sleep(0.3)
    first.release()
    assert waiting.first_line() == "ACQUIRED"
    waiting.release()
    p1 = start(spec, "window=2026-11-01", "run-e")
    p2 = start(spec, "window=2026-11-02", "run-f")
    assert p1.first_line() == "ACQUIRED" and p2.first_line() == "ACQUIRED"
    line = contend(spec, start.export, "window=2026-11-01")
    assert line.startswith(f"HELD export {start.export} (window=2026-11-01) is being written by run run-e"), line
    line = contend(spec, start.export, "export")
    assert line.startswith(f"HELD export {start.export} (window=2026-11-0"), line
    assert "by run run-e " in line or "by run run-f " in line, line
    p1.release()
    p2.release()


def _killed_frees_at_once(start: Any, spec: dict[str, Any]) -> None:
    holder = start(spec, "chunk=00000000000000100000", "run-k")
    assert holder.first_line() == "ACQUIRED"
    holder.kill()
    t0 = time.monotonic()
    assert contend(spec, start.export, "export", wait_s=5) == "ACQUIRED"
    assert time.monotonic() - t0 < 1


def test_lock_files(start: Any, tmp_path: Path) -> None:
    spec = {"kind": "file", "dir": str(tmp_path)}
    _contention(start, spec)
    _killed_frees_at_once(start, spec)


def test_postgres_advisory_lock(start: Any, pg_url: str, pg: Any) -> None:
    spec = {"kind": "pg", "url": pg_url}
    _contention(start, spec)
    _killed_frees_at_once(start, spec)
    rows = pg.execute("SELECT count(*) FROM rivet_leases WHERE export = %s", (start.export,)).fetchone()
    assert rows[0] <= 1  # released rows are deleted; a killed session's row stays, ignored (its session is gone)


def _expiry(start: Any, spec: dict[str, Any], ttl: float) -> None:
    """A heartbeating lease outlives several TTLs untouched; a killed holder's lease is taken over after the TTL
    (a holder of another host), or at once (a holder of this host whose process is gone)."""
    here = start(spec, "export", "run-here-killed")
    assert here.first_line() == "ACQUIRED"
    here.kill()
    t0 = time.monotonic()
    assert contend(spec, start.export, "export", wait_s=ttl * 0.4) == "ACQUIRED"
    assert time.monotonic() - t0 < ttl * 0.5  # at once: its pid no longer exists on this host
    live = start({**spec, "host": "another-host"}, "export", "run-live")
    assert live.first_line() == "ACQUIRED"
    _held_by(contend(spec, start.export, "export", wait_s=ttl * 1.6), start.export, "run-live")
    live.kill()
    t0 = time.monotonic()
    assert contend(spec, start.export, "window=2026-11-01", wait_s=ttl * 4) == "ACQUIRED"
    assert time.monotonic() - t0 >= ttl * 0.5  # not at once: it waited for the expiry


def test_s3_lease_object(start: Any, moto_s3: MotoS3) -> None:
    bucket = moto_s3.new_bucket()
    spec = {"kind": "s3", "endpoint": moto_s3.endpoint, "bucket": bucket, "ttl": 1.2, "skew": 0.2}
    _contention(start, spec)
    _expiry(start, spec, 1.2)
    assert moto_s3.client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0  # every release deleted its object


def test_gcs_lease_object(start: Any, gcs_emulator: GcsEmulator) -> None:
    """The emulator ignores generation preconditions: this proves the verified-write fallback, not the
    precondition path real GCS takes (docs/lease.md)."""
    bucket = gcs_emulator.new_bucket()
    spec = {"kind": "gcs", "endpoint": gcs_emulator.endpoint, "bucket": bucket, "ttl": 3.5, "skew": 0.2}
    spec["settle"] = 0.8
    _expiry(start, spec, 3.5)


def test_s3_outage_loses_the_lease(moto_s3: MotoS3) -> None:
    """Renewals that cannot reach the store: after the ttl `check()` refuses, and release does not hang."""
    import boto3
    from botocore.config import Config

    bucket = moto_s3.new_bucket()
    proxy = FaultProxy(moto_s3.port)
    proxy.start()
    config = Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1)
    client = boto3.client("s3", endpoint_url=proxy.endpoint, region_name="us-east-1", config=config, **S3_CREDS)
    backend = ObjectLeaseBackend(S3Objects(client, bucket), ttl_s=1.2, skew_s=0.2)
    with acquire(
        export="orders", scope="export", holder=HolderInfo.current("r"), backends=[backend], wait_s=0
    ) as lease:
        lease.check()
        proxy.stop()
        time.sleep(1.5)
        with pytest.raises(LeaseLost, match=r"could not renew|not renewed within"):
            lease.check()
        t0 = time.monotonic()
    assert time.monotonic() - t0 < 8
