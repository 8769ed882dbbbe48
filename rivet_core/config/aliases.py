"""Every Literal alias of the rivet.yaml grammar, in one place (models, views and callers import them from here)."""

from __future__ import annotations

from typing import Literal, get_args

SourceType = Literal["postgres", "mysql"]
Environment = Literal["production", "replica", "local"]
TlsMode = Literal["disable", "require", "verify-ca", "verify-full"]

Profile = Literal["fast", "balanced", "safe"]
ProfileOrigin = Literal["explicit", "environment", "default"]  # where `Tuning.profile` came from
BatchMemoryPolicy = Literal["warn", "fail", "auto_shrink"]

Mode = Literal["full", "incremental", "chunked", "time_window"]
CursorMode = Literal["single_column", "coalesce"]
ChunkStrategy = Literal["size", "count", "by_days", "dense"]
TimeColumnType = Literal["timestamp", "unix"]

Format = Literal["parquet", "csv"]
Compression = Literal["zstd", "snappy", "gzip", "lz4", "none"]
CompressionProfile = Literal["none", "fast", "balanced", "compact"]
CompressionOrigin = Literal["compression_profile", "compression", "csv_default"]  # what decided the codec
RowGroupStrategy = Literal["auto", "fixed_rows", "fixed_memory"]
MetaColumnType = Literal["timestamp_us_utc", "int64"]  # Arrow types of the meta columns (`MetaColumn.arrow_type`)
SchemaDriftPolicy = Literal["warn", "continue", "fail"]
Severity = Literal["error", "warn"]

DestinationType = Literal["local", "s3", "gcs", "azure", "stdout"]
ParallelMode = Literal["sequential", "threads", "processes"]  # how `rivet run` spreads its exports

DagsterWindow = Literal["hour", "day", "week", "month"]
Automation = Literal["eager", "on_cron", "none"]
Backfill = Literal["single_run", "multi_run"]  # how a Dagster backfill of an export is split into runs
SlackEvent = Literal["failure", "schema_change", "degraded", "success"]

# URL schemes accepted for each `source.type` (the first is the one rivet writes for structured sources).
URL_SCHEMES: dict[str, tuple[str, ...]] = {"postgres": ("postgresql", "postgres"), "mysql": ("mysql", "mariadb")}

SEVERITIES: tuple[str, ...] = get_args(Severity)
DESTINATION_TYPES: tuple[str, ...] = get_args(DestinationType)
