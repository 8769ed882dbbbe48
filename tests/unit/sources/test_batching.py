"""BatchSizing and MemoryCap without a server: memory aim, adaptive shrink/grow bounds, the halving cap."""

from __future__ import annotations

import pyarrow as pa
import pytest

from rivet_core.pipeline.memory_cap import BatchMemoryExceeded, MemoryCap
from rivet_core.sources.batching import BatchSizing


def batch(rows: int, width: int = 100) -> pa.RecordBatch:
    """`rows` rows of one string column of `width` bytes (plus 4 offset bytes each)."""
    return pa.record_batch([pa.array(["x" * width] * rows)], names=["s"])


def test_memory_sizing_is_clamped_to_its_row_bounds() -> None:
    wide = BatchSizing.of(10_000, 1, None)
    wide.observe(batch(1000, 10_000))  # ~10 KB a row: 1 MiB is ~100 rows, raised to 1000
    assert wide.rows == 1000
    narrow = BatchSizing.of(10_000, 1024, None)
    narrow.observe(batch(1000, 1))  # ~5 bytes a row: 1 GiB would be 200 M rows, lowered to 500000
    assert narrow.rows == 500_000


def test_adaptive_shrinks_to_the_floor_then_grows_back_to_the_start_only() -> None:
    counter = iter(range(0, 1000, 1))  # rises on every sample
    sizing = BatchSizing.of(1000, None, lambda: next(counter))
    sizes = []
    for _ in range(60):
        sizes.append(sizing.rows)
        sizing.observe(batch(sizing.rows, 1))
    assert sizes[9:11] == [1000, 750] and min(sizes) == 500  # 1000 → 750 → 562 → 500 (floor)
    flat = 7
    sizing.pressure = lambda: flat  # pressure stops rising: +25 % per sample, up to the start
    for _ in range(200):
        sizing.observe(batch(sizing.rows, 1))
    assert sizing.rows == 1000


def test_an_unreadable_pressure_counter_leaves_the_size_alone() -> None:
    sizing = BatchSizing.of(800, None, lambda: None)
    for _ in range(30):
        sizing.observe(batch(800, 1))
    assert sizing.rows == 800


def test_memory_cap_policies() -> None:
    warnings: list[str] = []
    big = batch(1000, 3000)  # ~2.9 MiB: halves of 1.4 MiB, quarters of 0.7 MiB
    cap = MemoryCap(1 << 20, "auto_shrink", warnings.append)
    assert [p.num_rows for p in cap.fit(big)] == [250, 250, 250, 250] and not warnings
    one = MemoryCap(1 << 10, "auto_shrink", warnings.append)
    assert [p.num_rows for p in one.fit(batch(2, 2000))] == [1, 1]
    assert len(warnings) == 2 and "one row holds" in warnings[0]
    with pytest.raises(BatchMemoryExceeded, match="on_batch_memory_exceeded: fail"):
        list(MemoryCap(1 << 20, "fail", warnings.append).fit(big))
    assert list(MemoryCap(0, "fail", warnings.append).fit(big)) == [big]  # no cap set
