"""PostgreSQL snapshot: psycopg holds the snapshot and describes; the data streams as Arrow through ADBC.

One export = one read-only REPEATABLE READ snapshot. A psycopg control connection opens it and publishes it with
`pg_export_snapshot()`; the data connection (ADBC: libpq + binary COPY decoded to Arrow in C, docs/architecture.md)
imports it with `SET TRANSACTION SNAPSHOT`, so counts, bounds and every batch see one instant. ADBC materialises a
statement that has bound parameters, so slice bounds are bound into transaction-local settings
(`set_config('rivet.pN', $1, true)`) and the data statement reads them back with `current_setting()`: the value
is still a bound parameter, the data statement stays a streaming COPY, and an index on the key is still used.

Every statement goes to the server alone: psycopg runs them with the extended protocol (`binary=True`), ADBC
prepares each one first; the server refuses a prepared statement holding more than one command.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from typing import TYPE_CHECKING, Any

import adbc_driver_postgresql.dbapi as adbc
import psycopg
import pyarrow as pa
from psycopg import sql as pgsql

from rivet_core.config import Tuning
from rivet_core.errors import SourceError
from rivet_core.slices import Slice
from rivet_core.sources import sql
from rivet_core.sources.base import Query, Snapshot
from rivet_core.sources.batching import BatchSizing
from rivet_core.sources.checks import BadValue, bad_value_error, row_location
from rivet_core.sources.postgres.connection import quote_ident
from rivet_core.sources.postgres.types import ARRAY_SHAPE, PgDescribed, finish_batch, pg_plan
from rivet_core.sources.sockets import Tracked, inode_of
from rivet_core.sources.types import ColumnPlan, target_schema

if TYPE_CHECKING:
    from rivet_core.sources.postgres.source import PostgresSource

log = logging.getLogger("rivet")

CLOSE_WAIT_S = 10  # how long closing waits for a statement still running on the data connection


def _settings_sql(first: str, second: str) -> str:
    return (
        f"SELECT set_config('statement_timeout', {first}, true), set_config('lock_timeout', {second}, true),"
        " set_config('intervalstyle', 'iso_8601', true), set_config('TimeZone', 'UTC', true), pg_backend_pid()"
    )


COPY_READ_BYTES = 16 << 20  # the ADBC driver's default COPY read chunk (`adbc.postgresql.batch_size_hint_bytes`)

# The export transaction's settings (timeouts, ISO intervals, UTC) and the backend pid, for psycopg and ADBC.
SETTINGS_SQL = _settings_sql("%s", "%s")
_ADBC_SETTINGS_SQL = _settings_sql("$1", "$2")


def transaction_settings(tuning: Tuning) -> tuple[str, str]:
    """statement_timeout and lock_timeout of the export's transaction, in ms (0 = no limit)."""
    return (f"{tuning.statement_timeout_s * 1000}", f"{tuning.lock_timeout_s * 1000}")


