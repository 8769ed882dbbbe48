"""`rivet plan` / `rivet apply`: a sealed artifact fixing what a run reads, later applied verbatim.

The plan holds the resolved export and source config (plaintext passwords and URL userinfo stripped; `*_env` /
`*_file` references kept, so apply resolves secrets itself), the slices (chunk ranges, windows, the cursor
snapshot), the row estimate, verdict and warnings from `rivet check`, and the original config's path: state and
relative paths are resolved next to that config, never next to the plan file. Apply re-reads no config and runs
no MIN/MAX: the planned slices go to the engine as they are (`RunOptions.planned`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from rivet_core import __version__
from rivet_core.config import Config, ExportConfig, SourceConfig, parse_config
from rivet_core.engine import ExportResult, RunOptions, execute
from rivet_core.errors import ConfigError, RivetError
from rivet_core.pipeline.run import Run
from rivet_core.planning import Planner, cursor_label, cursor_plan, stored_cursor
from rivet_core.preflight import check_export
from rivet_core.prioritization import prioritize
from rivet_core.redact import redact_url
from rivet_core.slices import Slice, encode_value

log = logging.getLogger("rivet")

KIND = "rivet-plan"
FORMAT = 2  # 2: slices in their one JSON form (`Slice.to_json`)
WARN_AGE = dt.timedelta(hours=1)
MAX_AGE = dt.timedelta(hours=24)


def seal(plan: dict[str, Any]) -> str:
    """sha256 of the plan's canonical JSON without its seal: any edit after `rivet plan` shows."""
    body = json.dumps({k: v for k, v in plan.items() if k != "seal"}, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def stripped_secrets(source: SourceConfig) -> list[str]:
    """The secrets a plan cannot carry: a plaintext password, a password in the URL."""
    out = ["source.password"] if source.password else []
    if source.url and redact_url(source.url) != source.url:
        out.append("source.url (its password)")
    return out


def _doc(model: Any) -> dict[str, Any]:
    doc: dict[str, Any] = model.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    return doc


def export_doc(config: Config, export: ExportConfig) -> dict[str, Any]:
    """The export as configured, with a `query_file` inlined as `query` (apply reads no file of the config)."""
    doc = _doc(export)
    text = export.sql_text(config.base_dir)
    if text is not None:  # `query:` syntax, its `${VAR}` values apart: apply quotes them as the run would
        doc.pop("query_file", None)
        doc["query"] = text.template
        if text.values:
            doc["query_params"] = text.values
    return doc


def make_plan(config: Config, names: list[str]) -> dict[str, Any]:
    """Plan the exports `names`: check each, then fix its slices in a snapshot as a run would."""
    created = dt.datetime.now(dt.UTC)
    plan: dict[str, Any] = {
        "kind": KIND,
        "format": FORMAT,
        "rivet_version": __version__,
        "plan_id": uuid.uuid4().hex[:12],
        "created_at": created.isoformat(),
        "expires_at": (created + MAX_AGE).isoformat(),
        "config_path": str(config.path) if config.path else None,
        "base_dir": str(config.base_dir),
        "source": _doc(config.source.without_secrets()),
        "stripped": stripped_secrets(config.source),
        "exports": [plan_export(config, config.export(name)) for name in names],
    }
    plan["prioritization"] = prioritize(plan["exports"], [config.export(name) for name in names])
    plan["seal"] = seal(plan)
    return plan


def plan_export(config: Config, export: ExportConfig) -> dict[str, Any]:
    """One export's entry: resolved config and tuning, slices, cursor snapshot, estimate, verdict, warnings."""
    report = check_export(config, export)
    if report.errors:
        raise RivetError(f"{export.name}: cannot plan: {report.errors[0]}")
    run = Run(config, export, RunOptions())
    with run.source.snapshot() as snap:
        snap.plan(run.query, run.overrides, f"exports[{export.name}]")  # an unmappable column fails the plan
        after = stored_cursor(export, run.dest, run.state) if export.mode == "incremental" else None
        slices = Planner(config, export, run.source, run.query, now=run.now).plan(snap, after)
    cursor = None
    if export.mode == "incremental":
        cursor = {"column": cursor_label(export), "value": encode_value(slices[0].after)}
    warnings = report.warnings + [f"column {c.name}: {c.flag}" for c in report.flagged]
    return {
        "name": export.name,
        "mode": export.mode,
        "export": export_doc(config, export),
        "tuning": asdict(run.tuning),
        "destination": run.result.destination,
        "cursor": cursor,
        "slices": [s.to_json() for s in slices],
        "row_estimate": report.row_estimate,
        "verdict": report.verdict,
        "reasons": report.reasons,
        "warnings": warnings,
    }


def render(plan: dict[str, Any]) -> str:
    """`rivet plan --format pretty`."""
    lines = [
        f"plan {plan['plan_id']} (rivet {plan['rivet_version']}), created {plan['created_at']}, expires "
        f"{plan['expires_at']}; config {plan['config_path']}"
    ]
    for e in plan["exports"]:
        lines.append(
            f"{e['name']} ({e['mode']}): {len(e['slices'])} slice(s), ~{e['row_estimate']} rows, verdict "
            f"{e['verdict']} -> {e['destination']}"
        )
        if e["cursor"]:
            value = e["cursor"]["value"]
            lines.append(f"  cursor {e['cursor']['column']} > {value['value'] if value else '(start)'}")
        for s in e["slices"]:
            if "lo" in s or "hi" in s:
                op = "<=" if s["hi_inclusive"] else "<"
                lines.append(f"  {s['key']}: {s.get('lo')} <= {s['column']} {op} {s.get('hi')}")
        lines += [f"  warning: {w}" for w in e["warnings"]]
    campaign = plan.get("prioritization", {}).get("campaign", {})
    if campaign:
        lines.append(f"order: {', '.join(campaign['order'])}")
        lines += [f"campaign: {w}" for w in campaign["warnings"]]
    if plan["stripped"]:
        lines.append(f"note: stripped {', '.join(plan['stripped'])}: apply needs url_env / url_file / password_env")
    return "\n".join(lines)


# -- apply -------------------------------------------------------------------------------------------------


def load_plan(path: Path) -> dict[str, Any]:
    """Read and verify a plan file (kind, format, seal); ConfigError naming the file otherwise."""
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"plan file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable plan ({exc})") from None
    if not isinstance(plan, dict) or plan.get("kind") != KIND:
        raise ConfigError(f"{path}: not a rivet plan (write one with `rivet plan -o {path.name}`)")
    if plan.get("format") != FORMAT:
        raise ConfigError(f"{path}: plan format {plan.get('format')} is not supported (expected {FORMAT}); re-plan")
    if plan.get("seal") != seal(plan):
        raise ConfigError(f"{path}: the plan was modified after `rivet plan` wrote it (seal mismatch); re-plan")
    return plan


