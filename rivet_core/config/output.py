"""Output options of an export (Parquet row groups, meta columns) and the resolved forms the writers use.

`effective_compression` applies rivet-cli 0.7.7's precedence (a `compression_profile` decides codec and level,
else `compression` with zstd → 3 and gzip → 6); `ParquetOptions.sizing` and `MetaColumns.columns` are the typed
views of the other two blocks. pyarrow is imported only by `MetaColumn.arrow_type`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field

from rivet_core.config.aliases import (
    Compression,
    CompressionOrigin,
    CompressionProfile,
    Format,
    MetaColumnType,
    RowGroupStrategy,
)
from rivet_core.config.base import ConfigModel, StrictBool, StrictInt

if TYPE_CHECKING:
    import pyarrow as pa

PROFILE_CODECS: dict[CompressionProfile, tuple[Compression, int | None]] = {
    "none": ("none", None),
    "fast": ("snappy", None),
    "balanced": ("zstd", 3),
    "compact": ("zstd", 9),
}
DEFAULT_LEVELS: dict[str, int] = {"zstd": 3, "gzip": 6}
CSV_CODECS = ("gzip", "zstd")  # codecs a CSV file can be written with (`compression` set explicitly)
DEFAULT_ROW_GROUP_MB = 32  # auto / fixed_memory without target_row_group_mb: MiB of Arrow data per row group
DEFAULT_ROW_GROUP_ROWS = 1_048_576  # fixed_rows without row_group_rows (the Parquet writers' own default)


@dataclass(frozen=True)
class CompressionChoice:
    """The codec and level a file is written with, and which key decided them."""

    codec: Compression
    level: int | None
    origin: CompressionOrigin


def effective_compression(
    *,
    format: Format,
    compression: Compression,
    level: int | None,
    profile: CompressionProfile | None,
    compression_set: bool,
) -> CompressionChoice:
    """Parquet: the profile wins outright, else `compression` (+ level or its default). CSV: never the profile;
    compressed only when `compression` is set explicitly to gzip or zstd (rivet-cli 0.7.7 never compresses CSV)."""
    if format == "csv":
        if compression_set and compression in CSV_CODECS:
            return CompressionChoice(compression, level or DEFAULT_LEVELS[compression], "compression")
        return CompressionChoice("none", None, "csv_default")
    if profile is not None:
        codec, profile_level = PROFILE_CODECS[profile]
        return CompressionChoice(codec, profile_level, "compression_profile")
    return CompressionChoice(
        compression, level if level is not None else DEFAULT_LEVELS.get(compression), "compression"
    )


@dataclass(frozen=True)
class RowGroupSizing:
    """When a Parquet row group is closed: after `rows` rows (fixed_rows) or `bytes` of Arrow data (the others)."""

    strategy: RowGroupStrategy
    rows: int | None
    bytes: int | None


class ParquetOptions(ConfigModel):
    """Row-group sizing of Parquet output."""

    row_group_strategy: RowGroupStrategy = Field(
        default="auto",
        description="auto / fixed_memory = close a group at target_row_group_mb of Arrow data (capped by "
        "max_row_group_mb); fixed_rows = every row_group_rows rows, whatever their size.",
    )
    row_group_rows: StrictInt | None = Field(
        default=None,
        gt=0,
        le=100_000_000,
        description=f"Rows per row group with fixed_rows (1..100000000; default {DEFAULT_ROW_GROUP_ROWS}).",
    )
    target_row_group_mb: StrictInt | None = Field(
        default=None,
        gt=0,
        le=4096,
        description=f"Target Arrow MiB per row group, auto / fixed_memory (1..4096; default {DEFAULT_ROW_GROUP_MB}).",
    )
    max_row_group_mb: StrictInt | None = Field(
        default=None,
        gt=0,
        le=4096,
        description="Upper bound of a row group's Arrow MiB with auto / fixed_memory; ignored by fixed_rows (1..4096).",
    )

    @property
    def sizing(self) -> RowGroupSizing:
        """This block resolved: fixed_rows counts rows only; auto / fixed_memory count bytes only."""
        if self.row_group_strategy == "fixed_rows":
            return RowGroupSizing("fixed_rows", self.row_group_rows or DEFAULT_ROW_GROUP_ROWS, None)
        mb = self.target_row_group_mb or DEFAULT_ROW_GROUP_MB
        if self.max_row_group_mb is not None:
            mb = min(mb, self.max_row_group_mb)
        return RowGroupSizing(self.row_group_strategy, None, mb << 20)


EXPORTED_AT = "_rivet_exported_at"
ROW_HASH = "_rivet_row_hash"


@dataclass(frozen=True)
class MetaColumn:
    """One column rivet appends: its name and type (timestamp µs UTC, or int64)."""

    name: str
    type: MetaColumnType

    def arrow_type(self) -> pa.DataType:
        """The column's Arrow type: timestamp[us, tz=UTC] or int64."""
        import pyarrow as pa  # lazy: see the module doc

        return pa.timestamp("us", tz="UTC") if self.type == "timestamp_us_utc" else pa.int64()


class MetaColumns(ConfigModel):
    """Extra columns rivet adds at the end of every row, in this order: `_rivet_exported_at`, `_rivet_row_hash`."""

    exported_at: StrictBool = Field(
        default=False,
        description=f"Add `{EXPORTED_AT}`, timestamp (µs, UTC), non-null: one value per run (per chunk in chunked).",
    )
    row_hash: StrictBool = Field(
        default=False,
        description=f"Add `{ROW_HASH}`, int64, non-null: the low 64 bits of xxh3-128 over the row's values as "
        "text joined by 0x1f (NULL = 0x00).",
    )

    @property
    def columns(self) -> tuple[MetaColumn, ...]:
        """The configured meta columns, in output order."""
        wanted = (
            (self.exported_at, MetaColumn(EXPORTED_AT, "timestamp_us_utc")),
            (self.row_hash, MetaColumn(ROW_HASH, "int64")),
        )
        return tuple(column for on, column in wanted if on)
