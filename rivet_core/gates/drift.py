"""Schema drift: added / removed / retyped columns between the last written schema and this run's."""

from __future__ import annotations

from typing import Any

from rivet_core.gates.result import GateResult


def drift(previous: list[dict[str, str]] | None, current: list[dict[str, str]]) -> dict[str, Any] | None:
    """The change between two schemas (None: no drift, or nothing written before)."""
    if previous is None:
        return None
    before = {c["name"]: c["type"] for c in previous}
    after = {c["name"]: c["type"] for c in current}
    change = {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "retyped": sorted(n for n in set(before) & set(after) if before[n] != after[n]),
    }
    return change if any(change.values()) else None


def drift_gate(change: dict[str, Any] | None, on_schema_drift: str) -> GateResult:
    """The `schema_drift` gate: fails only under `on_schema_drift: fail`, otherwise warns or passes."""
    fail = on_schema_drift == "fail"
    return GateResult("schema_drift", change is None or not fail, "error" if fail else "warn", change or {})
