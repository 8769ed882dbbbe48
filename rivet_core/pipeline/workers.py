"""Running a run's slices: `parallel` chunk workers, each on its own reader of the snapshot; checkpointed attempts."""

from __future__ import annotations

import logging
import queue
import threading

from rivet_core import commit
from rivet_core.errors import ConfigError, RivetError
from rivet_core.pipeline.publish import publish
from rivet_core.pipeline.rss_gate import RssGate
from rivet_core.pipeline.run import Run
from rivet_core.pipeline.unit import Written, write_unit
from rivet_core.slices import Slice
from rivet_core.sources.base import Snapshot
from rivet_core.sources.types import ColumnPlan

log = logging.getLogger("rivet")


def run_slices(run: Run, snap: Snapshot, slices: list[Slice], plans: list[ColumnPlan]) -> list[Written]:
    """Write every slice, `parallel` at a time for chunks; returns the units whose commit is deferred."""
    chunked = run.export.mode == "chunked"
    workers = min(run.export.parallel, len(slices)) if chunked else 1
    gate = RssGate(run.tuning.memory_threshold_mb if chunked else 0, run.meter.sample, run.warn)
    todo: queue.SimpleQueue[Slice] = queue.SimpleQueue()
    for slc in slices:
        todo.put(slc)
    deferred: list[Written] = []
    failures: list[BaseException] = []

    def work(reader: Snapshot) -> None:
        while not failures:
            try:
                slc = todo.get_nowait()
            except queue.Empty:
                return
            try:
                with gate.chunk(slc.key):
                    written = attempt(run, reader, slc, plans)
            except BaseException as exc:
                failures.append(exc)
                return
            if written is not None:
                deferred.append(written)

    def worker_thread() -> None:
        try:
            with snap.worker() as reader:
                run.watchdog.attach(reader)
                work(reader)
        except BaseException as exc:  # opening the worker's connection failed
            failures.append(exc)

    threads = [threading.Thread(target=worker_thread, name=f"rivet-chunk-{i}") for i in range(1, workers)]
    for t in threads:
        t.start()
    work(snap)
    for t in threads:
        t.join()  # each worker ends after its current unit: every unit's waits are bounded (prefetch, sources)
    if failures:
        for written in deferred:
            commit.discard(run.dest, written.unit, written.parts)
        raise failures[0]
    return sorted(deferred, key=lambda w: w.unit.unit_id)


def attempt(run: Run, snap: Snapshot, slc: Slice, plans: list[ColumnPlan]) -> Written | None:
    """One slice; a checkpointed chunk is retried up to chunk_max_attempts and recorded as it goes."""
    e, checkpoints = run.export, run.checkpoints
    if not checkpoints.run_id:
        written = write_unit(run, snap, slc, plans)
        if written is not None and e.mode != "chunked":
            publish(run, written)
            return None
        return written
    index = slc.chunk_index
    for number in range(1, e.chunk_max_attempts + 1):
        checkpoints.running(index)
        try:
            written = write_unit(run, snap, slc, plans)
            if written is not None:
                publish(run, written)
            checkpoints.completed(index, written.rows if written else 0, len(written.parts) if written else 0)
            return None
        except RivetError as exc:
            checkpoints.failed(index, str(exc))
            log.warning("%s: chunk %s attempt %d/%d failed: %s", e.name, index, number, e.chunk_max_attempts, exc)
            if number == e.chunk_max_attempts or isinstance(exc, ConfigError) or snap.cancelled:
                raise  # a cancelled (stalled) snapshot is retried whole, on a new one (engine.with_retries)
    return None
