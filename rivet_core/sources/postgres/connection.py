"""PostgreSQL connection strings and errors: TLS, a read-only session with timeouts, keepalives, transient errors.

Every connection rivet opens (psycopg control/catalog connections and ADBC data connections) starts its session
with `default_transaction_read_only=on` and the statement/lock timeouts of `Limits` in the libpq `options`, a
connect timeout and TCP keepalives. A pooler that refuses startup options (pgBouncer: "unsupported startup
parameter") gets the connection without them: the export's transaction is still `READ ONLY` with `SET LOCAL`
timeouts, and every statement is sent alone (extended protocol), so no `COMMIT` in user text can escape it.
"""

from __future__ import annotations

from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from rivet_core.config import TlsConfig
from rivet_core.sources.limits import Limits, keepalive_params

# The server's answer when a pooler in front of it does not pass `options` through.
OPTIONS_REFUSED = "unsupported startup parameter"


def quote_ident(name: str) -> str:
    """A Postgres identifier, double-quoted (embedded quotes doubled), exactly as the server parses it."""
    return '"' + name.replace('"', '""') + '"'


def _tls(tls: TlsConfig | None) -> dict[str, Any]:
    """libpq sslmode (and root certificate) of a `tls:` block; no block leaves libpq's default."""
    if tls is None:
        return {}
    out: dict[str, Any] = {"sslmode": tls.effective_mode}  # libpq spells the modes as we do
    if tls.ca_file:
        out["sslrootcert"] = tls.ca_file
    return out


def session_options(limits: Limits) -> str:
    """libpq `options`: a read-only session whose statements and lock waits are bounded."""
    return (
        "-c default_transaction_read_only=on"
        f" -c statement_timeout={limits.statement_timeout_s * 1000}"
        f" -c lock_timeout={limits.lock_timeout_s * 1000}"
    )


def conninfo(url: str, tls: TlsConfig | None, limits: Limits, *, options: bool = True) -> str:
    """The libpq connection string of every rivet connection (settings in the URL win, `options` are added to)."""
    given = conninfo_to_dict(url)
    extra: dict[str, Any] = {
        "application_name": "rivet",
        "connect_timeout": limits.connect_timeout_s,
        **keepalive_params(),
    }
    extra = {k: v for k, v in extra.items() if k not in given} | _tls(tls)
    if options:
        extra["options"] = f"{given.get('options', '')} {session_options(limits)}".strip()
    return make_conninfo(url, **extra)


def server_port(info: str) -> int:
    """The server's TCP port in a connection string (0 when it names several hosts, or a malformed one)."""
    try:
        return int(conninfo_to_dict(info).get("port") or 5432)
    except ValueError:
        return 0


# Retried on a new connection (README: Tuning): serialization failure, deadlock, too many connections, lock
# timeout, admin/crash shutdown, server starting up, and every connection exception (class 08).
_TRANSIENT_SQLSTATES = {"40001", "40P01", "53300", "55P03", "57P01", "57P02", "57P03"}
# Connection failures arrive without a SQLSTATE (libpq reports them client-side): these texts mean "try again".
_TRANSIENT_TEXTS = (
    "server closed the connection",
    "connection refused",
    "connection reset",
    "connection timed out",
    "timeout expired",
    "terminating connection",
    "the connection is lost",
    "no connection to the server",
    "could not receive data",
    "could not send data",
    "too many clients",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
)


def is_transient(exc: BaseException) -> bool:
    """Whether a driver error is worth a retry on a new connection; auth, syntax, missing objects are not."""
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate:
        return sqlstate in _TRANSIENT_SQLSTATES or sqlstate.startswith("08")
    text = str(exc).lower()
    return any(marker in text for marker in _TRANSIENT_TEXTS)
