"""Chunk checkpoints: a checkpointed run records its plan and each chunk's progress, so --resume continues it.

A chunk committed and then killed before its checkpoint is found by its manifest's `chunk_run` (docs/state.md).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from rivet_core.commit import manifests
from rivet_core.config import ExportConfig
from rivet_core.destinations.base import Destination
from rivet_core.errors import ConfigError, StateError
from rivet_core.planning.ranges import chunk_key
from rivet_core.slices import Slice, chunk_slice, decode_value
from rivet_core.state import StateStore

log = logging.getLogger("rivet")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def plan_entry(slc: Slice) -> dict[str, Any]:
    """A planned chunk as the state stores it: position, chunk key, and the slice's JSON."""
    return {"index": slc.chunk_index, "key": chunk_key(slc.lo), "slice": slc.to_json()}


def entry_slice(entry: dict[str, Any]) -> Slice:
    """Inverse of `plan_entry` (also reads the typed-bounds entries of checkpoints from before `slice`)."""
    if "slice" in entry:
        return Slice.from_json(entry["slice"])
    lo, hi = decode_value(entry["lo"]), decode_value(entry["hi"])
    return chunk_slice(entry["column"], entry["index"], lo, hi, entry["hi_inclusive"])


class Checkpoints:
    """The checkpoint record of one run of a chunked export (inactive unless `chunk_checkpoint: true`)."""

    def __init__(self, export: ExportConfig, state: StateStore, *, enabled: bool, fingerprint: str) -> None:
        self.export, self.state = export, state
        self.enabled = enabled  # chunked, chunk_checkpoint, and not narrowed to chunks by key
        self.fingerprint = fingerprint
        self.run_id: str | None = None  # the checkpointed run this one writes (a new one, or the resumed one)
        self.resumed: list[Slice] | None = None  # the chunks left of a resumed run

    def resume(self, dest: Destination, resume: bool) -> list[Slice] | None:
        """On --resume, the unfinished chunks of the in-progress checkpointed run; refuse what cannot resume."""
        e = self.export
        if not self.enabled:
            if resume:
                raise ConfigError(f"--resume: export {e.name} is not a chunked export with chunk_checkpoint: true")
            return None
        active = self.state.active_chunk_run(e.name)
        if active is None:
            if resume:
                raise StateError(f"--resume: no checkpointed run of {e.name} is in progress; run without --resume")
            return None
        run_id = active["run_id"]
        tasks = self.state.chunk_tasks(run_id)
        done = sum(t["status"] == "completed" for t in tasks)
        if not resume:
            raise StateError(
                f"checkpointed run {run_id} is in progress ({done}/{len(tasks)} chunks done); continue it with "
                f"`rivet run --resume -e {e.name}` or abandon it with `rivet state reset-chunks -e {e.name}`"
            )
        if active["fingerprint"] != self.fingerprint:
            raise StateError(
                f"--resume: the plan of {e.name} changed since run {run_id} (query or chunking settings differ); "
                f"abandon it with `rivet state reset-chunks -e {e.name}` and run again"
            )
        self.run_id = run_id
        finished = {t["index"] for t in tasks if t["status"] == "completed"}
        for m in manifests(dest, e.name):  # committed, then killed before its checkpoint: done
            if m.chunk_run == run_id and m.slice.chunk_index not in finished:
                self.completed(m.slice.chunk_index, m.row_count, len(m.parts))
                finished.add(m.slice.chunk_index)
        log.info("%s: resuming run %s: %d of %d chunks left", e.name, run_id, len(tasks) - len(finished), len(tasks))
        self.resumed = [s for s in map(entry_slice, active["plan"]) if s.chunk_index not in finished]
        return self.resumed

    def start(self, run_id: str, slices: list[Slice]) -> None:
        """Record a new checkpointed chunk run (not on --resume: its tasks exist)."""
        if not self.enabled or self.run_id:
            return
        self.run_id = run_id
        self.state.start_chunk_run(self.export.name, run_id, self.fingerprint, [plan_entry(s) for s in slices], _now())

    def running(self, index: int) -> None:
        assert self.run_id
        self.state.update_chunk(self.run_id, index, "running", _now())

    def completed(self, index: int, rows: int, files: int) -> None:
        assert self.run_id
        self.state.update_chunk(self.run_id, index, "completed", _now(), rows=rows, files=files)

    def failed(self, index: int, error: str) -> None:
        assert self.run_id
        self.state.update_chunk(self.run_id, index, "failed", _now(), error=error)

    def finish(self) -> None:
        if self.run_id:
            self.state.finish_chunk_run(self.run_id, "completed")

    def abandon_fresh(self) -> None:
        """After a failed attempt: a fresh checkpointed run is abandoned (the retry re-plans in a new snapshot)."""
        if self.run_id and self.resumed is None:
            self.state.finish_chunk_run(self.run_id, "abandoned")
            self.run_id = None
