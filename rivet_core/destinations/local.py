"""Local filesystem destination: temp files fsynced, then hard-linked into place (atomic, never clobbers)."""

from __future__ import annotations

import builtins
import contextlib
import os
from pathlib import Path
from typing import BinaryIO

from rivet_core.destinations.base import Destination, Sink
from rivet_core.errors import DestinationError


class _SyncedFile:
    """A file that is flushed and fsynced when closed, so a promoted file is durable."""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "wb")  # noqa: SIM115 - closed in close()

    def write(self, data: bytes | memoryview) -> int:
        return self._f.write(data)

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalDestination(Destination):
    """Files under one root folder."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key

    def uri(self, key: str = "") -> str:
        return str(self._path(key)) if key else str(self.root)

    def open_write(self, key: str) -> Sink:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return _SyncedFile(path)
        except OSError as exc:
            raise DestinationError(f"local destination {self.root}: cannot write {key}: {exc.strerror}") from None

    def promote(self, temp_key: str, final_key: str) -> None:
        src, dst = self._path(temp_key), self._path(final_key)
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(src, dst)
        except FileExistsError:
            raise DestinationError(f"refusing to overwrite existing file {dst}") from None
        except OSError as exc:
            raise DestinationError(f"local destination: cannot publish {dst}: {exc.strerror}") from None
        src.unlink()
        _fsync_dir(dst.parent)

    def write_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")  # swept by commit.sweep_temp_files once orphaned
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(path)
            _fsync_dir(path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):  # e.g. ENOSPC: leave no hidden temp file behind
                tmp.unlink(missing_ok=True)
            raise DestinationError(f"local destination: cannot write {path}: {exc.strerror}") from None

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def open_read(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def list(self, prefix: str) -> builtins.list[str]:
        base = self._path(prefix)
        if not base.exists():
            return []
        if base.is_file():
            return [prefix]
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def clear(self, prefix: str) -> int:
        keys = self.list(prefix)
        for key in keys:
            self.delete(key)
        return len(keys)
