"""MySQL/MariaDB source: one unbuffered SELECT per slice over mysql-connector-python's C extension.

One export = one connection holding `START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY` under session
settings (UTC time zone, statement and lock timeouts) that are read first and restored on exit. Rows stream
unbuffered (`mysql_use_result`, never stored client-side): the C extension's `fetch_row` is driven from C
(`islice(iter(fetch_row, None))`) and yields the text protocol's raw bytes; every 10k rows become one Arrow struct
array of binary values, and each column of a batch is typed by vectorised Arrow casts (binary → string → int,
decimal, timestamp …): no Python code runs per value (design §13: Python row objects are the bottleneck).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import mysql.connector
import pyarrow as pa
import pyarrow.compute as pc

from rivet_core.config import TlsConfig, Tuning
from rivet_core.errors import ConfigError, SourceError
from rivet_core.redact import redact
from rivet_core.slices import Slice
from rivet_core.sources import sql
from rivet_core.sources.base import Query
from rivet_core.sources.types import ColumnPlan, MySQLDescribed, mysql_plan, target_schema

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
# Year 0, month 0 or day 0: MySQL accepts them (sql_mode permitting); Arrow has no such date → NULL, counted.
_ZERO_DATE = r"^(?:0000-|\d{4}-00-|\d{4}-\d{2}-00)"
_TIME = r"^(?P<sign>-?)(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?$"
_DAY_US = 86_400_000_000
# Rows held as Python objects at a time (~0.5 KB each); measured: 50k-row batches of Python rows cost ~70 MiB more
# peak RSS than 10k at the same speed.
_PIECE_ROWS = 10_000
# Retried on a new connection: lost/refused connections, a killed session, too many connections, server shutdown,
# lock wait timeout and deadlock. Syntax, privileges, missing objects and the statement timeout are not.
_TRANSIENT = {2002, 2003, 2006, 2013, 2055, 1040, 1053, 1205, 1213, 1927, 4031}
# `lock_timeout_s: 0` means "no limit", as on Postgres; this is the largest value the server accepts.
_NO_LOCK_LIMIT = 1_073_741_824


def quote_ident(name: str) -> str:
    """A MySQL identifier in backticks (embedded backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"


def _placeholder(_: int) -> str:
    return "%s"


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
        "connection_timeout": 30,
    }
    params = dict(parse_qsl(parts.query))
    url_mode = {
        "disabled": "disable",
        "preferred": None,
        "required": "require",
        "verify_ca": "verify-ca",
        "verify_identity": "verify-full",
    }
    mode_text = params.pop("ssl-mode", "preferred").lower()
    if mode_text not in url_mode:
        raise ConfigError(f"source.url: ssl-mode must be one of {', '.join(url_mode).upper()}")
    ca_file = params.pop("ssl-ca", None)
    if params:
        raise ConfigError(f"source.url: unsupported parameters {', '.join(sorted(params))} (allowed: ssl-mode, ssl-ca)")
    tls = tls or TlsConfig(mode=url_mode[mode_text], ca_file=ca_file)
    return args | _tls_args(tls)


def _tls_args(tls: TlsConfig) -> dict[str, Any]:
    """The driver's TLS options for a `tls:` block (libpq sslmode semantics, design §3)."""
    if tls.mode == "disable":
        return {"ssl_disabled": True}
    out: dict[str, Any] = {"ssl_ca": tls.ca_file} if tls.ca_file else {}
    if tls.mode is None:
        return out
    verify_cert = tls.mode in ("verify-ca", "verify-full") and not tls.accept_invalid_certs
    verify_host = tls.mode == "verify-full" and verify_cert and not tls.accept_invalid_hostnames
    return out | {"ssl_disabled": False, "ssl_verify_cert": verify_cert, "ssl_verify_identity": verify_host}


def session_variables(tuning: Tuning, mariadb: bool) -> dict[str, Any]:
    """The session settings of an export: UTC, the statement timeout, the lock timeouts."""
    wanted: dict[str, Any] = {"time_zone": "+00:00"}
    if mariadb:
        wanted["max_statement_time"] = float(tuning.statement_timeout_s)
    else:
        wanted["max_execution_time"] = tuning.statement_timeout_s * 1000
    lock_s = tuning.lock_timeout_s or _NO_LOCK_LIMIT
    wanted["innodb_lock_wait_timeout"] = lock_s  # row locks
    wanted["lock_wait_timeout"] = min(lock_s, 31_536_000)  # metadata locks (max one year)
    return wanted


