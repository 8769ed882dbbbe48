"""Calls that can be abandoned at a deadline, and a seekable ranged reader (memory bounded by its buffer)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Expired(Exception):
    """A background call outlived its deadline (it may still be running; its result will be ignored)."""


class Background(Generic[T]):
    """One call running in a daemon thread, so a caller can stop waiting for it: a dead socket never blocks exit."""

    def __init__(self, fn: Callable[[], T], name: str = "rivet-store") -> None:
        self._fn = fn
        self._done = threading.Event()
        self._value: list[T] = []  # [the return value], once returned
        self._error: BaseException | None = None
        self._started = time.monotonic()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        try:
            self._value.append(self._fn())
        except BaseException as exc:  # handed to the waiting thread
            self._error = exc
        finally:
            self._done.set()

    def result(self, seconds: float) -> T:
        """The call's value (or its exception), waiting until `seconds` after it started; else Expired."""
        if not self._done.wait(max(0.0, self._started + seconds - time.monotonic())):
            raise Expired
        if self._error is not None:
            raise self._error
        return self._value[0]


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
