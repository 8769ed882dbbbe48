"""PostgreSQL as a rivet Source: read-only psycopg connections, the export's snapshot, pooler detection."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from typing import Any

import psycopg
from psycopg import sql as pgsql

from rivet_core.config import TlsConfig, Tuning
from rivet_core.errors import SourceError
from rivet_core.slices import Slice
from rivet_core.sources import sql
from rivet_core.sources.base import OpenTransaction, Query, Source
from rivet_core.sources.postgres.catalog import PgCatalog
from rivet_core.sources.postgres.connection import OPTIONS_REFUSED, conninfo, is_transient, quote_ident, server_port
from rivet_core.sources.postgres.snapshot import SETTINGS_SQL, PgSnapshot, transaction_settings
from rivet_core.sources.registry import register

log = logging.getLogger("rivet")

POOLER_WARNING = (
    "postgres: a transaction-mode connection pooler (pgBouncer/Odyssey) is in front of the server "
    "(backend pid changed between transactions); the export still runs in one transaction with "
    "SET LOCAL settings, but a pooler timeout can cut a long export: prefer a direct or session-mode "
    "connection for large exports"
)


# Client sessions of this database inside a transaction (rivet's own, read-only by session, left out) and prepared
# transactions: any of them may still commit a row whose cursor value was taken before the fence.
OPEN_TRANSACTIONS_SQL = (
    "SELECT pid::text || '@' || xact_start::text, xact_start::text, 'pid ' || pid || ' (' || coalesce(state, '?')"
    " || ')' FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'"
    " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND application_name NOT IN ('rivet', 'rivet lease')"
    " UNION ALL SELECT 'prepared ' || gid, prepared::text, 'prepared transaction ' || gid FROM pg_prepared_xacts"
    " WHERE database = current_database()"
)

# Sessions of other roles whose state, query, xact_start and backend_type pg_stat_activity hides (no
# pg_read_all_stats).
HIDDEN_SESSIONS_SQL = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = '<insufficient privilege>'"
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

    def high_key(self, query: Query, slc: Slice) -> Any:
        """One statement on a plain read-only connection (an export snapshot would open an ADBC reader too)."""
        try:
            with closing(self.connect()) as conn:
                base = sql.base_sql(query, quote_ident, lambda value: pgsql.Literal(value).as_string(conn))
                top = f"SELECT MAX({sql.slice_key(slc, quote_ident)}) FROM ({base}) AS {sql.ALIAS}"
                row = conn.execute(top, binary=True).fetchone()  # no parameters: the text is sent as it is
        except psycopg.Error as exc:
            raise self.error(exc) from None
        return row[0] if row else None

    def hidden_sessions(self, conn: Any) -> str | None:
        """Sessions whose transaction pg_stat_activity hides from this role (no pg_read_all_stats)."""
        try:
            row = conn.execute(HIDDEN_SESSIONS_SQL, binary=True).fetchone()
            conn.commit()
        except psycopg.Error as exc:
            raise self.error(exc) from None
        hidden = int(row[0]) if row else 0
        if not hidden:
            return None
        return (
            f"postgres: {hidden} session(s) of other roles are hidden from this role in pg_stat_activity, so the "
            "late-commit fence cannot wait for their transactions and rows they commit late may be skipped: grant "
            "the source role pg_read_all_stats (docs/cursor.md)"
        )

    def open_transactions(self, conn: Any) -> list[OpenTransaction]:
        """pg_stat_activity and pg_prepared_xacts, in a transaction of its own (their view is per transaction)."""
        try:
            found = conn.execute(OPEN_TRANSACTIONS_SQL, binary=True).fetchall()
            conn.commit()
        except psycopg.Error as exc:
            raise self.error(exc) from None
        return [OpenTransaction(*map(str, row)) for row in found]

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

    def average_row_bytes(self, table: tuple[str | None, str]) -> float | None:
        """Heap bytes per row from `pg_class` (relpages, reltuples as of the last ANALYZE / VACUUM)."""
        schema, name = table
        ref = f"{quote_ident(schema)}.{quote_ident(name)}" if schema else quote_ident(name)
        try:
            with closing(self.connect()) as conn:
                row = conn.execute(
                    "SELECT relpages::float8 * current_setting('block_size')::int / reltuples FROM pg_class"
                    " WHERE oid = %s::regclass AND reltuples > 0 AND relpages > 0",
                    (ref,),
                    binary=True,
                ).fetchone()
        except psycopg.Error as exc:
            raise self.error(exc) from None
        return float(row[0]) if row else None

    def write_pressure(self) -> int | None:
        """Checkpoints requested so far (`pg_stat_bgwriter.checkpoints_req`; PostgreSQL 17: `pg_stat_checkpointer`)."""
        try:
            with closing(self.connect()) as conn:
                view = "pg_stat_checkpointer" if conn.info.server_version >= 170000 else "pg_stat_bgwriter"
                column = "num_requested" if view == "pg_stat_checkpointer" else "checkpoints_req"
                row = conn.execute(f"SELECT {column} FROM {view}", binary=True).fetchone()
        except (psycopg.Error, SourceError) as exc:
            log.debug("postgres: write pressure not read: %s", exc)
            return None
        return int(row[0]) if row else None

    def catalog(self) -> PgCatalog:
        return PgCatalog(self.connect())
