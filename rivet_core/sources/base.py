"""The Source protocol: a read-only snapshot of one database that streams Arrow batches of a slice."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from rivet_core.slices import Slice
from rivet_core.sources.types import ColumnPlan


@dataclass(frozen=True)
class Query:
    """The base query of an export: a table reference or user SQL, which is wrapped, never spliced."""

    table: tuple[str | None, str] | None = None
    sql: str | None = None


class Snapshot(Protocol):
    """One consistent read-only view of the database; everything an export reads goes through it.

    Small statements (counts, bounds, key seeks) are built by `sources.sql` with the snapshot's own identifier
    quoting and placeholders, and run by `fetch_one`; only `stream` is engine specific beyond that.
    """

    def quote(self, name: str) -> str:
        """An identifier quoted for this engine."""
        ...

    def placeholder(self, slc: Slice) -> Any:
        """The parameter marker for bound values of a slice's key, as a function of the parameter number."""
        ...

    def fetch_one(self, statement: str, slc: Slice, params: list[Any]) -> tuple[Any, ...]:
        """Run a one-row statement in this snapshot with the slice's bound parameters."""
        ...

    def plan(self, query: Query, overrides: dict[str, pa.DataType], path: str) -> list[ColumnPlan]:
        """How each column is read and typed; raises ConfigError (naming `path`) on unmappable types."""
        ...

    def stream(self, query: Query, slc: Slice, plans: list[ColumnPlan], batch_size: int) -> Iterator[pa.RecordBatch]:
        """The rows of the slice as Arrow batches of at most `batch_size` rows, typed as `plans`."""
        ...

    def worker(self) -> AbstractContextManager[Snapshot]:
        """Another reader of the same snapshot on its own connection (parallel chunks)."""
        ...


class Source(Protocol):
    """A database engine: opens snapshots and says what it is."""

    engine: str

    def snapshot(self) -> AbstractContextManager[Snapshot]:
        """A read-only transaction with the export's timeouts; released (and rolled back) on exit."""
        ...

    def primary_key(self, table: tuple[str | None, str]) -> list[str]:
        """The primary key columns of a table (for chunk column auto-detection)."""
        ...

    def pooler_warning(self) -> str | None:
        """A warning when a transaction pooler or proxy sits in front of the database, else None."""
        ...