def age_warnings(plan: dict[str, Any], force: bool, now: dt.datetime | None = None) -> list[str]:
    """Under 1 h: nothing; 1 to 24 h: a warning; 24 h or more: refused unless --force (then a warning)."""
    age = (now or dt.datetime.now(dt.UTC)) - dt.datetime.fromisoformat(plan["created_at"])
    hours = age.total_seconds() / 3600
    if age >= MAX_AGE:
        if not force:
            raise ConfigError(
                f"plan {plan['plan_id']} is {hours:.1f} h old (plans expire after 24 h): re-plan, or pass --force "
                "to apply it anyway"
            )
        return [f"--force: applied plan {plan['plan_id']} although it is {hours:.1f} h old (expired after 24 h)"]
    if age >= WARN_AGE:
        return [f"plan {plan['plan_id']} is {hours:.1f} h old: its ranges and cursor may be stale"]
    return []


def _escape(node: Any) -> Any:
    """`$` → `$$` in every string: the plan holds values already expanded, parse_config must not expand again
    (a query is stored as a template with its values apart, and is not escaped)."""
    if isinstance(node, str):
        return node.replace("$", "$$")
    if isinstance(node, dict):
        return {k: _escape(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_escape(v) for v in node]
    return node


def plan_config(plan: dict[str, Any], path: Path) -> Config:
    """The Config the plan was made from, rooted at the original config's folder (state, relative paths)."""
    if plan["stripped"]:
        raise ConfigError(
            f"{path}: the plan cannot connect: {', '.join(plan['stripped'])} held a password, which plans never "
            "store; give the source as url_env / url_file or password_env in rivet.yaml and re-plan"
        )
    params: dict[str, str] = {}
    exports = []
    for entry in plan["exports"]:
        doc = dict(entry["export"])
        query, values = doc.pop("query", None), doc.pop("query_params", {})
        exports.append(_escape(doc) | ({} if query is None else {"query": query}))  # query: already a template
        params.update(values)
    data = {"source": _escape(plan["source"]), "exports": exports}
    config_path = Path(plan["config_path"]) if plan["config_path"] else None
    return parse_config(data, base_dir=Path(plan["base_dir"]), env=params, label=str(path), path=config_path)


def apply_plan(path: Path, force: bool, options: RunOptions) -> list[ExportResult]:
    """Run a plan verbatim: every refusal is decided before the first export starts."""
    plan = load_plan(path)
    warnings = age_warnings(plan, force)
    if plan["rivet_version"] != __version__:
        warnings.append(f"plan written by rivet {plan['rivet_version']}, applied by {__version__}")
    config = plan_config(plan, path)
    runs = []
    for entry in plan["exports"]:
        slices = [Slice.from_json(s) for s in entry["slices"]]
        run = Run(config, config.export(entry["name"]), replace(options, planned=slices))
        run.result.warnings += warnings + cursor_moved(run, entry, force)
        runs.append(run)
    for w in warnings:
        log.warning("%s", w)
    log.info("applying plan %s (%d export(s)) from %s", plan["plan_id"], len(runs), path)
    return [execute(run) for run in runs]


def cursor_moved(run: Run, entry: dict[str, Any], force: bool) -> list[str]:
    """Incremental: refuse when the stored cursor moved since the plan; --force continues from the stored one.

    Continuing from the stored cursor (not the plan's) is what keeps --force exactly-once: the rows between the
    two were exported by the run that moved it.
    """
    if entry["cursor"] is None:
        return []
    current = stored_cursor(run.export, run.dest, run.state)
    planned = entry["cursor"]["value"]
    if encode_value(current) == planned:
        return []
    was, now = (planned or {}).get("value", "(start)"), current if current is not None else "(start)"
    if not force:
        raise ConfigError(
            f"{entry['name']}: the stored cursor moved since the plan ({entry['cursor']['column']} {was} -> {now}); "
            "re-plan, or pass --force to export from the stored cursor"
        )
    run.options.planned = [cursor_plan(run.export, current)]
    message = f"--force: the stored cursor moved since the plan ({was} -> {now}); exported the rows after {now}"
    log.warning("%s: %s", entry["name"], message)
    return [message]
