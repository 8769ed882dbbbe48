"""Gates re-evaluated on what is committed, without exporting: the checks of an orchestrator run on their own.

What is checked: the units of the latest run that committed (the newest current unit's run) at the destination.
`validate` re-reads each unit (manifest, _SUCCESS, sizes, hashes, rows); quality rules recompute on its files
(one scope for a chunked run, one per unit otherwise, as in a run); `reconcile` counts the source now for each
unit's recorded bounds (an incremental unit: after its start, up to the cursor it reached); `schema_drift`
compares the units' schema with the newest unit an earlier run committed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection
from typing import Any

import pyarrow as pa

from rivet_core import commit
from rivet_core.commit import Manifest
from rivet_core.config import Config, ExportConfig
from rivet_core.destinations.base import Destination
from rivet_core.gates import GateResult, QualityTracker, drift, drift_gate, reconcile_gate, validate_unit
from rivet_core.pipeline.run import open_placement
from rivet_core.planning import base_query, column_overrides
from rivet_core.results import CommittedUnit, ExportResult
from rivet_core.scan import batches, current_units
from rivet_core.slices import Slice
from rivet_core.sources import open_source

__all__ = ["recheck"]


def latest_run_units(dest: Destination, export: ExportConfig) -> list[Manifest]:
    """The current units committed by the newest run that committed any (empty: nothing committed)."""
    units = current_units(dest, export.name, export.mode == "incremental")
    if not units:
        return []
    newest = max(units, key=lambda m: m.unit_id).run_id
    return [m for m in units if m.run_id == newest]


def recorded_slice(unit: Manifest) -> Slice:
    """The bounds a unit covered: its slice; an incremental one closed at the cursor it reached."""
    if unit.slice.kind == "incremental" and unit.cursor is not None:
        return dataclasses.replace(unit.slice, hi=unit.cursor.value, hi_inclusive=True)
    return unit.slice


def quality_gates(dest: Destination, export: ExportConfig, units: list[Manifest]) -> list[GateResult]:
    """The quality rules over the units' files: one scope for a chunked run's chunks, else one per unit."""
    if export.quality is None:
        return []
    scopes = [units] if export.mode == "chunked" else [[u] for u in units]
    out = []
    for scope in scopes:
        tracker = QualityTracker(export.quality)
        try:
            for batch in batches(dest, scope, export.format):
                tracker.observe(batch)
        except (OSError, pa.ArrowException) as exc:  # a damaged file: every rule fails, saying why
            text = f"cannot read {', '.join(u.unit_id for u in scope)}: {exc}"
            out += [
                GateResult(name, False, rule.severity, {"error": text}, f"{name}: {text}")
                for name, rule in export.quality.rules().items()
            ]
            continue
        out += tracker.evaluate()
    return out


def reconcile_gates(config: Config, export: ExportConfig, units: list[Manifest]) -> list[GateResult]:
    """Source COUNT(*) now of each unit's recorded bounds against the rows it holds."""
    source = open_source(config.source, config.source.resolve_url(config.base_dir), config.tuning_for(export))
    query = base_query(config, export)
    with source.snapshot() as snap:
        snap.plan(query, column_overrides(export), f"exports[{export.name}]")  # column types for the bounds
        return [reconcile_gate(snap, query, recorded_slice(u), u.row_count) for u in units]


def drift_gates(dest: Destination, export: ExportConfig, units: list[Manifest]) -> list[GateResult]:
    """The units' schema against the newest unit of an earlier run (no earlier unit: no drift)."""
    run_id, first = units[0].run_id, min(u.unit_id for u in units)
    earlier = [m for m in commit.since_reset(dest, export.name) if m.run_id != run_id and m.unit_id < first]
    previous = max(earlier, key=lambda m: m.unit_id).schema if earlier else None
    return [drift_gate(drift(previous, units[-1].schema), export.on_schema_drift)]


def recheck(config: Config, export: ExportConfig, gates: Collection[str], client: Any = None) -> ExportResult:
    """The named gates (`validate`, `reconcile`, `schema_drift`, quality rule names) on the latest committed run.

    The result names that run and its units; `status` is `failed` when nothing is committed (its `error` says so)
    or a unit does not validate.
    """
    now = dt.datetime.now(dt.UTC)
    dest = open_placement(config, export, "", now, client).destination
    units = latest_run_units(dest, export)
    if not units:
        return ExportResult(
            export.name, "", now.isoformat(), status="failed", destination=dest.uri(),
            error=f"{export.name}: nothing committed at {dest.uri()} yet; materialize the export first",
        )  # fmt: skip
    result = ExportResult(
        export.name, units[0].run_id, now.isoformat(), destination=dest.uri(),
        rows=sum(u.row_count for u in units), bytes=sum(u.bytes for u in units),
        files=[dest.uri(p.key) for u in units for p in u.parts],
        units=[CommittedUnit(u.slice, u.row_count, u.bytes, [dest.uri(p.key) for p in u.parts]) for u in units],
    )  # fmt: skip
    rules = set(export.quality.rules()) if export.quality else set()
    if rules & set(gates):
        result.gates += [g for g in quality_gates(dest, export, units) if g.gate in gates]
    if "reconcile" in gates:
        result.gates += reconcile_gates(config, export, units)
    if "schema_drift" in gates:
        result.gates += drift_gates(dest, export, units)
    if "validate" in gates:
        problems = [p for u in units for p in validate_unit(dest, export.name, u.unit_id)]
        result.validated = "failed" if problems else "passed"
        if problems:
            result.fail("validate failed: " + "; ".join(problems))
    return result
