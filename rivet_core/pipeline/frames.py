"""Committing frames made elsewhere (a Dagster asset's output) as one unit: parts → manifest → state."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from rivet_core import __version__, commit
from rivet_core.commit import Layout, Manifest
from rivet_core.config import DestinationConfig
from rivet_core.destinations import open_destination
from rivet_core.errors import RivetError
from rivet_core.lease import EXPORT_SCOPE, HolderInfo, acquire, destination_backends, state_backend
from rivet_core.pipeline.prefetch import Meter
from rivet_core.redact import redact
from rivet_core.results import ExportResult
from rivet_core.slices import full_slice
from rivet_core.state import StateStore
from rivet_core.writers import FormatOptions, RollingWriter

if TYPE_CHECKING:
    import polars as pl


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def write_frames(
    frames: Iterable[pl.DataFrame | pa.RecordBatch],
    destination: DestinationConfig,
    name: str,
    options: FormatOptions,
    base_dir: Path,
    state: StateStore | None = None,
    client: Any = None,
    *,
    lease_wait_s: float = 0,
) -> ExportResult:
    """Write each frame as it arrives (an iterator is never collected) and commit them as one unit.

    An empty frame still writes an empty part with its schema, so the newest unit always is the newest output.
    No frames at all writes nothing. The write holds the export lease of `name` (docs/lease.md): a concurrent
    write of the same name fails after `lease_wait_s`, naming the holder.
    """
    now, run_id = dt.datetime.now(dt.UTC), uuid.uuid4().hex[:12]
    slc = full_slice()
    result = ExportResult(name, run_id, now.isoformat(), slices=[slc])
    started, meter = time.monotonic(), Meter()
    placement = open_destination(destination, name, name, run_id, now, base_dir, client)
    dest = placement.destination
    result.destination = dest.uri(placement.data_prefix)
    unit = Layout(name).unit(commit.unit_id(now, run_id))
    stem = commit.frames_stem(placement.data_prefix, name, now, run_id)
    writer: RollingWriter | None = None
    backends = [state_backend(base_dir), *destination_backends(dest)]
    try:
        with acquire(
            export=name, scope=EXPORT_SCOPE, holder=HolderInfo.current(run_id), backends=backends, wait_s=lease_wait_s
        ) as lease:
            commit.roll_forward(dest, name)
            commit.recover(dest, name)
            commit.claim(dest, unit)
            for frame in frames:
                table = pa.Table.from_batches([frame]) if isinstance(frame, pa.RecordBatch) else frame.to_arrow()
                if writer is None:
                    writer = RollingWriter(
                        table.schema,
                        options,
                        stem,
                        lambda key: (unit.temp_key(key), dest.open_write(unit.temp_key(key))),
                    )
                for batch in (table if table.schema == writer.schema else table.cast(writer.schema)).to_batches():
                    writer.write(batch)
                meter.sample()
            if writer is None:
                result.warnings.append("the output had no frames; nothing written")
                commit.discard(dest, unit, [])
                return result
            parts = writer.finish(True)
            body = Manifest(
                rivet_version=__version__,
                run_id=run_id,
                export=name,
                created_at=_now(),
                source={"engine": "frames"},
                destination=dest.uri(),
                format=options.format,
                compression=options.compression,
                schema=commit.schema_json(writer.schema),
                slice=slc,
            )
            manifest = commit.commit(dest, unit, parts, body, check=lease.check)
            result.files = [dest.uri(p.final_key) for p in parts]
            result.rows, result.bytes = manifest.row_count, manifest.bytes
            result.schema = [{"name": f.name, "type": str(f.type), "source": "frame"} for f in writer.schema]
            if state:
                state.record_files(run_id, name, unit.unit_id, result.files, parts, _now())
    except BaseException as exc:
        if writer is not None:
            writer.abort()
        commit.discard(dest, unit, writer.parts if writer else [])
        if not isinstance(exc, RivetError):
            raise
        result.fail(redact(str(exc).splitlines()[0], []))
    finally:
        result.duration_s = round(time.monotonic() - started, 3)
        result.peak_rss_mb = round(meter.peak / 2**20, 1)
        if state:
            state.record_run({**result.to_json(), "files": len(result.files)})
    return result
