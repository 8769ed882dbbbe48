"""IO managers: asset outputs go through rivet_core's writer and commit protocol; inputs come back as LazyFrames.

`handle_output` takes what an asset returns inside `Output(value=…)`: an `ExportRun` (a rivet export asset), a
`pl.DataFrame`, or an iterator of `pl.DataFrame` batches, consumed one batch at a time (never collected). The
run's numbers become the materialization metadata; a failed run fails the step and records no materialization.
`load_input` returns a `pl.LazyFrame` over the files the upstream asset's committed manifests list.

A destination kind is one subclass saying where assets that are not exports go (`RivetLocalIOManager` here).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl
from dagster import (
    AssetKey,
    ConfigurableIOManager,
    DagsterLogManager,
    Failure,
    InputContext,
    MetadataValue,
    OutputContext,
    TableColumn,
    TableSchema,
)
from pydantic import Field

from rivet_core import commit
from rivet_core.config import Config, DestinationConfig, ExportConfig, LocalDestination, load_config, parse_file_size
from rivet_core.destinations import open_destination
from rivet_core.destinations.base import Destination
from rivet_core.engine import ExportJob, ExportResult, RunOptions, write_frames
from rivet_core.errors import ConfigError
from rivet_core.state import StateStore
from rivet_core.writers import FormatOptions

EXPORT_METADATA_KEY = "rivet/export"  # definition metadata naming the export behind an asset


@dataclass(frozen=True)
class ExportRun:
    """What an export asset hands its IO manager: one export to run through rivet_core's engine."""

    config: Config
    export: ExportConfig
    options: RunOptions = field(default_factory=RunOptions)

    def run(self) -> ExportResult:
        return ExportJob(self.config, self.export, self.options).run()


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
        "slices": MetadataValue.json(result.slices),
        "run_id": result.run_id,
        "status": result.status,
    }
    if result.cursor is not None:
        meta["cursor"] = MetadataValue.json(result.cursor)
    if result.query:
        meta["query"] = result.query  # the table, or the SQL with any password masked
    if result.warnings:
        meta["warnings"] = MetadataValue.json(result.warnings)
    if result.error:
        meta["error"] = result.error
    return meta


def current_files(dest: Destination, name: str, incremental: bool) -> list[str]:
    """URIs of the data an asset holds now, from its committed manifests (since the last `rivet state reset`).

    Incremental units add up; otherwise the newest unit of each slice wins (the whole table, a chunk, a window).
    """
    watermark = commit.latest_reset(dest, name)
    units = sorted(
        (m for m in commit.current_manifests(dest, name) if watermark is None or m["unit_id"] > watermark),
        key=lambda m: m["unit_id"],
    )
    if not incremental:
        units = sorted({m["slice"]["key"]: m for m in units}.values(), key=lambda m: m["unit_id"])
    return [dest.uri(p["key"]) for m in units for p in m["parts"]]


@contextmanager
def _rivet_log_to(dagster_log: DagsterLogManager) -> Iterator[None]:
    """Show rivet's log lines (cursor recovery, empty slices) in the Dagster run log while a run is handled."""
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
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class RivetIOManager(ConfigurableIOManager):
    """Base of rivet's IO managers; a subclass only says where the outputs of non-export assets go."""

    config_path: str = Field(description="The rivet.yaml this code location was built from (state lives next to it).")
    format: Literal["parquet", "csv"] = Field(default="parquet", description="File format of non-export assets.")
    compression: Literal["zstd", "snappy", "gzip", "lz4", "none"] = Field(
        default="zstd", description="Parquet codec of non-export assets (CSV is written uncompressed)."
    )
    max_file_size: str | None = Field(default=None, description='Roll to a new part above this size, e.g. "256MB".')

    def destination_for(self, key: AssetKey) -> DestinationConfig:
        """Where the outputs of a non-export asset are committed."""
        raise NotImplementedError

    def _config(self) -> Config:
        try:
            return load_config(self.config_path)
        except ConfigError as exc:
            raise Failure(description=str(exc), allow_retries=False) from None

    def _format_options(self) -> FormatOptions:
        size = parse_file_size(self.max_file_size) if self.max_file_size else None
        return FormatOptions(self.format, self.compression if self.format == "parquet" else "none", max_file_size=size)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Run the export, or write the frames, through rivet_core; fail the step when the run failed."""
        key = context.asset_key
        if not isinstance(obj, ExportRun | pl.DataFrame | Iterable) or isinstance(obj, str | bytes):
            raise Failure(
                description=f"{key.to_user_string()}: rivet's IO manager takes a pl.DataFrame or an iterator of "
                f"pl.DataFrame batches, not {type(obj).__name__}",
                allow_retries=False,
            )
        with _rivet_log_to(context.log):
            try:
                if isinstance(obj, ExportRun):
                    result = obj.run()
                else:
                    frames = [obj] if isinstance(obj, pl.DataFrame) else obj
                    base_dir, options = self._config().base_dir, self._format_options()
                    state = StateStore.open(base_dir)
                    result = write_frames(frames, self.destination_for(key), _name(key), options, base_dir, state)
            except ConfigError as exc:
                raise Failure(description=str(exc), allow_retries=False) from None
        metadata = result_metadata(result)
        if result.status == "failed":
            raise Failure(description=result.error, metadata=metadata)
        context.add_output_metadata(metadata)

    def load_input(self, context: InputContext) -> pl.LazyFrame:
        """A LazyFrame over the upstream asset's committed files (nothing is read until it is collected)."""
        upstream = context.upstream_output
        assert upstream is not None
        config = self._config()
        key = upstream.asset_key
        export_name = (upstream.definition_metadata or {}).get(EXPORT_METADATA_KEY)
        if export_name:
            export = config.export(str(export_name))
            name, fmt, incremental = export.name, export.format, export.mode == "incremental"
            target, table = export.destination, export.source_table[1] if export.source_table else name
        else:
            name, fmt, incremental = _name(key), self.format, False
            target, table = self.destination_for(key), name
        dest = open_destination(target, name, table, "", dt.datetime.now(dt.UTC), config.base_dir).destination
        files = current_files(dest, name, incremental)
        if not files:
            context.log.warning(f"{key.to_user_string()}: nothing committed at {dest.uri()} yet; an empty frame")
            return pl.LazyFrame()
        return pl.scan_parquet(files) if fmt == "parquet" else pl.scan_csv(files)


class RivetLocalIOManager(RivetIOManager):
    """Non-export assets go to `<base_path>/<asset key path>/` on local disk (relative to the config folder)."""

    base_path: str = Field(default="./out/assets", description="Folder for non-export assets' files.")

    def destination_for(self, key: AssetKey) -> DestinationConfig:
        return LocalDestination(type="local", path=str(Path(self.base_path, *key.path)))


def _name(key: AssetKey) -> str:
    """The rivet unit name of a non-export asset: its key parts joined by `__` (file-name safe)."""
    return "__".join(key.path)
