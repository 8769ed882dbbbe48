"""MySQL/MariaDB as a rivet Source: read-only C-extension connections, the export's snapshot, proxy detection."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from typing import Any

import mysql.connector

from rivet_core.config import TlsConfig, Tuning
from rivet_core.errors import SourceError
from rivet_core.slices import Slice
from rivet_core.sources import sql
from rivet_core.sources.base import OpenTransaction, Query, Source
from rivet_core.sources.mysql.catalog import MySqlCatalog
from rivet_core.sources.mysql.connection import (
    DRIVER_ERRORS,
    CMySQLConnection,
    connect_args,
    decoded,
    is_mariadb,
    rows,
    session_settings,
    session_variables,
    set_session,
    ssl_cipher,
)
from rivet_core.sources.mysql.decode import ZeroDates
from rivet_core.sources.mysql.keepalive import set_keepalives
from rivet_core.sources.mysql.snapshot import MySQLSnapshot
from rivet_core.sources.registry import register
from rivet_core.sources.sockets import Tracked

log = logging.getLogger("rivet")

# Retried on a new connection: lost/refused connections, a killed session, too many connections, server shutdown,
# lock wait timeout and deadlock. Syntax, privileges, missing objects and the statement timeout are not.
_NO_PROCESS_PRIVILEGE = 1227  # ER_SPECIFIC_ACCESS_DENIED_ERROR: INNODB_TRX needs PROCESS
_TRANSIENT = {2002, 2003, 2006, 2013, 2055, 1040, 1053, 1205, 1213, 1927, 4031}


# InnoDB transactions of other sessions that could write (read-only and single autocommit SELECTs left out).
OPEN_TRANSACTIONS_SQL = (
    "SELECT CONCAT(trx_mysql_thread_id, '@', trx_id), CAST(trx_started AS CHAR), CONCAT('thread ',"
    " trx_mysql_thread_id, ' (', trx_state, ')') FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id <>"
    " CONNECTION_ID() AND trx_is_read_only = 0 AND trx_autocommit_non_locking = 0"
)


@register("mysql")
class MySQLSource(Source):
    """MySQL/MariaDB as a rivet Source."""

    engine = "mysql"
    # A transaction shows in INNODB_TRX only from its first InnoDB access (after `NOW()` is fixed for the statement)
    # and the table is a cache refreshed only when it was not read for 0.1 s: the fence lists open transactions
    # 0.25 s after its MAX, and polls less often than every 0.1 s (faster polling would keep the cache frozen).
    settle_s = 0.25
    poll_s = 0.15

    def __init__(self, url: str, tuning: Tuning, tls: TlsConfig | None = None) -> None:
        super().__init__(url, tuning, tls)
        self.args = connect_args(url, tls)
        self.port = int(self.args["port"])

    def secrets(self) -> list[str]:
        return [self.url, self.args["password"]]

    def message(self, exc: BaseException) -> str:
        """`<message> (error <errno>)`."""
        text = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        errno = getattr(exc, "errno", None)
        return str(text).strip().splitlines()[0] + (f" (error {errno})" if errno and errno > 0 else "")

    def is_transient(self, exc: BaseException) -> bool:
        return getattr(exc, "errno", None) in _TRANSIENT

    def high_key(self, query: Query, slc: Slice) -> Any:
        """In a consistent snapshot of its own (one short connection)."""
        with self.snapshot() as probe:
            return sql.top(probe, query, slc)

    def open_transactions(self, conn: CMySQLConnection) -> list[OpenTransaction]:
        """information_schema.INNODB_TRX (server-wide: InnoDB does not say which tables a transaction will touch);
        none when the user lacks PROCESS (`hidden_sessions` warns)."""
        try:
            found = rows(conn, OPEN_TRANSACTIONS_SQL)
            conn.rollback()
        except DRIVER_ERRORS as exc:
            if getattr(exc, "errno", None) == _NO_PROCESS_PRIVILEGE:
                return []
            raise self.error(exc) from None
        return [OpenTransaction(*(str(decoded(v)) for v in row)) for row in found]

    def hidden_sessions(self, conn: CMySQLConnection) -> str | None:
        """A warning when the user lacks PROCESS: INNODB_TRX is then closed to it and the fence cannot wait."""
        try:
            rows(conn, "SELECT COUNT(*) FROM information_schema.INNODB_TRX")
            conn.rollback()
        except DRIVER_ERRORS as exc:
            if getattr(exc, "errno", None) != _NO_PROCESS_PRIVILEGE:
                raise self.error(exc) from None
            return (
                "mysql: the source user lacks the PROCESS privilege, so the late-commit fence cannot see other "
                "sessions' open transactions and rows they commit late may be skipped: GRANT PROCESS ON *.* to it "
                "(docs/cursor.md)"
            )
        return None

    def connect(self) -> CMySQLConnection:
        """A C-extension connection in a read-only session with statement and lock timeouts, keepalives set."""
        try:
            conn = mysql.connector.connect(**self.args)
        except DRIVER_ERRORS as exc:
            raise self.error(exc) from None
        assert isinstance(conn, CMySQLConnection)
        set_keepalives(self.port)
        try:
            if self.args.get("ssl_disabled") is False and ssl_cipher(conn) is None:
                conn.close()  # the C driver falls back to plain text when the server offers no TLS
                raise SourceError("mysql: source.tls asks for an encrypted connection and the server offers no TLS")
            set_session(conn, session_variables(self.limits, is_mariadb(conn)))
        except DRIVER_ERRORS as exc:
            conn.close()
            raise self.error(exc) from None
        return conn

    def snapshot(self) -> AbstractContextManager[MySQLSnapshot]:
        """Open a read-only consistent snapshot; rolled back, session settings restored and closed on exit."""
        return self.open_snapshot(None)

    @contextmanager
    def open_snapshot(self, zero_dates: ZeroDates | None) -> Iterator[MySQLSnapshot]:
        """`snapshot()`, counting zero dates into `zero_dates` (a worker's) or its own (the export's)."""
        tracked = Tracked(self.port)
        with tracked.opening():
            conn = self.connect()
        try:
            with session_settings(conn, session_variables(self.tuning, is_mariadb(conn))):
                with conn.cursor() as cur:
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # the next transaction only
                    cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                snap = MySQLSnapshot(self, conn, tracked, zero_dates)
                try:
                    yield snap
                finally:
                    snap.close()
        except DRIVER_ERRORS as exc:
            raise self.error(exc) from None
        finally:
            try:
                conn.close()
            except DRIVER_ERRORS as exc:
                log.debug("mysql: close failed: %s", exc)

    def pooler_warning(self) -> str | None:
        """A warning when ProxySQL/MaxScale or another multiplexing proxy sits in front of the server."""
        # A marker in the version strings, or CONNECTION_ID() changing between two statements of one connection.
        try:
            with closing(self.connect()) as conn:
                ((comment, first),) = rows(conn, "SELECT CONCAT(@@version, ' ', @@version_comment), CONNECTION_ID()")
                ((second,),) = rows(conn, "SELECT CONNECTION_ID()")
        except DRIVER_ERRORS as exc:
            raise self.error(exc) from None
        kind = next((k for k in ("ProxySQL", "MaxScale") if k.lower() in str(decoded(comment)).lower()), None)
        if kind is None and first != second:
            kind = "a connection-multiplexing proxy"
        if kind is None:
            return None
        return (
            f"mysql: {kind} is in front of the server; the export still runs in one transaction on one connection, "
            "but a proxy may cut a long export or route it to another server: prefer a direct connection"
        )

    def primary_key(self, table: tuple[str | None, str]) -> list[str]:
        """Primary key columns of a table, in key order."""
        try:
            with closing(self.connect()) as conn:
                keys = rows(
                    conn,
                    "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA ="
                    " COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY'"
                    " ORDER BY ORDINAL_POSITION",
                    table,
                )
            return [str(decoded(r[0])) for r in keys]
        except DRIVER_ERRORS as exc:
            raise self.error(exc) from None

    def average_row_bytes(self, table: tuple[str | None, str]) -> float | None:
        """`AVG_ROW_LENGTH` of information_schema.TABLES (the engine's estimate; 0 = none)."""
        try:
            with closing(self.connect()) as conn:
                found = rows(
                    conn,
                    "SELECT AVG_ROW_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA ="
                    " COALESCE(%s, DATABASE()) AND TABLE_NAME = %s",
                    table,
                )
        except DRIVER_ERRORS as exc:
            raise self.error(exc) from None
        value = int(decoded(found[0][0]) or 0) if found else 0
        return float(value) if value > 0 else None

    def write_pressure(self) -> int | None:
        """Waits for the InnoDB log buffer so far (`Innodb_log_waits`)."""
        try:
            with closing(self.connect()) as conn:
                found = rows(conn, "SHOW GLOBAL STATUS LIKE 'Innodb_log_waits'")
        except (*DRIVER_ERRORS, SourceError) as exc:
            log.debug("mysql: write pressure not read: %s", exc)
            return None
        return int(decoded(found[0][1])) if found else None

    def catalog(self) -> MySqlCatalog:
        return MySqlCatalog(self.connect())
