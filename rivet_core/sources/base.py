"""The Source and Snapshot base classes: a read-only snapshot of one database that streams Arrow batches of a slice.

An engine is a package under `rivet_core/sources/<type>/` whose Source subclass registers itself with
`rivet_core.sources.registry.register`; everything the rest of rivet reaches is declared here.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from rivet_core.errors import SourceError
from rivet_core.redact import redact
from rivet_core.slices import Slice
from rivet_core.sources.limits import Limits
from rivet_core.sources.sockets import shut_down
from rivet_core.sources.types import ColumnPlan

if TYPE_CHECKING:
    from rivet_core.config import TlsConfig, Tuning
    from rivet_core.config.sqltext import SqlText
    from rivet_core.sources.batching import BatchSizing
    from rivet_core.sources.catalog import Catalog
    from rivet_core.sources.sql import Placeholder


Watch = Callable[[], AbstractContextManager[None]]
"""Times one statement's wait on the server (the pipeline's stall watchdog sets it on a snapshot)."""


@dataclass(frozen=True)
class OpenTransaction:
    """Another session's open transaction, which could still commit rows (the late-commit fence waits for it)."""

    ident: str  # the same transaction while it lives (a pid or thread with its start / trx id)
    since: str  # when it started, as the server says
    who: str  # `pid 123 (idle in transaction)`, for the message naming it


@dataclass(frozen=True)
class Query:
    """The base query of an export: a table, or user SQL with its `${VAR}` values apart; wrapped, never spliced."""

    table: tuple[str | None, str] | None = None
    sql: SqlText | None = None


class Source(ABC):
    """A database engine: opens read-only connections and snapshots, and translates its driver's errors."""

    engine: ClassVar[str]
    settle_s: ClassVar[float] = 0.0  # the late-commit fence's pause between its MAX and the open transactions
    poll_s: ClassVar[float] = 0.05  # how often the fence looks again at the transactions it waits for
    port: int
    """The server's TCP port (0: unknown, e.g. several hosts), by which `sources.sockets` finds the sockets."""

    def __init__(self, url: str, tuning: Tuning, tls: TlsConfig | None = None) -> None:
        self.url = url
        self.tuning = tuning
        self.tls = tls
        self.limits = Limits.of(tuning)

    @abstractmethod
    def connect(self) -> Any:
        """A DB-API connection whose session is read-only, with statement, lock and connect timeouts."""

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[Snapshot]:
        """A read-only transaction with the export's timeouts; released (and rolled back) on exit."""

    @abstractmethod
    def primary_key(self, table: tuple[str | None, str]) -> list[str]:
        """The primary key columns of a table, in key order (for chunk column auto-detection)."""

    @abstractmethod
    def average_row_bytes(self, table: tuple[str | None, str]) -> float | None:
        """The table's average row size from the server's statistics (`chunk_size_memory_mb`); None without."""

    @abstractmethod
    def pooler_warning(self) -> str | None:
        """A warning when a transaction pooler or multiplexing proxy sits in front of the server, else None."""

    @abstractmethod
    def write_pressure(self) -> int | None:
        """The server's cumulative write-pressure counter (`tuning.adaptive`), on a short connection; None if
        it cannot be read."""

    @abstractmethod
    def catalog(self) -> Catalog:
        """The catalog questions of preflight, on a new connection of its own."""

    @abstractmethod
    def high_key(self, query: Query, slc: Slice) -> Any:
        """`MAX` of the slice's key over the base query, as committed now (the late-commit fence's bound)."""

    @abstractmethod
    def open_transactions(self, conn: Any) -> list[OpenTransaction]:
        """Other sessions' open transactions that could still write (rivet's read-only ones left out), on `conn`."""

    def hidden_sessions(self, conn: Any) -> str | None:
        """A warning when this role cannot see other sessions' transactions (the fence cannot wait for them)."""
        return None

    @abstractmethod
    def is_transient(self, exc: BaseException) -> bool:
        """Whether a driver error is worth a retry on a new connection; auth, syntax, missing objects are not."""

    def secrets(self) -> list[str]:
        """Literal texts that must never reach a message (the URL; engines add the password they parsed)."""
        return [self.url]

    def message(self, exc: BaseException) -> str:
        """The first line of a driver error (engines add their error number)."""
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__

    def error(self, exc: BaseException, *, transient: bool = False) -> SourceError:
        """A driver error as one redacted line `<engine>: <message>`, classified transient or permanent."""
        line = redact(self.message(exc), self.secrets())
        return SourceError(f"{self.engine}: {line}", transient=transient or self.is_transient(exc))


