"""The stdout destination: an export's bytes (CSV or Parquet) go straight to standard output, for piping.

The commit protocol runs unchanged, but its bookkeeping (owner marker, intent, manifest, `_SUCCESS`) lives in
memory only and is gone when the process ends: nothing but the data reaches stdout (as in rivet-cli 0.7.7, no
manifest or `_SUCCESS` is written). Bytes leave as the writer produces them, so a failed run may have written part
of its output: the exit status (1) is the only signal; pipe with `set -o pipefail`. The generated file name is
recorded in the state (`rivet state files`), and an incremental export continues from the state's cursor.
`--json` and `--validate` are refused with a stdout destination: the summary would mix into the data, and written
bytes cannot be read back (`conflicts`).
"""

from __future__ import annotations

import builtins
import io
import sys
from collections.abc import Mapping
from typing import BinaryIO

from rivet_core.destinations.base import Destination, Sink
from rivet_core.errors import DestinationError


class _StdoutSink:
    """Writes through to the stream; flushes on close (the stream itself stays open)."""

    def __init__(self, stream: BinaryIO, on_close: builtins.list[int]) -> None:
        self._stream = stream
        self._size = on_close
        self.bytes = 0

    def write(self, data: bytes | memoryview) -> int:
        self._stream.write(data)
        self.bytes += len(data)
        return len(data)

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self._stream.flush()
        self._size.append(self.bytes)


class StdoutDestination(Destination):
    """Data to the process's stdout; rivet's bookkeeping objects kept in memory for this run only."""

    kind = "stdout"
    keeps_records = False

    def __init__(self, stream: BinaryIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._records: dict[str, bytes] = {}  # manifest, markers: written and read within this run
        self._written: dict[str, builtins.list[int]] = {}  # data keys → [size] once closed

    def uri(self, key: str = "") -> str:
        return f"stdout:{key}" if key else "stdout"

    def open_write(self, key: str) -> Sink:
        self._written[key] = []
        return _StdoutSink(self._stream, self._written[key])

    def promote(self, temp_key: str, final_key: str) -> None:
        """The bytes are out already: only the name moves."""
        self._written[final_key] = self._written.pop(temp_key, [])

    def write_bytes(self, key: str, data: bytes) -> None:
        self._records[key] = data

    def read_bytes(self, key: str) -> bytes:
        if key not in self._records:
            raise DestinationError(f"stdout: {key} was written to standard output and cannot be read back")
        return self._records[key]

    def open_read(self, key: str) -> BinaryIO:
        return io.BytesIO(self.read_bytes(key))

    def list(self, prefix: str) -> builtins.list[str]:
        below = f"{prefix.rstrip('/')}/" if prefix else ""
        return sorted(k for k in self._records if k == prefix.rstrip("/") or k.startswith(below))

    def size(self, key: str) -> int | None:
        if key in self._records:
            return len(self._records[key])
        sizes = self._written.get(key)
        return sizes[0] if sizes else None

    def delete(self, key: str) -> None:
        self._records.pop(key, None)

    def clear(self, prefix: str) -> int:
        keys = self.list(prefix)
        for key in keys:
            self.delete(key)
        return len(keys)


def conflicts(destination_types: Mapping[str, str], *, as_json: bool, validate: bool) -> str | None:
    """Why `rivet run` flags cannot go with the exports' stdout destinations (export → type), or None."""
    piped = [name for name, kind in destination_types.items() if kind == "stdout"]
    if not piped:
        return None
    if as_json:
        return f"--json: export {piped[0]} writes its data to stdout; the JSON summary would mix into it"
    if validate:
        return f"--validate: export {piped[0]} writes to stdout, which cannot be read back"
    return None
