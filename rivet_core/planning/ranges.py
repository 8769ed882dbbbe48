"""Chunk range math: aligned, counted, dense and day ranges over a key's [lo, hi], and the chunk key.

Seeks (`seek(after)` → next existing key) make empty ranges free; see docs/slices-and-partitions.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from rivet_core.slices import plain_value

DEFAULT_CHUNK_SIZE = 100_000  # rows per chunk (aligned key width, or rows for chunk_dense) when chunk_size is unset
SPARSE_FACTOR = 10  # a key is sparse when its span holds this many times more aligned ranges than rows do

Seek = Callable[[Any], Any]
KeyAt = Callable[[Any, int], Any]


def chunk_key(lo: Any) -> str:
    """A stable, sortable key for the chunk starting at `lo` (zero-padded integers; Dagster partition keys)."""
    if isinstance(lo, int):
        return f"{lo:020d}" if lo >= 0 else f"-{-lo:019d}"
    return str(plain_value(lo)).replace(":", "").replace("+0000", "")


def aligned_ranges(lo: int, hi: int, size: int, seek: Seek) -> list[tuple[int, int]]:
    """Inclusive ranges of width `size`, aligned to multiples of it, covering [lo, hi]; the last one ends at `hi`
    (the planned maximum), so rows added past it after planning are not read by this plan.

    Empty ranges cost nothing: after each range `seek(after)` returns the next existing key (an index seek),
    so a sparse span (ids 1..1000 and 10^9..) plans as many ranges as it has non-empty ones.
    """
    ranges: list[tuple[int, int]] = []
    start: int | None = lo
    while start is not None and start <= hi:
        first = start - start % size
        last = first + size - 1
        ranges.append((first, min(last, hi)))
        start = seek(last) if last < hi else None
    return ranges


def is_sparse(lo: int, hi: int, size: int, ranges: int) -> bool:
    """Whether most aligned ranges of [lo, hi] hold no row (logged: chunk_dense may fit better)."""
    return (hi - lo) // size + 1 > SPARSE_FACTOR * ranges


def counted_ranges(lo: int, hi: int, count: int) -> list[tuple[int, int]]:
    """`count` inclusive ranges of equal width over [lo, hi] (chunk_count)."""
    width = max(1, -(-(hi - lo + 1) // count))
    return [(start, min(start + width - 1, hi)) for start in range(lo, hi + 1, width)]


def dense_ranges(lo: Any, hi: Any, size: int, key_at: KeyAt, seek: Seek) -> list[tuple[Any, Any]]:
    """Inclusive ranges of about `size` rows each (chunk_dense): each end found `size - 1` keys ahead."""
    ranges: list[tuple[Any, Any]] = []
    start = lo
    while start is not None:
        last = key_at(start, size - 1)
        ranges.append((start, hi if last is None else last))
        start = None if last is None or last >= hi else seek(last)
    return ranges


def day_ranges(lo: Any, hi: Any, days: int, seek: Seek) -> list[tuple[Any, Any, bool]]:
    """Ranges of `days` days from midnight (chunk_by_days on a date/timestamp column), empties skipped, as
    (start, end, end inclusive): half-open, except the last, which ends at `hi` inclusive (the planned maximum)."""
    step = dt.timedelta(days=days)
    tick = dt.timedelta(microseconds=1) if isinstance(lo, dt.datetime) else dt.timedelta(days=1)
    ranges: list[tuple[Any, Any, bool]] = []
    start = lo
    while start is not None and start <= hi:
        first = start.replace(hour=0, minute=0, second=0, microsecond=0) if isinstance(start, dt.datetime) else start
        end = first + step
        ranges.append((first, end, False) if end <= hi else (first, hi, True))
        start = seek(end - tick) if end <= hi else None
    return ranges
