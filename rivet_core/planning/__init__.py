"""Planning: which rows each unit of a run reads — range math, the cursor rule, the Planner, checkpoints."""

from rivet_core.planning.checkpoints import Checkpoints
from rivet_core.planning.cursor import committed_cursor, cursor_label, cursor_plan, stored_cursor
from rivet_core.planning.fence import Fence, late_commit_fence
from rivet_core.planning.planner import Planner, chunk_size, plan_fingerprint
from rivet_core.planning.probes import (
    ChunkCount,
    base_query,
    chunk_keys,
    chunk_reconcile,
    column_overrides,
    query_text,
)
from rivet_core.planning.ranges import DEFAULT_CHUNK_SIZE, chunk_key
from rivet_core.planning.windows import WINDOW_FORMATS, parse_window, window_end, window_start
from rivet_core.slices import Slice, SliceKind, chunk_slice, cursor_slice, full_slice

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "WINDOW_FORMATS",
    "Checkpoints",
    "ChunkCount",
    "Fence",
    "Planner",
    "Slice",
    "SliceKind",
    "base_query",
    "chunk_key",
    "chunk_keys",
    "chunk_reconcile",
    "chunk_size",
    "chunk_slice",
    "column_overrides",
    "committed_cursor",
    "cursor_label",
    "cursor_plan",
    "cursor_slice",
    "full_slice",
    "late_commit_fence",
    "parse_window",
    "plan_fingerprint",
    "query_text",
    "stored_cursor",
    "window_end",
    "window_start",
]
