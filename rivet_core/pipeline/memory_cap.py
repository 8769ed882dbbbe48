"""`tuning.max_batch_memory_mb`: a batch's Arrow bytes, checked before it is written, in every mode.

Over the cap, `on_batch_memory_exceeded` decides (rivet-cli 0.7.7): `warn` says so once per unit with a
batch_size that would fit and writes it anyway, `fail` fails the export, `auto_shrink` halves the batch until
each piece fits (a single row over the cap is written with a warning).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from rivet_core.config import Tuning
from rivet_core.config.aliases import BatchMemoryPolicy
from rivet_core.errors import RivetError

KEY = "tuning.max_batch_memory_mb"


class BatchMemoryExceeded(RivetError):
    """A batch over max_batch_memory_mb with on_batch_memory_exceeded: fail."""


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


@dataclass
class MemoryCap:
    """The cap of one unit's batches; `fit` each batch before writing it."""

    cap_bytes: int  # 0 = no cap
    policy: BatchMemoryPolicy
    warn: Callable[[str], None]
    warned: bool = False

    @classmethod
    def of(cls, tuning: Tuning, warn: Callable[[str], None]) -> MemoryCap:
        """The tuning's cap (none when max_batch_memory_mb is unset)."""
        return cls((tuning.max_batch_memory_mb or 0) << 20, tuning.on_batch_memory_exceeded, warn)

    def fit(self, batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        """The batch as it is to be written: whole, or in pieces that fit (auto_shrink); raises on `fail`."""
        if not self.cap_bytes:  # no cap (the default): nothing measured per batch
            yield batch
            return
        size = batch.nbytes
        if size <= self.cap_bytes:
            yield batch
            return
        over = f"a batch of {batch.num_rows} rows holds {_mib(size)} of Arrow data, over {KEY} ({_mib(self.cap_bytes)})"
        if self.policy == "fail":
            raise BatchMemoryExceeded(f"{over} (on_batch_memory_exceeded: fail); lower tuning.batch_size")
        if self.policy == "warn":
            if not self.warned:
                self.warned = True
                fits = max(1, batch.num_rows * self.cap_bytes // size)
                self.warn(f"{over}; written anyway (on_batch_memory_exceeded: warn); a batch_size of {fits} fits")
            yield batch
            return
        yield from self._halves(batch)

    def _halves(self, batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        if batch.nbytes <= self.cap_bytes or batch.num_rows <= 1:
            if batch.nbytes > self.cap_bytes:
                self.warn(f"one row holds {_mib(batch.nbytes)} of Arrow data, over {KEY}; written as it is")
            yield batch
            return
        half = (batch.num_rows + 1) // 2
        yield from self._halves(batch.slice(0, half))
        yield from self._halves(batch.slice(half))
