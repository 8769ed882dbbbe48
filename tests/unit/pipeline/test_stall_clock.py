"""rivet_core.pipeline.stall + prefetch: only the time spent in the source's iterator is a wait on the source."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import cast

import pyarrow as pa

from rivet_core.config import PROFILES, Tuning
from rivet_core.pipeline.prefetch import Meter, Prefetch
from rivet_core.pipeline.stall import StreamWatch, Watchdog
from rivet_core.sources.base import Snapshot

PAUSE_S = 1.2  # longer than the 1 s stall bound


def batches(n: int) -> Iterator[pa.RecordBatch]:
    """`n` one-row batches, made before any clock runs (pyarrow's first use is slow)."""
    return iter([pa.record_batch({"i": [i]}) for i in range(n)])


def test_throttle_pauses_and_a_slow_writer_longer_than_the_bound_are_no_stall() -> None:
    dog = Watchdog("e", Tuning(profile="fast", **{**PROFILES["fast"], "stall_timeout_s": 1}))
    # never tripped, so the watchdog never touches the snapshot
    watch = StreamWatch(dog, cast(Snapshot, None), "streaming full")
    started = time.monotonic()
    source = batches(3)
    with dog.running(), Prefetch(source, 1, 0, Meter(), throttle_s=PAUSE_S, watch=watch) as fetched:
        for _ in fetched:
            time.sleep(PAUSE_S)  # the writer (or its destination) holds the batch: the queue stays full
    assert time.monotonic() - started > 3 * PAUSE_S  # the pauses happened
    assert dog.stalled is None


def test_a_watchdog_set_to_zero_is_off() -> None:
    dog = Watchdog("e", Tuning(profile="fast", **{**PROFILES["fast"], "stall_timeout_s": 0}))
    with dog.running():
        assert dog._waits == [] and dog.stalled is None
