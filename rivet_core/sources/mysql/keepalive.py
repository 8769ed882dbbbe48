"""TCP keepalives on the MySQL C extension's socket, which the driver does not expose.

libmysqlclient turns SO_KEEPALIVE on but leaves the kernel's timing (first probe after 2 h). On Linux the
socket is found in /proc/self/fd by its peer port and given the timing of `limits.py`; other sockets of the
process to the same server port get it too (harmless: a dead peer is only noticed sooner). Elsewhere the
kernel's timing applies.
"""

from __future__ import annotations

import os
import socket
from contextlib import suppress
from pathlib import Path

from rivet_core.sources.limits import KEEPALIVE_COUNT, KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S

_FDS = Path("/proc/self/fd")
_OPTIONS = [
    (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
    *(
        (socket.IPPROTO_TCP, getattr(socket, name), value)
        for name, value in (
            ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
            ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
            ("TCP_KEEPCNT", KEEPALIVE_COUNT),
        )
        if hasattr(socket, name)
    ),
]


def set_keepalives(port: int) -> int:
    """Keepalive timing on every TCP socket of this process connected to `port`; how many were set."""
    if not _FDS.is_dir():
        return 0
    done = 0
    for entry in _FDS.iterdir():
        with suppress(OSError, ValueError):
            if not str(entry.readlink()).startswith("socket:"):
                continue
            sock = socket.socket(fileno=os.dup(int(entry.name)))
            with sock:
                if sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                if sock.getpeername()[1] != port:
                    continue
                for level, option, value in _OPTIONS:
                    sock.setsockopt(level, option, value)
                done += 1
    return done
