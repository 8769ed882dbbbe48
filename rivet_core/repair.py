"""Reconcile reports and repair plans of checkpointed chunked exports (`rivet reconcile`, `rivet repair`).

A reconcile report compares each chunk's source COUNT(*) now with the rows its checkpoint recorded; a repair plan
re-exports the chunks that are missing (never completed) or mismatched, through the engine's `chunks=` option.
JSON shapes follow rivet-cli 0.7.7 (`rivet_version`, `partitions`, `actions`, …).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from rivet_core import __version__
from rivet_core.config import Config, ExportConfig
from rivet_core.engine import ExportResult, RunOptions, run_export
from rivet_core.errors import ConfigError
from rivet_core.planning import chunk_reconcile
from rivet_core.planning.checkpoints import entry_slice
from rivet_core.state import StateStore

RepairReason = Literal["mismatch", "missing"]


def require_checkpointed(export: ExportConfig, command: str) -> None:
    """`reconcile` / `repair` work on checkpointed chunk runs; a time_window export gets the 0.7.7 hint."""
    if export.mode == "time_window":
        raise ConfigError(
            f"{command}: exports[{export.name}] is a time_window export; per-partition reconcile needs chunks — "
            "use mode: chunked with chunk_by_days (and chunk_checkpoint: true)"
        )
    if export.mode != "chunked" or not export.chunk_checkpoint:
        raise ConfigError(
            f"{command}: exports[{export.name}] needs mode: chunked with chunk_checkpoint: true (it is {export.mode})"
        )


def reconcile_report(config: Config, export: ExportConfig) -> dict[str, Any]:
    """The reconcile JSON of the export's latest checkpointed run (partitions and a summary)."""
    rows = chunk_reconcile(config, export)
    store = StateStore.open(config.base_dir)
    run_id = store.chunk_runs(export.name)[-1]["run_id"]
    bounds = {c["index"]: entry_slice(c) for c in store.chunk_plan(run_id)}
    partitions = []
    for r in rows:
        chunk = bounds.get(r.index)
        note = None
        if r.status == "unknown":
            note = "chunk not completed in the checkpointed run"
        elif r.status == "mismatch":
            note = f"difference {r.difference}"
        partitions.append(
            {
                "kind": "chunk",
                "identifier": f"chunk{r.index}",
                "chunk_index": r.index,
                "chunk_key": r.key,
                "start_key": _plain(chunk.lo if chunk else None),
                "end_key": _plain(chunk.hi if chunk else None),
                "source_count": r.source,
                "exported_count": r.recorded,
                "status": r.status,
                "note": note,
            }
        )
    return {
        "rivet_version": __version__,
        "export_name": export.name,
        "run_id": run_id,
        "strategy": "chunked",
        "partitions": partitions,
        "summary": {
            "total_partitions": len(partitions),
            "matches": sum(p["status"] == "match" for p in partitions),
            "mismatches": sum(p["status"] == "mismatch" for p in partitions),
            "unknown": sum(p["status"] == "unknown" for p in partitions),
            "total_source_rows": sum(p["source_count"] or 0 for p in partitions),
            "total_exported_rows": sum(p["exported_count"] or 0 for p in partitions),
        },
    }


def _plain(value: Any) -> str | None:
    return None if value is None else str(value)


def render_reconcile(doc: dict[str, Any]) -> str:
    """One `[MATCH]` / `[MISMATCH]` / `[UNKNOWN]` line per chunk."""
    lines = []
    for p in doc["partitions"]:
        line = (
            f"[{p['status'].upper()}] chunk {p['chunk_index']} ({p['chunk_key']}): source {p['source_count']}, "
            f"recorded {p['exported_count']}"
        )
        if p["status"] == "mismatch":
            line += f", difference {p['exported_count'] - p['source_count']}"
        lines.append(line)
    return "\n".join(lines)


