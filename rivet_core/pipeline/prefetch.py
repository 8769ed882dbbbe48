"""Prefetch: the source is read in a thread, a few batches ahead of the writer, so fetch and encode overlap.

Every wait is bounded or cancellable: the producer never blocks on a full queue after the consumer stopped, the
consumer never waits on a dead producer, and the join is bounded (docs/architecture.md).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import nullcontext
from types import TracebackType
from typing import TYPE_CHECKING, Any

import psutil
import pyarrow as pa

if TYPE_CHECKING:
    from rivet_core.pipeline.stall import StreamWatch

log = logging.getLogger("rivet")

POLL_S = 0.1  # how often a blocked put/get looks at the other side
JOIN_TIMEOUT_S = 10.0  # how long the consumer waits for the producer to stop (a fetch in flight) on the way out


class Meter:
    """Peak RSS of this process, sampled per batch."""

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss

    def sample(self) -> int:
        rss = self._proc.memory_info().rss
        self.peak = max(self.peak, rss)
        return rss


_DONE = object()


class Prefetch:
    """`with Prefetch(batches, depth, memory_mb, meter) as it: for batch in it: …`; stops the thread on exit.

    The producer runs `depth` batches ahead, pauses fetching while RSS > `memory_mb` (0: no guard) and for
    `throttle_s` after each batch (`throttle_ms`); `watch` times each fetch from the source, and only that (stall).
    """

    def __init__(
        self,
        batches: Iterator[pa.RecordBatch],
        depth: int,
        memory_mb: int,
        meter: Meter,
        throttle_s: float = 0,
        watch: StreamWatch | None = None,
    ) -> None:
        self._batches, self._memory, self._meter = batches, memory_mb << 20, meter
        self._throttle, self._watch = throttle_s, watch
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="rivet-fetch", daemon=True)

    def _put(self, item: Any) -> bool:
        """Hand `item` to the consumer unless it stopped; False once it has."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            while True:
                with self._watch.waiting() if self._watch else nullcontext():
                    batch = next(self._batches, _DONE)
                if batch is _DONE:
                    break
                while self._memory and self._meter.sample() > self._memory and not self._queue.empty():
                    if self._stop.wait(0.05):
                        return
                if not self._put(batch) or (self._throttle and self._stop.wait(self._throttle)):
                    return
            self._put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)
        finally:
            close = getattr(self._batches, "close", None)
            if close:
                close()

    def __enter__(self) -> Iterator[pa.RecordBatch]:
        self._thread.start()
        return self._consume()

    def _consume(self) -> Iterator[pa.RecordBatch]:
        while True:
            try:
                item = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                if self._watch:
                    self._watch.check()  # the source stalled: do not wait for its thread
                if not self._thread.is_alive() and self._queue.empty():
                    raise RuntimeError("the prefetch thread ended without a result") from None
                continue
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(JOIN_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("the fetch thread did not stop within %.0fs; left to end with its connection", JOIN_TIMEOUT_S)
