"""MySQL/MariaDB connections: URL → driver arguments, TLS, the session settings every connection runs under.

Every connection rivet opens runs through the C extension with multi-statements off (`CLIENT_MULTI_STATEMENTS`
cleared: a `;` in a statement is a syntax error, never a second statement), a connect timeout, TCP keepalives
(`keepalive.py`) and a read-only session with statement and lock timeouts (`session_variables`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import mysql.connector
from mysql.connector.constants import ClientFlag

from rivet_core.config import TlsConfig, TlsMode, Tuning
from rivet_core.errors import ConfigError, SourceError
from rivet_core.sources.limits import CONNECT_TIMEOUT_S, Limits

try:
    from _mysql_connector import MySQLInterfaceError
    from mysql.connector.connection_cext import CMySQLConnection
except ImportError as exc:  # e.g. pyarrow was imported first and took the static TLS its libstdc++ needs
    raise SourceError(
        f"mysql: the C extension of mysql-connector-python does not load ({exc}); rivet reads MySQL only through "
        "it (pure Python is ~4x slower). Import rivet_core before pyarrow, or reinstall mysql-connector-python"
    ) from None

log = logging.getLogger("rivet")

DRIVER_ERRORS = (mysql.connector.Error, MySQLInterfaceError)
# `lock_timeout_s: 0` means "no limit", as on Postgres; this is the largest value the server accepts.
_NO_LOCK_LIMIT = 1_073_741_824
_URL_TLS_MODES: dict[str, TlsMode | None] = {
    "disabled": "disable",
    "preferred": None,
    "required": "require",
    "verify_ca": "verify-ca",
    "verify_identity": "verify-full",
}


def quote_ident(name: str) -> str:
    """A MySQL identifier in backticks (embedded backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"


def literal(conn: CMySQLConnection, value: Any) -> str:
    """A value as the connector's own bound-parameter text: escaped by `mysql_real_escape_string` (which follows
    the session's NO_BACKSLASH_ESCAPES) and quoted; numbers and dates as its `execute(sql, params)` writes them."""
    return bytes(conn.prepare_for_mysql([value])[0]).decode(conn.python_charset)  # type: ignore[index]


def decoded(value: Any) -> Any:
    """A value of information_schema / SHOW output with bytes decoded (MySQL 8 returns some of it as bytes)."""
    return value.decode() if isinstance(value, bytes | bytearray) else value


def rows(conn: CMySQLConnection, statement: str, params: Any = ()) -> list[tuple[Any, ...]]:
    """All rows of a small catalog statement (buffered; never used for data)."""
    with conn.cursor(buffered=True) as cur:
        cur.execute(statement, params)
        return cast(list[tuple[Any, ...]], cur.fetchall())


def connect_args(url: str, tls: TlsConfig | None) -> dict[str, Any]:
    """mysql-connector keyword arguments from a `mysql://user:pass@host:port/db` URL and the `tls:` block."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb"):
        raise ConfigError("source.url: a MySQL/MariaDB URL starts with mysql:// (or mariadb://)")
    try:
        port = parts.port or 3306
    except ValueError:
        raise ConfigError("source.url: the port is not a number") from None
    args: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": port,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "database": unquote(parts.path.lstrip("/")) or None,
        "use_pure": False,
        "charset": "utf8mb4",
        "autocommit": True,
        "connection_timeout": CONNECT_TIMEOUT_S,
        "client_flags": [-ClientFlag.MULTI_STATEMENTS],  # one statement per call, whatever the text holds
    }
    params = dict(parse_qsl(parts.query))
    mode_text = params.pop("ssl-mode", "preferred").lower()
    if mode_text not in _URL_TLS_MODES:
        raise ConfigError(f"source.url: ssl-mode must be one of {', '.join(_URL_TLS_MODES).upper()}")
    ca_file = params.pop("ssl-ca", None)
    if params:
        raise ConfigError(f"source.url: unsupported parameters {', '.join(sorted(params))} (allowed: ssl-mode, ssl-ca)")
    if tls is not None:  # a tls: block wins over the URL; without `mode` it asks for verify-full
        return args | _tls_args(tls.effective_mode, tls.ca_file)
    return args | _tls_args(_URL_TLS_MODES[mode_text], ca_file)


def _tls_args(mode: TlsMode | None, ca_file: str | None) -> dict[str, Any]:
    """The driver's TLS options for a mode (libpq sslmode semantics, README: TlsConfig); None = the driver's default."""
    if mode == "disable":
        return {"ssl_disabled": True}
    out: dict[str, Any] = {"ssl_ca": ca_file} if ca_file else {}
    if mode is None:
        return out
    verify_cert = mode in ("verify-ca", "verify-full")
    return out | {"ssl_disabled": False, "ssl_verify_cert": verify_cert, "ssl_verify_identity": mode == "verify-full"}


def ssl_cipher(conn: CMySQLConnection) -> str | None:
    """The session's TLS cipher, None on a plain-text connection."""
    found = rows(conn, "SHOW SESSION STATUS LIKE 'Ssl_cipher'")
    cipher = decoded(found[0][1]) if found else ""
    return str(cipher) if cipher else None


def is_mariadb(conn: CMySQLConnection) -> bool:
    return "mariadb" in (conn.server_info or "").lower()


def session_variables(timeouts: Tuning | Limits, mariadb: bool) -> dict[str, Any]:
    """A session's settings: read-only transactions, UTC, the statement timeout, the lock timeouts."""
    wanted: dict[str, Any] = {"tx_read_only" if mariadb else "transaction_read_only": 1, "time_zone": "+00:00"}
    if mariadb:
        wanted["max_statement_time"] = float(timeouts.statement_timeout_s)
    else:
        wanted["max_execution_time"] = timeouts.statement_timeout_s * 1000
    lock_s = timeouts.lock_timeout_s or _NO_LOCK_LIMIT
    wanted["innodb_lock_wait_timeout"] = lock_s  # row locks
    wanted["lock_wait_timeout"] = min(lock_s, 31_536_000)  # metadata locks (max one year)
    return wanted


def read_session(conn: CMySQLConnection, names: list[str]) -> dict[str, Any]:
    """Current values of session variables."""
    (row,) = rows(conn, "SELECT " + ", ".join(f"@@SESSION.{name}" for name in names))
    return dict(zip(names, row, strict=True))


def set_session(conn: CMySQLConnection, values: dict[str, Any]) -> None:
    """`SET SESSION name = value, …` with the values bound."""
    with conn.cursor() as cur:
        cur.execute("SET SESSION " + ", ".join(f"{name} = %s" for name in values), tuple(values.values()))


@contextmanager
def session_settings(conn: CMySQLConnection, wanted: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Set session variables for the block and restore the values read before it, also when the block fails.

    A connection that is gone (killed, or closed because a stream was abandoned) has no session left to restore.
    """
    saved = read_session(conn, list(wanted))
    set_session(conn, wanted)
    try:
        yield saved
    finally:
        if not conn.is_closed():
            try:
                set_session(conn, saved)
            except DRIVER_ERRORS as exc:
                log.debug("mysql: session settings not restored (the connection is unusable): %s", exc)
