"""IO managers: other assets' Polars frames go through rivet_core's writer and commit protocol; inputs come back
as LazyFrames.

Export assets do not hand their output to an IO manager (their body yields a `MaterializeResult`); an IO manager
only loads them for downstream assets. `handle_output` commits what other assets return: a `pl.DataFrame`, or an
iterator of `pl.DataFrame` batches, consumed one batch at a time (never collected). `load_input` returns a
`pl.LazyFrame` over the files the upstream asset's committed manifests list.

A destination kind is one subclass saying where assets that are not exports go: `RivetLocalIOManager`,
`RivetS3IOManager`, `RivetGcsIOManager`. Each export asset is loaded by the one of its `destination.type`. The
object-store ones take an optional dagster-aws `S3Resource` (`s3=`) / dagster-gcp `GCSResource` (`gcs=`): when
given, its `get_client()` client does every read and write of the IO manager. Without one, rivet builds its
client from each destination's settings: an export's from rivet.yaml, the other assets' from the IO manager's
fields, which follow the rivet.yaml credential rules (`*_env` names environment variables: no secret in config).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import polars as pl
from dagster import AssetKey, ConfigurableIOManager, ConfigurableResource, Failure, InputContext, OutputContext
from pydantic import Field

from rivet_dagster._engine import (
    Config,
    ConfigError,
    DestinationConfig,
    ExportConfig,
    gcs_destination,
    load_committed,
    load_config,
    local_destination,
    rivet_step,
    s3_destination,
    state_store,
    write_asset_frames,
)
from rivet_dagster.constants import CONFIG_METADATA_KEY, EXPORT_METADATA_KEY
from rivet_dagster.extras import store_client
from rivet_dagster.metadata import result_metadata
from rivet_dagster.translator import table_name


class RivetIOManager(ConfigurableIOManager):
    """Base of rivet's IO managers; a subclass only says where the outputs of non-export assets go."""

    config_path: str | None = Field(
        default=None,
        description="A rivet.yaml: non-export assets' relative paths start at its folder (default: the working "
        "directory); exports use the rivet.yaml they were defined from.",
    )
    state_url: str | None = Field(
        default=None, description="State of non-export assets: a postgres URL or a folder (as RivetResource's)."
    )
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

    def _config(self, path: str | None) -> Config:
        if path is None:
            raise Failure(description="set config_path on the IO manager to load this asset", allow_retries=False)
        try:
            return load_config(path)
        except ConfigError as exc:
            raise Failure(description=str(exc), allow_retries=False) from None

    def _base_dir(self) -> Path:
        return self._config(self.config_path).base_dir if self.config_path else Path.cwd()

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Commit the frames through rivet_core; fail the step when the write failed."""
        key = context.asset_key
        if not isinstance(obj, pl.DataFrame | Iterable) or isinstance(obj, str | bytes):
            raise Failure(
                description=f"{key.to_user_string()}: rivet's IO manager takes a pl.DataFrame or an iterator of "
                f"pl.DataFrame batches, not {type(obj).__name__}",
                allow_retries=False,
            )
        frames = [obj] if isinstance(obj, pl.DataFrame) else obj
        with rivet_step(context.log):
            base_dir = self._base_dir()
            result = write_asset_frames(
                frames, self.destination_for(key), _name(key), base_dir=base_dir, fmt=self.format,
                compression=self.compression, max_file_size=self.max_file_size, client=self.store_client(),
                state=state_store(base_dir / "rivet.yaml", self.state_url),
            )  # fmt: skip
        metadata = result_metadata(result, table_name(key))
        if result.status == "failed":
            raise Failure(description=result.error, metadata=metadata)
        context.add_output_metadata(metadata)

    def load_input(self, context: InputContext) -> pl.LazyFrame:
        """A LazyFrame over the upstream asset's committed files, of the partitions asked for when partitioned.

        Nothing is read until the frame is collected.
        """
        upstream = context.upstream_output
        assert upstream is not None
        key, metadata = upstream.asset_key, upstream.definition_metadata or {}
        export_name = metadata.get(EXPORT_METADATA_KEY)
        if export_name:
            config = self._config(str(metadata[CONFIG_METADATA_KEY]))
            export: ExportConfig | None = config.export(str(export_name))
            assert export is not None
            name, fmt, target, base_dir = export.name, export.format, export.destination, config.base_dir
            table = export.source_table[1] if export.source_table else name
        else:
            export, name, fmt, target, base_dir = (
                None,
                _name(key),
                self.format,
                self.destination_for(key),
                self._base_dir(),
            )
            table = name
        partitions = context.asset_partition_keys if export and context.has_asset_partitions else None
        with rivet_step(context.log):
            committed = load_committed(
                base_dir, target, name, table=table, fmt=fmt, export=export, partitions=partitions,
                client=self.store_client(),
            )  # fmt: skip
        if not committed.units:
            context.log.warning(f"{key.to_user_string()}: nothing committed at {committed.uri} yet; an empty frame")
        return committed.frame


class RivetLocalIOManager(RivetIOManager):
    """Non-export assets go to `<base_path>/<asset key path>/` on local disk (relative to the config folder)."""

    base_path: str = Field(default="./out/assets", description="Folder for non-export assets' files.")

    def destination_for(self, key: AssetKey) -> DestinationConfig:
        return local_destination(str(Path(self.base_path, *key.path)))


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

    s3: ConfigurableResource | None = Field(default=None, description="dagster-aws S3Resource doing all S3 calls.")
    region: str | None = None
    access_key_env: str | None = Field(default=None, description="Environment variable holding the access key id.")
    secret_key_env: str | None = Field(default=None, description="Environment variable holding the secret key.")
    session_token_env: str | None = None
    aws_profile: str | None = None

    def destination_for(self, key: AssetKey) -> DestinationConfig:
        fields = ("region", "endpoint", "access_key_env", "secret_key_env", "session_token_env", "aws_profile")
        settings = {f: getattr(self, f) for f in fields}
        return s3_destination(
            bucket=self._bucket(key), prefix=self._prefix(key), allow_anonymous=self.allow_anonymous,
            **settings,
        )  # fmt: skip

    def store_client(self) -> Any:
        return store_client(self.s3, "RivetS3IOManager.s3", "s3")


class RivetGcsIOManager(_ObjectStoreFields):
    """Non-export assets go to `gs://<bucket>/<prefix>/<asset key path>/`; all GCS calls through `gcs` when given."""

    gcs: ConfigurableResource | None = Field(default=None, description="dagster-gcp GCSResource doing all calls.")
    credentials_file: str | None = Field(default=None, description="google-auth JSON file (relative to the config).")

    def destination_for(self, key: AssetKey) -> DestinationConfig:
        return gcs_destination(
            bucket=self._bucket(key), prefix=self._prefix(key), endpoint=self.endpoint,
            credentials_file=self.credentials_file, allow_anonymous=self.allow_anonymous,
        )  # fmt: skip

    def store_client(self) -> Any:
        return store_client(self.gcs, "RivetGcsIOManager.gcs", "gcs")


def io_manager_for(kind: str, config_path: str | None = None) -> RivetIOManager:
    """The default IO manager for a destination kind (object stores: exports only until `bucket` is set)."""
    managers: dict[str, type[RivetIOManager]] = {
        "local": RivetLocalIOManager,
        "s3": RivetS3IOManager,
        "gcs": RivetGcsIOManager,
    }
    return managers[kind](config_path=config_path)
