"""rivet_core.pipeline.stall + prefetch: only the time spent in the source's iterator is a wait on the source."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyarrow as pa
import pytest

from rivet_core.config import PROFILES, Tuning
from rivet_core.errors import SourceError
from rivet_core.pipeline.prefetch import Meter, Prefetch
from rivet_core.pipeline.stall import StreamWatch, Wait, Watchdog

PAUSE_S = 1.2  # longer than the 1 s stall bound


def watchdog(stall_s: int) -> Watchdog:
    return Watchdog("e", Tuning(profile="fast", **{**PROFILES["fast"], "stall_timeout_s": stall_s}))


def batches(n: int, pause_s: float = 0) -> Iterator[pa.RecordBatch]:
    """`n` one-row batches (made before any clock runs: pyarrow's first use is slow), `pause_s` before each."""
    made = [pa.record_batch({"i": [i]}) for i in range(n)]

    def source() -> Iterator[pa.RecordBatch]:
        for batch in made:
            time.sleep(pause_s)
            yield batch

    return source()


def test_throttle_pauses_and_a_slow_writer_longer_than_the_bound_are_no_stall() -> None:
    dog = watchdog(1)
    aborted: list[str] = []
    watch = StreamWatch(dog, Wait("postgres", "streaming full", 1, lambda: aborted.append("x")))
    started = time.monotonic()
    with dog.running(), Prefetch(batches(3), 1, 0, Meter(), throttle_s=PAUSE_S, watch=watch) as fetched:
        for _ in fetched:
            time.sleep(PAUSE_S)  # the writer (or its destination) holds the batch: the queue stays full
    assert time.monotonic() - started > 3 * PAUSE_S  # the pauses happened
    assert dog.stalled is None and aborted == []


def test_a_source_silent_for_longer_than_the_bound_is_aborted_and_ends_the_stream_with_one_line() -> None:
    dog = watchdog(1)
    aborted: list[float] = []
    watch = StreamWatch(dog, Wait("mysql", "streaming full", 1, lambda: aborted.append(time.monotonic())))
    started = time.monotonic()
    source = batches(2, pause_s=PAUSE_S + 1)
    with pytest.raises(SourceError) as stalled, dog.running(), Prefetch(source, 1, 0, Meter(), watch=watch) as fetched:
        list(fetched)
    assert stalled.value.transient
    assert str(stalled.value).startswith("mysql: stalled: no data from the source for 1s while streaming full")
    assert len(aborted) == 1 and 1 < aborted[0] - started < PAUSE_S + 1


def test_a_watchdog_set_to_zero_is_off() -> None:
    dog = watchdog(0)
    with dog.running(), dog.waiting(Wait("postgres", "streaming full", 0, lambda: None)):
        time.sleep(0.3)
    assert dog.stalled is None
