"""One export (`exports[]`): what to read, in which mode, written how and where (docs/slices-and-partitions.md)."""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from rivet_core.config.aliases import (
    Compression,
    CompressionProfile,
    CursorMode,
    Format,
    Mode,
    SchemaDriftPolicy,
    TimeColumnType,
)
from rivet_core.config.base import ConfigModel, Problem, StrictBool, StrictFloat, StrictInt, rule_error
from rivet_core.config.dagster import DagsterConfig
from rivet_core.config.destinations import DestinationConfig
from rivet_core.config.export_rules import export_problems
from rivet_core.config.output import (
    CompressionChoice,
    MetaColumn,
    MetaColumns,
    ParquetOptions,
    RowGroupSizing,
    effective_compression,
)
from rivet_core.config.quality import QualityConfig
from rivet_core.config.sqltext import SqlText
from rivet_core.config.tuning import TuningConfig, reject_tuning_keys
from rivet_core.config.types import parse_file_size, type_override_spec
from rivet_core.config.views import ModeView, view_of
from rivet_core.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_IDENT = r"[A-Za-z_][A-Za-z0-9_$]*"
_TABLE = re.compile(rf"^({_IDENT})(?:\.({_IDENT}))?$")
DEFAULT_SHAPE_DRIFT_FACTOR = 2.0


def check_query_file(rel: str, base_dir: Path | None) -> Path | None:
    """The query file's path, which must stay inside the config folder (ValueError otherwise).

    Without `base_dir` only the lexical checks run (absolute path, `..` escaping); with it, symlinks pointing
    outside and a missing file are caught too.
    """
    path = Path(rel)
    if path.is_absolute():
        raise ValueError("must be a path relative to the config folder, not an absolute path")
    if Path(os.path.normpath(rel)).parts[:1] == ("..",):
        raise ValueError("must stay inside the config folder (no '..')")
    if base_dir is None:
        return None
    root = base_dir.resolve()
    full = (root / path).resolve()
    if not full.is_relative_to(root):
        raise ValueError("must stay inside the config folder (it resolves outside through a symlink)")
    if not full.is_file():
        raise ValueError(f"file not found: {root / path}")
    return full


def _strip_sql(text: str) -> str:
    """Query text without trailing whitespace and semicolons (rivet wraps it in its own statements)."""
    text = text.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


