"""Progress lines: each export's rows, rows/s and elapsed time, logged every few seconds while it streams.

The `rivet` CLI logs them when stderr is not a terminal (CI, files; a terminal gets a live bar instead), and
rivet_dagster into the Dagster run log. `RIVET_PROGRESS_INTERVAL_S` sets the interval (default 5 s).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from rivet_core.errors import ConfigError

log = logging.getLogger("rivet")

DEFAULT_INTERVAL_S = 5.0
INTERVAL_ENV = "RIVET_PROGRESS_INTERVAL_S"


def interval_from_env() -> float:
    """The interval in seconds from `RIVET_PROGRESS_INTERVAL_S` (default 5); a bad value is a config error."""
    text = os.environ.get(INTERVAL_ENV, "").strip()
    if not text:
        return DEFAULT_INTERVAL_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigError(f"{INTERVAL_ENV}: {text!r} is not a number of seconds (>= 0)")
    return value


def progress_text(export: str, rows: int, elapsed_s: float) -> str:
    """`orders: 1,200,000 rows, 240,000 rows/s, 5 s elapsed`."""
    rate = rows / elapsed_s if elapsed_s > 0 else 0.0
    return f"{export}: {rows:,} rows, {rate:,.0f} rows/s, {elapsed_s:.0f} s elapsed"


class ProgressLog:
    """A run's progress callback (export, rows so far, bytes so far) that logs one line per export per interval.

    Elapsed time counts from the callback's creation (the start of the run that uses it) or, for an export first
    seen later, from its first rows.
    """

    def __init__(self, interval_s: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_from_env() if interval_s is None else interval_s
        self._clock = clock
        self._created = clock()
        self._started: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, export: str, rows: int, _bytes: int) -> None:
        now = self._clock()
        with self._lock:
            start = self._started.setdefault(export, self._created if not self._started else now)
            if now - self._last.get(export, start) < self.interval_s:
                return
            self._last[export] = now
        log.info("%s", progress_text(export, rows, now - start))