class Snapshot(ABC):
    """One consistent read-only view of the database; everything an export reads goes through it.

    Small statements (counts, bounds, key seeks) are built by `sources.sql` with the snapshot's own identifier
    quoting and placeholders, and run by `fetch_one`; only `stream` is engine specific beyond that.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self._lock = threading.Lock()  # one statement at a time on this snapshot's connection
        self._cancelled = threading.Event()
        self.watch: Watch = nullcontext  # each planning statement runs inside `with self.watch():`

    @staticmethod
    @abstractmethod
    def quote(name: str) -> str:
        """An identifier quoted for this engine."""

    @abstractmethod
    def placeholder(self, slc: Slice) -> Placeholder:
        """The parameter marker for bound values of a slice's key, as a function of the parameter number."""

    @abstractmethod
    def literal(self, value: str) -> str:
        """A `${VAR}` value of the user's SQL as a string literal, quoted by the driver for this connection."""

    @abstractmethod
    def fetch_one(self, statement: str, slc: Slice, params: list[Any]) -> tuple[Any, ...]:
        """Run a one-row statement in this snapshot with the slice's bound parameters."""

    @abstractmethod
    def plan(self, query: Query, overrides: dict[str, pa.DataType], path: str) -> list[ColumnPlan]:
        """How each column is read and typed; raises ConfigError (naming `path`) on unmappable types."""

    @abstractmethod
    def stream(
        self, query: Query, slc: Slice, plans: list[ColumnPlan], sizing: BatchSizing
    ) -> Iterator[pa.RecordBatch]:
        """The rows of the slice as Arrow batches of `sizing.rows` rows (read before each), typed as `plans`;
        each batch is shown to `sizing.observe` before it is yielded."""

    @abstractmethod
    def worker(self) -> AbstractContextManager[Snapshot]:
        """Another reader of the same snapshot on its own connection (parallel chunks)."""

    @abstractmethod
    def close(self) -> None:
        """Release this reader's connection(s); the snapshot ends with its Source's context manager."""

    def cancel(self) -> None:
        """Cancel the running statement from another thread (stall watchdog); the stream ends in a SourceError.

        The error it ends with is transient: a new connection and snapshot may well succeed.
        """
        self._cancelled.set()
        self._cancel_statement()

    @abstractmethod
    def _cancel_statement(self) -> None:
        """Ask the server to stop this snapshot's running statement (never blocks on the busy connection)."""

    def abort(self) -> int:
        """Shut this reader's sockets down from another thread (stall watchdog): a read blocked on a silent
        network fails at once, and the connection is closed by the thread that owns it; how many were found."""
        return shut_down(self.sockets())

    @abstractmethod
    def sockets(self) -> set[int]:
        """Inodes of the TCP sockets this reader's statements wait on (`sources.sockets`; empty when unknown)."""

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def error(self, exc: BaseException) -> SourceError:
        """A driver error of this snapshot; after `cancel()` it says so and is transient."""
        if self.cancelled:
            line = redact(self.source.message(exc), self.source.secrets())
            return SourceError(f"{self.source.engine}: statement cancelled ({line})", transient=True)
        return self.source.error(exc)

    def key_columns(self, query: Query, slc: Slice) -> list[str]:
        """The columns that identify a row in an error message: the slice's key, else the table's primary key."""
        if slc.column:
            return [slc.column]
        if query.table is None:
            return []
        try:
            return self.source.primary_key(query.table)
        except SourceError:  # only a message depends on it
            return []

    def check_cancelled(self) -> None:
        """Raise when `cancel()` was called: a stream that ended after a cancel is incomplete."""
        if self.cancelled:
            raise SourceError(f"{self.source.engine}: statement cancelled", transient=True)
