"""A source's cheap version signal, for orchestrators that observe source tables (Dagster's observable sources).

The signal is `MAX` of the export's ordering column — `cursor_column`, `chunk_column`, `time_column`, else the
table's first primary-key column — which an index answers at once, and the row count where no such column
exists (a `COUNT(*)`). It changes when rows are added past the maximum; updates in place below it and deletes
do not change a `MAX` signal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from rivet_core.config import Config, ExportConfig
from rivet_core.planning import base_query
from rivet_core.slices import Slice
from rivet_core.sources import open_source, sql

__all__ = ["SourceVersion", "observe"]


@dataclass(frozen=True)
class SourceVersion:
    """The signal: the column observed and its maximum, or (no column) the row count."""

    column: str | None
    max_value: Any = None
    rows: int | None = None

    @property
    def version(self) -> str:
        """A short stable hash of the signal (a data version)."""
        value = self.max_value
        shown = value.isoformat() if hasattr(value, "isoformat") else value if value is None else str(value)
        doc = {"column": self.column, "max": [type(value).__name__, shown], "rows": self.rows}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def signal_column(export: ExportConfig) -> str | None:
    """The export's ordering column, when its config names one."""
    if export.mode == "incremental":
        return export.cursor_column
    if export.mode == "chunked":
        return export.chunk_column
    if export.mode == "time_window":
        return export.time_column
    return None


def observe(config: Config, export: ExportConfig) -> SourceVersion:
    """The export's source signal, read in one short read-only snapshot."""
    source = open_source(config.source, config.source.resolve_url(config.base_dir), config.tuning_for(export))
    query = base_query(config, export)
    column = signal_column(export)
    if column is None and export.source_table is not None:
        column = next(iter(source.primary_key(export.source_table)), None)
    with source.snapshot() as snap:
        if column is None:
            return SourceVersion(None, rows=sql.count(snap, query, Slice()))
        _, high = sql.bounds(snap, query, column)
        return SourceVersion(column, max_value=high)
