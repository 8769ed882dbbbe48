"""Quality rules (docs/architecture.md) computed while streaming: one pass, memory bounded by `unique_max_entries`.

`QualityTracker.observe` sees every batch before it is written; `evaluate` turns the totals into one
`GateResult` per rule. Uniqueness keeps 64-bit hashes of the values seen (a collision could only hide a
duplicate, never invent one); past the cap it warns and stops tracking that column.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from rivet_core.config import QualityConfig
from rivet_core.errors import ConfigError
from rivet_core.gates.result import GateResult

log = logging.getLogger("rivet")


@dataclass
class _Unique:
    seen: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    duplicates: int = 0
    overflow: bool = False


class QualityTracker:
    """Running counts for one gate scope (a unit, or a whole chunked run across its chunks)."""

    def __init__(self, config: QualityConfig) -> None:
        self.config = config
        self.rows = 0
        nulls = config.null_ratio_max.value if config.null_ratio_max else {}
        self.nulls: dict[str, int] = dict.fromkeys(nulls, 0)
        self.unique = {c: _Unique() for c in (config.unique_columns.value if config.unique_columns else [])}
        self._lock = threading.Lock()

    def observe(self, batch: pa.RecordBatch) -> None:
        """Count rows and NULLs, and check uniqueness, for one batch."""
        with self._lock:
            self.rows += batch.num_rows
            for name in self.nulls:
                self.nulls[name] += batch.column(name).null_count
            for name, state in self.unique.items():
                if not state.overflow:
                    self._observe_unique(name, state, batch.column(name))

    def _observe_unique(self, name: str, state: _Unique, column: pa.Array) -> None:
        import polars as pl  # only for unique_columns (start-up: most runs never load it)

        hashes = pl.Series(column).drop_nulls().hash(seed=0).to_numpy()
        fresh, counts = np.unique(hashes, return_counts=True)
        state.duplicates += int((counts - 1).sum())
        if state.seen.size:
            positions = np.searchsorted(state.seen, fresh).clip(max=state.seen.size - 1)
            repeated = state.seen[positions] == fresh
            state.duplicates += int(repeated.sum())
            fresh = fresh[~repeated]
        state.seen = np.union1d(state.seen, fresh)
        if state.seen.size > self.config.unique_max_entries:
            state.overflow = True
            state.seen = np.empty(0, dtype=np.uint64)
            log.warning(
                "quality: unique_columns %s: more than unique_max_entries=%d distinct values; no longer tracked",
                name,
                self.config.unique_max_entries,
            )

    def evaluate(self) -> list[GateResult]:
        """One result per configured rule (row_count_* are checked even on 0 rows)."""
        c, out = self.config, []
        if c.row_count_min is not None:
            ok = self.rows >= c.row_count_min.value
            out.append(
                GateResult(
                    "row_count_min",
                    ok,
                    c.row_count_min.severity,
                    {"expected_min": c.row_count_min.value, "actual": self.rows},
                    f"row_count_min: {self.rows} rows, minimum {c.row_count_min.value}",
                )
            )
        if c.row_count_max is not None:
            ok = self.rows <= c.row_count_max.value
            out.append(
                GateResult(
                    "row_count_max",
                    ok,
                    c.row_count_max.severity,
                    {"expected_max": c.row_count_max.value, "actual": self.rows},
                    f"row_count_max: {self.rows} rows, maximum {c.row_count_max.value}",
                )
            )
        if c.null_ratio_max is not None:
            ratios = {n: (self.nulls[n] / self.rows if self.rows else 0.0) for n in self.nulls}
            failing = {n: r for n, r in ratios.items() if r > c.null_ratio_max.value[n]}
            out.append(
                GateResult(
                    "null_ratio_max",
                    not failing,
                    c.null_ratio_max.severity,
                    {"ratios": ratios, "limits": c.null_ratio_max.value, "failing_columns": sorted(failing)},
                    "null_ratio_max: "
                    + (", ".join(f"{n} {r:.4f} > {c.null_ratio_max.value[n]}" for n, r in failing.items()) or "ok"),
                )
            )
        if c.unique_columns is not None:
            dupes = {n: s.duplicates for n, s in self.unique.items() if s.duplicates}
            untracked = sorted(n for n, s in self.unique.items() if s.overflow)
            out.append(
                GateResult(
                    "unique_columns",
                    not dupes,
                    c.unique_columns.severity,
                    {"duplicates": dupes, "failing_columns": sorted(dupes), "untracked": untracked},
                    "unique_columns: "
                    + (", ".join(f"{n} has {d} duplicate value(s)" for n, d in dupes.items()) or "no duplicates"),
                )
            )
        return out


def check_columns(config: QualityConfig, columns: list[str], path: str) -> None:
    """Every column a rule names is in the export's output; else a ConfigError naming the rule (not a crash)."""
    named = {
        "null_ratio_max": list(config.null_ratio_max.value) if config.null_ratio_max else [],
        "unique_columns": config.unique_columns.value if config.unique_columns else [],
    }
    for rule, names in named.items():
        missing = [n for n in names if n not in columns]
        if missing:
            raise ConfigError(
                f"{path}.quality.{rule}: no column {', '.join(missing)} in the output (columns: {', '.join(columns)})"
            )
