"""The late-commit fence: an incremental run's upper bound, which no transaction still open can commit below.

A cursor value is taken when a row is written, not when it commits, so a run must not read past a value that an
open transaction may still commit under. The fence reads `MAX(key)` first, then waits (bounded) for every
transaction open at that moment to end; any row with a key at or below that MAX is then committed, or never will
be, before the export's snapshot is taken (docs/cursor.md).
"""

from __future__ import annotations

import logging
import time
from contextlib import closing
from dataclasses import dataclass, replace
from typing import Any

from rivet_core.config import ExportConfig
from rivet_core.errors import SourceError
from rivet_core.planning.cursor import cursor_plan
from rivet_core.slices import Slice
from rivet_core.sources.base import OpenTransaction, Query, Source

log = logging.getLogger("rivet")

NAMED = 3  # open transactions named in the timeout error


@dataclass(frozen=True)
class Fence:
    """The key bound of one run (None: the base query had no row) and what it waited for."""

    high: Any
    waited_s: float
    waited_for: int
    warning: str | None = None  # the source hides some sessions' transactions from the fence

    def bound(self, slices: list[Slice]) -> list[Slice]:
        """The incremental slices capped at the bound (`key <= high`); none when there was no row."""
        if self.high is None:
            return []
        return [replace(s, hi=self.high, hi_inclusive=True) if s.kind == "incremental" else s for s in slices]


def late_commit_fence(source: Source, query: Query, export: ExportConfig) -> Fence:
    """`MAX(key)` now, then every transaction open after it ended (within `late_commit_wait_s`), else SourceError."""
    high = source.high_key(query, cursor_plan(export, None))
    if high is None:
        return Fence(None, 0.0, 0)
    time.sleep(source.settle_s)
    started, wait_s = time.monotonic(), source.tuning.late_commit_wait_s
    with closing(source.connect()) as conn:
        pending = {t.ident: t for t in source.open_transactions(conn)}
        count, warning = len(pending), source.hidden_sessions(conn)
        while pending and time.monotonic() - started < wait_s:
            time.sleep(source.poll_s)
            still = {t.ident for t in source.open_transactions(conn)}
            pending = {ident: t for ident, t in pending.items() if ident in still}
    if pending:
        raise SourceError(timeout_message(export.name, wait_s, list(pending.values())))
    fence = Fence(high, round(time.monotonic() - started, 3), count, warning)
    log.info(
        "%s: late-commit fence at %s: waited %.3fs for %d open transaction(s)",
        export.name, high, fence.waited_s, count,
    )  # fmt: skip
    return fence


def timeout_message(name: str, wait_s: int, still: list[OpenTransaction]) -> str:
    """The error of a fence that waited `wait_s` in vain: the field, up to three transactions, what to do."""
    shown = ", ".join(f"{t.who} since {t.since}" for t in still[:NAMED])
    more = f" and {len(still) - NAMED} more" if len(still) > NAMED else ""
    return (
        f"exports[{name}].tuning.late_commit_wait_s: {len(still)} transaction(s) still open after {wait_s}s could "
        f"commit rows below the cursor bound ({shown}{more}); nothing exported, the cursor did not move — let them "
        "end or raise tuning.late_commit_wait_s"
    )
