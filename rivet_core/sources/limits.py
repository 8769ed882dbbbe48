"""Every bound on a database connection, in one place: connect timeout, TCP keepalives, session timeouts.

The export's own statements are bounded by the tuning profile (`statement_timeout_s`, `lock_timeout_s`; 0 = no
limit, as the user asked). Connections that only ask the catalog, EXPLAIN or probe a pooler are always bounded:
the tuning value when it sets one, else the constants here (README: Tuning).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rivet_core.config import Tuning

CONNECT_TIMEOUT_S = 30
"""Seconds to establish a connection (TCP + TLS + login)."""
KEEPALIVE_IDLE_S = 30
"""Seconds of silence on a database socket before the first TCP keepalive probe."""
KEEPALIVE_INTERVAL_S = 10
"""Seconds between unanswered keepalive probes."""
KEEPALIVE_COUNT = 3
"""Unanswered probes after which the kernel drops the connection (~60 s after the peer vanished)."""
CATALOG_STATEMENT_TIMEOUT_S = 60
"""Statement timeout of catalog / EXPLAIN / preflight connections when the tuning sets none."""
CATALOG_LOCK_TIMEOUT_S = 10
"""Lock timeout of catalog / EXPLAIN / preflight connections when the tuning sets none."""


def keepalive_params() -> dict[str, int]:
    """libpq keywords for TCP keepalives on a database socket (a vanished peer is noticed in ~60 s)."""
    return {
        "keepalives": 1,
        "keepalives_idle": KEEPALIVE_IDLE_S,
        "keepalives_interval": KEEPALIVE_INTERVAL_S,
        "keepalives_count": KEEPALIVE_COUNT,
    }


def bookkeeping_params(*, statement_timeout_s: int, lock_timeout_s: int = CATALOG_LOCK_TIMEOUT_S) -> dict[str, Any]:
    """psycopg keywords of a state-store or lease connection: connect timeout, keepalives, session timeouts."""
    options = f"-c statement_timeout={statement_timeout_s * 1000} -c lock_timeout={lock_timeout_s * 1000}"
    return {"connect_timeout": CONNECT_TIMEOUT_S, "options": options, **keepalive_params()}


@dataclass(frozen=True)
class Limits:
    """The bounds of a source's connections, resolved from its tuning."""

    connect_timeout_s: int
    statement_timeout_s: int
    """The session default of every connection (catalog, EXPLAIN, preflight); the export's transaction sets its own."""
    lock_timeout_s: int

    @classmethod
    def of(cls, tuning: Tuning) -> Limits:
        return cls(
            connect_timeout_s=CONNECT_TIMEOUT_S,
            statement_timeout_s=tuning.statement_timeout_s or CATALOG_STATEMENT_TIMEOUT_S,
            lock_timeout_s=tuning.lock_timeout_s or CATALOG_LOCK_TIMEOUT_S,
        )
