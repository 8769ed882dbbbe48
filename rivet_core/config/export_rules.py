"""Cross-field rules of one export, each problem naming its field (rivet-cli 0.7.7's `validate`, plus ours).

Where 0.7.7 silently picks one of two contradicting keys (chunk_size next to chunk_count, a budget next to a
size), rivet refuses the pair instead and says which keys clash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rivet_core.config.base import Problem

if TYPE_CHECKING:
    from rivet_core.config.export import ExportConfig

LEVEL_RANGES = {"zstd": (-131072, 22), "gzip": (1, 9), "lz4": (1, 12)}
_CHUNKINGS = ("chunk_size", "chunk_count", "chunk_by_days")


def export_problems(export: ExportConfig) -> list[Problem]:
    """Every cross-field problem of `export` (empty when it is consistent)."""
    problems: list[Problem] = []
    forms = [k for k in ("table", "query", "query_file") if getattr(export, k) is not None]
    if len(forms) != 1:
        found = f" (found: {', '.join(forms)})" if forms else ""
        problems.append(((), f"set exactly one of table / query / query_file{found}"))
    if export.mode == "incremental" and not export.cursor_column:
        problems.append((("cursor_column",), "required for mode: incremental"))
    if export.mode == "time_window" and not export.time_column:
        problems.append((("time_column",), "required for mode: time_window"))
    return problems + _cursor(export) + _chunking(export) + _destination(export) + _level(export)


def _cursor(export: ExportConfig) -> list[Problem]:
    """cursor_fallback_column exactly when incremental_cursor_mode is coalesce."""
    coalesce = export.incremental_cursor_mode == "coalesce"
    if coalesce and not export.cursor_fallback_column:
        return [(("cursor_fallback_column",), "required with incremental_cursor_mode: coalesce")]
    if not coalesce and export.cursor_fallback_column is not None:
        return [
            (
                ("cursor_fallback_column",),
                "only used with incremental_cursor_mode: coalesce (set that, or remove cursor_fallback_column)",
            )
        ]
    return []


def _chunking(export: ExportConfig) -> list[Problem]:
    """One way to size chunks; dense not with count / by_days; by_days only chunked; a budget needs `table:`."""
    problems: list[Problem] = []
    chunking = [k for k in _CHUNKINGS if getattr(export, k) is not None]
    if len(chunking) > 1:
        problems.append(((), f"set at most one of {' / '.join(_CHUNKINGS)} (found: {', '.join(chunking)})"))
    if export.chunk_size_memory_mb is not None:
        if chunking:
            problems.append((("chunk_size_memory_mb",), f"cannot be combined with {' / '.join(chunking)}"))
        if export.table is None:
            problems.append((("chunk_size_memory_mb",), "needs table: (the chunk size comes from the table's stats)"))
    if export.chunk_dense and (clash := [k for k in ("chunk_count", "chunk_by_days") if getattr(export, k)]):
        problems.append((("chunk_dense",), f"cannot be combined with {' / '.join(clash)}"))
    if export.chunk_by_days is not None and export.mode != "chunked":
        problems.append((("chunk_by_days",), "needs mode: chunked"))
    return problems


def _destination(export: ExportConfig) -> list[Problem]:
    """stdout carries one stream: no chunked mode, no max_file_size parts."""
    if export.destination.type != "stdout":
        return []
    problems: list[Problem] = []
    if export.mode == "chunked":
        problems.append((("mode",), "chunked cannot write to destination type stdout (one stream, one file)"))
    if export.max_file_size is not None:
        problems.append((("max_file_size",), "cannot split output written to destination type stdout"))
    return problems


def _level(export: ExportConfig) -> list[Problem]:
    """compression_level is checked against `compression` (even next to a compression_profile, as in 0.7.7)."""
    level, codec = export.compression_level, export.compression
    if level is None:
        return []
    if codec in ("none", "snappy"):
        return [(("compression_level",), f"compression {codec} has no levels")]
    low, high = LEVEL_RANGES[codec]
    if not low <= level <= high:
        return [(("compression_level",), f"must be {low}..{high} for compression {codec}")]
    return []
