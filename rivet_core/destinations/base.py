"""The Destination contract: a key space (relative POSIX keys under one root) with atomic promotion.

How the commit protocol uses it: docs/commit-protocol.md.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from typing import BinaryIO, ClassVar, Protocol


class Sink(Protocol):
    """A write-only binary stream a destination opened for a temp key: durable once closed."""

    def write(self, data: bytes | memoryview, /) -> int: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class Destination(ABC):
    """Where files go. Keys are relative to the root; `promote` is the only way a data file becomes visible."""

    kind: ClassVar[str]  # the config's `type`: local, s3, gcs

    @abstractmethod
    def uri(self, key: str = "") -> str:
        """A URI readers can use (file path, s3://…, gs://…) — never with credentials."""

    @abstractmethod
    def open_write(self, key: str) -> Sink:
        """A binary sink for a temp key; bytes stream out as written; durable once closed."""

    @abstractmethod
    def promote(self, temp_key: str, final_key: str) -> None:
        """Make a complete temp object visible at its final key atomically; never overwrite an existing one."""

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None:
        """Write a small object (manifest, marker) atomically, replacing any previous one."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes:
        """The whole object at `key`."""

    @abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """A seekable binary reader over the object at `key`."""

    @abstractmethod
    def list(self, prefix: str) -> builtins.list[str]:
        """Every key under `prefix` (recursive, the prefix taken as a path), sorted."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """Size in bytes, or None when the key does not exist."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove a key if present (no error when missing)."""

    @abstractmethod
    def clear(self, prefix: str) -> int:
        """Remove every key under `prefix` and any unfinished upload there (S3 multipart); returns the count."""
