"""PostgreSQL source: psycopg holds the snapshot and describes; the data streams as Arrow through ADBC.

One export = one read-only REPEATABLE READ snapshot. A psycopg control connection opens it and publishes it with
`pg_export_snapshot()`; the data connection (ADBC: libpq + binary COPY decoded to Arrow in C, design §13) imports
it with `SET TRANSACTION SNAPSHOT`, so counts, bounds and every batch see one instant. ADBC materialises a
statement that has bound parameters, so slice bounds are bound into transaction-local settings
(`set_config('rivet.pN', $1, true)`) and the data statement reads them back with `current_setting()`: the value
is still a bound parameter, the data statement stays a streaming COPY, and an index on the key is still used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from typing import Any

import adbc_driver_postgresql.dbapi as adbc
import psycopg
import pyarrow as pa
from psycopg import sql as pgsql
from psycopg.conninfo import make_conninfo

from rivet_core.config import TlsConfig, Tuning
from rivet_core.errors import SourceError
from rivet_core.redact import redact
from rivet_core.slices import Slice
from rivet_core.sources import sql
from rivet_core.sources.base import Query
from rivet_core.sources.types import ColumnPlan, PgDescribed, finish_batch, pg_plan, target_schema

_SSLMODES = {"disable": "disable", "require": "require", "verify-ca": "verify-ca", "verify-full": "verify-full"}


def quote_ident(name: str) -> str:
    """A Postgres identifier, double-quoted (embedded quotes doubled), exactly as the server parses it."""
    return '"' + name.replace('"', '""') + '"'


def _conninfo(url: str, tls: TlsConfig | None) -> str:
    extra: dict[str, Any] = {"application_name": "rivet"}
    if tls is not None:
        mode = tls.mode
        if tls.accept_invalid_certs:
            mode = "require"
        elif tls.accept_invalid_hostnames and mode == "verify-full":
            mode = "verify-ca"
        if mode:
            extra["sslmode"] = _SSLMODES[mode]
        if tls.ca_file:
            extra["sslrootcert"] = tls.ca_file
    return make_conninfo(url, **extra)


# Retried on a new connection (design §3 tuning): serialization failure, deadlock, too many connections, lock
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


def source_error(exc: BaseException, url: str) -> SourceError:
    """A driver error as one redacted line naming what failed, classified transient or permanent."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return SourceError(f"postgres: {redact(text, [url])}", transient=is_transient(exc))


class PostgresSource:
    """Postgres as a rivet Source."""

    engine = "postgres"

    def __init__(self, url: str, tuning: Tuning, tls: TlsConfig | None = None) -> None:
        self.url = url
        self.tuning = tuning
        self.conninfo = _conninfo(url, tls)

    def connect(self) -> psycopg.Connection[Any]:
        """A psycopg connection (control, state, preflight)."""
        try:
            return psycopg.connect(self.conninfo, connect_timeout=30)
        except psycopg.Error as exc:
            raise source_error(exc, self.url) from None

    @contextmanager
    def snapshot(self) -> Iterator[PgSnapshot]:
        """Open the export's read-only snapshot; always rolled back and closed on exit."""
        control = self.connect()
        try:
            control.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            control.read_only = True
            with control.cursor() as cur:
                cur.execute(_SETTINGS_SQL, _settings(self.tuning))
                cur.execute("SELECT pg_export_snapshot()")
                row = cur.fetchone()
            assert row is not None
            snap = PgSnapshot(self, control, row[0])
            try:
                yield snap
            finally:
                snap.close()
        except psycopg.Error as exc:
            raise source_error(exc, self.url) from None
        finally:
            with suppress(psycopg.Error):  # a killed backend must not hide the error that ended the snapshot
                control.rollback()
            control.close()

    def pooler_warning(self) -> str | None:
        """A warning when the server sits behind a transaction-mode pooler (pgBouncer, Odyssey; design §9).

        Without a pooler a client keeps one backend: its `pg_backend_pid()` never changes between transactions
        and a second client never sees the same pid. A transaction pooler hands server connections out per
        transaction (pgBouncer reuses the last released one first), so either shows.
        """
        try:
            with closing(self.connect()) as first, closing(self.connect()) as second:
                pids = []
                for conn in (first, second, first):
                    row = conn.execute("SELECT pg_backend_pid()").fetchone()
                    conn.commit()
                    pids.append(row[0] if row else None)
        except psycopg.Error as exc:
            raise source_error(exc, self.url) from None
        if pids[0] == pids[1] or pids[0] != pids[2]:
            return (
                "postgres: a transaction-mode connection pooler (pgBouncer/Odyssey) is in front of the server "
                "(backend pid changed between transactions); the export still runs in one transaction with "
                "SET LOCAL settings, but a pooler timeout can cut a long export: prefer a direct or session-mode "
                "connection for large exports"
            )
        return None

    def primary_key(self, table: tuple[str | None, str]) -> list[str]:
        """Primary key columns of a table, in key order."""
        schema, name = table
        ref = f"{quote_ident(schema)}.{quote_ident(name)}" if schema else quote_ident(name)
        with closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary"
                " ORDER BY array_position(i.indkey, a.attnum)",
                (ref,),
            )
            return [r[0] for r in cur.fetchall()]


_SETTINGS_SQL = (
    "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true),"
    " set_config('intervalstyle', 'iso_8601', true), set_config('TimeZone', 'UTC', true)"
)


def _settings(tuning: Tuning) -> tuple[str, str]:
    return (f"{tuning.statement_timeout_s * 1000}", f"{tuning.lock_timeout_s * 1000}")


