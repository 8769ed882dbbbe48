"""The Destination protocol: a key space (relative POSIX keys under one root) with atomic promotion."""

from __future__ import annotations

from typing import BinaryIO, Protocol


class Destination(Protocol):
    """Where files go. Keys are relative to the root; `promote` is the only way a data file becomes visible."""

    kind: str

    def uri(self, key: str = "") -> str:
        """A URI readers can use (file path, s3://…, gs://…) — never with credentials."""
        ...

    def open_write(self, key: str) -> BinaryIO:
        """A binary sink for a temp key; bytes stream out as written; durable once closed."""
        ...

    def promote(self, temp_key: str, final_key: str) -> None:
        """Make a complete temp object visible at its final key atomically; never overwrite an existing one."""
        ...

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write a small object (manifest, marker) atomically, replacing any previous one."""
        ...

    def read_bytes(self, key: str) -> bytes: ...

    def open_read(self, key: str) -> BinaryIO: ...

    def list(self, prefix: str) -> list[str]:
        """Every key under `prefix` (recursive), sorted."""
        ...

    def size(self, key: str) -> int | None:
        """Size in bytes, or None when the key does not exist."""
        ...

    def delete(self, key: str) -> None:
        """Remove a key if present (no error when missing)."""
        ...

    def clear(self, prefix: str) -> int:
        """Remove every key under `prefix` and any unfinished upload there (S3 multipart); returns the count."""
        ...
