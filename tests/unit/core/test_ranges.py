"""Chunk range math: every plan ends at the planned maximum (rows added past it after planning are not read)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rivet_core.planning.ranges import aligned_ranges, day_ranges


def no_gaps(after: Any) -> Any:
    """A seek over a key with every value present: the next key is the one after."""
    if isinstance(after, dt.datetime):
        return after + dt.timedelta(microseconds=1)
    return after + (dt.timedelta(days=1) if isinstance(after, dt.date) else 1)


def test_aligned_ranges_stay_aligned_and_the_last_ends_at_the_maximum() -> None:
    assert aligned_ranges(1, 250, 100, no_gaps) == [(0, 99), (100, 199), (200, 250)]
    assert aligned_ranges(1, 299, 100, no_gaps) == [(0, 99), (100, 199), (200, 299)]
    assert aligned_ranges(7, 7, 100, no_gaps) == [(0, 7)]


def test_day_ranges_are_half_open_except_the_last_which_ends_at_the_maximum() -> None:
    lo, hi = dt.datetime(2026, 1, 1, 3, tzinfo=dt.UTC), dt.datetime(2026, 1, 2, 5, tzinfo=dt.UTC)
    midnight = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert day_ranges(lo, hi, 1, no_gaps) == [(midnight, midnight + dt.timedelta(days=1), False),
                                              (midnight + dt.timedelta(days=1), hi, True)]  # fmt: skip
    assert day_ranges(dt.date(2026, 1, 1), dt.date(2026, 1, 9), 7, no_gaps) == [
        (dt.date(2026, 1, 1), dt.date(2026, 1, 8), False),
        (dt.date(2026, 1, 8), dt.date(2026, 1, 9), True),
    ]
