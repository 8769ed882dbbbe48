"""Streaming upload sinks for object stores, and a seekable ranged reader: memory stays bounded by a chunk size."""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress


class ChunkedUpload(ABC):
    """A write-only binary sink that cuts the byte stream into chunks and ships each from one background thread.

    At most one chunk is in flight while the next one fills, so memory stays near two chunks whatever the object
    size, and encoding overlaps the network. Subclasses say how a chunk is shipped (`_ship`), how the object is
    completed from the last bytes (`_finish`) and how an unfinished upload is abandoned (`_abort`).
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="rivet-upload")
        self._inflight: Future[None] | None = None
        self.shipped = 0  # chunks handed to `_ship`
        self.closed = False

    @abstractmethod
    def _chunk_size(self) -> int: ...

    @abstractmethod
    def _ship(self, chunk: bytes) -> None: ...

    @abstractmethod
    def _finish(self, tail: bytes) -> None: ...

    @abstractmethod
    def _abort(self) -> None: ...

    def write(self, data: bytes | memoryview) -> int:
        self._buf += data
        if len(self._buf) >= self._chunk_size():
            self._wait()
            chunk = bytes(self._buf)
            self._buf.clear()
            self.shipped += 1
            self._inflight = self._pool.submit(self._ship, chunk)
        return len(data)

    def _wait(self) -> None:
        """Re-raise the in-flight chunk's error here, in the writer's thread."""
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            inflight.result()

    def writable(self) -> bool:
        return True

    def flush(self) -> None:  # noqa: B027 - deliberately nothing: bytes leave in whole chunks
        """Nothing to do: bytes leave in whole chunks, and the object exists only once closed."""

    def __enter__(self) -> ChunkedUpload:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        """Complete the object, or abandon it when the block raised."""
        if exc_type is None:
            self.close()
        elif not self.closed:
            self.closed = True
            self._pool.shutdown(wait=True)
            with suppress(Exception):
                self._abort()

    def close(self) -> None:
        """Ship the rest and complete the object; on failure abandon the upload so nothing half-written remains."""
        if self.closed:
            return
        self.closed = True
        try:
            self._wait()
            self._finish(bytes(self._buf))
        except BaseException:
            with suppress(Exception):  # the original error is the one worth reporting
                self._abort()
            raise
        finally:
            self._buf = bytearray()
            self._pool.shutdown(wait=True)


class RangeReader(io.RawIOBase):
    """A seekable read-only file over `get_range(first, last)` (inclusive byte offsets), e.g. ranged GETs."""

    def __init__(self, get_range: Callable[[int, int], bytes], size: int) -> None:
        super().__init__()
        self._get_range = get_range
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._size - self._pos)
        if n <= 0:
            return 0
        data = self._get_range(self._pos, self._pos + n - 1)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def open_ranged(get_range: Callable[[int, int], bytes], size: int, buffer_size: int = 8 << 20) -> io.BufferedReader:
    """A buffered seekable reader: sequential reads cost one request per `buffer_size` bytes."""
    return io.BufferedReader(RangeReader(get_range, size), buffer_size)
