"""IO managers: asset outputs go through rivet_core's writer and commit protocol; inputs come back as LazyFrames.

`handle_output` takes what an asset returns inside `Output(value=…)`: an `ExportRun` (a rivet export asset), a
`pl.DataFrame`, or an iterator of `pl.DataFrame` batches, consumed one batch at a time (never collected). The
run's numbers become the materialization metadata; a failed run fails the step and records no materialization.
`load_input` returns a `pl.LazyFrame` over the files the upstream asset's committed manifests list.

A destination kind is one subclass saying where assets that are not exports go: `RivetLocalIOManager`,
`RivetS3IOManager`, `RivetGcsIOManager`. Each export asset uses the one of its `destination.type`. The object-store
ones take an optional dagster-aws `S3Resource` (`s3=`) / dagster-gcp `GCSResource` (`gcs=`): when given, its
`get_client()` client does every read and write of the IO manager, the export's own run included (the export asset
hands it to rivet_core). Without one, rivet builds its client from each destination's settings: an export's from
rivet.yaml, the other assets' from the IO manager's fields, which follow the rivet.yaml credential rules
(`*_env` names environment variables: no secret in Dagster config).
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
from dagster_aws.s3 import S3Resource
from dagster_gcp import GCSResource
from pydantic import Field

from rivet_core.config import (
    Config,
    DestinationConfig,
    ExportConfig,
    GcsDestination,
    LocalDestination,
    S3Destination,
    load_config,
    parse_file_size,
)
from rivet_core.destinations import open_destination
from rivet_core.engine import ExportResult, RunOptions, run_export, write_frames
from rivet_core.errors import ConfigError
from rivet_core.scan import current_units, scan
from rivet_core.state import StateStore
from rivet_core.writers import FormatOptions
from rivet_dagster.partitions import partition_of

EXPORT_METADATA_KEY = "rivet/export"  # definition metadata naming the export behind an asset


@dataclass
class ExportRun:
    """What an export asset hands its IO manager: one export run through rivet_core's engine (at most once).

    Export assets run it in their body, so that gate results become check results before the IO manager
    records the materialization; the IO manager then only records the metadata.
    """

    config: Config
    export: ExportConfig
    options: RunOptions = field(default_factory=RunOptions)
    result: ExportResult | None = None

    def run(self) -> ExportResult:
        if self.result is None:
            self.result = run_export(self.config, self.export.name, self.options)
        return self.result


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

    def store_client(self) -> Any:
        """The client of the Dagster resource this IO manager was given; None: rivet builds one per destination."""
        return None

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
        with rivet_step(context.log):
            if isinstance(obj, ExportRun):
                result = obj.run()
            else:
                frames = [obj] if isinstance(obj, pl.DataFrame) else obj
                base_dir, options = self._config().base_dir, self._format_options()
                state = StateStore.open(base_dir)
                target = self.destination_for(key)
                result = write_frames(frames, target, _name(key), options, base_dir, state, self.store_client())
        metadata = result_metadata(result)
        if result.status == "failed":
            raise Failure(description=result.error, metadata=metadata)
        context.add_output_metadata(metadata)

    def load_input(self, context: InputContext) -> pl.LazyFrame:
        """A LazyFrame over the upstream asset's committed files, of the partitions asked for when partitioned.

        Nothing is read until the frame is collected.
        """
        upstream = context.upstream_output
        assert upstream is not None
        config = self._config()
        key = upstream.asset_key
        export_name = (upstream.definition_metadata or {}).get(EXPORT_METADATA_KEY)
        export = config.export(str(export_name)) if export_name else None
        if export:
            name, fmt, incremental = export.name, export.format, export.mode == "incremental"
            target, table = export.destination, export.source_table[1] if export.source_table else name
        else:
            name, fmt, incremental = _name(key), self.format, False
            target, table = self.destination_for(key), name
        with rivet_step(context.log):
            now, client = dt.datetime.now(dt.UTC), self.store_client()
            dest = open_destination(target, name, table, "", now, config.base_dir, client).destination
            units = current_units(dest, name, incremental)
        if export and context.has_asset_partitions:
            wanted = set(context.asset_partition_keys)
            units = [m for m in units if partition_of(export, m.slice) in wanted]
        if not units:
            context.log.warning(f"{key.to_user_string()}: nothing committed at {dest.uri()} yet; an empty frame")
        return scan(dest, units, fmt)


class RivetLocalIOManager(RivetIOManager):
    """Non-export assets go to `<base_path>/<asset key path>/` on local disk (relative to the config folder)."""

    base_path: str = Field(default="./out/assets", description="Folder for non-export assets' files.")

    def destination_for(self, key: AssetKey) -> DestinationConfig:
        return LocalDestination(type="local", path=str(Path(self.base_path, *key.path)))


def _name(key: AssetKey) -> str:
    """The rivet unit name of a non-export asset: its key parts joined by `__` (file-name safe)."""
    return "__".join(key.path)


class _ObjectStoreFields(RivetIOManager):
    """Where non-export assets go in a bucket: `<prefix>/<asset key path>/`."""

    bucket: str | None = Field(default=None, description="Bucket for non-export assets (exports use their own).")
    prefix: str = Field(default="rivet/assets", description="Key prefix under which each asset gets a folder.")
    endpoint: str | None = Field(default=None, description="Service endpoint (an S3-compatible store, an emulator).")
    allow_anonymous: bool = Field(default=False, description="Unsigned requests when no credentials are set.")

    def _bucket(self, key: AssetKey) -> str:
        if not self.bucket:
            raise Failure(
                description=f"{key.to_user_string()}: set `bucket` on {type(self).__name__} to store assets that "
                "are not rivet exports",
                allow_retries=False,
            )
        return self.bucket

    def _prefix(self, key: AssetKey) -> str:
        return "/".join([self.prefix.strip("/"), *key.path]).strip("/")


class RivetS3IOManager(_ObjectStoreFields):
    """Non-export assets go to `s3://<bucket>/<prefix>/<asset key path>/`; all S3 calls through `s3` when given."""

    s3: S3Resource | None = Field(default=None, description="dagster-aws S3Resource whose client does all S3 calls.")
    region: str | None = None
    access_key_env: str | None = Field(default=None, description="Environment variable holding the access key id.")
    secret_key_env: str | None = Field(default=None, description="Environment variable holding the secret key.")
    session_token_env: str | None = None
    aws_profile: str | None = None

    def destination_for(self, key: AssetKey) -> DestinationConfig:
        fields = ("region", "endpoint", "access_key_env", "secret_key_env", "session_token_env", "aws_profile")
        settings = {f: getattr(self, f) for f in fields}
        return S3Destination(
            type="s3", bucket=self._bucket(key), prefix=self._prefix(key), allow_anonymous=self.allow_anonymous,
            **settings,
        )  # fmt: skip

    def store_client(self) -> Any:
        return self.s3.get_client() if self.s3 else None


class RivetGcsIOManager(_ObjectStoreFields):
    """Non-export assets go to `gs://<bucket>/<prefix>/<asset key path>/`; all GCS calls through `gcs` when given."""

    gcs: GCSResource | None = Field(default=None, description="dagster-gcp GCSResource whose client does all calls.")
    credentials_file: str | None = Field(default=None, description="google-auth JSON file (relative to the config).")

    def destination_for(self, key: AssetKey) -> DestinationConfig:
        return GcsDestination(
            type="gcs", bucket=self._bucket(key), prefix=self._prefix(key), endpoint=self.endpoint,
            credentials_file=self.credentials_file, allow_anonymous=self.allow_anonymous,
        )  # fmt: skip

    def store_client(self) -> Any:
        return self.gcs.get_client() if self.gcs else None


def io_manager_for(kind: str, config_path: str) -> RivetIOManager:
    """The default IO manager for a destination kind (object stores: exports only until `bucket` is set)."""
    managers: dict[str, type[RivetIOManager]] = {
        "local": RivetLocalIOManager,
        "s3": RivetS3IOManager,
        "gcs": RivetGcsIOManager,
    }
    return managers[kind](config_path=config_path)
