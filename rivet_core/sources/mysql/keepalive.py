"""TCP keepalives on the MySQL C extension's socket, which the driver does not expose.

libmysqlclient turns SO_KEEPALIVE on but leaves the kernel's timing (first probe after 2 h). On Linux the
socket is found by its peer port (`sources.sockets`) and given the timing of `limits.py`; other sockets of the
process to the same server port get it too (harmless: a dead peer is only noticed sooner). Elsewhere the
kernel's timing applies.
"""

from __future__ import annotations

import socket
from contextlib import suppress

from rivet_core.sources.limits import KEEPALIVE_COUNT, KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S
from rivet_core.sources.sockets import peer_sockets

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
    done = 0
    for _, sock in peer_sockets(port):
        with suppress(OSError):
            for level, option, value in _OPTIONS:
                sock.setsockopt(level, option, value)
            done += 1
    return done
