"""Time windows: window keys, starts and ends (UTC), the windows a run exports (docs/slices-and-partitions.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rivet_core.slices import Slice

WINDOW_FORMATS = {"hour": "%Y-%m-%d-%H:%M", "day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m-%d"}


def window_start(moment: dt.datetime, unit: str) -> dt.datetime:
    """The start (UTC, naive) of the window containing `moment`; weeks start on Monday."""
    moment = moment.replace(tzinfo=None)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def window_end(start: dt.datetime, unit: str) -> dt.datetime:
    """The exclusive end of the window starting at `start`."""
    if unit == "hour":
        return start + dt.timedelta(hours=1)
    if unit == "week":
        return start + dt.timedelta(days=7)
    if unit == "month":
        return (start + dt.timedelta(days=32)).replace(day=1)
    return start + dt.timedelta(days=1)


def window_slice(column: str, start: dt.datetime, unit: str, unix: bool = False) -> Slice:
    """Rows with start <= column < end (UTC); `unix` binds epoch seconds instead of timestamps."""
    end = window_end(start, unit)
    lo: Any = start
    hi: Any = end
    if unix:
        lo, hi = (int(t.replace(tzinfo=dt.UTC).timestamp()) for t in (start, end))
    key = start.strftime(WINDOW_FORMATS[unit])
    return Slice("window", column, lo=lo, hi=hi, hi_inclusive=False, window=key)


def parse_window(text: str, unit: str) -> dt.datetime:
    """A window key (`2026-11-01`, or `2026-11-01-13:00` for hours) as the window's start."""
    try:
        moment = dt.datetime.strptime(text, WINDOW_FORMATS[unit])
    except ValueError:
        example = dt.datetime(2026, 11, 1).strftime(WINDOW_FORMATS[unit])
        raise ValueError(f"expected a {unit} window like {example}") from None
    return window_start(moment, unit)


def recent_windows(now: dt.datetime, count: int, unit: str) -> list[dt.datetime]:
    """The windows meeting [now - count units, now]: `count` complete ones before the current, and the current.

    A run just after midnight with days_window: 1 therefore still re-exports yesterday (its late rows).
    """
    current = window_start(now, unit)
    starts = [current]
    for _ in range(count):
        starts.insert(0, window_start(starts[0] - dt.timedelta(seconds=1), unit))
    return starts
