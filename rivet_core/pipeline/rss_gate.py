"""`tuning.memory_threshold_mb` before each chunk (where rivet-cli 0.7.7 checks it): over the threshold, a chunk
waits, polling every `POLL_S`, while another chunk is in flight and may free memory; with none in flight waiting
cannot help, so it goes on. The first time it is over, the run warns once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

POLL_S = 2.0


class RssGate:
    """Admits chunks one at a time past the RSS threshold (0 = off); `with gate.chunk(key): …`."""

    def __init__(self, threshold_mb: int, rss: Callable[[], int], warn: Callable[[str], None]) -> None:
        self.threshold, self.rss, self.warn = threshold_mb << 20, rss, warn
        self.in_flight = 0
        self.warned = False
        self._cond = threading.Condition()

    def _over(self, key: str) -> bool:
        rss = self.rss()
        if rss <= self.threshold:
            return False
        if not self.warned:
            self.warned = True
            self.warn(
                f"RSS {rss / 2**20:.0f} MiB is over tuning.memory_threshold_mb ({self.threshold >> 20} MiB) before "
                f"chunk {key}: chunks start one at a time while it is"
            )
        return True

    @contextmanager
    def chunk(self, key: str) -> Iterator[None]:
        """Hold the chunk back while RSS is over the threshold and another chunk runs; then count it in flight."""
        with self._cond:
            while self.threshold and self.in_flight and self._over(key):
                self._cond.wait(POLL_S)  # woken early when a chunk ends
            if self.threshold and not self.in_flight:
                self._over(key)  # alone: only the warning
            self.in_flight += 1
        try:
            yield
        finally:
            with self._cond:
                self.in_flight -= 1
                self._cond.notify_all()
