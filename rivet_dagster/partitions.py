"""Partitions of rivet exports: time windows for `time_window`, aligned chunk ranges for `chunked`.

The key forms are described in docs/slices-and-partitions.md.

- time_window → `TimeWindowPartitionsDefinition` in UTC, one partition per `dagster.window` (default day), keys in
  rivet's window format (`2026-11-01`, hourly `2026-11-01-13:00`), weeks from Monday. Only complete windows are
  partitions (the current one is not, Dagster's convention). The first one is `dagster.partition_start`, else
  `DEFAULT_PARTITION_START`: a fixed date, so the partition set never shifts from one load to the next.
- chunked with aligned `chunk_size` ranges on an integer key → `DynamicPartitionsDefinition` named
  `rivet_chunks_<export>` whose keys are rivet_core's `chunk_key(lower bound)` (zero-padded, so they sort).
  A range keeps its key when the table grows, so a partition is never renamed. Keys live in the Dagster instance:
  `register_chunks` (the sensor and `python -m rivet_dagster.register_chunks`) adds them. Other chunkings
  (`chunk_count`, `chunk_dense`, `chunk_by_days`) move their boundaries with the data and stay unpartitioned.
- A backfill follows `dagster.backfill`: `single_run` (default) makes it one rivet run, `BackfillPolicy.single_run()`,
  so the windows or chunks share one snapshot and `parallel` applies within it; `multi_run` makes runs of at most
  `max_partitions_per_run` (default 1) partitions, each its own snapshot, queued and capped like any run
  (docs/deploy.md).
"""

from __future__ import annotations

import datetime as dt
import logging

from dagster import (
    BackfillPolicy,
    DagsterInstance,
    DynamicPartitionsDefinition,
    PartitionsDefinition,
    TimeWindowPartitionsDefinition,
)

from rivet_dagster._engine import DEFAULT_CHUNK_SIZE, WINDOW_FORMATS, Config, ExportConfig, chunk_key, chunk_keys

log = logging.getLogger("rivet")

DEFAULT_PARTITION_START = dt.datetime(2026, 1, 1)
# Window starts as cron: rivet's windows are UTC, weeks start on Monday, months on the 1st.
_CRON = {"hour": "0 * * * *", "day": "0 0 * * *", "week": "0 0 * * 1", "month": "0 0 1 * *"}


def chunk_partitions_name(export: ExportConfig) -> str:
    """The instance-wide name of an export's dynamic chunk partitions."""
    return f"rivet_chunks_{export.name}"


def partitioned_by_chunks(export: ExportConfig) -> bool:
    """Chunked exports whose chunks are aligned `chunk_size` ranges (their keys never move)."""
    return export.mode == "chunked" and not (export.chunk_count or export.chunk_dense or export.chunk_by_days)


def partitions_def(config: Config, export: ExportConfig) -> PartitionsDefinition | None:
    """The export's partitions (None: one unpartitioned asset). Reads only the config."""
    if export.mode == "time_window":
        settings = config.dagster_for(export)
        unit = settings.window or "day"
        start = settings.partition_start or DEFAULT_PARTITION_START
        if not isinstance(start, dt.datetime):
            start = dt.datetime.combine(start, dt.time())
        if start.tzinfo is not None:
            start = start.astimezone(dt.UTC).replace(tzinfo=None)
        return TimeWindowPartitionsDefinition(
            start=start, fmt=WINDOW_FORMATS[unit], cron_schedule=_CRON[unit], timezone="UTC"
        )
    if partitioned_by_chunks(export):
        return DynamicPartitionsDefinition(name=chunk_partitions_name(export))
    return None


def chunk_key_problem(export: ExportConfig, key: str) -> str | None:
    """Why a chunk partition key is not one the export's plan can produce (None: it is)."""
    size = export.chunk_size or DEFAULT_CHUNK_SIZE
    try:
        lower = int(key)
    except ValueError:
        lower = None
    if lower is not None and chunk_key(lower) == key and lower % size == 0:
        return None
    return (
        f"{export.name}: partition key {key!r} is not a chunk of this export: expected the zero-padded lower bound "
        f"of an aligned chunk_size={size} range, e.g. {chunk_key(0)} or {chunk_key(size)} "
        "(register them with `python -m rivet_dagster.register_chunks`)"
    )


def backfill_policy(config: Config, export: ExportConfig) -> BackfillPolicy | None:
    """A partitioned export's backfill runs: one (shared snapshot), or runs of `max_partitions_per_run` each."""
    if partitions_def(config, export) is None:
        return None
    settings = config.dagster_for(export)
    if settings.backfill == "multi_run":
        return BackfillPolicy.multi_run(settings.max_partitions_per_run or 1)
    return BackfillPolicy.single_run()


def register_chunks(instance: DagsterInstance, config: Config, export: ExportConfig) -> tuple[list[str], list[str]]:
    """Add the export's current chunk keys to the instance; returns (all keys now, the newly added ones).

    Opens a source connection (MIN/MAX and key seeks): call it from a sensor, a schedule or a CLI step,
    never while loading definitions.
    """
    keys = chunk_keys(config, export)
    name = chunk_partitions_name(export)
    known = set(instance.get_dynamic_partitions(name))
    new = [k for k in keys if k not in known]
    if new:
        instance.add_dynamic_partitions(name, new)
        log.info("%s: %d new chunk partition(s) registered: %s … %s", export.name, len(new), new[0], new[-1])
    return keys, new
