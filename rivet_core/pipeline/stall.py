"""The stall watchdog: a source that goes silent is cancelled, its connection closed, the attempt retried.

Every wait on the source is timed: each batch of a stream (`StreamWatch`, inside `Prefetch`: only the time spent
in the source's iterator, so `throttle_ms` pauses and a full queue — a slow writer or destination — never count)
and each planning statement (`Snapshot.watch`). A wait longer than its limit is a stall: the watchdog thread asks
the server to cancel the statement (`Snapshot.cancel`, in a thread of its own: the way to the server may be the
silent one), shuts the reader's sockets down (`Snapshot.abort`: the blocked read fails at once and its own thread
closes the connection), and the attempt ends in a transient `SourceError` naming the phase and the limit, which
`engine.with_retries` retries on a new connection and snapshot under `max_retries` (README: Failure behaviour).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from rivet_core.config import Tuning
from rivet_core.errors import SourceError
from rivet_core.slices import Slice
from rivet_core.sources.base import Snapshot

log = logging.getLogger("rivet")

POLL_S = 0.1  # how often the watchdog looks at the running waits
CANCEL_GRACE_S = 1.0  # how long the server-side cancel may take before the sockets are shut down anyway


@dataclass(eq=False)
class Wait:
    """One running wait on a reader's source: since when, in which phase, for how long at most."""

    snap: Snapshot
    phase: str
    limit_s: int
    since: float = field(default_factory=time.monotonic)


class Watchdog:
    """Times the waits of one export's snapshot passes (`running`), on the export's own thread of its own."""

    def __init__(self, export: str, tuning: Tuning) -> None:
        self.export = export
        self.stall_s = tuning.stall_timeout_s
        self.statement_s = tuning.stall_timeout_s + tuning.statement_timeout_s  # the server's own limit first
        self.stalled: Wait | None = None
        self._waits: list[Wait] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()

    @contextmanager
    def running(self) -> Iterator[None]:
        """Watch for the block (one snapshot pass); a stall it saw leaves `stalled` set until the next pass."""
        self.stalled, self._waits = None, []
        if not self.stall_s:
            yield
            return
        self._stop.clear()
        thread = threading.Thread(target=self._watch, name="rivet-stall-watchdog", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(CANCEL_GRACE_S + 1)

    def attach(self, snap: Snapshot) -> None:
        """Time each planning statement of `snap` (describe, counts, bounds, key seeks, reconcile)."""
        if self.stall_s:
            snap.watch = lambda: self.waiting(Wait(snap, "a planning statement", self.statement_s))

    def stream(self, snap: Snapshot, slc: Slice) -> StreamWatch:
        """The clock of one slice's stream on `snap`."""
        return StreamWatch(self, snap, f"streaming {slc.key}")

    @contextmanager
    def waiting(self, wait: Wait) -> Iterator[None]:
        """Time the block as `wait` (nothing when the watchdog is off)."""
        if not self.stall_s:
            yield
            return
        with self._lock:
            self._waits.append(wait)
        try:
            yield
        finally:
            with self._lock:
                if wait in self._waits:
                    self._waits.remove(wait)

    def error(self) -> SourceError:
        """The one line a stalled attempt ends with (transient: retried on a new connection and snapshot)."""
        assert self.stalled is not None
        w = self.stalled
        limit = f"stall_timeout_s: {self.stall_s}" + (
            f" + statement_timeout_s: {w.limit_s - self.stall_s}" if w.limit_s != self.stall_s else ""
        )
        return SourceError(
            f"{w.snap.source.engine}: stalled: no data from the source for {w.limit_s}s while {w.phase} ({limit});"
            " the statement was cancelled and the connection closed",
            transient=True,
        )

    def _watch(self) -> None:
        while not self._stop.wait(POLL_S):
            now = time.monotonic()
            with self._lock:
                late = [w for w in self._waits if now - w.since > w.limit_s]
                for w in late:
                    self._waits.remove(w)
                if late and self.stalled is None:
                    self.stalled = late[0]
            for w in late:
                self._trip(w)

    def _trip(self, wait: Wait) -> None:
        """Cancel the statement server-side (bounded by CANCEL_GRACE_S here), then shut the reader's sockets."""
        log.warning("%s: no data from the source for %ss while %s; cancelling", self.export, wait.limit_s, wait.phase)
        cancel = threading.Thread(target=wait.snap.cancel, name="rivet-cancel", daemon=True)
        cancel.start()
        cancel.join(CANCEL_GRACE_S)
        wait.snap.abort()


@dataclass
class StreamWatch:
    """The stall clock of one stream: `waiting()` around each batch fetched; `check()` raises once it stalled."""

    dog: Watchdog
    snap: Snapshot
    phase: str

    def waiting(self) -> AbstractContextManager[None]:
        return self.dog.waiting(Wait(self.snap, self.phase, self.dog.stall_s))

    def check(self) -> None:
        if self.dog.stalled is not None:
            raise self.dog.error()
