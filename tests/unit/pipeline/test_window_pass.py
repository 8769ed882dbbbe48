"""Splitting one ordered read into windows (issue 17 item 5): edges, empty windows, order, every time type."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from rivet_core.errors import RivetError
from rivet_core.pipeline.window_pass import WindowSplit, spans
from rivet_core.planning.windows import window_slice

DAY = dt.timedelta(days=1)
START = dt.datetime(2026, 11, 1)
EDGES = [START + n * DAY for n in range(5)]  # four daily windows


def moments() -> list[dt.datetime]:
    """Rows on both sides of each edge; window 2 (Nov 3) is empty."""
    tick = dt.timedelta(microseconds=1)
    return [START, START + DAY - tick, START + DAY, START + 2 * DAY - tick, START + 3 * DAY, START + 4 * DAY - tick]


def batches(values: list[Any], kind: pa.DataType, size: int) -> Iterator[pa.RecordBatch]:
    ids = list(range(len(values)))
    for at in range(0, len(values), size):
        yield pa.RecordBatch.from_pydict({"id": ids[at : at + size], "ts": pa.array(values[at : at + size], kind)})


def split_ids(split: WindowSplit, windows: int) -> list[list[int]]:
    return [[i for b in split.rows(n) for i in b.column("id").to_pylist()] for n in range(windows)]


@pytest.mark.parametrize("size", [1, 4, 100])
@pytest.mark.parametrize("kind", [pa.timestamp("us", tz="UTC"), pa.timestamp("us"), pa.timestamp("ns")])
def test_rows_go_to_the_window_holding_them_across_batch_and_window_edges(kind: pa.DataType, size: int) -> None:
    values: list[Any] = moments()
    if kind.tz:
        values = [v.replace(tzinfo=dt.UTC) for v in values]
    split = WindowSplit(batches(values, kind, size), "ts", EDGES)
    assert split_ids(split, 4) == [[0, 1], [2, 3], [], [4, 5]]


def test_date_and_unix_columns_split_like_their_database_predicate() -> None:
    dates = [START.date() + n * DAY for n in (0, 0, 1, 3)]
    assert split_ids(WindowSplit(batches(dates, pa.date32(), 3), "ts", EDGES), 4) == [[0, 1], [2], [], [3]]
    unix = [int(m.replace(tzinfo=dt.UTC).timestamp()) for m in EDGES]
    values = [unix[0], unix[1] - 1, unix[1], unix[3], unix[4] - 1]
    assert split_ids(WindowSplit(batches(values, pa.int64(), 2), "ts", unix), 4) == [[0, 1], [2], [], [3, 4]]


@pytest.mark.parametrize("values", [[START + DAY, START], [START - DAY], [START + 4 * DAY]])
def test_rows_out_of_order_or_outside_the_span_fail(values: list[dt.datetime]) -> None:
    split = WindowSplit(batches(values, pa.timestamp("us"), 1), "ts", EDGES)
    with pytest.raises(RivetError, match="time column ts"):
        split_ids(split, 4)


def test_adjacent_windows_make_one_span_and_a_gap_starts_another() -> None:
    starts = [START + n * DAY for n in (5, 0, 1, 2)]
    slices = [window_slice("ts", s, "day") for s in starts]
    assert [[s.key for s in span] for span in spans(slices)] == [
        ["2026-11-01", "2026-11-02", "2026-11-03"],
        ["2026-11-06"],
    ]
