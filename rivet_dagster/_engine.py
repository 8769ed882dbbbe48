"""rivet_dagster's one boundary to rivet_core: every rivet_core name the adapter uses is imported here.

The rest of the package reads rivet_core's results only through the helpers below (typed views of units and
gates, Dagster metadata of a run, reads and writes of committed files), so a change in rivet_core's types
touches this module alone.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from dagster import DagsterLogManager, Failure, MetadataValue, TableColumn, TableSchema

from rivet_core.config import (
    Config,
    DagsterConfig,
    DestinationConfig,
    ExportConfig,
    GcsDestinationConfig,
    LocalDestinationConfig,
    S3DestinationConfig,
    export_fingerprint,
    load_config,
    parse_file_size,
)
from rivet_core.destinations import open_destination
from rivet_core.engine import ExportResult, RunOptions, run_export, write_frames
from rivet_core.errors import ConfigError, RivetError
from rivet_core.gates import GateResult
from rivet_core.notify import notify
from rivet_core.planning import WINDOW_FORMATS, Slice, chunk_key, chunk_keys
from rivet_core.scan import current_units, scan
from rivet_core.state import StateStore
from rivet_core.writers import FormatOptions

__all__ = [
    "WINDOW_FORMATS",
    "Committed",
    "Config",
    "ConfigError",
    "DagsterConfig",
    "DestinationConfig",
    "ExportConfig",
    "ExportResult",
    "GateResult",
    "RivetError",
    "UnitNumbers",
    "chunk_keys",
    "committed_units",
    "execute",
    "export_fingerprint",
    "gate_results",
    "gcs_destination",
    "load_committed",
    "load_config",
    "local_destination",
    "notify_failure",
    "result_metadata",
    "rivet_step",
    "s3_destination",
    "write_asset_frames",
]


@dataclass(frozen=True)
class UnitNumbers:
    """One committed unit of a run as a partition sees it: its key and its own numbers."""

    partition: str
    rows: int
    bytes: int
    files: list[str]
    bounds: dict[str, Any]


def partition_of(export: ExportConfig, slc: Slice) -> str:
    """The partition key of a committed slice: its window, or its chunk's key."""
    return slc.key if export.mode == "time_window" else chunk_key(slc.lo)


def committed_units(export: ExportConfig, result: ExportResult) -> list[UnitNumbers]:
    """The units the run committed, each with its partition key, rows, bytes, files and bounds."""
    out = []
    for unit in result.units:
        bounds = unit.slice.to_json()
        out.append(
            UnitNumbers(
                partition_of(export, unit.slice),
                unit.rows,
                unit.bytes,
                list(unit.files),
                {k: bounds[k] for k in ("column", "lo", "hi") if k in bounds},
            )
        )
    return out


def gate_results(result: ExportResult) -> list[GateResult]:
    """The run's gate verdicts (quality rules, reconcile, schema drift) in the order the engine decided them."""
    return result.gates


def execute(
    config: Config,
    export: ExportConfig,
    partition_keys: Sequence[str],
    *,
    validate: bool,
    reconcile: bool,
    store_client: Any,
) -> ExportResult:
    """Run one export: all of it, or the windows / chunks of a partitioned step."""
    options = RunOptions(validate=validate, reconcile=reconcile, store_client=store_client)
    if partition_keys and export.mode == "time_window":
        options.windows = list(partition_keys)
    elif partition_keys:
        options.chunks = list(partition_keys)
    return run_export(config, export.name, options)


def result_metadata(result: ExportResult) -> dict[str, Any]:
    """Materialization metadata of a run: counts, schema, files, timings, cursor, redacted query — never a secret."""
    meta: dict[str, Any] = {
        "dagster/row_count": result.rows,
        "dagster/column_schema": TableSchema(
            columns=[TableColumn(c["name"], c["type"], description=c.get("source") or None) for c in result.schema]
        ),
        "dagster/uri": result.destination,
        "files": MetadataValue.json(result.files),
        "bytes": result.bytes,
        "duration_s": result.duration_s,
        "peak_rss_mb": result.peak_rss_mb,
        "slices": MetadataValue.json([s.to_json() for s in result.slices]),
        "run_id": result.run_id,
        "status": result.status,
    }
    if result.gates:
        meta["gates"] = MetadataValue.json([g.to_json() for g in result.gates])
    for name in ("validated", "reconciled"):
        if getattr(result, name) is not None:
            meta[name] = getattr(result, name)
    if result.cursor is not None:
        meta["cursor"] = MetadataValue.json(result.cursor)
    if result.query:
        meta["query"] = result.query  # the table, or the SQL with any password masked
    if result.warnings:
        meta["warnings"] = MetadataValue.json(result.warnings)
    if result.error:
        meta["error"] = result.error
    return meta


def local_destination(path: str) -> DestinationConfig:
    """A local folder as a rivet destination."""
    return LocalDestinationConfig(type="local", path=path)


def s3_destination(**fields: Any) -> DestinationConfig:
    """An S3 prefix as a rivet destination (the rivet.yaml `destination:` fields of `type: s3`)."""
    return S3DestinationConfig(type="s3", **fields)


def gcs_destination(**fields: Any) -> DestinationConfig:
    """A GCS prefix as a rivet destination (the rivet.yaml `destination:` fields of `type: gcs`)."""
    return GcsDestinationConfig(type="gcs", **fields)


@dataclass(frozen=True)
class Committed:
    """What `load_committed` found: a LazyFrame over the files, where they are, and how many units."""

    frame: pl.LazyFrame
    uri: str
    units: int


def load_committed(
    config: Config,
    target: DestinationConfig,
    name: str,
    *,
    table: str,
    fmt: str,
    export: ExportConfig | None,
    partitions: Iterable[str] | None,
    client: Any,
) -> Committed:
    """A LazyFrame over an export's or asset's committed files (of the given partitions of an export)."""
    dest = open_destination(target, name, table, "", dt.datetime.now(dt.UTC), config.base_dir, client).destination
    units = current_units(dest, name, export is not None and export.mode == "incremental")
    if export is not None and partitions is not None:
        wanted = set(partitions)
        units = [m for m in units if partition_of(export, m.slice) in wanted]
    return Committed(scan(dest, units, fmt), dest.uri(), len(units))


def write_asset_frames(
    frames: Iterable[pl.DataFrame],
    target: DestinationConfig,
    name: str,
    *,
    base_dir: Path,
    fmt: str,
    compression: str,
    max_file_size: str | None,
    client: Any,
) -> ExportResult:
    """Commit another asset's frames as one unit through rivet's writer and commit protocol."""
    size = parse_file_size(max_file_size) if max_file_size else None
    options = FormatOptions(fmt, compression if fmt == "parquet" else "none", max_file_size=size)
    return write_frames(frames, target, name, options, base_dir, StateStore.open(base_dir), client)


def notify_failure(config: Config, steps: str, run_id: str, error: str) -> None:
    """rivet's failure notification (Slack) for a Dagster run that failed outside rivet's engine."""
    notify(config, ExportResult(steps, run_id, "", status="failed", error=error))


@contextmanager
def rivet_step(dagster_log: DagsterLogManager) -> Iterator[None]:
    """rivet's log lines into the run log while rivet works; a config error fails the step with just its text."""
    logger = logging.getLogger("rivet")

    class _Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            dagster_log.log(record.levelno, record.getMessage())

    handler, level = _Forward(), logger.level
    logger.addHandler(handler)
    if level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    try:
        yield
    except ConfigError as exc:
        raise Failure(description=str(exc), allow_retries=False) from None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
