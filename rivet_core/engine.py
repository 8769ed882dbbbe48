"""One export, the batch path top to bottom: plan → snapshot → stream → write → gates → commit → state.

`run_export` is what `rivet run` and the Dagster assets call. Per unit (a slice) it reads batches from the
source in a prefetch thread while this thread encodes and writes them, so fetch and encode overlap on two cores.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import psutil
import pyarrow as pa

from rivet_core import __version__, commit
from rivet_core.config import Config, DestinationConfig, ExportConfig, Tuning, parse_type_override
from rivet_core.destinations import Placement, open_destination
from rivet_core.errors import ConfigError, GateFailed, RivetError, SourceError, StateError
from rivet_core.gates import validate_unit
from rivet_core.notify import notify
from rivet_core.quality import GateResult, QualityTracker, check_columns, drift
from rivet_core.redact import redact
from rivet_core.slices import (
    Slice,
    aligned_ranges,
    chunk_key,
    chunk_slice,
    counted_ranges,
    cursor_slice,
    day_ranges,
    decode_value,
    dense_ranges,
    encode_value,
    full_slice,
    parse_window,
    recent_windows,
    window_slice,
)
from rivet_core.sources import open_source, sql
from rivet_core.sources.base import Query, Snapshot, Source
from rivet_core.sources.types import ColumnPlan, target_schema
from rivet_core.state import StateStore
from rivet_core.writers import (
    DEFAULT_ROW_GROUP_MB,
    DEFAULT_ROW_GROUP_ROWS,
    PROFILE_LEVELS,
    FormatOptions,
    RollingWriter,
    WrittenPart,
)

log = logging.getLogger("rivet")

DEFAULT_CHUNK_SIZE = 100_000

Progress = Callable[[str, int, int], None]  # (export, rows so far, bytes so far)


@dataclass
class RunOptions:
    """What `rivet run` flags ask for."""

    validate: bool = False
    reconcile: bool = False
    resume: bool = False
    windows: list[str] | None = None  # time_window keys to export (default: the last `days_window`)
    chunks: list[str] | None = None  # chunk keys (aligned lower bounds) to export (default: all)
    planned: list[Slice] | None = None  # slices fixed by a reviewed plan (`rivet apply`): no re-planning
    progress: Progress | None = None
    store_client: Any = None  # an S3/GCS client made by the orchestrator (a Dagster resource's), not from the config


@dataclass
class ExportResult:
    """The outcome of one export run: what the CLI prints, the state records and Dagster shows."""

    export: str
    run_id: str
    started_at: str
    status: str = "success"  # success | failed | degraded | skipped
    rows: int = 0
    bytes: int = 0
    files: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    peak_rss_mb: float = 0.0
    cursor: dict[str, Any] | None = None
    slices: list[dict[str, Any]] = field(default_factory=list)
    schema: list[dict[str, str]] = field(default_factory=list)
    validated: str | None = None
    reconciled: str | None = None
    warnings: list[str] = field(default_factory=list)
    retries: int = 0
    gates: list[dict[str, Any]] = field(default_factory=list)
    units: list[dict[str, Any]] = field(default_factory=list)  # committed: slice bounds, rows, bytes, files
    schema_change: dict[str, Any] | None = None
    error: str | None = None
    destination: str = ""
    query: str = ""

    def summary(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Written:
    """A slice written to temp parts, gates passed, waiting to be committed."""

    unit: commit.Unit
    parts: list[WrittenPart]
    manifest: dict[str, Any]
    reconciled: str | None
    rows: int


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class _Meter:
    """Peak RSS of this process, sampled per batch."""

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss

    def sample(self) -> int:
        rss = self._proc.memory_info().rss
        self.peak = max(self.peak, rss)
        return rss


def format_options(export: ExportConfig) -> FormatOptions:
    """Writer options from an export's config (CSV is compressed only when `compression` is set explicitly)."""
    compression = export.compression if export.compression_profile != "none" else "none"
    if export.format == "csv" and "compression" not in export.model_fields_set:
        compression = "none"
    level = export.compression_level
    if level is None and compression in ("zstd", "gzip", "lz4"):
        level = PROFILE_LEVELS.get(export.compression_profile or "")
    parquet = export.parquet
    fixed_rows = parquet is not None and parquet.row_group_strategy == "fixed_rows"
    rows = ((parquet.row_group_rows if parquet else None) or DEFAULT_ROW_GROUP_ROWS) if fixed_rows else None
    mb = (parquet.target_row_group_mb if parquet else None) or DEFAULT_ROW_GROUP_MB
    if parquet and parquet.max_row_group_mb:
        mb = min(mb, parquet.max_row_group_mb)
    group_bytes = mb << 20
    limit = export.max_file_size_bytes
    if limit:
        group_bytes = min(group_bytes, max(1 << 20, limit // 2))
    return FormatOptions(export.format, compression, level, rows, group_bytes, limit)


def base_query(config: Config, export: ExportConfig) -> Query:
    """The export's base query: its table, or its SQL (inline or from `query_file`)."""
    if export.table:
        return Query(table=export.source_table)
    return Query(sql=export.resolved_query(config.base_dir))


def prefetch(batches: Iterator[pa.RecordBatch], depth: int, memory_mb: int, meter: _Meter) -> Iterator[pa.RecordBatch]:
    """Run `batches` in a thread, `depth` ahead of the consumer; pause fetching while RSS > memory_mb."""
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for batch in batches:
                while memory_mb and meter.sample() > memory_mb << 20 and not q.empty() and not stop.is_set():
                    time.sleep(0.05)
                while not stop.is_set():
                    try:
                        q.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
            q.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(exc)
        finally:
            close = getattr(batches, "close", None)
            if close:
                close()

    thread = threading.Thread(target=produce, name="rivet-fetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


class ExportJob:
    """One run of one export: holds the resolved config, destination, state and result while it runs."""

    def __init__(self, config: Config, export: ExportConfig, options: RunOptions, state: StateStore | None = None):
        self.config = config
        self.export = export
        self.options = options
        self.tuning: Tuning = config.tuning_for(export)
        self.state = state or StateStore.open(config.base_dir)
        self.now = dt.datetime.now(dt.UTC)
        self.run_id = uuid.uuid4().hex[:12]
        self.result = ExportResult(export.name, self.run_id, self.now.isoformat())
        self.meter = _Meter()
        self.query = base_query(config, export)
        table = export.source_table[1] if export.table else export.name
        self.placement: Placement = open_destination(
            export.destination, export.name, table, self.run_id, self.now, config.base_dir, options.store_client
        )
        self.result.destination = self.placement.destination.uri(self.placement.data_prefix)
        self.result.query = redact(self.query.sql) if self.query.sql else str(export.table)
        self.overrides = {k: parse_type_override(v) for k, v in (export.columns or {}).items()}
        self.source: Source = open_source(config.source, config.source.resolve_url(config.base_dir), self.tuning)
        self.checkpoint_run: list[Slice] | None = None
        self.chunk_run_id: str | None = None
        self.streamed = 0
        self._lock = threading.Lock()
        self.run_tracker = QualityTracker(export.quality) if export.quality and export.mode == "chunked" else None

    @property
    def dest(self) -> Any:
        return self.placement.destination

    # -- planning -------------------------------------------------------------------------------------------
    def cursor_label(self) -> str:
        e = self.export
        assert e.cursor_column
        return (
            f"coalesce({e.cursor_column},{e.cursor_fallback_column})"
            if e.cursor_fallback_column and e.incremental_cursor_mode == "coalesce"
            else e.cursor_column
        )

    def stored_cursor(self) -> Any:
        """The cursor to continue from: the latest committed manifest wins over the cached state (§10)."""
        name, label = self.export.name, self.cursor_label()
        watermark = commit.latest_reset(self.dest, name)
        recorded = [
            m
            for m in commit.manifests(self.dest, name)
            if m.get("cursor") and (watermark is None or m["unit_id"] > watermark)
        ]
        cached = self.state.cursor(name)
        for column in ([recorded[-1]["cursor"]["column"]] if recorded else []) + ([cached[0]] if cached else []):
            if column != label:
                raise StateError(
                    f"exports[{name}].cursor_column: the stored cursor belongs to {column!r}, the config says "
                    f"{label!r}; run `rivet state reset -c <config> -e {name}` to start over with the new column"
                )
        if not recorded and not self.dest.keeps_records:  # stdout: the state is the only record
            return decode_value(cached[1]) if cached and cached[1] is not None else None
        if not recorded:
            if cached and cached[1] is not None:
                log.info("%s: state has a cursor but the destination has no committed data; exporting from start", name)
            return None
        value = recorded[-1]["cursor"]["value"]
        if not cached or cached[1] != value:
            log.info("%s: cursor recovered from the destination manifest %s", name, recorded[-1]["unit_id"])
        return decode_value(value)

    def plan_slices(self, snap: Snapshot) -> list[Slice]:
        """The units of this run: one for full/incremental, one per chunk or per time window."""
        e = self.export
        if self.options.planned is not None:
            return self.options.planned
        if e.mode == "incremental":
            fallback = e.cursor_fallback_column if e.incremental_cursor_mode == "coalesce" else None
            assert e.cursor_column
            return [cursor_slice(e.cursor_column, self.stored_cursor(), fallback)]
        if e.mode == "chunked":
            return self.chunk_plan(snap)
        if e.mode == "time_window":
            return self.window_plan()
        return [full_slice()]

    def chunk_column(self) -> str:
        """`chunk_column`, or the single-column primary key of a Postgres `table:` export (logged)."""
        e = self.export
        if e.chunk_column:
            return e.chunk_column
        assert e.source_table is not None
        pk = self.source.primary_key(e.source_table)
        if len(pk) != 1:
            raise ConfigError(
                f"exports[{e.name}].chunk_column: not set and {e.table} has no single-column primary key "
                f"(found: {pk or 'none'}); set chunk_column"
            )
        log.info("%s: chunk_column not set; using the primary key column %s", e.name, pk[0])
        return pk[0]

    def chunk_plan(self, snap: Snapshot) -> list[Slice]:
        """Chunk ranges from MIN/MAX (empty ranges skipped by key seeks), or the checkpointed run's on --resume."""
        e = self.export
        if self.checkpoint_run is not None:
            return self.checkpoint_run
        column = self.chunk_column()
        lo, hi = sql.bounds(snap, self.query, column)
        if lo is None:
            return []
        seek = lambda after: sql.bounds(snap, self.query, column, after)[0]  # noqa: E731
        inclusive = True
        if e.chunk_by_days:
            ranges = day_ranges(lo, hi, e.chunk_by_days, seek)
            inclusive = False
        elif e.chunk_dense:
            key_at = lambda start, offset: sql.key_at(snap, self.query, column, start, offset)  # noqa: E731
            ranges = dense_ranges(lo, hi, e.chunk_size or DEFAULT_CHUNK_SIZE, key_at, seek)
        elif not isinstance(lo, int):
            raise ConfigError(
                f"exports[{e.name}].chunk_column: {column} is not an integer column; use chunk_by_days for "
                "dates/timestamps or chunk_dense"
            )
        elif e.chunk_count:
            ranges = counted_ranges(lo, hi, e.chunk_count)
        else:
            size = e.chunk_size or DEFAULT_CHUNK_SIZE
            ranges = aligned_ranges(lo, hi, size, seek)
            span = (hi - lo) // size + 1
            if span > 10 * len(ranges):
                log.info("%s: sparse key %s: %d of %d aligned ranges hold rows", e.name, column, len(ranges), span)
            return [chunk_slice(column, first // size, first, last) for first, last in ranges]
        return [chunk_slice(column, i, first, last, inclusive) for i, (first, last) in enumerate(ranges)]

    def window_plan(self) -> list[Slice]:
        """The windows asked for (`--window`, Dagster partitions) or the last `days_window` ones."""
        e = self.export
        assert e.time_column
        unit = self.config.dagster_for(e).window or "day"
        if self.options.windows:
            try:
                starts = [parse_window(w, unit) for w in self.options.windows]
            except ValueError as exc:
                raise ConfigError(f"--window: {exc}") from None
        else:
            starts = recent_windows(self.now, e.window_count, unit)
        return [window_slice(e.time_column, s, unit, e.time_column_type == "unix") for s in starts]

    # -- the run --------------------------------------------------------------------------------------------
    def run(self) -> ExportResult:
        started = time.monotonic()
        try:
            commit.recover(self.dest, self.export.name)
            self.checkpoint_run = self.resume_plan()
            self.warn_pooler()
            deferred = self.with_retries()
            try:
                self.decide(self.run_tracker)  # chunked: quality over all chunks, before any is published
            except GateFailed:
                for written in deferred:
                    commit.discard(self.dest, written.unit, written.parts)
                raise
            for written in deferred:  # non-checkpointed chunks: all visible together, or none
                self.publish(written)
            if self.chunk_run_id:
                self.state.finish_chunk_run(self.chunk_run_id, "completed")
            if self.result.files:
                self.state.save_schema(self.export.name, self.result.schema, _now())
        except ConfigError:
            self.result.status = "failed"
            raise
        except RivetError as exc:
            self.fail(exc)
        except Exception as exc:  # driver or I/O failure: one clear, redacted line
            self.fail(exc)
        finally:
            self.result.duration_s = round(time.monotonic() - started, 3)
            self.result.peak_rss_mb = round(self.meter.peak / 2**20, 1)
            self.state.record_run({**self.result.summary(), "files": len(self.result.files)})
            notify(self.config, self.result)
        return self.result

    def check_drift(self) -> None:
        """Compare the schema about to be written with the last one written (on_schema_drift decides)."""
        stored = self.state.schema(self.export.name)
        change = drift(stored, self.result.schema)
        passed = change is None or self.export.on_schema_drift != "fail"
        self.result.gates.append(
            GateResult(
                "schema_drift", passed, "error" if self.export.on_schema_drift == "fail" else "warn", change or {}
            ).__dict__
        )
        if change is None:
            return
        self.result.schema_change = change
        text = f"schema drift: {json.dumps(change)}"
        if self.export.on_schema_drift == "fail":
            raise GateFailed("schema_drift", f"{text} (on_schema_drift: fail; nothing exported)", change)
        if self.export.on_schema_drift == "warn":
            log.warning("%s: %s", self.export.name, text)
            self.result.warnings.append(text)
        else:
            log.info("%s: %s", self.export.name, text)

    def decide(self, tracker: QualityTracker | None, extra: GateResult | None = None) -> None:
        """Record gate results; an error-level miss raises (nothing is committed), a warn-level one degrades."""
        results = (tracker.evaluate() if tracker else []) + ([extra] if extra else [])
        with self._lock:
            self.result.gates += [r.__dict__ for r in results]
        for r in results:
            if r.passed:
                continue
            if r.severity == "error":
                raise GateFailed(r.gate, r.message, r.details)
            log.warning("%s: quality (warn): %s", self.export.name, r.message)
            with self._lock:
                self.result.warnings.append(r.message)
                self.result.status = "degraded"

    def snapshot_pass(self) -> list[Written]:
        """Plan and write every slice inside one snapshot; returns the units whose commit is deferred."""
        with self.source.snapshot() as snap:
            plans = snap.plan(self.query, self.overrides, f"exports[{self.export.name}]")
            self.result.schema = [
                {"name": p.name, "type": str(p.arrow_type), "source": p.source_type} for p in self.meta_plans(plans)
            ]
            if self.export.quality:
                names = [c["name"] for c in self.result.schema]
                check_columns(self.export.quality, names, f"exports[{self.export.name}]")
            self.check_drift()
            slices = self.selected(self.plan_slices(snap))
            self.start_checkpoint(slices)
            return self.run_slices(snap, slices, plans)

    def with_retries(self) -> list[Written]:
        """`snapshot_pass`, again on a new connection (a new snapshot) after a transient source error.

        `max_retries` times with exponential backoff from `retry_backoff_ms`; never once a file of this run was
        committed, since a new snapshot would export its rows again.
        """
        while True:
            try:
                return self.snapshot_pass()
            except SourceError as exc:
                if not exc.transient or self.result.retries >= self.tuning.max_retries:
                    raise
                if self.result.files:
                    raise SourceError(
                        f"{exc}; not retried: {len(self.result.files)} file(s) of this run were already committed "
                        f"and a retry would export their rows again; check them (`rivet state files -e "
                        f"{self.export.name}`, `rivet reconcile`) and re-run (checkpointed chunks: `rivet run "
                        "--resume`)"
                    ) from None
                self.result.retries += 1
                delay = self.tuning.retry_backoff_ms * 2 ** (self.result.retries - 1) / 1000
                log.warning(
                    "%s: transient source error, retry %d/%d in %.1fs on a new connection: %s",
                    self.export.name, self.result.retries, self.tuning.max_retries, delay, exc,
                )  # fmt: skip
                self.reset_attempt()
                time.sleep(delay)

    def reset_attempt(self) -> None:
        """Forget what a failed, uncommitted attempt gathered (slices, progress, quality, fresh checkpoint run)."""
        self.result.slices = []
        self.streamed = 0
        if self.run_tracker is not None:
            self.run_tracker = QualityTracker(self.export.quality)
        if self.chunk_run_id and self.checkpoint_run is None:  # a fresh checkpointed run re-plans in the new snapshot
            self.state.finish_chunk_run(self.chunk_run_id, "abandoned")
            self.chunk_run_id = None

    def warn_pooler(self) -> None:
        """One warning per run when a transaction pooler or proxy sits in front of the source (design §9)."""
        from rivet_core.preflight import detect_pooler

        warning = detect_pooler(self.source)
        if warning:
            log.warning("%s: %s", self.export.name, warning)
            self.result.warnings.append(warning)

    def selected(self, slices: list[Slice]) -> list[Slice]:
        """Only the chunks asked for by key (Dagster chunk partitions), else all."""
        if not self.options.chunks:
            return slices
        wanted = set(self.options.chunks)
        return [s for s in slices if chunk_key(s.lo) in wanted]

    def plan_fingerprint(self) -> str:
        """What must not change between a checkpointed run and its --resume: query and chunking settings."""
        e = self.export
        text = json.dumps(
            [self.result.query, e.chunk_column, e.chunk_size, e.chunk_count, e.chunk_by_days, e.chunk_dense],
            default=str,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def checkpointed(self) -> bool:
        """Chunk checkpoints apply, unless chunks are asked for by key (Dagster partitions track them instead)."""
        return self.export.mode == "chunked" and self.export.chunk_checkpoint and not self.options.chunks

    def resume_plan(self) -> list[Slice] | None:
        """On --resume, the unfinished chunks of the in-progress checkpointed run; refuse what cannot resume."""
        e = self.export
        if not self.checkpointed:
            if self.options.resume:
                raise ConfigError(f"--resume: export {e.name} is not a chunked export with chunk_checkpoint: true")
            return None
        active = self.state.active_chunk_run(e.name)
        if active is None:
            if self.options.resume:
                raise StateError(f"--resume: no checkpointed run of {e.name} is in progress; run without --resume")
            return None
        tasks = self.state.chunk_tasks(active["run_id"])
        done = sum(t["status"] == "completed" for t in tasks)
        if not self.options.resume:
            raise StateError(
                f"checkpointed run {active['run_id']} is in progress ({done}/{len(tasks)} chunks done); "
                f"continue it with `rivet run --resume -e {e.name}` or abandon it with "
                f"`rivet state reset-chunks -e {e.name}`"
            )
        if active["fingerprint"] != self.plan_fingerprint():
            raise StateError(
                f"--resume: the plan of {e.name} changed since run {active['run_id']} (query or chunking settings "
                f"differ); abandon it with `rivet state reset-chunks -e {e.name}` and run again"
            )
        self.chunk_run_id = active["run_id"]
        finished = {t["index"] for t in tasks if t["status"] == "completed"}
        for m in commit.manifests(self.dest, e.name):  # committed, then killed before its checkpoint: done
            index = int(m["slice"]["key"].removeprefix("chunk")) if m.get("chunk_run") == active["run_id"] else None
            if index is not None and index not in finished:
                self.state.update_chunk(
                    active["run_id"], index, "completed", _now(), rows=m["row_count"], files=len(m["parts"])
                )
                finished.add(index)
        log.info(
            "%s: resuming run %s: %d of %d chunks left",
            e.name,
            active["run_id"],
            len(tasks) - len(finished),
            len(tasks),
        )
        return [
            chunk_slice(c["column"], c["index"], decode_value(c["lo"]), decode_value(c["hi"]), c["hi_inclusive"])
            for c in active["plan"]
            if c["index"] not in finished
        ]

    def start_checkpoint(self, slices: list[Slice]) -> None:
        """Record a new checkpointed chunk run (not on --resume: its tasks exist)."""
        if not self.checkpointed or self.chunk_run_id:
            return
        self.chunk_run_id = self.run_id
        plan = [
            {
                "index": int(s.key.removeprefix("chunk")),
                "key": chunk_key(s.lo),
                "column": s.column,
                "lo": encode_value(s.lo),
                "hi": encode_value(s.hi),
                "hi_inclusive": s.hi_inclusive,
            }
            for s in slices
        ]
        self.state.start_chunk_run(self.export.name, self.run_id, self.plan_fingerprint(), plan, _now())

    def run_slices(self, snap: Snapshot, slices: list[Slice], plans: list[ColumnPlan]) -> list[Written]:
        """Write every slice, `parallel` at a time for chunks; returns the units whose commit is deferred."""
        workers = min(self.export.parallel, len(slices)) if self.export.mode == "chunked" else 1
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
                    written = self.attempt(reader, slc, plans)
                except BaseException as exc:
                    failures.append(exc)
                    return
                if written is not None:
                    deferred.append(written)

        def worker_thread() -> None:
            with snap.worker() as reader:
                work(reader)

        threads = [threading.Thread(target=worker_thread, name=f"rivet-chunk-{i}") for i in range(1, workers)]
        for t in threads:
            t.start()
        work(snap)
        for t in threads:
            t.join()
        if failures:
            for written in deferred:
                commit.discard(self.dest, written.unit, written.parts)
            raise failures[0]
        return sorted(deferred, key=lambda w: w.unit.unit_id)

    def attempt(self, snap: Snapshot, slc: Slice, plans: list[ColumnPlan]) -> Written | None:
        """One slice; a checkpointed chunk is retried up to chunk_max_attempts and recorded as it goes."""
        e = self.export
        if not self.chunk_run_id:
            written = self.run_unit(snap, slc, plans)
            if written is not None and e.mode != "chunked":
                self.publish(written)
                return None
            return written
        index = int(slc.key.removeprefix("chunk"))
        for attempt in range(1, e.chunk_max_attempts + 1):
            self.state.update_chunk(self.chunk_run_id, index, "running", _now())
            try:
                written = self.run_unit(snap, slc, plans)
                if written is not None:
                    self.publish(written)
                rows = written.rows if written else 0
                files = len(written.parts) if written else 0
                self.state.update_chunk(self.chunk_run_id, index, "completed", _now(), rows=rows, files=files)
                return None
            except RivetError as exc:
                error = str(exc)
                self.state.update_chunk(self.chunk_run_id, index, "failed", _now(), error=error)
                log.warning(
                    "%s: chunk %s attempt %d/%d failed: %s", e.name, index, attempt, e.chunk_max_attempts, error
                )
                if attempt == e.chunk_max_attempts or isinstance(exc, ConfigError):
                    raise
        return None

    def fail(self, exc: BaseException) -> None:
        self.result.status = "failed"
        text = str(exc) or type(exc).__name__
        self.result.error = redact(text.splitlines()[0], [])
        log.error("%s: %s", self.export.name, self.result.error)

    def meta_plans(self, plans: list[ColumnPlan]) -> list[ColumnPlan]:
        meta = self.export.meta_columns
        extra = []
        if meta and meta.exported_at:
            extra.append(ColumnPlan("_rivet_exported_at", "rivet", "", pa.timestamp("us", tz="UTC")))
        if meta and meta.row_hash:
            extra.append(ColumnPlan("_rivet_row_hash", "rivet", "", pa.uint64()))
        return plans + extra

    def with_meta(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Append `_rivet_exported_at` / `_rivet_row_hash` when configured."""
        meta = self.export.meta_columns
        if not meta or not (meta.exported_at or meta.row_hash):
            return batch
        arrays, names = list(batch.columns), list(batch.schema.names)
        if meta.exported_at:
            arrays.append(pa.array([self.now] * batch.num_rows, pa.timestamp("us", tz="UTC")))
            names.append("_rivet_exported_at")
        if meta.row_hash:
            arrays.append(pl.from_arrow(batch).hash_rows(seed=0).to_arrow())  # type: ignore[union-attr]
            names.append("_rivet_row_hash")
        return pa.RecordBatch.from_arrays(arrays, names=names)

    def run_unit(self, snap: Snapshot, slc: Slice, plans: list[ColumnPlan]) -> Written | None:
        """Stream one slice into temp parts and decide its gates; nothing becomes visible here."""
        export, dest = self.export, self.dest
        suffix = "" if slc.key in ("full", "incremental") else f"_{slc.key}"
        unit = commit.Unit(export.name, f"{self.now:%Y%m%d_%H%M%S_%f}_{self.run_id}{suffix}")  # µs: sorts by start
        schema = target_schema(self.meta_plans(plans))
        commit.claim(dest, unit)
        writer = RollingWriter(
            schema,
            format_options(export),
            self.stem(slc),
            lambda key: (unit.temp_key(key), dest.open_write(unit.temp_key(key))),
        )
        last_key: Any = None
        tracker = self.run_tracker or (QualityTracker(export.quality) if export.quality else None)
        batches = snap.stream(self.query, slc, plans, self.tuning.batch_size)
        try:
            for batch in prefetch(batches, 4, self.tuning.memory_threshold_mb, self.meter):
                if batch.num_rows == 0:
                    continue
                if slc.ordered:
                    last_key = self.key_of_last_row(batch, slc)
                if tracker:
                    tracker.observe(batch)
                writer.write(self.with_meta(batch))
                self.meter.sample()
                self.report_progress(batch.num_rows)
            write_empty = not export.skip_empty and export.mode in ("full", "time_window")
            parts = writer.finish(write_empty)
            reconciled = self.reconcile(snap, slc, writer.rows)
            self.decide(None if tracker is self.run_tracker else tracker, reconciled)
        except BaseException:
            writer.abort()
            commit.discard(dest, unit, writer.parts)
            raise
        with self._lock:
            self.result.slices.append(slc.describe())
        if not parts:
            log.info("%s: no rows in %s; nothing written", export.name, slc.key)
            commit.discard(dest, unit, [])
            return None
        manifest = self.manifest(slc, last_key, schema)
        return Written(unit, parts, manifest, "match" if reconciled else None, writer.rows)

    def report_progress(self, rows: int) -> None:
        with self._lock:
            self.streamed += rows
            if self.options.progress:
                self.options.progress(self.export.name, self.streamed, self.result.bytes)

    def publish(self, written: Written) -> None:
        """Commit a written unit (manifest last), replace older versions of its window/chunk, then validate/state."""
        manifest = commit.commit(self.dest, written.unit, written.parts, written.manifest)
        if manifest.get("replaces_slice"):
            replaced = commit.supersede(self.dest, self.export.name, manifest)
            if replaced:
                log.info(
                    "%s: %s replaced %d older version(s)",
                    self.export.name,
                    written.manifest["slice"]["key"],
                    replaced,
                )
        self.after_commit(written.unit, written.parts, manifest, written.reconciled)

    def key_of_last_row(self, batch: pa.RecordBatch, slc: Slice) -> Any:
        value = batch.column(slc.column).take([batch.num_rows - 1])[0].as_py()  # type: ignore[arg-type]
        if slc.fallback and value is None:
            value = batch.column(slc.fallback).take([batch.num_rows - 1])[0].as_py()
        return value

    def reconcile(self, snap: Snapshot, slc: Slice, written: int) -> GateResult | None:
        """Source COUNT(*) of the slice in the export's own snapshot vs rows written (an error-level gate)."""
        if not self.options.reconcile:
            return None
        expected = sql.count(snap, self.query, slc)
        details = {"slice": slc.key, "expected": expected, "actual": written, "difference": written - expected}
        message = f"reconcile: {slc.key}: source has {expected} rows, {written} were written"
        return GateResult("reconcile", expected == written, "error", details, message)

    def stem(self, slc: Slice) -> str:
        """`<prefix>/<export>_<YYYYMMDD_HHMMSS>[_chunk<i>]` (windows under `window=<key>/`), never an existing name."""
        prefix = self.placement.data_prefix
        if self.export.mode == "time_window":
            prefix = f"{prefix}/window={slc.key.replace(':', '')}".lstrip("/")
        base = f"{prefix}/" if prefix else ""
        chunk = f"_{slc.key}" if self.export.mode == "chunked" else ""
        stem = f"{base}{self.export.name}_{self.now:%Y%m%d_%H%M%S}{chunk}"
        ext = format_options(self.export).extension
        candidate, n = stem, 1
        while self.dest.size(f"{candidate}.{ext}") is not None:
            n += 1
            candidate = f"{stem}_{n}"
        return candidate

    def manifest(self, slc: Slice, last_key: Any, schema: pa.Schema) -> dict[str, Any]:
        """The unit's manifest body (commit adds parts, counts and status)."""
        e = self.export

        schema_text = ",".join(f"{f.name}:{f.type}" for f in schema)
        body: dict[str, Any] = {
            "rivet_version": __version__,
            "run_id": self.run_id,
            "export": e.name,
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "source": {"engine": self.config.source.type, "table": e.table, "query": self.result.query},
            "destination": self.dest.uri(),
            "format": e.format,
            "compression": format_options(e).compression,
            "schema": [{"name": f.name, "type": str(f.type)} for f in schema],
            "schema_fingerprint": "sha256:" + hashlib.sha256(schema_text.encode()).hexdigest()[:16],
            "slice": slc.describe(),
        }
        if e.mode == "time_window" or (e.mode == "chunked" and self.options.chunks):
            body["replaces_slice"] = True  # a window, or a chunk asked for by key (a Dagster partition)
        if self.chunk_run_id:
            body["chunk_run"] = self.chunk_run_id  # lets --resume trust the destination over a lagging checkpoint
        if e.mode == "incremental" and last_key is not None:
            body["cursor"] = {"column": self.cursor_label(), "value": encode_value(last_key)}
        return body

    def after_commit(
        self,
        unit: commit.Unit,
        parts: list[WrittenPart],
        manifest: dict[str, Any],
        reconciled: str | None,
    ) -> None:
        """Validate (read back), then state: file ledger, cursor — only after the data is durable."""
        r = self.result
        uris = [self.dest.uri(p.final_key) for p in parts]
        problems = validate_unit(self.dest, f"{unit.prefix}/manifest.json") if self.options.validate else []
        with self._lock:
            r.files += uris
            r.rows += manifest["row_count"]
            r.bytes += manifest["bytes"]
            r.reconciled = reconciled or r.reconciled
            r.units.append(
                {**manifest["slice"], "rows": manifest["row_count"], "bytes": manifest["bytes"], "files": uris}
            )
            if self.options.validate:
                r.validated = "failed" if problems or r.validated == "failed" else "passed"
        if problems:
            raise RivetError("validate failed: " + "; ".join(problems))
        now = _now()
        self.state.record_files(
            self.run_id,
            self.export.name,
            unit.unit_id,
            [
                {"uri": u, "rows": p.rows, "bytes": p.bytes, "fingerprint": p.fingerprint}
                for u, p in zip(uris, parts, strict=True)
            ],
            now,
        )
        if "cursor" in manifest:
            self.state.save_cursor(
                self.export.name, self.cursor_label(), manifest["cursor"]["value"], unit.unit_id, now
            )
            r.cursor = {"column": self.cursor_label(), "value": manifest["cursor"]["value"]["value"]}


def chunk_reconcile(config: Config, export: ExportConfig) -> list[dict[str, Any]]:
    """Per chunk of the latest checkpointed run: source COUNT(*) now vs rows recorded when it committed."""
    job = ExportJob(config, export, RunOptions())
    runs = job.state.chunk_runs(export.name)
    if not runs:
        raise StateError(f"reconcile: {export.name} has no checkpointed chunk run (needs chunk_checkpoint: true)")
    run_id = runs[-1]["run_id"]
    tasks = {t["index"]: t for t in job.state.chunk_tasks(run_id)}
    out = []
    with job.source.snapshot() as snap:
        snap.plan(job.query, job.overrides, f"exports[{export.name}]")  # column types for the bound chunk bounds
        for c in job.state.chunk_plan(run_id):
            slc = chunk_slice(c["column"], c["index"], decode_value(c["lo"]), decode_value(c["hi"]), c["hi_inclusive"])
            count = sql.count(snap, job.query, slc)
            task = tasks.get(c["index"], {})
            recorded = task.get("rows") if task.get("status") == "completed" else None
            status = "unknown" if recorded is None else "match" if recorded == count else "mismatch"
            out.append(
                {
                    "index": c["index"],
                    "key": c["key"],
                    "source": count,
                    "recorded": recorded,
                    "status": status,
                    "difference": None if recorded is None else recorded - count,
                }
            )
    return out


def chunk_keys(config: Config, export: ExportConfig) -> list[str]:
    """The keys (`chunk_key` of each aligned lower bound) of an export's non-empty chunks now, from MIN/MAX + seeks."""
    job = ExportJob(config, export, RunOptions())
    with job.source.snapshot() as snap:
        snap.plan(job.query, job.overrides, f"exports[{export.name}]")  # column types for the bound seek keys
        return [chunk_key(s.lo) for s in job.chunk_plan(snap)]


def run_export(config: Config, name: str, options: RunOptions | None = None) -> ExportResult:
    """Run one export of `config` by name."""
    return ExportJob(config, config.export(name), options or RunOptions()).run()


def write_frames(
    frames: Iterable[pl.DataFrame | pa.RecordBatch],
    destination: DestinationConfig,
    name: str,
    options: FormatOptions,
    base_dir: Path,
    state: StateStore | None = None,
    client: Any = None,
) -> ExportResult:
    """Commit frames made elsewhere (a Dagster asset's output) as one unit: parts → manifest → state.

    Each frame is written as it arrives, so an iterator is never collected; an empty frame still writes an empty
    part with its schema, so the newest unit always is the newest output. No frames at all writes nothing.
    """
    now, run_id = dt.datetime.now(dt.UTC), uuid.uuid4().hex[:12]
    result = ExportResult(name, run_id, now.isoformat(), slices=[{"key": "full"}])
    started, meter = time.monotonic(), _Meter()
    placement = open_destination(destination, name, name, run_id, now, base_dir, client)
    dest = placement.destination
    result.destination = dest.uri(placement.data_prefix)
    unit = commit.Unit(name, f"{now:%Y%m%d_%H%M%S_%f}_{run_id}")
    stem = "/".join(filter(None, [placement.data_prefix, f"{name}_{now:%Y%m%d_%H%M%S}_{run_id}"]))
    writer: RollingWriter | None = None
    try:
        commit.recover(dest, name)
        commit.claim(dest, unit)
        for frame in frames:
            table = frame.to_arrow() if isinstance(frame, pl.DataFrame) else pa.Table.from_batches([frame])
            if writer is None:
                writer = RollingWriter(
                    table.schema, options, stem, lambda key: (unit.temp_key(key), dest.open_write(unit.temp_key(key)))
                )
            for batch in (table if table.schema == writer.schema else table.cast(writer.schema)).to_batches():
                writer.write(batch)
            meter.sample()
        if writer is None:
            result.warnings.append("the output had no frames; nothing written")
            commit.discard(dest, unit, [])
            return result
        parts = writer.finish(True)
        schema = writer.schema
        body = {
            "rivet_version": __version__,
            "run_id": run_id,
            "export": name,
            "created_at": _now(),
            "source": {"engine": "frames"},
            "destination": dest.uri(),
            "format": options.format,
            "compression": options.compression,
            "schema": [{"name": f.name, "type": str(f.type)} for f in schema],
            "slice": result.slices[0],
        }
        manifest = commit.commit(dest, unit, parts, body)
        result.files = [dest.uri(p.final_key) for p in parts]
        result.rows, result.bytes = manifest["row_count"], manifest["bytes"]
        result.schema = [{"name": f.name, "type": str(f.type), "source": "frame"} for f in schema]
        if state:
            files = [
                {"uri": u, "rows": p.rows, "bytes": p.bytes, "fingerprint": p.fingerprint}
                for u, p in zip(result.files, parts, strict=True)
            ]
            state.record_files(run_id, name, unit.unit_id, files, _now())
    except BaseException as exc:
        if writer is not None:
            writer.abort()
        commit.discard(dest, unit, writer.parts if writer else [])
        if not isinstance(exc, RivetError):
            raise
        result.status, result.error = "failed", redact(str(exc).splitlines()[0], [])
    finally:
        result.duration_s = round(time.monotonic() - started, 3)
        result.peak_rss_mb = round(meter.peak / 2**20, 1)
        if state:
            state.record_run({**result.summary(), "files": len(result.files)})
    return result
