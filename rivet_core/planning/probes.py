"""An export's base query, and the planning reads outside a run: chunk keys now, chunk counts vs checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from rivet_core.config import Config, ExportConfig, parse_type_override
from rivet_core.errors import StateError
from rivet_core.planning.checkpoints import entry_slice
from rivet_core.planning.planner import Planner
from rivet_core.planning.ranges import chunk_key
from rivet_core.redact import redact
from rivet_core.sources import open_source, sql
from rivet_core.sources.base import Query, Source
from rivet_core.state import StateStore


def base_query(config: Config, export: ExportConfig) -> Query:
    """The export's base query: its table, or its SQL (inline or from `query_file`)."""
    if export.table:
        return Query(table=export.source_table)
    return Query(sql=export.resolved_query(config.base_dir))


def query_text(query: Query, export: ExportConfig) -> str:
    """The query as shown and fingerprinted: the table, or the SQL with any password masked."""
    return redact(query.sql) if query.sql else str(export.table)


def column_overrides(export: ExportConfig) -> dict[str, pa.DataType]:
    """`columns:` type overrides as Arrow types."""
    return {k: parse_type_override(v) for k, v in (export.columns or {}).items()}


def _source(config: Config, export: ExportConfig) -> Source:
    return open_source(config.source, config.source.resolve_url(config.base_dir), config.tuning_for(export))


def chunk_keys(config: Config, export: ExportConfig) -> list[str]:
    """The keys (`chunk_key` of each aligned lower bound) of an export's non-empty chunks now, from MIN/MAX + seeks."""
    source, query = _source(config, export), base_query(config, export)
    with source.snapshot() as snap:
        snap.plan(query, column_overrides(export), f"exports[{export.name}]")  # column types for the bound keys
        return [chunk_key(s.lo) for s in Planner(config, export, source, query).chunk_plan(snap)]


ChunkStatus = Literal["match", "mismatch", "unknown"]


@dataclass(frozen=True)
class ChunkCount:
    """One chunk of a checkpointed run: the source's COUNT(*) now against the rows recorded when it committed."""

    index: int
    key: str
    source: int
    recorded: int | None
    status: ChunkStatus

    @property
    def difference(self) -> int | None:
        return None if self.recorded is None else self.recorded - self.source


def chunk_reconcile(config: Config, export: ExportConfig) -> list[ChunkCount]:
    """Per chunk of the latest checkpointed run: source COUNT(*) now vs rows recorded when it committed."""
    state = StateStore.open(config.base_dir)
    runs = state.chunk_runs(export.name)
    if not runs:
        raise StateError(f"reconcile: {export.name} has no checkpointed chunk run (needs chunk_checkpoint: true)")
    run_id = runs[-1]["run_id"]
    tasks = {t["index"]: t for t in state.chunk_tasks(run_id)}
    source, query = _source(config, export), base_query(config, export)
    out = []
    with source.snapshot() as snap:
        snap.plan(query, column_overrides(export), f"exports[{export.name}]")  # column types for the bound bounds
        for entry in state.chunk_plan(run_id):
            count = sql.count(snap, query, entry_slice(entry))
            task = tasks.get(entry["index"], {})
            recorded = task.get("rows") if task.get("status") == "completed" else None
            status: ChunkStatus = "unknown" if recorded is None else "match" if recorded == count else "mismatch"
            out.append(ChunkCount(entry["index"], entry["key"], count, recorded, status))
    return out
