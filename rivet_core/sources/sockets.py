"""The TCP sockets under a driver connection, which ADBC and the MySQL C extension do not expose.

On Linux a socket is found in /proc/self/fd by its peer port; a connection's own sockets are the ones that appeared
while it was opened (`Tracked`, serialised so two connects never see each other's). `shut_down` ends every read or
write blocked on them at once, from any thread (the stall watchdog). Elsewhere nothing is found and nothing is done.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

_FDS = Path("/proc/self/fd")
_OPENING = threading.RLock()  # one tracked connect at a time (nested: the outer one sees the inner's sockets too)


def peer_sockets(port: int) -> Iterator[tuple[int, socket.socket]]:
    """(inode, a duplicate of the socket) for every TCP socket of this process connected to `port`."""
    if not _FDS.is_dir():
        return
    for entry in _FDS.iterdir():
        with suppress(OSError, ValueError):
            link = str(entry.readlink())
            if not link.startswith("socket:"):
                continue
            sock = socket.socket(fileno=os.dup(int(entry.name)))
            with sock:
                if sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                if sock.getpeername()[1] == port:
                    yield int(link[len("socket:[") : -1]), sock


class Tracked:
    """The sockets of one connection: `with tracked.opening(): connect()`, then `inodes()` (also mid-connect)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._before: set[int] | None = None  # the port's sockets before a connect in progress
        self._found: set[int] = set()

    @contextmanager
    def opening(self) -> Iterator[None]:
        """Track the sockets the block opens (one tracked connect at a time in the process)."""
        with _OPENING:
            self._before = self._current()
            try:
                yield
            finally:
                self._found, self._before = self._current() - self._before, None

    def inodes(self) -> set[int]:
        """The connection's sockets; during its connect, the ones opened so far."""
        before = self._before
        return self._current() - before if before is not None else set(self._found)

    def _current(self) -> set[int]:
        return {inode for inode, _ in peer_sockets(self.port)}


def inode_of(fd: int) -> int:
    """The inode of a socket whose descriptor is known (psycopg's)."""
    return os.fstat(fd).st_ino


def shut_down(inodes: set[int]) -> int:
    """Shut down (both ways) the sockets with these inodes; how many were found."""
    if not inodes or not _FDS.is_dir():
        return 0
    done = 0
    for entry in _FDS.iterdir():
        with suppress(OSError, ValueError):
            link = str(entry.readlink())
            if link.startswith("socket:[") and int(link[len("socket:[") : -1]) in inodes:
                with socket.socket(fileno=os.dup(int(entry.name))) as sock:
                    sock.shutdown(socket.SHUT_RDWR)
                done += 1
    return done
