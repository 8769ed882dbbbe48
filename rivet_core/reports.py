"""Run reports: `<config_dir>/.rivet/runs/<export>_<time>/summary.json` + `summary.md` per export run, and the
aggregate JSON of a `rivet run` (`--json`, `--summary-output`), with rivet-cli 0.7.7's field names.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rivet_core.config import Config, ExportConfig
from rivet_core.results import ExportResult
from rivet_core.writers import format_options

log = logging.getLogger("rivet")

RUNS_DIR = Path(".rivet") / "runs"


@dataclass(frozen=True)
class RunContext:
    """What a report needs besides the result: the loaded config and its path as the user gave it."""

    config: Config
    config_path: str


def _stamp(iso: str, sep: str = ".") -> str:
    """`2026-05-13T12:00:00.123456+00:00` → `20260513T120000.123` (0.7.7's run-id time)."""
    t = dt.datetime.fromisoformat(iso)
    return f"{t:%Y%m%dT%H%M%S}{sep}{t.microsecond // 1000:03d}"


def _finished(r: ExportResult) -> str:
    return (dt.datetime.fromisoformat(r.started_at) + dt.timedelta(seconds=r.duration_s)).isoformat()


def _reconciliation(r: ExportResult) -> dict[str, Any] | None:
    gates = [g for g in r.gates if g.gate == "reconcile"]
    if not gates:
        return None
    source = sum(int(g.details.get("expected", 0)) for g in gates)
    exported = sum(int(g.details.get("actual", 0)) for g in gates)
    return {"source_count": source, "exported_rows": exported, "matched": all(g.passed for g in gates)}


def resume_command(ctx: RunContext, export: ExportConfig | None, r: ExportResult) -> str | None:
    """`rivet run --config <cfg> --resume` for a failed checkpointed chunk run that committed files, else None."""
    resumable = r.status == "failed" and bool(r.files)
    if not resumable or export is None or not (export.mode == "chunked" and export.chunk_checkpoint):
        return None
    return f"rivet run --config {shlex.quote(ctx.config_path)} --resume"


def summary(ctx: RunContext, r: ExportResult) -> dict[str, Any]:
    """The `summary.json` object of one export run."""
    export = next((e for e in ctx.config.exports if e.name == r.export), None)
    tuning = ctx.config.tuning_for(export) if export else None
    change = r.schema_change or {}
    return {
        "run_id": r.run_id,
        "export_name": r.export,
        "status": r.status,
        "started_at": r.started_at,
        "finished_at": _finished(r),
        "duration_ms": round(r.duration_s * 1000),
        "source_engine": ctx.config.source.type,
        "destination_kind": export.destination.type if export else None,
        "destination": r.destination,
        "format": export.format if export else None,
        "compression": format_options(export).compression if export else None,
        "tuning_profile": tuning.profile if tuning else None,
        "batch_size": tuning.batch_size if tuning else None,
        "total_rows": r.rows,
        "files_produced": len(r.files),
        "bytes_written": r.bytes,
        "files": r.files,
        "peak_rss_mb": r.peak_rss_mb,
        "retries": r.retries,
        "pg_temp_bytes_delta": None,
        "validation": {"passed": r.validated == "passed"} if r.validated else None,
        "reconciliation": _reconciliation(r),
        "schema_changed": r.schema_change is not None,
        "schema_changes": [
            {
                "added": change.get("added", []),
                "removed": change.get("removed", []),
                "type_changed": [[name, None, None] for name in change.get("retyped", [])],
            }
        ]
        if r.schema_change
        else [],
        "plan_warnings": [{"rule": "warning", "message": w} for w in r.warnings],
        "gates": [g.to_json() for g in r.gates],
        "error_message": r.error,
        "resumable": r.status == "failed" and bool(r.files),
        "resume_command": resume_command(ctx, export, r),
    }


def markdown(doc: dict[str, Any]) -> str:
    """`summary.md`: the same facts for a person."""
    lines = [
        f"# rivet run `{doc['run_id']}` — {doc['export_name']}: **{doc['status']}**",
        "",
        "| | |",
        "|---|---|",
    ]
    for key in (
        "started_at",
        "finished_at",
        "duration_ms",
        "destination",
        "format",
        "compression",
        "tuning_profile",
        "total_rows",
        "files_produced",
        "bytes_written",
        "peak_rss_mb",
        "retries",
    ):
        lines.append(f"| {key} | {doc[key] if doc[key] is not None else ''} |")
    if doc["validation"]:
        lines.append(f"| validation | {'passed' if doc['validation']['passed'] else 'FAILED'} |")
    if rec := doc["reconciliation"]:
        lines.append(f"| reconciliation | source {rec['source_count']}, exported {rec['exported_rows']} |")
    lines += ["", *(f"- warning: {w['message']}" for w in doc["plan_warnings"])]
    if doc["error_message"]:
        lines += [f"- error: {doc['error_message']}"]
    if doc["resume_command"]:
        lines += [f"- resume: `{doc['resume_command']}`"]
    lines += ["", *(f"- file: {f}" for f in doc["files"])]
    return "\n".join(lines).rstrip() + "\n"


def write_report(ctx: RunContext, r: ExportResult) -> Path | None:
    """Write both report files; returns the `summary.md` path, or None (logged) when they cannot be written."""
    doc = summary(ctx, r)
    folder = ctx.config.base_dir / RUNS_DIR / f"{r.export}_{_stamp(r.started_at)}"
    if folder.exists():  # two runs of one export within a millisecond
        folder = folder.with_name(f"{folder.name}_{r.run_id}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "summary.json").write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
        (folder / "summary.md").write_text(markdown(doc), encoding="utf-8")
    except OSError as exc:
        log.warning("%s: run report not written (%s): %s", r.export, folder, exc.strerror or exc)
        return None
    return folder / "summary.md"


def find_reports(config_dir: Path, export: str) -> dict[str, dict[str, Any]]:
    """The run reports of an export by run id (unreadable ones skipped)."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((config_dir / RUNS_DIR).glob(f"{export}_*/summary.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if doc.get("export_name") == export:
            out[str(doc.get("run_id"))] = {**doc, "report": str(path.with_name("summary.md"))}
    return out


def aggregate(ctx: RunContext, results: list[ExportResult], started: str, parallel_mode: str) -> dict[str, Any]:
    """The whole run: 0.7.7's aggregate fields, and `exports` with each export's full result."""
    finished = dt.datetime.now(dt.UTC)
    begin = dt.datetime.fromisoformat(started)
    count = {s: sum(r.status == s for r in results) for s in ("success", "failed", "skipped", "degraded")}
    modes = {e.name: e.mode for e in ctx.config.exports}
    return {
        "run_aggregate_id": f"agg_{_stamp(started, '')}",
        "started_at": started,
        "finished_at": finished.isoformat(),
        "duration_ms": round((finished - begin).total_seconds() * 1000),
        "config_path": ctx.config_path,
        "parallel_mode": parallel_mode,
        "total_exports": len(results),
        "success_count": count["success"],
        "degraded_count": count["degraded"],
        "failed_count": count["failed"],
        "skipped_count": count["skipped"],
        "total_rows": sum(r.rows for r in results),
        "total_files": sum(len(r.files) for r in results),
        "total_bytes": sum(r.bytes for r in results),
        "per_export": [
            {
                "export_name": r.export,
                "status": r.status,
                "run_id": r.run_id,
                "rows": r.rows,
                "files": len(r.files),
                "bytes": r.bytes,
                "duration_ms": round(r.duration_s * 1000),
                "mode": modes.get(r.export),
                "error_message": r.error,
            }
            for r in results
        ],
        "exports": [r.to_json() for r in results],
    }
