"""Every Literal alias of the rivet.yaml grammar, in one place (models, views and callers import them from here)."""

from __future__ import annotations

from typing import Literal, get_args

SourceType = Literal["postgres", "mysql"]
Environment = Literal["production", "replica", "local"]
TlsMode = Literal["disable", "require", "verify-ca", "verify-full"]

Profile = Literal["fast", "balanced", "safe"]
BatchMemoryPolicy = Literal["warn", "fail", "auto_shrink"]

Mode = Literal["full", "incremental", "chunked", "time_window"]
CursorMode = Literal["single", "coalesce"]
TimeColumnType = Literal["timestamp", "unix"]

Format = Literal["parquet", "csv"]
Compression = Literal["zstd", "snappy", "gzip", "lz4", "none"]
CompressionProfile = Literal["none", "fast", "balanced", "compact"]
RowGroupStrategy = Literal["auto", "fixed_rows", "fixed_memory"]
SchemaDriftPolicy = Literal["warn", "continue", "fail"]
Severity = Literal["error", "warn"]

DestinationType = Literal["local", "s3", "gcs"]

DagsterWindow = Literal["hour", "day", "week", "month"]
Automation = Literal["eager", "on_cron", "none"]
SlackEvent = Literal["failure", "schema_change", "degraded", "success"]

# URL schemes accepted for each `source.type` (the first is the one rivet writes for structured sources).
URL_SCHEMES: dict[str, tuple[str, ...]] = {"postgres": ("postgresql", "postgres"), "mysql": ("mysql", "mariadb")}

SEVERITIES: tuple[str, ...] = get_args(Severity)
DESTINATION_TYPES: tuple[str, ...] = get_args(DestinationType)
ChunkStrategy = Literal["size", "count", "by_days", "dense"]
