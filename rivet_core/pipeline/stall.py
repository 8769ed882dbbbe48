"""The stall watchdog: a source that goes silent is cancelled, its connection closed, the attempt retried.

Every wait on the source is timed: each batch of a stream (`StreamWatch`, inside `Prefetch`: only the time spent
in the source's iterator, so `throttle_ms` pauses and a full queue — a slow writer or destination — never count),
each planning statement (`Snapshot.watch`), and the connection work around them (`connecting`: the pooler probe,
opening the snapshot). A wait longer than its limit is a stall: the watchdog thread asks the server to cancel the
statement (`Snapshot.cancel`, in a thread of its own: the way to the server may be the silent one), shuts the
connection's sockets down (the blocked read fails at once and its own thread closes the connection), and the
attempt ends in a transient `SourceError` naming the phase and the limit, which `engine.with_retries` retries on a
new connection and snapshot under `max_retries` (README: Failure behaviour).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from rivet_core.config import Tuning
from rivet_core.errors import SourceError
from rivet_core.slices import Slice
from rivet_core.sources.base import Snapshot, Source
from rivet_core.sources.limits import CONNECT_TIMEOUT_S
from rivet_core.sources.sockets import Tracked, shut_down

log = logging.getLogger("rivet")

POLL_S = 0.1  # how often the watchdog looks at the running waits
CANCEL_GRACE_S = 1.0  # how long the server-side cancel may take before the sockets are shut down anyway


@dataclass(eq=False)
class Wait:
    """One running wait on the source: in which phase, for how long at most, how to stop it, since when."""

    engine: str
    phase: str
    limit_s: int
    abort: Callable[[], object]  # shuts the connection's sockets down
    cancel: Callable[[], None] | None = None  # asks the server to stop the statement
    since: float = field(default_factory=time.monotonic)


class Watchdog:
    """Times the waits on the source of one export run (`running`), on a thread of its own."""

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
        """Watch for the block (the run's source work)."""
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

    def reset(self) -> None:
        """Forget a stall of an earlier attempt (a new snapshot pass starts)."""
        with self._lock:
            self.stalled = None

    def attach(self, snap: Snapshot) -> None:
        """Time each planning statement of `snap` (describe, counts, bounds, key seeks, reconcile)."""
        if self.stall_s:
            snap.watch = lambda: self.waiting(self._on(snap, "a planning statement", self.statement_s))

    def stream(self, snap: Snapshot, slc: Slice) -> StreamWatch:
        """The clock of one slice's stream on `snap`."""
        return StreamWatch(self, self._on(snap, f"streaming {slc.key}", self.stall_s))

    @contextmanager
    def connecting(self, source: Source, phase: str) -> Iterator[None]:
        """Time connection work on `source` (connects, then small statements): the connect timeout on top."""
        tracked = Tracked(source.port)
        limit = CONNECT_TIMEOUT_S + self.statement_s
        with tracked.opening(), self.waiting(Wait(source.engine, phase, limit, lambda: shut_down(tracked.inodes()))):
            yield

    @contextmanager
    def waiting(self, wait: Wait) -> Iterator[None]:
        """Time the block as `wait` (nothing when the watchdog is off)."""
        if not self.stall_s:
            yield
            return
        wait.since = time.monotonic()
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
        extra = w.limit_s - self.stall_s
        limit = f"stall_timeout_s: {self.stall_s}" + (f" + {extra}s for the statement and connect" if extra else "")
        return SourceError(
            f"{w.engine}: stalled: no data from the source for {w.limit_s}s while {w.phase} ({limit});"
            " the statement was cancelled and the connection closed",
            transient=True,
        )

    @staticmethod
    def _on(snap: Snapshot, phase: str, limit_s: int) -> Wait:
        return Wait(snap.source.engine, phase, limit_s, snap.abort, snap.cancel)

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
        """Cancel the statement server-side (waited for CANCEL_GRACE_S at most), then shut the sockets down."""
        log.warning("%s: no data from the source for %ss while %s; cancelling", self.export, wait.limit_s, wait.phase)
        if wait.cancel is not None:
            cancel = threading.Thread(target=wait.cancel, name="rivet-cancel", daemon=True)
            cancel.start()
            cancel.join(CANCEL_GRACE_S)
        wait.abort()


@dataclass
class StreamWatch:
    """The stall clock of one stream: `waiting()` around each batch fetched; `check()` raises once it stalled."""

    dog: Watchdog
    wait: Wait

    def waiting(self) -> AbstractContextManager[None]:
        return self.dog.waiting(self.wait)

    def check(self) -> None:
        if self.dog.stalled is not None:
            raise self.dog.error()
