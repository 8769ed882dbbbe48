"""`rivet journal` and `rivet state progression`: what a run did, and how far an export has committed.

Both are read from what rivet already keeps: the state store's run history, file ledger and chunk checkpoints,
the destination's manifests (the truth, docs/state.md) and the run reports (rivet_core.reports).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rivet_core import commit
from rivet_core.commit.manifest import Manifest
from rivet_core.config import Config, ExportConfig
from rivet_core.destinations.base import Destination
from rivet_core.preflight.common import export_destination
from rivet_core.reports import find_reports
from rivet_core.state import StateStore

ALL_RUNS = 1_000_000  # `StateStore.runs` takes a limit; a run id is looked for among all runs


@dataclass
class JournalEntry:
    """One run of one export: its history row, the units and files it committed, its chunk tasks, its report."""

    run: dict[str, Any]
    units: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    chunk_run: dict[str, Any] | None = None
    report: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _unit(m: Manifest) -> dict[str, Any]:
    return {
        "unit_id": m.unit_id,
        "slice": m.slice.to_json(),
        "rows": m.row_count,
        "bytes": m.bytes,
        "parts": [p.key for p in m.parts],
        "committed_at": m.created_at,
        **({"cursor": m.cursor.to_json()} if m.cursor else {}),
    }


def journal(config: Config, export: ExportConfig, *, last: int, run_id: str | None = None) -> list[JournalEntry]:
    """The newest `last` runs of an export (or just `run_id`), newest first."""
    store = StateStore.open(config.base_dir)
    runs = store.runs(export.name, ALL_RUNS if run_id else last)
    if run_id:
        runs = [r for r in runs if r["run_id"] == run_id]
    dest = export_destination(config, export, "journal")
    by_run: dict[str, list[dict[str, Any]]] = {}
    for m in commit.manifests(dest, export.name):
        by_run.setdefault(m.run_id, []).append(_unit(m))
    files = store.files(export.name)
    chunk_runs = {c["run_id"]: c for c in store.chunk_runs(export.name)}
    reports = find_reports(config.base_dir, export.name)
    out = []
    for r in runs:
        rid = r["run_id"]
        chunk_run = chunk_runs.get(rid)
        if chunk_run is not None:
            chunk_run = {**chunk_run, "tasks": store.chunk_tasks(rid)}
        out.append(
            JournalEntry(
                run=r,
                units=by_run.get(rid, []),
                files=[f for f in files if f["run_id"] == rid],
                chunk_run=chunk_run,
                report=reports.get(rid),
            )
        )
    return out


def render_journal(entries: list[JournalEntry]) -> str:
    """The journal as text, one block per run."""
    lines: list[str] = []
    for e in entries:
        r = e.run
        lines.append(
            f"run {r['run_id']}  {r['started_at']}  {r['status']}  {r['rows'] or 0} rows  {r['files'] or 0} file(s)"
            f"  {r['duration_s'] or 0:.2f}s  peak RSS {r['peak_rss_mb'] or 0:.0f} MiB  retries {r['retries'] or 0}"
        )
        for key in ("validated", "reconciled", "error"):
            if r.get(key):
                lines.append(f"  {key}: {r[key]}")
        for u in e.units:
            cursor = f"  cursor {u['cursor']['value']['value']}" if u.get("cursor") else ""
            lines.append(f"  unit {u['unit_id']} ({(u['slice'] or {}).get('key')}): {u['rows']} rows{cursor}")
            lines += [f"    {p}" for p in u["parts"]]
        if e.chunk_run:
            tasks = e.chunk_run["tasks"]
            done = sum(t["status"] == "completed" for t in tasks)
            lines.append(f"  chunk run {e.chunk_run['status']}: {done}/{len(tasks)} chunks completed")
            for t in tasks:
                if t["status"] != "completed":
                    error = f": {t['error']}" if t["error"] else ""
                    lines.append(f"    chunk {t['index']}: {t['status']} (attempts {t['attempts']}){error}")
        if e.report:
            lines.append(f"  report: {e.report['report']}")
    return "\n".join(lines) if lines else "no runs recorded"


@dataclass(frozen=True)
class Boundary:
    """How far an export got: the strategy's position (cursor, chunk index or window), which run, when."""

    strategy: str
    run_id: str
    at: str | None
    unit_id: str | None = None
    cursor: Any = None
    chunk_index: int | None = None
    window: str | None = None


def _committed(export: ExportConfig, dest: Destination) -> tuple[Boundary | None, int]:
    """The last committed boundary (after a `state reset` watermark) and how many units count."""
    units = commit.since_reset(dest, export.name)
    if not units:
        return None, 0
    latest = units[-1]
    boundary = Boundary(export.mode, latest.run_id, latest.created_at, latest.unit_id)
    if export.mode == "incremental":
        cursors = [m for m in units if m.cursor is not None]
        if cursors:
            m = cursors[-1]
            encoded = m.cursor.to_json()["value"] if m.cursor else None
            return Boundary(export.mode, m.run_id, m.created_at, m.unit_id, cursor=encoded and encoded["value"]), len(
                units
            )
    if export.mode == "chunked":
        run = [m for m in units if m.run_id == latest.run_id and m.slice.kind == "chunk"]
        indexes = [m.slice.index for m in run if m.slice.index is not None]
        boundary = Boundary(
            export.mode, latest.run_id, latest.created_at, latest.unit_id, chunk_index=max(indexes, default=None)
        )
    if export.mode == "time_window":
        newest = max(units, key=lambda m: m.slice.key)
        boundary = Boundary(export.mode, newest.run_id, newest.created_at, newest.unit_id, window=newest.slice.key)
    return boundary, len(units)


def progression(config: Config, export: ExportConfig) -> dict[str, Any]:
    """Committed boundary (from the manifests) and last verified run (validate or reconcile passed) of an export."""
    committed, count = _committed(export, export_destination(config, export, "progression"))
    runs = StateStore.open(config.base_dir).runs(export.name, ALL_RUNS)
    verified = next((r for r in runs if r["validated"] == "passed" or r["reconciled"] == "match"), None)
    return {
        "export": export.name,
        "mode": export.mode,
        "committed_units": count,
        "last_committed": asdict(committed) if committed else None,
        "last_verified": {
            "run_id": verified["run_id"],
            "at": verified["started_at"],
            "validated": verified["validated"],
            "reconciled": verified["reconciled"],
        }
        if verified
        else None,
    }
