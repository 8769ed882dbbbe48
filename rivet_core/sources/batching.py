"""Rows per batch while a slice streams: fixed `batch_size`, sized by memory, and adaptive to write pressure.

A source's fetch loop reads `BatchSizing.rows` before each batch and calls `observe` after it, so the next batch
is re-aimed (rivet-cli 0.7.7, tuning: `batch_size_memory_mb`, `adaptive`):

* memory: the first batch is a `PROBE_ROWS` probe; then rows = target / Arrow bytes per row seen so far, clamped
  to `MEMORY_ROWS`;
* adaptive: every `ADAPTIVE_EVERY` batches the source's write-pressure counter is read; if it rose, batches
  shrink to 75 % (never below `ADAPTIVE_FLOOR` rows), else they grow by 25 % up to the unscaled size.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

log = logging.getLogger("rivet")

PROBE_ROWS = 1000
MEMORY_ROWS = (1000, 500_000)
ADAPTIVE_EVERY = 10
ADAPTIVE_FLOOR = 500
SHRINK, GROW = 0.75, 1.25

Pressure = Callable[[], int | None]  # a cumulative counter of the source's write pressure; None = unreadable


@dataclass
class BatchSizing:
    """How many rows the next batch holds; `observe` each batch as it is produced."""

    base: int  # the unscaled size: batch_size, or the memory aim
    target_bytes: int = 0  # batch_size_memory_mb in bytes; 0 = `base` stays batch_size
    pressure: Pressure | None = None  # set = adaptive
    scale: float = 1.0
    batches: int = 0
    _rows_seen: int = field(default=0, repr=False)
    _bytes_seen: int = field(default=0, repr=False)
    _last_pressure: int | None = field(default=None, repr=False)

    @classmethod
    def of(cls, batch_size: int, memory_mb: int | None, pressure: Pressure | None) -> BatchSizing:
        """Fixed `batch_size`, or a memory target (`memory_mb` MiB) starting with a probe; adaptive with `pressure`."""
        sizing = cls(base=PROBE_ROWS, target_bytes=memory_mb << 20) if memory_mb else cls(base=batch_size)
        if pressure is not None:
            sizing.pressure, sizing._last_pressure = pressure, pressure()
        return sizing

    @property
    def rows(self) -> int:
        """Rows of the next batch."""
        if self.pressure is None:
            return self.base
        return min(self.base, max(ADAPTIVE_FLOOR, int(self.base * self.scale)))

    def observe(self, batch: pa.RecordBatch) -> None:
        """Re-aim after `batch`: at the memory target by the bytes per row so far; every 10th, at the pressure."""
        self.batches += 1
        if self.target_bytes and batch.num_rows:
            self._rows_seen += batch.num_rows
            self._bytes_seen += batch.nbytes
            low, high = MEMORY_ROWS
            self.base = min(high, max(low, self.target_bytes * self._rows_seen // max(1, self._bytes_seen)))
        if self.pressure is not None and self.batches % ADAPTIVE_EVERY == 0:
            self._adapt(self.pressure())

    def _adapt(self, now: int | None) -> None:
        if now is None or self._last_pressure is None:
            self._last_pressure = now
            return
        rose = now > self._last_pressure
        self.scale = max(ADAPTIVE_FLOOR / self.base, self.scale * SHRINK) if rose else min(1.0, self.scale * GROW)
        self._last_pressure = now
        log.debug("adaptive: write pressure %s; next batches %d rows", "rose" if rose else "flat", self.rows)