def read_report(path: str, export: str) -> dict[str, Any]:
    """A reconcile JSON written by `rivet reconcile --format json -o PATH` (checked to be one, of `export`)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--report: cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"--report: {path} is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("partitions"), list):
        raise ConfigError(f"--report: {path} is not a reconcile report (`rivet reconcile --format json`)")
    if doc.get("export_name") != export:
        raise ConfigError(f"--report: {path} reconciles export {doc.get('export_name')!r}, not {export!r}")
    return doc


@dataclass(frozen=True)
class RepairAction:
    """Re-export one chunk: its index and key, its bounds, and why."""

    chunk_index: int
    chunk_key: str
    start_key: str | None
    end_key: str | None
    reason: RepairReason


@dataclass
class RepairPlan:
    """What `rivet repair` would re-export, from one reconcile report."""

    export_name: str
    reconcile_run_id: str | None
    strategy: str = "chunked"
    actions: list[RepairAction] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"rivet_version": __version__, **asdict(self)}


def plan_repair(doc: dict[str, Any]) -> RepairPlan:
    """Mismatched chunks and chunks never completed are re-exported; a chunk empty at the source now is skipped."""
    plan = RepairPlan(doc["export_name"], doc.get("run_id"), str(doc.get("strategy", "chunked")))
    for p in doc["partitions"]:
        if p["status"] == "match":
            continue
        if p["status"] == "unknown" and not p.get("source_count"):
            plan.skipped.append({"chunk_index": p["chunk_index"], "reason": "not completed, and empty at the source"})
            continue
        reason: RepairReason = "mismatch" if p["status"] == "mismatch" else "missing"
        plan.actions.append(
            RepairAction(p["chunk_index"], p["chunk_key"], p.get("start_key"), p.get("end_key"), reason)
        )
    return plan


def execute_repair(config: Config, plan: RepairPlan) -> dict[str, Any]:
    """Re-export the planned chunks in one engine run (new files; the committed boundary does not move)."""
    now = dt.datetime.now(dt.UTC)
    result: ExportResult = run_export(config, plan.export_name, RunOptions(chunks=[a.chunk_key for a in plan.actions]))
    units = {u.slice.key: u for u in result.units}
    results = []
    for a in plan.actions:
        unit = units.get(f"chunk{a.chunk_index}")
        if result.status == "failed":
            results.append({"chunk_index": a.chunk_index, "status": "failed", "rows_written": 0, "error": result.error})
        elif unit is None:
            results.append({"chunk_index": a.chunk_index, "status": "no_rows", "rows_written": 0, "files": []})
        else:
            entry = {"chunk_index": a.chunk_index, "status": "repaired", "rows_written": unit.rows}
            results.append({**entry, "files": unit.files})
    return {
        "plan": plan.to_json(),
        "repair_run_id": f"repair-{now:%Y%m%dT%H%M%S}",
        "engine_run_id": result.run_id,
        "status": result.status,
        "results": results,
        "summary": {
            "planned": len(plan.actions),
            "executed": sum(r["status"] == "repaired" for r in results),
            "skipped": len(plan.skipped) + sum(r["status"] == "no_rows" for r in results),
            "failed": sum(r["status"] == "failed" for r in results),
            "rows_written": result.rows,
        },
    }


def render_repair(plan: RepairPlan, report: dict[str, Any] | None) -> str:
    """The plan (and, after `--execute`, each chunk's outcome) as text."""
    lines = [f"repair plan for {plan.export_name} (reconciled run {plan.reconcile_run_id}):"]
    lines += [
        f"  re-export chunk {a.chunk_index} [{a.start_key} .. {a.end_key}] ({a.reason})" for a in plan.actions
    ] or ["  nothing to repair"]
    lines += [f"  skip chunk {s['chunk_index']}: {s['reason']}" for s in plan.skipped]
    if report is None:
        if plan.actions:
            lines.append("dry run: pass --execute to re-export these chunks")
        return "\n".join(lines)
    for r in report["results"]:
        lines.append(f"  chunk {r['chunk_index']}: {r['status']}, {r['rows_written']} rows")
    s = report["summary"]
    lines.append(
        f"{report['repair_run_id']}: planned {s['planned']}, executed {s['executed']}, skipped {s['skipped']}, "
        f"failed {s['failed']}, rows written {s['rows_written']}"
    )
    return "\n".join(lines)
