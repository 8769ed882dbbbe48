"""Lease by OS lock files beside the SQLite state store: `<dir>/.rivet_locks/<export>/<scope>.lock` (docs/lease.md).

`flock` locks belong to the open file, so the kernel frees them the moment the holder dies (SIGKILL included):
no expiry. The holder's JSON is written into its lock file. Lock files are never deleted (deleting a lock file
while another process waits on it would let two processes lock different files of one name).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from rivet_core.errors import StateError
from rivet_core.lease.model import EXPORT_SCOPE, Claim, Conflict, HolderInfo, safe_name

LOCK_DIR = ".rivet_locks"


class _FileClaim:
    """Open lock files held by this process; closing them releases the locks."""

    def __init__(self, fds: list[int]) -> None:
        self._fds = fds

    def check(self) -> None:
        """A held flock cannot be lost while its file stays open."""

    def release(self) -> None:
        fds, self._fds = self._fds, []
        for fd in reversed(fds):
            with contextlib.suppress(OSError):
                os.close(fd)


class FileLockBackend:
    """Lock files under `<state_dir>/.rivet_locks/`: cross-process on one host (CLI and Dagster alike)."""

    name = "lock files"

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir / LOCK_DIR

    def _path(self, export: str, scope: str) -> Path:
        return self.dir / safe_name(export) / f"{safe_name(scope)}.lock"

    def _lock(self, path: Path, mode: int) -> int | None:
        """An open fd holding `mode` on `path`, or None when a conflicting lock is held."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError:
            os.close(fd)
            raise
        return fd

    def _held(self, path: Path) -> bool:
        """Whether someone holds `path` exclusively right now."""
        fd = self._lock(path, fcntl.LOCK_SH)
        if fd is None:
            return True
        os.close(fd)
        return False

    def try_acquire(self, export: str, scope: str, holder: HolderInfo) -> Claim | Conflict:
        try:
            return self._try_acquire(export, scope, holder)
        except OSError as exc:
            raise StateError(f"cannot take the export lease in {self.dir}: {exc.strerror}") from None

    def _try_acquire(self, export: str, scope: str, holder: HolderInfo) -> Claim | Conflict:
        top = self._path(export, EXPORT_SCOPE)
        top.parent.mkdir(parents=True, exist_ok=True)
        whole = scope == EXPORT_SCOPE
        fds: list[int] = []
        fd = self._lock(top, fcntl.LOCK_EX if whole else fcntl.LOCK_SH)
        if fd is None:
            return self._conflict(export, scope)
        fds.append(fd)
        if not whole:
            fd = self._lock(self._path(export, scope), fcntl.LOCK_EX)
            if fd is None:
                _FileClaim(fds).release()
                return Conflict(scope, _read_holder(self._path(export, scope)))
            fds.append(fd)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({**holder.to_dict(), "scope": scope}).encode(), 0)
        except OSError:
            _FileClaim(fds).release()
            raise
        return _FileClaim(fds)

    def _conflict(self, export: str, scope: str) -> Conflict:
        """Who blocks `scope` at the export level: a whole-export holder, or (for `export`) a partition holder."""
        top = self._path(export, EXPORT_SCOPE)
        if scope == EXPORT_SCOPE and not self._held(top):  # only shared holders: name a partition still locked
            for path in sorted(top.parent.glob("*.lock")):
                if path != top and self._held(path):
                    return Conflict(_read_scope(path), _read_holder(path))
        return Conflict(EXPORT_SCOPE, _read_holder(top))


def _read(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_bytes() or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_holder(path: Path) -> HolderInfo | None:
    return HolderInfo.from_dict(_read(path))


def _read_scope(path: Path) -> str:
    return str(_read(path).get("scope", "partition"))
