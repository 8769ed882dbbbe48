"""The Planner: an export and a snapshot → the typed slices of a run (docs/slices-and-partitions.md).

One slice for full and incremental exports, one per non-empty chunk range (MIN/MAX plus index seeks) or per
time window. It reads the database only through `sources.sql` statements in the caller's snapshot.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

from rivet_core.config import Config, ExportConfig
from rivet_core.errors import ConfigError
from rivet_core.planning.cursor import cursor_plan
from rivet_core.planning.ranges import (
    DEFAULT_CHUNK_SIZE,
    aligned_ranges,
    chunk_key,
    counted_ranges,
    day_ranges,
    dense_ranges,
    is_sparse,
)
from rivet_core.planning.windows import parse_window, recent_windows, window_slice
from rivet_core.slices import Slice, chunk_slice, full_slice
from rivet_core.sources import sql
from rivet_core.sources.base import Query, Snapshot, Source

log = logging.getLogger("rivet")

UNKNOWN_ROW_BYTES = 512  # chunk_size_memory_mb on a table without statistics
MEMORY_CHUNK_ROWS = (10_000, 5_000_000)


class Planner:
    """Plans one export's slices; `windows` / `chunks` narrow a run to those keys (CLI flags, Dagster partitions)."""

    def __init__(
        self,
        config: Config,
        export: ExportConfig,
        source: Source,
        query: Query,
        *,
        now: dt.datetime | None = None,
        windows: list[str] | None = None,
        chunks: list[str] | None = None,
    ) -> None:
        self.config, self.export, self.source, self.query = config, export, source, query
        self.now = now or dt.datetime.now(dt.UTC)
        self.windows, self.chunks = windows, chunks
        self._chunk_column = export.chunk_column  # or the primary key, looked up once

    def plan(self, snap: Snapshot, cursor: Any = None) -> list[Slice]:
        """The units of this run (incremental: after `cursor`, the stored cursor the caller recovered)."""
        mode = self.export.mode
        if mode == "incremental":
            return [cursor_plan(self.export, cursor)]
        if mode == "chunked":
            return self.selected(self.chunk_plan(snap))
        if mode == "time_window":
            return self.window_plan()
        return [full_slice()]

    def selected(self, slices: list[Slice]) -> list[Slice]:
        """Only the chunks asked for by key, else all."""
        if not self.chunks:
            return slices
        wanted = set(self.chunks)
        return [s for s in slices if chunk_key(s.lo) in wanted]

    def chunk_column(self) -> str:
        """`chunk_column`, or the single-column primary key of a `table:` export (looked up once, warned)."""
        e = self.export
        if self._chunk_column:
            return self._chunk_column
        assert e.source_table is not None
        pk = self.source.primary_key(e.source_table)
        if len(pk) != 1:
            raise ConfigError(
                f"exports[{e.name}].chunk_column: not set and {e.table} has no single-column primary key "
                f"(found: {pk or 'none'}); set chunk_column"
            )
        log.warning("%s: chunk_column not set; using the primary key column %s", e.name, pk[0])
        self._chunk_column = pk[0]
        return pk[0]

    def chunk_plan(self, snap: Snapshot) -> list[Slice]:
        """Chunk ranges from MIN/MAX, empty ranges skipped by key seeks."""
        e, query = self.export, self.query
        column = self.chunk_column()
        lo, hi = sql.bounds(snap, query, column)
        if lo is None:
            return []

        def seek(after: Any) -> Any:
            return sql.bounds(snap, query, column, after)[0]

        size = chunk_size(e, self.source)
        if e.chunk_by_days:
            days = day_ranges(lo, hi, e.chunk_by_days, seek)
            return [chunk_slice(column, i, first, end, inclusive) for i, (first, end, inclusive) in enumerate(days)]
        if e.chunk_dense:
            ranges = dense_ranges(lo, hi, size, lambda start, n: sql.key_at(snap, query, column, start, n), seek)
        elif not isinstance(lo, int):
            raise ConfigError(
                f"exports[{e.name}].chunk_column: {column} is not an integer column; use chunk_by_days for "
                "dates/timestamps or chunk_dense"
            )
        elif e.chunk_count:
            ranges = counted_ranges(lo, hi, e.chunk_count)
        else:
            aligned = aligned_ranges(lo, hi, size, seek)
            if is_sparse(lo, hi, size, len(aligned)):
                span = (hi - lo) // size + 1
                log.info("%s: sparse key %s: %d of %d aligned ranges hold rows", e.name, column, len(aligned), span)
            return [chunk_slice(column, first // size, first, last) for first, last in aligned]
        return [chunk_slice(column, i, first, last) for i, (first, last) in enumerate(ranges)]

    def window_plan(self) -> list[Slice]:
        """The windows asked for (`--window`, Dagster partitions) or the last `days_window` ones."""
        e = self.export
        assert e.time_column
        unit = self.config.dagster_for(e).window or "day"
        if self.windows:
            try:
                starts = [parse_window(w, unit) for w in self.windows]
            except ValueError as exc:
                raise ConfigError(f"--window: {exc}") from None
        else:
            starts = recent_windows(self.now, e.window_count, unit)
        return [window_slice(e.time_column, s, unit, e.time_column_type == "unix") for s in starts]


def chunk_size(export: ExportConfig, source: Source) -> int:
    """`chunk_size`, or the rows of `chunk_size_memory_mb` at the table's average row size (0.7.7's rule)."""
    e = export
    if e.chunk_size_memory_mb is None:
        return e.chunk_size or DEFAULT_CHUNK_SIZE
    assert e.source_table is not None  # the config requires table: with it
    row_bytes = source.average_row_bytes(e.source_table) or UNKNOWN_ROW_BYTES
    low, high = MEMORY_CHUNK_ROWS
    size = min(high, max(low, int((e.chunk_size_memory_mb << 20) / row_bytes)))
    log.info("%s: chunk_size %d (chunk_size_memory_mb %d at %.0f bytes per row)", e.name, size,
             e.chunk_size_memory_mb, row_bytes)  # fmt: skip
    return size


def plan_fingerprint(export: ExportConfig, query_text: str) -> str:
    """What must not change between a checkpointed run and its --resume: query and chunking settings."""
    e = export
    text = json.dumps(
        [query_text, e.chunk_column, e.chunk_size, e.chunk_count, e.chunk_by_days, e.chunk_dense]
        + ([e.chunk_size_memory_mb] if e.chunk_size_memory_mb else []),
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]
