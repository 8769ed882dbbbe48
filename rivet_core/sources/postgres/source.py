"""PostgreSQL as a rivet Source: read-only psycopg connections, the export's snapshot, pooler detection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from typing import Any

import psycopg

from rivet_core.config import TlsConfig, Tuning
from rivet_core.sources.base import Source
from rivet_core.sources.postgres.catalog import PgCatalog
from rivet_core.sources.postgres.connection import OPTIONS_REFUSED, conninfo, is_transient, quote_ident, server_port
from rivet_core.sources.postgres.snapshot import SETTINGS_SQL, PgSnapshot, transaction_settings
from rivet_core.sources.registry import register

POOLER_WARNING = (
    "postgres: a transaction-mode connection pooler (pgBouncer/Odyssey) is in front of the server "
    "(backend pid changed between transactions); the export still runs in one transaction with "
    "SET LOCAL settings, but a pooler timeout can cut a long export: prefer a direct or session-mode "
    "connection for large exports"
)


@register("postgres")
class PostgresSource(Source):
    """Postgres as a rivet Source."""

    engine = "postgres"

    def __init__(self, url: str, tuning: Tuning, tls: TlsConfig | None = None) -> None:
        super().__init__(url, tuning, tls)
        self.session_options = True  # False once a pooler refused the startup `options`
        try:
            self.conninfo = conninfo(url, tls, self.limits)
        except psycopg.Error as exc:  # e.g. an unencoded % in the password: libpq quotes it, so redact
            raise self.error(exc) from None
        self.port = server_port(self.conninfo)

    def is_transient(self, exc: BaseException) -> bool:
        return is_transient(exc)

    def options_refused(self, exc: BaseException) -> bool:
        """True (and the options dropped from now on) when a pooler refused the session's startup options."""
        if self.session_options and OPTIONS_REFUSED in str(exc):
            self.session_options = False
            self.conninfo = conninfo(self.url, self.tls, self.limits, options=False)
            return True
        return False

    def connect(self) -> psycopg.Connection[Any]:
        """A psycopg connection (control, catalog, preflight) in a read-only session with timeouts."""
        try:
            try:
                return psycopg.connect(self.conninfo)
            except psycopg.OperationalError as exc:
                if not self.options_refused(exc):
                    raise
                return psycopg.connect(self.conninfo)
        except psycopg.Error as exc:
            raise self.error(exc) from None

    @contextmanager
    def snapshot(self) -> Iterator[PgSnapshot]:
        """Open the export's read-only snapshot; always rolled back and closed on exit."""
        control = self.connect()
        try:
            control.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            control.read_only = True
            with control.cursor(binary=True) as cur:
                cur.execute(SETTINGS_SQL, transaction_settings(self.tuning))
                cur.execute("SELECT pg_export_snapshot()")
                row = cur.fetchone()
            assert row is not None
            snap = PgSnapshot(self, control, row[0])
            try:
                yield snap
            finally:
                snap.close()
        except psycopg.Error as exc:
            raise self.error(exc) from None
        finally:
            with suppress(psycopg.Error):  # a killed backend must not hide the error that ended the snapshot
                control.rollback()
            control.close()

    def pooler_warning(self) -> str | None:
        """A warning when the server sits behind a transaction-mode pooler (pgBouncer, Odyssey).

        Without a pooler a client keeps one backend: its `pg_backend_pid()` never changes between transactions
        and a second client never sees the same pid. A transaction pooler hands server connections out per
        transaction (pgBouncer reuses the last released one first), so either shows.
        """
        try:
            with closing(self.connect()) as first, closing(self.connect()) as second:
                pids = []
                for conn in (first, second, first):
                    row = conn.execute("SELECT pg_backend_pid()", binary=True).fetchone()
                    conn.commit()
                    pids.append(row[0] if row else None)
        except psycopg.Error as exc:
            raise self.error(exc) from None
        if pids[0] == pids[1] or pids[0] != pids[2]:
            return POOLER_WARNING
        return None

    def primary_key(self, table: tuple[str | None, str]) -> list[str]:
        """Primary key columns of a table, in key order."""
        schema, name = table
        ref = f"{quote_ident(schema)}.{quote_ident(name)}" if schema else quote_ident(name)
        try:
            with closing(self.connect()) as conn, conn.cursor(binary=True) as cur:
                cur.execute(
                    "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                    " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary"
                    " ORDER BY array_position(i.indkey, a.attnum)",
                    (ref,),
                )
                return [r[0] for r in cur.fetchall()]
        except psycopg.Error as exc:
            raise self.error(exc) from None

    def catalog(self) -> PgCatalog:
        return PgCatalog(self.connect())