class PgSnapshot:
    """The export's snapshot: describe on the control connection, counts and data on ADBC connections."""

    def __init__(self, source: PostgresSource, control: psycopg.Connection[Any], snapshot_id: str) -> None:
        self.source = source
        self.control = control
        self.snapshot_id = snapshot_id
        self._data: adbc.Connection | None = None
        self._types: dict[str, str] = {}
        self._lock = threading.Lock()

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
        with self._lock:
            self._drop_reader(None)

    def _drop_reader(self, cur: Any) -> None:
        """Close the data connection (after an error it may be dead); the next statement opens a fresh one."""
        if self._data is not None:
            with suppress(adbc.Error):
                if cur is not None:
                    cur.close()
                self._data.close()
            self._data = None

    def open_reader(self) -> adbc.Connection:
        """A new ADBC connection inside a transaction that imported this snapshot (one per worker)."""
        try:
            conn = adbc.connect(self.source.conninfo, autocommit=True)
            cur = conn.cursor()
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cur.execute("SET TRANSACTION SNAPSHOT " + pgsql.Literal(self.snapshot_id).as_string(self.control))
            statement_ms, lock_ms = _settings(self.source.tuning)
            cur.execute(_SETTINGS_SQL.replace("%s", "$1", 1).replace("%s", "$2", 1), parameters=(statement_ms, lock_ms))
            cur.fetchall()
            cur.close()
            return conn
        except adbc.Error as exc:
            raise source_error(exc, self.source.url) from None

    def _reader(self) -> adbc.Connection:
        if self._data is None:
            self._data = self.open_reader()
        return self._data

    def plan(self, query: Query, overrides: dict[str, pa.DataType], path: str) -> list[ColumnPlan]:
        """Describe the base query (LIMIT 0) and map each column (design §5)."""
        base = sql.base_sql(query, quote_ident)
        with self.control.cursor() as cur:
            cur.execute(f"SELECT * FROM ({base}) AS {sql.ALIAS} LIMIT 0")  # type: ignore[arg-type]
            desc = cur.description or []
            oids = sorted({d.type_code for d in desc})
            cur.execute(
                "SELECT t.oid, t.typname, t.typtype, e.typname FROM pg_type t"
                " LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A' WHERE t.oid = ANY(%s)",
                (oids,),
            )
            types = {r[0]: r[1:] for r in cur.fetchall()}
        plans = []
        for d in desc:
            typname, typtype, elem = types[d.type_code]
            self._types[d.name] = typname
            described = PgDescribed(d.name, typname, typtype, elem, d.precision, d.scale)
            quoted = f"{sql.ALIAS}.{quote_ident(d.name)}"
            plans.append(pg_plan(described, quoted, overrides.get(d.name), path))
        return plans

    def _bind(self, cur: Any, params: list[Any]) -> None:
        """Bind slice bounds into transaction-local settings read back by `placeholder`."""
        for i, value in enumerate(params, start=1):
            cur.execute("SELECT set_config($1, $2, true)", parameters=(f"rivet.p{i}", _as_text(value)))
            cur.fetchall()

    def placeholder(self, slc: Slice) -> sql.Placeholder:
        typ = self._types.get(slc.column or "", "text")
        return lambda i: f"current_setting('rivet.p{i}')::{quote_ident(typ)}"

    @contextmanager
    def _statement(self, statement: str, params: list[Any], unbounded: bool = False) -> Iterator[Any]:
        """An executed ADBC cursor (bounds bound first); a driver error drops the connection and is redacted.

        `unbounded` lifts statement_timeout for the data COPY, whose length is the stream's (throttling makes
        it long on purpose); planning statements stay bounded (README: Tuning).
        """
        timeout_ms = "0" if unbounded else _settings(self.source.tuning)[0]
        with self._lock:
            cur = self._reader().cursor()
            try:
                cur.execute("SELECT set_config('statement_timeout', $1, true)", parameters=(timeout_ms,))
                cur.fetchall()
                self._bind(cur, params)
                cur.execute(statement)
                yield cur
            except (adbc.Error, OSError) as exc:  # a failure while streaming surfaces from Arrow as OSError
                self._drop_reader(cur)
                raise source_error(exc, self.source.url) from None
            finally:
                with suppress(adbc.Error):
                    cur.close()

    def fetch_one(self, statement: str, slc: Slice, params: list[Any]) -> tuple[Any, ...]:
        with self._statement(statement, params) as cur:
            row = cur.fetchone()
        return tuple(row) if row is not None else ()

    def stream(self, query: Query, slc: Slice, plans: list[ColumnPlan], batch_size: int) -> Iterator[pa.RecordBatch]:
        """Batches of at most `batch_size` rows from one binary COPY, cast to the plan's schema."""
        exprs = [f"{p.expr} AS {quote_ident(p.name)}" for p in plans]
        statement, params = sql.select(query, slc, exprs, quote_ident, self.placeholder(slc))
        schema = target_schema(plans)
        throttle = self.source.tuning.throttle_ms / 1000
        with self._statement(statement, params, unbounded=True) as cur:
            for raw in cur.fetch_record_batch():
                for offset in range(0, raw.num_rows, batch_size):
                    yield finish_batch(raw.slice(offset, batch_size), plans, schema)
                    if throttle:
                        time.sleep(throttle)


def _as_text(value: Any) -> str:
    iso = getattr(value, "isoformat", None)
    return iso() if iso else str(value)
