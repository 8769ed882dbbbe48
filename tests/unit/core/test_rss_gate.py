"""RssGate without a server: over the threshold a chunk waits for the one in flight; alone it only warns."""

from __future__ import annotations

import threading
import time

from rivet_core.pipeline.rss_gate import RssGate


def test_over_the_threshold_a_second_chunk_waits_for_the_first() -> None:
    warnings: list[str] = []
    rss = [3 << 20]  # 3 MiB, over a 1 MiB threshold
    gate = RssGate(1, lambda: rss[0], warnings.append)
    order: list[str] = []
    first_in = threading.Event()

    def second() -> None:
        first_in.wait(5)
        with gate.chunk("2"):
            order.append("second starts")

    other = threading.Thread(target=second)
    other.start()
    with gate.chunk("1"):
        first_in.set()
        time.sleep(0.3)  # the second chunk is held back meanwhile
        order.append("first ends")
    other.join(5)
    assert order == ["first ends", "second starts"]
    assert warnings == [
        "RSS 3 MiB is over tuning.memory_threshold_mb (1 MiB) before chunk 1: chunks start one at a time while it is"
    ]


def test_under_the_threshold_or_off_chunks_run_together() -> None:
    for threshold in (0, 1024):
        warnings: list[str] = []
        gate = RssGate(threshold, lambda: 3 << 20, warnings.append)
        with gate.chunk("1"), gate.chunk("2"):  # the second enters while the first is in flight
            assert gate.in_flight == 2
        assert warnings == []
