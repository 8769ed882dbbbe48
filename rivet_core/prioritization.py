"""A plan's advisory prioritization (`prioritization` in plan.json): the order to run its exports in, and campaign
warnings from `source_group` / `reconcile_required`, as rivet-cli 0.7.7 plans them. It never changes what runs."""

from __future__ import annotations

from typing import Any

from rivet_core.config import ExportConfig
from rivet_core.preflight.report import VERDICTS


def prioritize(entries: list[dict[str, Any]], exports: list[ExportConfig]) -> dict[str, Any]:
    """Rank the plan's exports (mildest verdict, then smallest estimate, first) and advise on each; with two or
    more exports, the campaign: exports per source_group and a warning for a group shared by several."""
    by_name = {e.name: e for e in exports}
    ranked = sorted(entries, key=lambda e: (VERDICTS.index(e["verdict"]), e["row_estimate"] or 0, e["name"]))
    recommendations = [_recommend(rank, entry, by_name[entry["name"]]) for rank, entry in enumerate(ranked, 1)]
    doc: dict[str, Any] = {"export_recommendation": recommendations}
    if len(entries) >= 2:
        doc["campaign"] = _campaign(ranked, by_name)
    return doc


def _recommend(rank: int, entry: dict[str, Any], export: ExportConfig) -> dict[str, Any]:
    advice = []
    if export.reconcile_required:
        advice.append("reconcile_required: run it with --reconcile (rivet does not turn reconcile on by itself)")
    if entry["verdict"] in ("degraded", "unsafe"):
        advice.append(f"verdict {entry['verdict']}: read `rivet check` before running it against production")
    return {
        "export": export.name,
        "rank": rank,
        "verdict": entry["verdict"],
        "row_estimate": entry["row_estimate"],
        "source_group": export.source_group,
        "reconcile_required": export.reconcile_required,
        "advice": advice,
    }


def _campaign(ranked: list[dict[str, Any]], by_name: dict[str, ExportConfig]) -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for entry in ranked:
        group = by_name[entry["name"]].source_group
        if group is not None:
            groups.setdefault(group, []).append(entry["name"])
    warnings = [
        f"source_group {group}: {len(names)} exports ({', '.join(names)}) draw on one capacity: run them one after "
        "another, in rank order, not in parallel"
        for group, names in groups.items()
        if len(names) > 1
    ]
    return {"order": [e["name"] for e in ranked], "source_groups": groups, "warnings": warnings}
