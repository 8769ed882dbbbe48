"""Many time windows in one pass: one read ordered by the time column over adjacent windows, split as it flows.

Each window stays its own unit (files, manifest, commit, state entry); only the read is shared, so a failure mid-pass
leaves the windows committed before it committed (docs/slices-and-partitions.md, "One pass over many windows").
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from rivet_core import commit
from rivet_core.commit import Manifest
from rivet_core.errors import RivetError
from rivet_core.pipeline.publish import publish
from rivet_core.pipeline.run import Run
from rivet_core.pipeline.unit import Written, read, write_batches
from rivet_core.pipeline.workers import run_slices
from rivet_core.slices import Slice
from rivet_core.sources.base import Snapshot
from rivet_core.sources.types import ColumnPlan

log = logging.getLogger("rivet")


def run_windows(run: Run, snap: Snapshot, slices: list[Slice], plans: list[ColumnPlan]) -> list[Written]:
    """Write every window: each run of adjacent windows in one ordered read, a lone window as its own read."""
    splittable = can_split(run, plans)
    for span in spans(slices):
        if splittable and len(span) > 1:
            write_span(run, snap, span, plans)
        else:
            run_slices(run, snap, span, plans)  # time_window units are published as they are written
    return []


def can_split(run: Run, plans: list[ColumnPlan]) -> bool:
    """Whether rows can be told apart by window in rivet: the time column is read as a time (or unix number).

    `--reconcile` counts each window while its rows flow, which the one connection of a running read cannot
    answer: those runs read window by window.
    """
    e = run.export
    types = {p.name: p.arrow_type for p in plans}
    kind = types.get(e.time_column or "")
    if run.options.reconcile or kind is None:
        return False
    if e.time_column_type == "unix":
        return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))
    return bool(pa.types.is_timestamp(kind) or pa.types.is_date(kind))


def spans(slices: list[Slice]) -> list[list[Slice]]:
    """The windows grouped into runs of adjacent ones (each one's end is the next one's start), in order."""
    groups: list[list[Slice]] = []
    for slc in sorted(slices, key=lambda s: s.lo):
        if groups and groups[-1][-1].hi == slc.lo:
            groups[-1].append(slc)
        else:
            groups.append([slc])
    return groups


def write_span(run: Run, snap: Snapshot, span: list[Slice], plans: list[ColumnPlan]) -> None:
    """One read of [first start, last end) ordered by the time column; each window written and committed in turn."""
    first, last = span[0], span[-1]
    span_key = f"{first.key} … {last.key}"  # names the read in stall messages; never a unit's key
    whole = Slice("window", first.column, lo=first.lo, hi=last.hi, hi_inclusive=False, window=span_key, sort=True)
    log.info("%s: %d windows %s in one ordered read", run.export.name, len(span), span_key)
    earlier: dict[str, list[Manifest]] = {}  # read once: the lease keeps other runs from committing these windows
    for m in commit.manifests(run.dest, run.export.name):
        earlier.setdefault(m.slice.key, []).append(m)
    with read(run, snap, whole, plans) as batches:
        split = WindowSplit(batches, str(first.column), [s.lo for s in span] + [last.hi])
        for number, slc in enumerate(span):
            written = write_batches(run, snap, slc, plans, split.rows(number))
            if written is not None:
                publish(run, written, earlier.get(slc.key, []))


class WindowSplit:
    """The batches of a read ordered by `column`, handed out window by window (`edges`: the starts, then the end)."""

    def __init__(self, batches: Iterator[pa.RecordBatch], column: str, edges: list[Any]) -> None:
        self._batches, self._column = batches, column
        self._edges = edges
        self._numbers: np.ndarray[Any, Any] | None = None  # the edges in the column's units, on the first batch
        self._pending: pa.RecordBatch | None = None
        self._windows: np.ndarray[Any, Any] = np.empty(0, dtype=np.int64)

    def rows(self, window: int) -> Iterator[pa.RecordBatch]:
        """The rows of window number `window` (asked for in order, each up to its end)."""
        while True:
            if self._pending is None:
                batch = next(self._batches, None)
                if batch is None:
                    return
                if batch.num_rows == 0:
                    continue
                self._pending, self._windows = batch, self._window_of(batch)
            if self._windows[0] > window:
                return
            if self._windows[0] < window:
                raise RivetError(f"time column {self._column}: rows arrived out of time order")
            end = int(np.searchsorted(self._windows, window, side="right"))
            yield self._pending.slice(0, end)
            if end == self._pending.num_rows:
                self._pending = None
            else:
                self._pending, self._windows = self._pending.slice(end), self._windows[end:]

    def _window_of(self, batch: pa.RecordBatch) -> np.ndarray[Any, Any]:
        """Each row's window number; the rows must be in time order and inside the span."""
        values = batch.column(self._column)
        if values.null_count:
            raise RivetError(f"time column {self._column}: NULL in a windowed read")
        numbers = comparable(values)
        if self._numbers is None:
            self._numbers = comparable(pa.array(self._edges, edge_type(values.type)))
        index = np.searchsorted(self._numbers, numbers, side="right") - 1
        if index[0] < 0 or index[-1] >= len(self._edges) - 1 or bool(np.any(np.diff(index) < 0)):
            raise RivetError(f"time column {self._column}: rows arrived out of time order or outside their windows")
        return index


def edge_type(column: pa.DataType) -> pa.DataType:
    """The type window edges take to compare with a column: its timestamp unit (naive: edges are UTC), or a number."""
    if pa.types.is_timestamp(column):
        return pa.timestamp(column.unit)
    if pa.types.is_date(column):
        return pa.timestamp("s")
    return pa.float64() if pa.types.is_floating(column) else pa.int64()


def comparable(values: pa.Array) -> np.ndarray[Any, Any]:
    """Time values as numbers in their storage unit (timestamps: from the epoch, UTC when zoned; dates: seconds)."""
    if pa.types.is_date(values.type):
        values = values.cast(pa.timestamp("s"))
    if pa.types.is_timestamp(values.type):
        values = values.cast(pa.int64())
    return values.to_numpy(zero_copy_only=False)
