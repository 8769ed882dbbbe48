"""One export run's shared context: resolved config, source, destination, state, result, and gate decisions."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rivet_core.commit import Layout, Manifest
from rivet_core.config import Config, ExportConfig, Tuning
from rivet_core.destinations import Placement, open_destination
from rivet_core.destinations.base import Destination
from rivet_core.errors import GateFailed
from rivet_core.gates import GateResult, QualityTracker
from rivet_core.lease import (
    EXPORT_SCOPE,
    HolderInfo,
    LeaseLost,
    Leases,
    acquire_all,
    destination_backends,
    partition_scope,
    state_backend,
)
from rivet_core.pipeline.prefetch import Meter
from rivet_core.pipeline.shape import ShapeTracker
from rivet_core.pipeline.stall import Watchdog
from rivet_core.planning import (
    WINDOW_FORMATS,
    Checkpoints,
    base_query,
    column_overrides,
    parse_window,
    plan_fingerprint,
    query_text,
)
from rivet_core.planning.ranges import chunk_key
from rivet_core.redact import redact
from rivet_core.results import ExportResult
from rivet_core.slices import Slice
from rivet_core.sources import open_source
from rivet_core.sources.base import Source
from rivet_core.state import StateStore
from rivet_core.writers import FormatOptions, format_options

log = logging.getLogger("rivet")

Progress = Callable[[str, int, int], None]  # (export, rows so far, bytes so far)


@dataclass
class RunOptions:
    """What `rivet run` flags (or a Dagster run) ask for."""

    validate: bool = False
    reconcile: bool = False
    resume: bool = False
    windows: list[str] | None = None  # time_window keys to export (default: the last `days_window`)
    chunks: list[str] | None = None  # chunk keys (aligned lower bounds) to export (default: all)
    planned: list[Slice] | None = None  # slices fixed by a reviewed plan (`rivet apply`): no re-planning
    progress: Progress | None = None
    store_client: Any = None  # an S3/GCS client made by the orchestrator (a Dagster resource's), not from the config


def open_placement(
    config: Config, export: ExportConfig, run_id: str, now: dt.datetime, client: Any = None
) -> Placement:
    """The export's destination, with `{table}`, `{date}`, `{run_id}` of this run expanded."""
    table = export.source_table[1] if export.table and export.source_table else export.name
    return open_destination(export.destination, export.name, table, run_id, now, config.base_dir, client)


class Run:
    """What every unit of one run shares; result updates from parallel chunks go through `lock`."""

    def __init__(self, config: Config, export: ExportConfig, options: RunOptions, state: StateStore | None = None):
        self.config, self.export, self.options = config, export, options
        self.tuning: Tuning = config.tuning_for(export)
        self.state = state or StateStore.open(config.base_dir)
        self.now = dt.datetime.now(dt.UTC)
        self.run_id = uuid.uuid4().hex[:12]
        self.result = ExportResult(export.name, self.run_id, self.now.isoformat())
        self.meter = Meter()
        self.query = base_query(config, export)
        self.placement = open_placement(config, export, self.run_id, self.now, options.store_client)
        self.layout = Layout(export.name)
        self.format: FormatOptions = format_options(export)
        self.result.destination = self.dest.uri(self.placement.data_prefix)
        self.result.query = query_text(self.query, export)
        self.overrides = column_overrides(export)
        self.source: Source = open_source(config.source, config.source.resolve_url(config.base_dir), self.tuning)
        self.lock = threading.Lock()
        self.watchdog = Watchdog(export.name, self.tuning)
        self.streamed = 0
        checkpointed = export.mode == "chunked" and export.chunk_checkpoint and not options.chunks
        fingerprint = plan_fingerprint(export, self.result.query)
        self.checkpoints = Checkpoints(export, self.state, enabled=checkpointed, fingerprint=fingerprint)
        self.run_tracker = QualityTracker(export.quality) if export.quality and export.mode == "chunked" else None
        factor = export.shape_drift_factor
        self.shape = ShapeTracker(factor) if factor is not None and export.mode != "chunked" else None
        self.lease: Leases | None = None
        self.partitions = self._partitions()

    @property
    def dest(self) -> Destination:
        return self.placement.destination

    def _partitions(self) -> list[str] | None:
        """The lease scopes of a partition run (`window=…` / `chunk=…`), or None for a whole-export run.

        Window keys are normalized as the planner reads them; a key it will reject takes the export scope.
        """
        o = self.options
        try:
            if o.windows:
                unit = self.config.dagster_for(self.export).window or "day"
                keys = [parse_window(w, unit).strftime(WINDOW_FORMATS[unit]) for w in o.windows]
                return [partition_scope("window", k) for k in keys]
            if o.chunks:
                return [partition_scope("chunk", k) for k in o.chunks]
        except ValueError:
            return None
        return None

    @contextmanager
    def leased(self) -> Iterator[None]:
        """Hold this run's lease (docs/lease.md): its partitions', else the whole export's; `lease_wait_s` bounded."""
        backends = [state_backend(self.config.base_dir), *destination_backends(self.dest)]
        holder = HolderInfo.current(self.run_id)
        scopes = self.partitions or [EXPORT_SCOPE]
        wait = self.tuning.lease_wait_s
        with acquire_all(export=self.export.name, scopes=scopes, holder=holder, backends=backends, wait_s=wait) as held:
            self.lease = held
            try:
                yield
            finally:
                self.lease = None

    def check_lease(self) -> None:
        """Raise LeaseLost unless this run still holds its lease (right before a commit)."""
        if self.lease is None:
            raise LeaseLost(f"{self.export.name}: committing without the export lease")
        self.lease.check()

    def owns(self, manifest: Manifest) -> bool:
        """Whether a committed unit belongs to this run's lease (a partition run: only its own partitions)."""
        if self.partitions is None:
            return True
        slc = manifest.slice
        key = slc.key if slc.kind == "window" else chunk_key(slc.lo) if slc.kind == "chunk" else ""
        return f"{slc.kind}={key}" in self.partitions

    def unit_tracker(self) -> QualityTracker | None:
        """The tracker a unit feeds: the run's (chunked: quality over all chunks), else a fresh one per unit."""
        if self.run_tracker is not None:
            return self.run_tracker
        return QualityTracker(self.export.quality) if self.export.quality else None

    def progress(self, rows: int) -> None:
        with self.lock:
            self.streamed += rows
            if self.options.progress:
                self.options.progress(self.export.name, self.streamed, self.result.bytes)

    def warn(self, text: str) -> None:
        log.warning("%s: %s", self.export.name, text)
        with self.lock:
            self.result.warnings.append(text)

    def decide(self, results: list[GateResult]) -> None:
        """Record gate results; an error-level miss raises (nothing is committed), a warn-level one degrades."""
        with self.lock:
            self.result.gates += results
        for r in results:
            if r.passed:
                continue
            if r.severity == "error":
                raise GateFailed(r.gate, r.message, r.details)
            log.warning("%s: quality (warn): %s", self.export.name, r.message)
            with self.lock:
                self.result.warnings.append(r.message)
                self.result.status = "degraded"

    def fail(self, exc: BaseException) -> None:
        text = str(exc) or type(exc).__name__
        self.result.fail(redact(text.splitlines()[0], []))
        log.error("%s", self.result.error)