class PgSnapshot(Snapshot):
    """The export's snapshot: describe on the control connection, counts and data on ADBC connections."""

    source: PostgresSource

    def __init__(self, source: PostgresSource, control: psycopg.Connection[Any], snapshot_id: str) -> None:
        super().__init__(source)
        self.control = control
        self.snapshot_id = snapshot_id
        self._data: adbc.Connection | None = None
        self._pid: int | None = None  # the data connection's backend (what `cancel` stops)
        self._tracked = Tracked(source.port)  # the data connection's sockets (what `abort` shuts down)
        self._types: dict[str, str] = {}

    quote = staticmethod(quote_ident)

    @contextmanager
    def worker(self) -> Iterator[PgSnapshot]:
        """Another ADBC reader that imports the same snapshot (one connection per parallel worker)."""
        other = PgSnapshot(self.source, self.control, self.snapshot_id)
        other._types = self._types
        try:
            yield other
        finally:
            other.close()

    def close(self) -> None:
        if not self._lock.acquire(timeout=CLOSE_WAIT_S):  # a reader stuck after a stall: left to its thread
            log.warning("postgres: the data connection is still busy; left to close with its thread")
            return
        try:
            self._drop_reader(None)
        finally:
            self._lock.release()

    def _drop_reader(self, cur: Any) -> None:
        """Close the data connection (after an error it may be dead); the next statement opens a fresh one."""
        if self._data is not None:
            if cur is not None:
                _close_quietly(cur)
            _close_quietly(self._data)
            self._data, self._pid, self._tracked = None, None, Tracked(self.source.port)

    def _connect_reader(self) -> adbc.Connection:
        with self._tracked.opening():
            try:
                return adbc.connect(self.source.conninfo, autocommit=True)
            except adbc.Error as exc:
                if not self.source.options_refused(exc):
                    raise
                return adbc.connect(self.source.conninfo, autocommit=True)

    def sockets(self) -> set[int]:
        """The data connection's sockets and the control connection's (the snapshot's transaction)."""
        found = self._tracked.inodes()
        with suppress(psycopg.Error, OSError):
            found.add(inode_of(self.control.pgconn.socket))
        return found

    def open_reader(self) -> adbc.Connection:
        """A new ADBC connection inside a transaction that imported this snapshot (one per worker)."""
        try:
            conn = self._connect_reader()
        except adbc.Error as exc:
            raise self.error(exc) from None
        try:
            with closing(conn.cursor()) as cur:
                cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cur.execute("SET TRANSACTION SNAPSHOT " + pgsql.Literal(self.snapshot_id).as_string(self.control))
                cur.execute(_ADBC_SETTINGS_SQL, parameters=transaction_settings(self.source.tuning))
                row = cur.fetchone()
            self._pid = int(row[4]) if row else None
            return conn
        except BaseException as exc:
            _close_quietly(conn)  # never left to the garbage collector (its __del__ prints a traceback)
            if isinstance(exc, adbc.Error):
                raise self.error(exc) from None
            raise

    def _reader(self) -> adbc.Connection:
        if self._data is None:
            self._data = self.open_reader()
        return self._data

    def plan(self, query: Query, overrides: dict[str, pa.DataType], path: str) -> list[ColumnPlan]:
        """Describe the base query (LIMIT 0) and map each column (README: Types)."""
        base = sql.base_sql(query, quote_ident, self.literal)
        try:
            with self.watch(), self.control.cursor(binary=True) as cur:  # extended protocol: one statement
                cur.execute(f"SELECT * FROM ({base}) AS {sql.ALIAS} LIMIT 0")
                desc = cur.description or []
                oids = sorted({d.type_code for d in desc})
                cur.execute(
                    "SELECT t.oid, t.typname::text, t.typtype::text, e.typname::text FROM pg_type t"
                    " LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A' WHERE t.oid = ANY(%s)",
                    (oids,),
                )
                types = {int(r[0]): r[1:] for r in cur.fetchall()}
        except psycopg.Error as exc:
            raise self.error(exc) from None
        plans: list[ColumnPlan] = []
        for d in desc:
            typname, typtype, elem = types[d.type_code]
            self._types[d.name] = typname
            described = PgDescribed(d.name, typname, typtype, elem, d.precision, d.scale)
            quoted = f"{sql.ALIAS}.{quote_ident(d.name)}"
            plans.append(pg_plan(described, quoted, overrides.get(d.name), path, len(plans)))
        return plans

    def _bind(self, cur: Any, params: list[Any]) -> None:
        """Bind slice bounds into transaction-local settings read back by `placeholder`."""
        for i, value in enumerate(params, start=1):
            cur.execute("SELECT set_config($1, $2, true)", parameters=(f"rivet.p{i}", _as_text(value)))
            cur.fetchall()

    def placeholder(self, slc: Slice) -> sql.Placeholder:
        typ = self._types.get(slc.column or "", "text")
        return lambda i, _: f"current_setting('rivet.p{i}')::{quote_ident(typ)}"

    def literal(self, value: str) -> str:
        """libpq's literal quoting (`PQescapeLiteral` on the control connection): an untyped string constant."""
        return pgsql.Literal(value).as_string(self.control)

    @contextmanager
    def _statement(
        self,
        statement: str,
        params: list[Any],
        unbounded: bool = False,
        plans: list[ColumnPlan] | None = None,
        read_bytes: int = 0,
    ) -> Iterator[Any]:
        """An executed ADBC cursor (bounds bound first); a driver error drops the connection and is redacted.

        `unbounded` lifts statement_timeout for the data COPY, whose length is the stream's (throttling makes
        it long on purpose); planning statements stay bounded (README: Tuning). `read_bytes` > 0 sets the size
        of the driver's COPY read chunks (default `COPY_READ_BYTES`).
        """
        timeout_ms = "0" if unbounded else transaction_settings(self.source.tuning)[0]
        with self._lock:
            cur = self._reader().cursor()
            try:
                cur.execute("SELECT set_config('statement_timeout', $1, true)", parameters=(timeout_ms,))
                cur.fetchall()
                self._bind(cur, params)
                if read_bytes:
                    cur.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(read_bytes)})
                cur.execute(statement)
                yield cur
            except (adbc.Error, OSError) as exc:  # a failure while streaming surfaces from Arrow as OSError
                self._drop_reader(cur)
                shape = ARRAY_SHAPE.search(str(exc)) if plans else None
                if shape and plans:
                    raise _array_shape_error(plans[int(shape[1])], shape[2]) from None
                raise self.error(exc) from None
            finally:
                _close_quietly(cur)

    def fetch_one(self, statement: str, slc: Slice, params: list[Any]) -> tuple[Any, ...]:
        with self.watch(), self._statement(statement, params) as cur:
            row = cur.fetchone()
        return tuple(row) if row is not None else ()

    def stream(
        self, query: Query, slc: Slice, plans: list[ColumnPlan], sizing: BatchSizing
    ) -> Iterator[pa.RecordBatch]:
        """Batches of `sizing.rows` rows (within one COPY read chunk, raised to a larger memory target) from one
        binary COPY, cast to the plan's schema."""
        exprs = [f"{p.expr} AS {quote_ident(p.name)}" for p in plans]
        statement, params = sql.select(self, query, slc, exprs)
        schema = target_schema(plans)
        seen = 0
        read_bytes = sizing.target_bytes if sizing.target_bytes > COPY_READ_BYTES else 0  # a batch is within one
        with (
            self._statement(statement, params, unbounded=True, plans=plans, read_bytes=read_bytes) as cur,
            closing(cur.fetch_record_batch()) as reader,
        ):
            for raw in reader:  # the reader is closed before its cursor and connection, on every path
                offset = 0
                while offset < raw.num_rows:
                    piece = raw.slice(offset, sizing.rows)
                    offset += piece.num_rows
                    try:
                        batch = finish_batch(piece, plans, schema)
                    except BadValue as bad:
                        columns = dict(zip(piece.schema.names, piece.columns, strict=True))
                        where = row_location(columns, bad.index, seen, self.key_columns(query, slc))
                        raise bad_value_error("postgres", plans, bad, where) from None
                    seen += piece.num_rows
                    sizing.observe(batch)
                    yield batch
        self.check_cancelled()

    def _cancel_statement(self) -> None:
        """Cancel the control connection's statement (a describe) and the data connection's (`pg_cancel_backend`)."""
        with suppress(psycopg.Error):
            self.control.cancel_safe(timeout=self.source.limits.connect_timeout_s)
        pid = self._pid
        if pid is None:
            return
        try:
            self.control.execute("SELECT pg_cancel_backend(%s)", (pid,), binary=True)
        except psycopg.Error:  # the control transaction was itself cancelled: ask on a short connection
            try:
                with closing(self.source.connect()) as conn:
                    conn.execute("SELECT pg_cancel_backend(%s)", (pid,), binary=True)
            except Exception as exc:  # the watchdog must not die on a failed cancel
                log.debug("postgres: cancel of backend %s failed: %s", pid, exc)


def _array_shape_error(plan: ColumnPlan, dims: str) -> SourceError:
    """A multi-dimensional or non-1-based array, which a list would flatten or re-base: one clear line."""
    return SourceError(
        f"postgres: column {plan.name!r} ({plan.source_type.removeprefix('_')}[]) holds an array with bounds {dims}"
        " (several dimensions or a lower bound other than 1), which a list would flatten or re-base; set"
        f" `columns: {{{plan.name}: string}}` to write its exact text form"
    )


def _close_quietly(handle: Any) -> None:
    """Close an ADBC cursor or connection that may be dead or hold open children (never raises)."""
    try:
        handle.close()
    except Exception as exc:  # adbc.Error, or RuntimeError "Cannot close AdbcConnection with open AdbcStatement"
        log.debug("postgres: closing %s failed: %s", type(handle).__name__, exc)


def _as_text(value: Any) -> str:
    iso = getattr(value, "isoformat", None)
    return iso() if iso else str(value)
