"""MySQL/MariaDB snapshot: one connection, one unbuffered SELECT per slice over mysql-connector's C extension.

One export = one connection holding `START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY` in a read-only
session (UTC time zone, statement and lock timeouts) whose settings are read first and restored on exit. Rows
stream unbuffered (`mysql_use_result`, never stored client-side) and are typed in `decode.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from rivet_core.slices import Slice
from rivet_core.sources import sql
from rivet_core.sources.base import Query, Snapshot
from rivet_core.sources.batching import BatchSizing
from rivet_core.sources.mysql.connection import (
    DRIVER_ERRORS,
    CMySQLConnection,
    decoded,
    is_mariadb,
    literal,
    quote_ident,
)
from rivet_core.sources.mysql.decode import BatchDecoder, ZeroDates, pieces
from rivet_core.sources.mysql.types import MySQLDescribed, mysql_plan
from rivet_core.sources.sockets import Tracked
from rivet_core.sources.types import ColumnPlan

if TYPE_CHECKING:
    from rivet_core.sources.mysql.source import MySQLSource

log = logging.getLogger("rivet")


class MySQLSnapshot(Snapshot):
    """One connection holding a consistent snapshot; every statement of its reader runs on it."""

    source: MySQLSource
    quote = staticmethod(quote_ident)

    def __init__(
        self, source: MySQLSource, conn: CMySQLConnection, tracked: Tracked, zero_dates: ZeroDates | None = None
    ) -> None:
        super().__init__(source)
        self.conn = conn
        self._tracked = tracked  # the connection's sockets (what `abort` shuts down)
        self.owner = zero_dates is None
        self.zero_dates = zero_dates if zero_dates is not None else ZeroDates()
        self.connection_id = int(conn.connection_id or 0)  # the server's id of this connection (`KILL QUERY`)

    def _c(self) -> Any:
        """The C API connection under the driver's (where `fetch_row` / `fetch_fields` live)."""
        assert self.conn._cmysql is not None
        return self.conn._cmysql

    @contextmanager
    def worker(self) -> Iterator[MySQLSnapshot]:
        """Another reader on its own connection and its own consistent snapshot (parallel chunks)."""
        # MySQL cannot hand a snapshot to another connection: workers' snapshots are milliseconds apart, each
        # chunk (a disjoint key range) is read consistently.
        with self.source.open_snapshot(self.zero_dates) as other:
            yield other

    def sockets(self) -> set[int]:
        return self._tracked.inodes()

    def close(self) -> None:
        """End the transaction (if the connection still lives); the export's snapshot reports zero dates."""
        if self.owner:
            self.zero_dates.warn()
        if not self.conn.is_closed():
            try:
                self.conn.rollback()
            except DRIVER_ERRORS as exc:
                log.debug("mysql: rollback failed: %s", exc)

    def placeholder(self, slc: Slice) -> sql.Placeholder:
        """The bound value itself, escaped and quoted by the connector exactly as its `execute(sql, params)` would.

        mysql-connector binds client-side by replacing each `%s` of the whole text, a `%s` inside the user's SQL
        too; rivet quotes the values itself and sends the statement without params, so no text is rewritten.
        """
        return lambda _, value: literal(self.conn, value)

    def literal(self, value: str) -> str:
        return literal(self.conn, value)

    @contextmanager
    def _statement(self) -> Iterator[Any]:
        """A buffered cursor under the snapshot's lock, watched; driver errors become one SourceError line."""
        with self.watch(), self._lock:
            try:
                with self.conn.cursor(buffered=True) as cur:
                    yield cur
            except DRIVER_ERRORS as exc:
                raise self.error(exc) from None

    def fetch_one(self, statement: str, slc: Slice, params: list[Any]) -> tuple[Any, ...]:
        with self._statement() as cur:
            cur.execute(statement)  # `params` are in the text already (`placeholder`)
            row = cur.fetchone()
        return tuple(row) if row is not None else ()

    def _declared(self, table: tuple[str | None, str]) -> dict[str, tuple[str, int | None]]:
        """Declared column types of a table (lower-cased name → COLUMN_TYPE, NUMERIC_PRECISION)."""
        with self._statement() as cur:
            cur.execute(
                "SELECT COLUMN_NAME, COLUMN_TYPE, NUMERIC_PRECISION FROM information_schema.COLUMNS"
                " WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s",
                table,
            )
            rows = cur.fetchall()
        return {str(decoded(r[0])).lower(): (str(decoded(r[1])), None if r[2] is None else int(r[2])) for r in rows}

    def plan(self, query: Query, overrides: dict[str, pa.DataType], path: str) -> list[ColumnPlan]:
        """Describe the base query (LIMIT 0; declared types from information_schema for tables) and map it."""
        statement = f"SELECT * FROM ({sql.base_sql(query, quote_ident, self.literal)}) AS {sql.ALIAS} LIMIT 0"
        with self.watch(), self._lock:
            try:
                self.conn.cmd_query(statement)
                fields = self._c().fetch_fields()  # the C API's MYSQL_FIELDs (decimals, charset)
                self.conn.free_result()
            except DRIVER_ERRORS as exc:
                raise self.error(exc) from None
        declared = self._declared(query.table) if query.table else {}
        plans = []
        for field in fields:
            name = str(decoded(field[4]))
            column_type, precision = declared.get(name.lower(), (None, None))
            described = MySQLDescribed(name, field[8], field[9], field[10], field[6], column_type, precision)
            plans.append(mysql_plan(described, f"{sql.ALIAS}.{quote_ident(name)}", overrides.get(name)))
        return plans

    def stream(
        self, query: Query, slc: Slice, plans: list[ColumnPlan], sizing: BatchSizing
    ) -> Iterator[pa.RecordBatch]:
        """Batches of `sizing.rows` rows from one unbuffered SELECT, typed as `plans`."""
        exprs = [f"{p.expr} AS {quote_ident(p.name)}" for p in plans]
        statement, _ = sql.select(self, query, slc, exprs)  # bounds quoted in the text (`placeholder`)
        statement = _without_statement_timeout(statement, self.conn)
        decode = BatchDecoder(plans, self.zero_dates, lambda: self.key_columns(query, slc))
        finished = False
        with self._lock:
            try:
                cur = self.conn.cursor(raw=True)
                cur.execute(statement)  # unbuffered: the rows stay on the wire until fetched
                rows_of = iter(self._c().fetch_row, None)  # C loop: no Python frame per row
                while parts := list(pieces(rows_of, sizing.rows, decode.rows)):
                    batch = decode(parts)
                    sizing.observe(batch)
                    yield batch
                self.conn.free_result()
                cur.close()
                finished = True
            except DRIVER_ERRORS as exc:
                raise self.error(exc) from None
            finally:
                if not finished and not self.conn.is_closed():
                    # Skipping the rest of an unbuffered result means reading it all; end the session instead.
                    self._c().close()
        self.check_cancelled()

    def _cancel_statement(self) -> None:
        """`KILL QUERY` this connection's statement from a short connection of its own."""
        try:
            with closing(self.source.connect()) as conn, conn.cursor() as cur:
                cur.execute("KILL QUERY %s", (self.connection_id,))
        except Exception as exc:  # the watchdog must not die on a failed cancel
            log.debug("mysql: KILL QUERY %s failed: %s", self.connection_id, exc)


def _without_statement_timeout(statement: str, conn: CMySQLConnection) -> str:
    """The data SELECT runs as long as the stream lasts (throttling makes it long on purpose): only planning
    statements are bounded by statement_timeout_s (README: Tuning)."""
    if is_mariadb(conn):
        return "SET STATEMENT max_statement_time = 0 FOR " + statement
    return statement.replace("SELECT", "SELECT /*+ MAX_EXECUTION_TIME(0) */", 1)
