"""The per-unit loop: stream → prefetch → meta columns → quality → write → progress → finish → gates.

Nothing becomes visible here: a unit's parts stay temp objects until `publish` commits them.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from rivet_core import __version__, commit
from rivet_core.commit import Cursor, Manifest, Unit
from rivet_core.gates import reconcile_gate
from rivet_core.pipeline.memory_cap import MemoryCap
from rivet_core.pipeline.meta import meta_plans, with_meta
from rivet_core.pipeline.prefetch import Prefetch
from rivet_core.pipeline.run import Run
from rivet_core.planning import cursor_label
from rivet_core.slices import Slice
from rivet_core.sources.base import Snapshot
from rivet_core.sources.batching import BatchSizing
from rivet_core.sources.types import ColumnPlan, target_schema
from rivet_core.writers import RollingWriter, WrittenPart

log = logging.getLogger("rivet")

PREFETCH_DEPTH = 4  # batches fetched ahead of the writer


@dataclass
class Written:
    """A slice written to temp parts, gates passed, waiting to be committed."""

    unit: Unit
    parts: list[WrittenPart]
    manifest: Manifest
    reconciled: str | None
    rows: int
    duration_s: float  # streaming and writing the slice, gates included


def write_unit(run: Run, snap: Snapshot, slc: Slice, plans: list[ColumnPlan]) -> Written | None:
    """Stream one slice into temp parts and decide its gates; None when it holds no rows and nothing is committed
    for that (`skip_empty: true`, no new incremental rows, an empty chunk)."""
    with read(run, snap, slc, plans) as batches:
        return write_batches(run, snap, slc, plans, batches)


def read(run: Run, snap: Snapshot, slc: Slice, plans: list[ColumnPlan]) -> Prefetch:
    """The slice's rows from the source, read ahead in a thread: batch sizing, throttle and stall watch applied."""
    t = run.tuning
    sizing = BatchSizing.of(t.batch_size, t.batch_size_memory_mb, run.source.write_pressure if t.adaptive else None)
    stream = snap.stream(run.query, slc, plans, sizing)
    throttle, watch = t.throttle_ms / 1000, run.watchdog.stream(snap, slc)
    return Prefetch(stream, PREFETCH_DEPTH, t.memory_threshold_mb, run.meter, throttle, watch)


def write_batches(
    run: Run, snap: Snapshot, slc: Slice, plans: list[ColumnPlan], batches: Iterator[pa.RecordBatch]
) -> Written | None:
    """Write the slice's rows, read as `batches`, into temp parts and decide its gates; None when empty."""
    started = time.monotonic()
    export, dest = run.export, run.dest
    unit = run.layout.unit(commit.unit_id(run.now, run.run_id, slc))
    schema = target_schema(meta_plans(plans, export.meta_column_list))
    tracker = run.unit_tracker()
    commit.claim(dest, unit)
    writer = RollingWriter(
        schema, run.format, stem(run, slc), lambda key: (unit.temp_key(key), dest.open_write(unit.temp_key(key)))
    )
    last_key: Any = None
    cap = MemoryCap.of(run.tuning, run.warn)
    try:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            if slc.ordered:
                last_key = key_of_last_row(batch, slc)
            if tracker:
                tracker.observe(batch)
            if run.shape:
                run.shape.observe(batch)
            for piece in cap.fit(with_meta(batch, export.meta_column_list, run.now)):
                writer.write(piece)
                run.progress(piece.num_rows)
            run.meter.sample()
        parts = writer.finish(False)  # 0 rows: no data file, in every mode (as 0.7.7)
        reconciled = reconcile_gate(snap, run.query, slc, writer.rows) if run.options.reconcile else None
        unit_gates = tracker.evaluate() if tracker and tracker is not run.run_tracker else []
        run.decide(unit_gates + ([reconciled] if reconciled else []))
    except BaseException:
        writer.abort()
        commit.discard(dest, unit, writer.parts)
        raise
    with run.lock:
        run.result.slices.append(slc)
    if not parts and (export.skip_empty or export.mode not in ("full", "time_window")):
        log.info("%s: no rows in %s; nothing written", export.name, slc.key)
        commit.discard(dest, unit, [])
        return None
    if not parts:  # skip_empty: false, full / time_window: a unit of zero parts, manifest and _SUCCESS (0.7.7)
        log.info("%s: no data to export in %s; committing an empty unit", export.name, slc.key)
    manifest = manifest_of(run, slc, last_key, schema)
    return Written(unit, parts, manifest, "match" if reconciled else None, writer.rows, time.monotonic() - started)


def key_of_last_row(batch: pa.RecordBatch, slc: Slice) -> Any:
    """The cursor value of a batch's last row (its fallback's when NULL, in coalesce mode)."""
    assert slc.column is not None
    value = batch.column(slc.column)[batch.num_rows - 1].as_py()
    if slc.fallback and value is None:
        value = batch.column(slc.fallback)[batch.num_rows - 1].as_py()
    return value


def stem(run: Run, slc: Slice) -> str:
    """The unit's data-file stem (`commit.data_stem`), never the name of an existing file."""
    name = commit.data_stem(run.placement.data_prefix, run.export.name, run.now, slc)
    return commit.free_stem(name, run.format.extension, lambda key: run.dest.size(key) is not None)


def manifest_of(run: Run, slc: Slice, last_key: Any, schema: pa.Schema) -> Manifest:
    """The unit's manifest (commit adds the unit id, counts and parts)."""
    e = run.export
    return Manifest(
        rivet_version=__version__,
        run_id=run.run_id,
        export=e.name,
        created_at=dt.datetime.now(dt.UTC).isoformat(),
        source={"engine": run.config.source.type, "table": e.table, "query": run.result.query},
        destination=run.dest.uri(),
        format=e.format,
        compression=run.format.compression,
        schema=commit.schema_json(schema),
        schema_fingerprint=commit.schema_fingerprint(schema),
        slice=slc,
        replaces_slice=e.mode == "time_window" or (e.mode == "chunked" and bool(run.options.chunks)),
        chunk_run=run.checkpoints.run_id,
        cursor=Cursor(cursor_label(e), last_key) if e.mode == "incremental" and last_key is not None else None,
    )
