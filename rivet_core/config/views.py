"""Per-mode typed views of an export, derived once from the flat rivet-cli keys (`ExportConfig.mode_view`).

The YAML keeps rivet-cli's flat grammar (`chunk_size`, `cursor_column`, … side by side); a view holds only
the keys of its mode, with defaults resolved, so a consumer matches on the view's class instead of
re-reading optional fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rivet_core.config.aliases import ChunkStrategy, CursorMode, TimeColumnType

if TYPE_CHECKING:
    from rivet_core.config.export import ExportConfig

DEFAULT_CHUNK_SIZE = 100_000


@dataclass(frozen=True)
class FullView:
    """mode: full — the whole table or query, every run."""


@dataclass(frozen=True)
class IncrementalView:
    """mode: incremental — rows past the stored cursor (`coalesce`: of COALESCE(cursor, fallback)); the fallback
    is set exactly when `cursor_mode` is coalesce (checked on load)."""

    cursor_column: str
    fallback_column: str | None
    cursor_mode: CursorMode


@dataclass(frozen=True)
class ChunkedView:
    """mode: chunked — key ranges of `column` (None: the primary key), `size` defaulted; with `size_memory_mb`
    the planner derives the size from the table's average row bytes instead (`size` is then unused)."""

    column: str | None
    size: int
    count: int | None
    by_days: int | None
    dense: bool
    parallel: int
    checkpoint: bool
    max_attempts: int
    size_memory_mb: int | None = None

    @property
    def strategy(self) -> ChunkStrategy:
        """How ranges are cut: by_days, dense (rows), count (equal ranges), else size (aligned key width)."""
        if self.by_days is not None:
            return "by_days"
        if self.dense:
            return "dense"
        return "count" if self.count is not None else "size"


@dataclass(frozen=True)
class TimeWindowView:
    """mode: time_window — UTC windows of `time_column`; `windows` complete ones before the current one."""

    time_column: str
    column_type: TimeColumnType
    windows: int


ModeView = FullView | IncrementalView | ChunkedView | TimeWindowView


def view_of(export: ExportConfig) -> ModeView:
    """The typed view of `export`'s mode (its cross-field rules were checked on load)."""
    if export.mode == "incremental":
        assert export.cursor_column is not None
        return IncrementalView(export.cursor_column, export.cursor_fallback_column, export.incremental_cursor_mode)
    if export.mode == "chunked":
        return ChunkedView(
            column=export.chunk_column,
            size=export.chunk_size or DEFAULT_CHUNK_SIZE,
            count=export.chunk_count,
            by_days=export.chunk_by_days,
            dense=export.chunk_dense,
            parallel=export.parallel,
            checkpoint=export.chunk_checkpoint,
            max_attempts=export.chunk_max_attempts,
            size_memory_mb=export.chunk_size_memory_mb,
        )
    if export.mode == "time_window":
        assert export.time_column is not None
        return TimeWindowView(export.time_column, export.time_column_type, export.window_count)
    return FullView()
