"""Output options of an export: Parquet row groups and the meta columns rivet adds."""

from __future__ import annotations

from pydantic import Field

from rivet_core.config.aliases import RowGroupStrategy
from rivet_core.config.base import ConfigModel, StrictBool, StrictInt


class ParquetOptions(ConfigModel):
    """Row-group sizing of Parquet output."""

    row_group_strategy: RowGroupStrategy = Field(
        default="auto", description="auto = by memory (32 MiB of Arrow data); fixed_rows; fixed_memory."
    )
    row_group_rows: StrictInt | None = Field(
        default=None, gt=0, le=100_000_000, description="Rows per row group with fixed_rows (1..100000000)."
    )
    target_row_group_mb: StrictInt | None = Field(
        default=None, gt=0, le=4096, description="Target Arrow MiB per row group with auto / fixed_memory (1..4096)."
    )
    max_row_group_mb: StrictInt | None = Field(
        default=None, gt=0, le=4096, description="Upper bound of a row group's Arrow MiB (1..4096)."
    )


class MetaColumns(ConfigModel):
    """Extra columns rivet adds: `_rivet_exported_at`, `_rivet_row_hash`."""

    exported_at: StrictBool = Field(default=False, description="Add `_rivet_exported_at`, the UTC time of the export.")
    row_hash: StrictBool = Field(default=False, description="Add `_rivet_row_hash`, a 64-bit hash of the row's values.")