def read_session(conn: CMySQLConnection, names: list[str]) -> dict[str, Any]:
    """Current values of session variables."""
    with conn.cursor(buffered=True) as cur:
        cur.execute("SELECT " + ", ".join(f"@@SESSION.{name}" for name in names))
        row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def _set_session(conn: CMySQLConnection, values: dict[str, Any]) -> None:
    with conn.cursor() as cur:
        cur.execute("SET SESSION " + ", ".join(f"{name} = %s" for name in values), tuple(values.values()))


@contextmanager
def session_settings(conn: CMySQLConnection, wanted: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Set session variables for the block and restore the values read before it, also when the block fails.

    A connection that is gone (killed, or closed because a stream was abandoned) has no session left to restore.
    """
    saved = read_session(conn, list(wanted))
    _set_session(conn, wanted)
    try:
        yield saved
    finally:
        if not conn.is_closed():
            try:
                _set_session(conn, saved)
            except DRIVER_ERRORS as exc:
                log.debug("mysql: session settings not restored (the connection is unusable): %s", exc)


class MySQLSource:
    """MySQL/MariaDB as a rivet Source."""

    engine = "mysql"

    def __init__(self, url: str, tuning: Tuning, tls: TlsConfig | None = None) -> None:
        self.url = url
        self.tuning = tuning
        self.args = connect_args(url, tls)

    def error(self, exc: BaseException) -> SourceError:
        """A driver error as one redacted line (`mysql: <message> (error <errno>)`), classified transient or not."""
        text = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        errno = getattr(exc, "errno", None)
        line = str(text).strip().splitlines()[0] + (f" (error {errno})" if errno and errno > 0 else "")
        return SourceError(f"mysql: {redact(line, [self.url, self.args['password']])}", transient=errno in _TRANSIENT)

    def connect(self) -> CMySQLConnection:
        """A connection through the C extension (the only path rivet streams with)."""
        try:
            conn = mysql.connector.connect(**self.args)
        except DRIVER_ERRORS as exc:
            raise self.error(exc) from None
        assert isinstance(conn, CMySQLConnection)
        return conn

    @contextmanager
    def snapshot(self, zero_dates: ZeroDates | None = None) -> Iterator[MySQLSnapshot]:
        """Open a read-only consistent snapshot; rolled back, session settings restored and closed on exit."""
        conn = self.connect()
        try:
            mariadb = "mariadb" in (conn.server_info or "").lower()
            with session_settings(conn, session_variables(self.tuning, mariadb)):
                with conn.cursor() as cur:
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # the next transaction only
                    cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                snap = MySQLSnapshot(self, conn, zero_dates)
                try:
                    yield snap
                finally:
                    snap.finish()
        except DRIVER_ERRORS as exc:
            raise self.error(exc) from None
        finally:
            try:
                conn.close()
            except DRIVER_ERRORS as exc:
                log.debug("mysql: close failed: %s", exc)

    def pooler_warning(self) -> str | None:
        """A warning when ProxySQL/MaxScale or another multiplexing proxy sits in front of the server (design §9)."""
        # A marker in the version strings, or CONNECTION_ID() changing between two statements of one connection.
        conn = self.connect()
        try:
            with conn.cursor(buffered=True) as cur:
                cur.execute("SELECT CONCAT(@@version, ' ', @@version_comment), CONNECTION_ID()")
                comment, first = cur.fetchone() or ("", None)
                cur.execute("SELECT CONNECTION_ID()")
                second = (cur.fetchone() or (None,))[0]
        except DRIVER_ERRORS as exc:
            raise self.error(exc) from None
        finally:
            conn.close()
        kind = next((k for k in ("ProxySQL", "MaxScale") if k.lower() in _text(comment).lower()), None)
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
        conn = self.connect()
        try:
            with conn.cursor(buffered=True) as cur:
                cur.execute(
                    "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA ="
                    " COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY'"
                    " ORDER BY ORDINAL_POSITION",
                    table,
                )
                return [_text(r[0]) for r in cur.fetchall()]
        except DRIVER_ERRORS as exc:
            raise self.error(exc) from None
        finally:
            conn.close()


def _text(value: Any) -> str:
    """information_schema text (MySQL 8 returns some of it as bytes)."""
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)


class ZeroDates:
    """Zero dates written as NULL, per column, shared by an export's snapshot and its workers; warned once."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, column: str, n: int) -> None:
        with self._lock:
            self.counts[column] += n

    def warn(self) -> None:
        total = self.counts.total()
        if total:
            columns = ", ".join(f"{name} ({n})" for name, n in sorted(self.counts.items()))
            plural = "s" if total > 1 else ""
            log.warning("mysql: %d zero date%s (e.g. '0000-00-00') written as NULL: %s", total, plural, columns)


class MySQLSnapshot:
    """One connection holding a consistent snapshot; every statement of its reader runs on it."""

    quote = staticmethod(quote_ident)

    def __init__(self, source: MySQLSource, conn: CMySQLConnection, zero_dates: ZeroDates | None = None) -> None:
        self.source = source
        self.conn = conn
        self.owner = zero_dates is None
        self.zero_dates = zero_dates if zero_dates is not None else ZeroDates()
        self._lock = threading.Lock()

    @property
    def connection_id(self) -> int:
        """The server's id of this snapshot's connection (`KILL <id>`)."""
        return int(self.conn.connection_id or 0)

    @contextmanager
    def worker(self) -> Iterator[MySQLSnapshot]:
        """Another reader on its own connection and its own consistent snapshot (parallel chunks)."""
        # MySQL cannot hand a snapshot to another connection: workers' snapshots are milliseconds apart, each
        # chunk (a disjoint key range) is read consistently.
        with self.source.snapshot(self.zero_dates) as other:
            yield other

    def finish(self) -> None:
        """End the transaction (if the connection still lives); the export's snapshot reports zero dates."""
        if self.owner:
            self.zero_dates.warn()
        if not self.conn.is_closed():
            try:
                self.conn.rollback()
            except DRIVER_ERRORS as exc:
                log.debug("mysql: rollback failed: %s", exc)

    def placeholder(self, slc: Slice) -> sql.Placeholder:
        """`%s`: mysql-connector binds (escapes) the values client-side, whatever the key's type."""
        return _placeholder

    @contextmanager
    def _statement(self) -> Iterator[Any]:
        """A buffered cursor under the snapshot's lock; driver errors become one SourceError line."""
        with self._lock:
            try:
                with self.conn.cursor(buffered=True) as cur:
                    yield cur
            except DRIVER_ERRORS as exc:
                raise self.source.error(exc) from None

    def fetch_one(self, statement: str, slc: Slice, params: list[Any]) -> tuple[Any, ...]:
        with self._statement() as cur:
            cur.execute(statement, params)
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
        return {_text(r[0]).lower(): (_text(r[1]), None if r[2] is None else int(r[2])) for r in rows}

    def plan(self, query: Query, overrides: dict[str, pa.DataType], path: str) -> list[ColumnPlan]:
        """Describe the base query (LIMIT 0; declared types from information_schema for tables) and map it."""
        statement = f"SELECT * FROM ({sql.base_sql(query, quote_ident)}) AS {sql.ALIAS} LIMIT 0"
        with self._lock:
            try:
                self.conn.cmd_query(statement)
                fields = self.conn._cmysql.fetch_fields()  # the C API's MYSQL_FIELDs (decimals, charset)
                self.conn.free_result()
            except DRIVER_ERRORS as exc:
                raise self.source.error(exc) from None
        declared = self._declared(query.table) if query.table else {}
        plans = []
        for field in fields:
            name = _text(field[4])
            column_type, precision = declared.get(name.lower(), (None, None))
            described = MySQLDescribed(name, field[8], field[9], field[10], field[6], column_type, precision)
            plans.append(mysql_plan(described, f"{sql.ALIAS}.{quote_ident(name)}", overrides.get(name)))
        return plans

    def stream(self, query: Query, slc: Slice, plans: list[ColumnPlan], batch_size: int) -> Iterator[pa.RecordBatch]:
        """Batches of at most `batch_size` rows from one unbuffered SELECT, typed as `plans`."""
        exprs = [f"{p.expr} AS {quote_ident(p.name)}" for p in plans]
        statement, params = sql.select(query, slc, exprs, quote_ident, _placeholder)
        statement = _without_statement_timeout(statement, self.conn)
        decode = BatchDecoder(plans, self.zero_dates)
        throttle = self.source.tuning.throttle_ms / 1000
        finished = False
        with self._lock:
            try:
                cur = self.conn.cursor(raw=True)
                cur.execute(statement, params)  # unbuffered: the rows stay on the wire until fetched
                rows_of = iter(self.conn._cmysql.fetch_row, None)  # C loop: no Python frame per row
                while pieces := list(_pieces(rows_of, batch_size, decode.rows)):
                    yield decode(pieces)
                    if throttle:
                        time.sleep(throttle)
                self.conn.free_result()
                cur.close()
                finished = True
            except DRIVER_ERRORS as exc:
                raise self.source.error(exc) from None
            finally:
                if not finished and not self.conn.is_closed():
                    # Skipping the rest of an unbuffered result means reading it all; end the session instead.
                    self.conn._cmysql.close()


def _without_statement_timeout(statement: str, conn: CMySQLConnection) -> str:
    """The data SELECT runs as long as the stream lasts (throttling makes it long on purpose): only planning
    statements are bounded by statement_timeout_s (README: Tuning)."""
    if "mariadb" in (conn.server_info or "").lower():
        return "SET STATEMENT max_statement_time = 0 FOR " + statement
    return statement.replace("SELECT", "SELECT /*+ MAX_EXECUTION_TIME(0) */", 1)


def _pieces(
    rows_of: Iterator[tuple[Any, ...]], batch_size: int, convert: Callable[[list[Any]], pa.StructArray]
) -> Iterator[pa.StructArray]:
    """The next `batch_size` rows, converted to Arrow every `_PIECE_ROWS`: Python row objects stay few."""
    left = batch_size
    while left > 0 and (rows := list(islice(rows_of, min(left, _PIECE_ROWS)))):
        left -= len(rows)
        yield convert(rows)


class BatchDecoder:
    """Raw text-protocol rows → one typed Arrow batch: one struct conversion, then a vectorised cast per column."""

    def __init__(self, plans: list[ColumnPlan], zero_dates: ZeroDates) -> None:
        self.plans = plans
        self.schema = target_schema(plans)
        self.zero_dates = zero_dates
        # Raw bytes throughout: converting to binary is ~40% cheaper than to string, and the vectorised
        # binary → string cast validates UTF-8 in one pass.
        self.row_type = pa.struct([(f"c{i}", pa.binary()) for i in range(len(plans))])

    def rows(self, rows: list[tuple[bytes | None, ...]]) -> pa.StructArray:
        """Python rows → one struct array of their raw values (the only step that touches Python objects)."""
        return pa.array(rows, self.row_type)

    def __call__(self, pieces: list[pa.StructArray]) -> pa.RecordBatch:
        raw = pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces)
        arrays = [self.column(plan, col) for plan, col in zip(self.plans, raw.flatten(), strict=True)]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def column(self, plan: ColumnPlan, raw: pa.Array) -> pa.Array:
        """One column's text values as `plan.arrow_type`; a value that does not fit names the column."""
        target = plan.arrow_type
        try:
            if pa.types.is_binary(target):
                return raw
            raw = raw.cast(pa.string())
            if pa.types.is_string(target):
                return raw
            if pa.types.is_boolean(target):
                return pc.not_equal(pc.cast(raw, pa.int64()), 0)
            if pa.types.is_date(target) or pa.types.is_timestamp(target):
                return self.dates(plan.name, raw, target)
            if pa.types.is_duration(target) or pa.types.is_time(target):
                return time_values(raw, target)
            return pc.cast(raw, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            wider = f"decimal(65,{target.scale})" if pa.types.is_decimal(target) else "string"
            raise SourceError(
                f"mysql: column {plan.name!r} ({plan.source_type}) cannot be written as {target}: {exc}; "
                f"set its type under `columns:` (e.g. `{plan.name}: {wider}`)"
            ) from None

    def dates(self, name: str, raw: pa.Array, target: pa.DataType) -> pa.Array:
        """Dates/datetimes; zero dates become NULL and are counted (the fast cast is tried first)."""
        naive = pa.timestamp(target.unit) if pa.types.is_timestamp(target) else target
        try:
            out = pc.cast(raw, naive)
        except pa.ArrowInvalid:
            zero = pc.match_substring_regex(raw, _ZERO_DATE)
            self.zero_dates.add(name, pc.sum(zero).as_py() or 0)
            out = pc.cast(pc.if_else(zero, pa.scalar(None, raw.type), raw), naive)
        return out if naive == target else out.cast(target)


def time_values(raw: pa.Array, target: pa.DataType) -> pa.Array:
    """MySQL TIME text (`-838:59:59.000000` … `838:59:59.999999`) as duration[us] (or time64 when it fits)."""
    parts = pc.extract_regex(raw, _TIME)
    if parts.null_count != raw.null_count:
        raise pa.ArrowInvalid("a value is not a MySQL TIME")

    def number(name: str, width: int = 0) -> pa.Array:
        text = pc.struct_field(parts, name)
        return pc.cast(pc.utf8_rpad(text, width, "0") if width else text, pa.int64())

    seconds = pc.add(pc.add(pc.multiply(number("h"), 3600), pc.multiply(number("m"), 60)), number("s"))
    micros = pc.add(pc.multiply(seconds, 1_000_000), number("f", 6))
    micros = pc.if_else(pc.equal(pc.struct_field(parts, "sign"), "-"), pc.negate(micros), micros)
    if pa.types.is_time(target) and not pc.all(pc.and_(pc.greater_equal(micros, 0), pc.less(micros, _DAY_US))).as_py():
        raise pa.ArrowInvalid("a TIME value is negative or 24 h or more; time64 holds a time of day only")
    return pc.cast(micros, target)
