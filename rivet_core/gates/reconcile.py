"""Reconcile gate: the source COUNT(*) of a slice, in the export's own snapshot, against the rows written."""

from __future__ import annotations

from rivet_core.gates.result import GateResult
from rivet_core.slices import Slice
from rivet_core.sources import sql
from rivet_core.sources.base import Query, Snapshot


def reconcile_gate(snap: Snapshot, query: Query, slc: Slice, written: int) -> GateResult:
    """An error-level gate: the slice's row count in the snapshot must equal the rows written."""
    expected = sql.count(snap, query, slc)
    details = {"slice": slc.key, "expected": expected, "actual": written, "difference": written - expected}
    message = f"reconcile: {slc.key}: source has {expected} rows, {written} were written"
    return GateResult("reconcile", expected == written, "error", details, message)
