"""One export run, top to bottom: lease → roll forward → recover → plan → snapshot → units → gates → commit → state.

Then the run record and notifications (outside the lease).

`run_export` is what `rivet run` and the Dagster assets call. The per-unit loop is `pipeline.unit.write_unit`;
slices come from `planning.Planner`; names and the commit record from `commit` (docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from contextlib import ExitStack

from rivet_core import commit
from rivet_core.config import Config
from rivet_core.errors import ConfigError, GateFailed, RivetError, SourceError
from rivet_core.gates import QualityTracker, check_columns, drift, drift_gate
from rivet_core.notify import notify
from rivet_core.pipeline.frames import write_frames
from rivet_core.pipeline.meta import meta_plans
from rivet_core.pipeline.publish import publish
from rivet_core.pipeline.run import Progress, Run, RunOptions
from rivet_core.pipeline.unit import Written
from rivet_core.pipeline.window_pass import run_windows
from rivet_core.pipeline.workers import run_slices
from rivet_core.planning import Fence, Planner, late_commit_fence, stored_cursor
from rivet_core.planning.key_columns import missing_key_columns
from rivet_core.results import ExportResult
from rivet_core.slices import Slice
from rivet_core.sources.base import Snapshot
from rivet_core.sources.types import ColumnPlan

log = logging.getLogger("rivet")

__all__ = ["ExportResult", "Progress", "RunOptions", "run_export", "write_frames"]


def run_export(config: Config, name: str, options: RunOptions | None = None) -> ExportResult:
    """Run one export of `config` by name; failures end up in the result (a ConfigError is raised)."""
    return execute(Run(config, config.export(name), options or RunOptions()))


def execute(run: Run) -> ExportResult:
    """Run a prepared `Run` (plan/apply adjusts its options and warnings first)."""
    started, result = time.monotonic(), run.result
    log.info("%s: tuning profile %s", run.export.name, run.tuning.profile_label)
    try:
        with run.leased():  # one writer per export unit, from before planning until state is written (docs/lease.md)
            commit.roll_forward(run.dest, run.export.name, only=run.owns)
            commit.recover(run.dest, run.export.name)
            run.checkpoints.resume(run.dest, run.options.resume)
            with run.watchdog.running():
                warn_pooler(run)
                deferred = with_retries(run)
            try:
                run.decide(run.run_tracker.evaluate() if run.run_tracker else [])  # chunked: over all chunks
            except GateFailed:
                for written in deferred:
                    commit.discard(run.dest, written.unit, written.parts)
                raise
            for written in deferred:  # non-checkpointed chunks: all visible together, or none
                publish(run, written)
            run.checkpoints.finish()
            if run.export.skip_empty and not result.units and result.status == "success":
                result.status = "skipped"  # 0 rows and skip_empty: true, as 0.7.7 reports it (exit 0)
            if result.files:
                run.state.save_schema(run.export.name, result.schema, dt.datetime.now(dt.UTC).isoformat())
                check_shape(run)
    except ConfigError:
        result.status = "failed"
        raise
    except Exception as exc:  # a rivet error, or a driver or I/O failure: one clear, redacted line
        run.fail(exc)
    finally:
        result.duration_s = round(time.monotonic() - started, 3)
        result.peak_rss_mb = round(run.meter.peak / 2**20, 1)
        run.state.record_run({**result.to_json(), "files": len(result.files)})
        notify(run.config, result)
    return result


def warn_pooler(run: Run) -> None:
    """One warning per run when a transaction pooler or proxy sits in front of the source (docs/architecture.md).

    A failed probe is left to the export itself (retried there when transient).
    """
    try:
        with run.watchdog.connecting(run.source, "probing for a pooler"):
            warning = run.source.pooler_warning()
    except RivetError as exc:
        log.debug("pooler detection skipped: %s", exc)
        return
    if warning:
        run.warn(warning)


def with_retries(run: Run) -> list[Written]:
    """`snapshot_pass`, again on a new connection (a new snapshot) after a transient source error.

    `max_retries` times with exponential backoff from `retry_backoff_ms`; never once a file of this run was
    committed, since a new snapshot would export its rows again.
    """
    result, tuning = run.result, run.tuning
    while True:
        try:
            return snapshot_pass(run)
        except SourceError as exc:
            if not exc.transient or result.retries >= tuning.max_retries:
                raise
            if result.files:
                raise SourceError(
                    f"{exc}; not retried: {len(result.files)} file(s) of this run were already committed and a "
                    f"retry would export their rows again; check them (`rivet state files -e {run.export.name}`, "
                    "`rivet reconcile`) and re-run (checkpointed chunks: `rivet run --resume`)"
                ) from None
            result.retries += 1
            delay = tuning.retry_backoff_ms * 2 ** (result.retries - 1) / 1000
            log.warning(
                "%s: transient source error, retry %d/%d in %.1fs on a new connection: %s",
                run.export.name, result.retries, tuning.max_retries, delay, exc,
            )  # fmt: skip
            reset_attempt(run)
            time.sleep(delay)


def reset_attempt(run: Run) -> None:
    """Forget what a failed, uncommitted attempt gathered (slices, gates, progress, quality, a fresh checkpoint run)."""
    run.result.slices, run.result.gates = [], []
    run.streamed = 0
    if run.run_tracker is not None and run.export.quality:
        run.run_tracker = QualityTracker(run.export.quality)
    run.checkpoints.abandon_fresh()


def snapshot_pass(run: Run) -> list[Written]:
    """Plan and write every slice inside one snapshot; returns the units whose commit is deferred.

    An incremental run first sets its late-commit fence (unwatched: its own wait is bounded by late_commit_wait_s),
    so its snapshot is taken once the rows below it are in; a chunked one looks its primary key up first (its own
    connection: before the snapshot's, not beside it).
    """
    export, o = run.export, run.options
    planner = Planner(run.config, export, run.source, run.query, now=run.now, windows=o.windows, chunks=o.chunks)
    if export.mode == "chunked" and o.planned is None and run.checkpoints.resumed is None:
        planner.chunk_column()
    fence = fenced(run) if export.mode == "incremental" else None
    if fence is not None and fence.warning:
        run.warn(fence.warning)
    dog = run.watchdog
    dog.reset()
    try:
        with ExitStack() as stack:
            with dog.connecting(run.source, "opening the snapshot"):
                snap = stack.enter_context(run.source.snapshot())
            dog.attach(snap)
            return write_snapshot(run, snap, planner, fence)
    except Exception:
        if dog.stalled is not None:  # whatever the cancelled statement or closed connection ended with
            raise dog.error() from None
        raise


def write_snapshot(run: Run, snap: Snapshot, planner: Planner, fence: Fence | None) -> list[Written]:
    """Describe, check key columns and drift, plan (capped by the fence) and write every slice in `snap`."""
    export = run.export
    plans = snap.plan(run.query, run.overrides, f"exports[{export.name}]")
    run.result.schema = [
        {"name": p.name, "type": str(p.arrow_type), "source": p.source_type}
        for p in meta_plans(plans, export.meta_column_list)
    ]
    require_key_columns(run, plans)
    if export.quality:
        check_columns(export.quality, [c["name"] for c in run.result.schema], f"exports[{export.name}]")
    check_drift(run)
    slices = plan_slices(run, snap, planner)
    if fence is not None:
        slices = fence.bound(slices)
    run.checkpoints.start(run.run_id, slices)
    if export.mode == "time_window":
        return run_windows(run, snap, slices, plans)
    return run_slices(run, snap, slices, plans)


def fenced(run: Run) -> Fence:
    """The late-commit fence; when its MAX fails on a cursor column the query does not return, that config error."""
    try:
        return late_commit_fence(run.source, run.query, run.export)
    except SourceError:
        with run.source.snapshot() as snap:  # only on the error path: name the field, not the internal alias
            require_key_columns(run, snap.plan(run.query, run.overrides, f"exports[{run.export.name}]"))
        raise


def require_key_columns(run: Run, plans: list[ColumnPlan]) -> None:
    """A cursor / fallback / chunk / time column the query does not return is a ConfigError naming the field."""
    names = [p.name for p in plans]
    if missing := missing_key_columns(run.export, names, case_sensitive=run.source.engine == "postgres"):
        raise ConfigError("; ".join(missing))


def plan_slices(run: Run, snap: Snapshot, planner: Planner) -> list[Slice]:
    """The reviewed plan's slices (`rivet apply`), the resumed chunks (--resume), or the Planner's."""
    if run.options.planned is not None:
        return run.options.planned
    if run.checkpoints.resumed is not None:
        return run.checkpoints.resumed
    export = run.export
    cursor = stored_cursor(export, run.dest, run.state) if export.mode == "incremental" else None
    return planner.plan(snap, cursor)


def check_shape(run: Run) -> None:
    """After a commit: warn about text/binary values grown past shape_drift_warn_factor, then store the longest."""
    if run.shape is None or not run.shape.longest:
        return
    name = run.export.name
    for warning in run.shape.drifted(run.state.shape(name)):
        run.warn(warning)
    run.state.save_shape(name, run.shape.longest, dt.datetime.now(dt.UTC).isoformat())


def check_drift(run: Run) -> None:
    """Compare the schema about to be written with the last one written (on_schema_drift decides)."""
    export, result = run.export, run.result
    change = drift(run.state.schema(export.name), result.schema)
    result.gates.append(drift_gate(change, export.on_schema_drift))
    if change is None:
        return
    result.schema_change = change
    text = f"schema drift: {json.dumps(change)}"
    if export.on_schema_drift == "fail":
        raise GateFailed("schema_drift", f"{text} (on_schema_drift: fail; nothing exported)", change)
    if export.on_schema_drift == "warn":
        run.warn(text)
    else:
        log.info("%s: %s", export.name, text)