class ExportConfig(ConfigModel):
    """One table/query → files at a destination; `mode_view` gives the keys of its mode, typed."""

    _sql: SqlText | None = PrivateAttr(default=None)  # the `query:` with its values apart, set by parse_config
    name: str = Field(description="Export id: file name prefix, state key, {export} in paths (letters, digits _ . -).")
    table: str | None = Field(default=None, description="`table` or `schema.table` to export whole (SELECT *).")
    query: str | None = Field(default=None, min_length=1, description="SQL to export; wrapped by rivet, never spliced.")
    query_file: str | None = Field(
        default=None, min_length=1, description="File holding the SQL, inside the config folder."
    )
    mode: Mode = Field(default="full", description="full, incremental (cursor), chunked (key ranges) or time_window.")
    # incremental
    cursor_column: str | None = Field(default=None, description="incremental: column whose value only grows.")
    cursor_fallback_column: str | None = Field(
        default=None, description="incremental coalesce: column used where cursor_column is NULL."
    )
    incremental_cursor_mode: CursorMode = Field(
        default="single_column",
        description="single_column = cursor_column; coalesce = COALESCE(cursor_column, cursor_fallback_column) "
        "(`single` is read as single_column).",
    )
    # chunked
    chunk_column: str | None = Field(
        default=None, description="chunked: range column; default the single-column primary key (table: exports)."
    )
    chunk_size: StrictInt | None = Field(
        default=None,
        gt=0,
        le=10**18,
        description="chunked: key width of each range, aligned (default 100000; ≤ 10^18).",
    )
    chunk_count: StrictInt | None = Field(
        default=None, gt=0, le=100_000, description="chunked: this many equal ranges instead (1..100000)."
    )
    chunk_by_days: StrictInt | None = Field(
        default=None, gt=0, le=36_600, description="chunked: N-day ranges of a date/timestamp column (1..36600)."
    )
    chunk_size_memory_mb: StrictInt | None = Field(
        default=None,
        gt=0,
        le=1_048_576,
        description=(
            "chunked table: exports: chunk_size = this budget / the table's average row size from the server's "
            "statistics (512 B without), clamped to 10000..5000000 rows; not with chunk_size / chunk_count / "
            "chunk_by_days (1..1048576)."
        ),
    )
    chunk_dense: StrictBool = Field(
        default=False,
        description="chunked: ranges of about chunk_size rows (sparse keys); not with chunk_count / chunk_by_days.",
    )
    parallel: StrictInt = Field(default=1, gt=0, le=64, description="chunked: workers, one connection each (1..64).")
    chunk_checkpoint: StrictBool = Field(
        default=False, description="chunked: commit and record each chunk on its own (enables --resume)."
    )
    chunk_max_attempts: StrictInt = Field(
        default=3, gt=0, le=100, description="chunked with checkpoint: attempts per chunk (1..100)."
    )
    # time_window
    time_column: str | None = Field(default=None, description="time_window: the column windows are cut on.")
    time_column_type: TimeColumnType = Field(
        default="timestamp", description="time_window: timestamp/date column, or unix seconds."
    )
    days_window: StrictInt | None = Field(
        default=None,
        gt=0,
        le=3660,
        description="time_window: complete windows re-read before the current one (1..3660).",
    )
    # output
    format: Format = Field(description="Output file format.")
    compression: Compression = Field(default="zstd", description="Parquet codec (CSV is never compressed).")
    compression_level: StrictInt | None = Field(
        default=None, description="Codec level: zstd -131072..22, gzip 1..9, lz4 1..12; snappy / none have none."
    )
    compression_profile: CompressionProfile | None = Field(
        default=None, description="Preset of codec and level; overrides compression and compression_level."
    )
    parquet: ParquetOptions | None = Field(default=None, description="Parquet row-group sizing.")
    skip_empty: StrictBool = Field(
        default=False,
        description="0 rows: true = status skipped, nothing committed; false = no data file, but full / time_window "
        "commit a zero-part manifest and _SUCCESS (as 0.7.7).",
    )
    max_file_size: StrictInt | str | None = Field(
        default=None, description="Split output into parts of at most this size, e.g. 256MB (1B..1TB)."
    )
    destination: DestinationConfig = Field(description="Where the files go, chosen by `type`.")
    meta_columns: MetaColumns | None = Field(default=None, description="Columns rivet adds to every row.")
    quality: QualityConfig | None = Field(default=None, description="Rules checked before anything becomes visible.")
    columns: dict[str, str] | None = Field(
        default=None, description="Column → type override, e.g. amount: decimal(18,2) (see Types)."
    )
    on_schema_drift: SchemaDriftPolicy = Field(
        default="warn", description="Schema changed since the last run: warn, continue quietly, or fail."
    )
    shape_drift_warn_factor: StrictFloat | None = Field(
        default=None,
        le=1_000_000,
        description=f"Warn when a text/binary column's longest value (bytes) grows past this many times the "
        f"longest stored (default {DEFAULT_SHAPE_DRIFT_FACTOR}; 0 or less = off; not in chunked mode, as 0.7.7).",
    )
    source_group: str | None = Field(
        default=None,
        min_length=1,
        description="Capacity group label: plan.json's prioritization warns when several exports share "
        "one (advisory; execution does not change).",
    )
    reconcile_required: StrictBool = Field(
        default=False,
        description="Advisory: plan.json's prioritization advises running the export with --reconcile; it "
        "does not turn reconcile on.",
    )
    tuning: TuningConfig | None = Field(default=None, description="Tuning for this export, over source.tuning.")
    dagster: DagsterConfig | None = Field(
        default=None, description="Dagster settings, over the top-level dagster block."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_loose_tuning(cls, data: Any) -> Any:
        """Tuning keys belong under `tuning:`."""
        return reject_tuning_keys(data)

    @field_validator("incremental_cursor_mode", mode="before")
    @classmethod
    def _legacy_single(cls, value: Any) -> Any:
        """`single` (rivet's earlier spelling) is single_column."""
        return "single_column" if value == "single" else value

    @field_validator("name")
    @classmethod
    def _file_safe_name(cls, value: str) -> str:
        """The name is used in file names and state keys."""
        if not _NAME.match(value):
            raise ValueError(
                "must start with a letter, digit or _ and contain only letters, digits, _ . - "
                "(it is used in file names)"
            )
        return value

    @field_validator("table")
    @classmethod
    def _table_ident(cls, value: str | None) -> str | None:
        """`t` or `schema.t`, plain identifiers (they are interpolated into SQL)."""
        if value is not None and not _TABLE.match(value):
            raise ValueError("use `table` or `schema.table` with plain identifiers (letters, digits, _, $)")
        return value

    @field_validator("query_file")
    @classmethod
    def _query_file_inside(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Relative to the config folder, never escaping it."""
        if value is not None:
            base_dir = (info.context or {}).get("base_dir")
            check_query_file(value, Path(base_dir) if base_dir is not None else None)
        return value

    @field_validator("max_file_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        """ "256MB", "1.5GB", 1024 … checked now so a typo fails at load, not mid-export."""
        if value is not None:
            parse_file_size(value)
        return value

    @field_validator("columns")
    @classmethod
    def _type_overrides(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        """Each override must parse (see `parse_type_override`)."""
        problems: list[Problem] = []
        for column, type_text in (value or {}).items():
            try:
                type_override_spec(type_text)
            except ValueError as exc:
                problems.append(((column,), str(exc)))
        if problems:
            raise rule_error(problems)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ExportConfig:
        """Cross-field rules (`export_rules.export_problems`): one query form, the columns each mode needs, …"""
        if problems := export_problems(self):
            raise rule_error(problems)
        return self

    @property
    def compression_choice(self) -> CompressionChoice:
        """The codec and level files are written with (rivet-cli 0.7.7's precedence; see `effective_compression`)."""
        return effective_compression(
            format=self.format,
            compression=self.compression,
            level=self.compression_level,
            profile=self.compression_profile,
            compression_set="compression" in self.model_fields_set,
        )

    @property
    def row_groups(self) -> RowGroupSizing:
        """Parquet row-group sizing resolved (no parquet: block = auto with its defaults)."""
        return (self.parquet or ParquetOptions()).sizing

    @property
    def meta_column_list(self) -> tuple[MetaColumn, ...]:
        """The meta columns to append, in output order (none without a meta_columns: block)."""
        return self.meta_columns.columns if self.meta_columns is not None else ()

    @property
    def shape_drift_factor(self) -> float | None:
        """The shape-drift growth factor in effect, None when it is off (0 or less)."""
        factor = DEFAULT_SHAPE_DRIFT_FACTOR if self.shape_drift_warn_factor is None else self.shape_drift_warn_factor
        return factor if factor > 0 else None

    @cached_property
    def mode_view(self) -> ModeView:
        """The keys of this export's mode as one typed, frozen value (computed once)."""
        return view_of(self)

    @property
    def max_file_size_bytes(self) -> int | None:
        """`max_file_size` in bytes, or None (no rolling)."""
        return None if self.max_file_size is None else parse_file_size(self.max_file_size)

    @property
    def window_count(self) -> int:
        """How many windows `rivet run` exports for time_window (`days_window`, default 1)."""
        return self.days_window or 1

    @property
    def source_table(self) -> tuple[str | None, str] | None:
        """(schema or None, table) parsed from `table`; None for query / query_file exports."""
        if self.table is None:
            return None
        match = _TABLE.match(self.table)
        assert match is not None  # checked on load
        return (match[1], match[2]) if match[2] else (None, match[1])

    def sql_text(self, base_dir: Path) -> SqlText | None:
        """The SQL of a `query` / `query_file` export with its `${VAR}` values apart (README: SQL and parameters)."""
        if self._sql is not None:
            return self._sql
        text = self.resolved_query(base_dir)
        return None if text is None else SqlText.plain(text)

    def resolved_query(self, base_dir: Path) -> str | None:
        """The SQL of a `query` / `query_file` export as shown (trailing `;` removed), None for a `table:` export.

        `query:` values show as `'…'` literals (`sql_text` keeps them apart); a query_file is read as is.
        """
        if self.query is not None:
            return _strip_sql(self.query)
        if self.query_file is None:
            return None
        try:
            path = check_query_file(self.query_file, base_dir)
        except ValueError as exc:
            raise ConfigError(f"export '{self.name}': query_file {exc}") from None
        assert path is not None
        return _strip_sql(path.read_text(encoding="utf-8"))
