"""The verdict and recommended profile of a checked export (rules: README "Production")."""

from __future__ import annotations

from rivet_core.config import Config, ExportConfig
from rivet_core.preflight.report import VERDICTS, CheckReport, Verdict

LARGE_TABLE_ROWS = 1_000_000  # a table this large must not be scanned per run in production
SPARSE_FACTOR = 10  # aligned key ranges per expected chunk beyond which a chunk key counts as sparse


def decide(config: Config, export: ExportConfig, report: CheckReport) -> None:
    """Set the report's verdict, the reasons (which rules fired) and the recommended profile."""
    found = _findings(config, export, report)
    report.verdict = next((v for v in reversed(VERDICTS) if found[v]), "efficient")
    report.reasons = found[report.verdict] or [_efficient(report)]
    environment = config.source.environment
    if environment == "local":
        report.recommended_profile = "fast"
    elif environment == "replica":
        report.recommended_profile = "fast" if report.verdict == "efficient" else "balanced"
    else:
        report.recommended_profile = "safe" if report.verdict in ("degraded", "unsafe") else "balanced"


def _efficient(report: CheckReport) -> str:
    """What made an export efficient, only as far as it was found (a full export has no key to index)."""
    key = report.key
    facts = [f"{key.field} {key.column} indexed" if key else "no key column (one pass over the query)"]
    if report.row_estimate_from:
        facts.append(f"row estimate from {report.row_estimate_from}")
    if report.connections:
        facts.append("connections to spare")
    return ", ".join(facts)


def _findings(config: Config, export: ExportConfig, report: CheckReport) -> dict[Verdict, list[str]]:
    """What each rule found, by the verdict it implies."""
    production = config.source.environment in (None, "production")
    rows = report.row_estimate
    large = rows is not None and rows >= LARGE_TABLE_ROWS
    key = report.key
    found: dict[Verdict, list[str]] = {v: [] for v in VERDICTS}
    if c := report.connections:
        if c.needed > c.free:
            found["unsafe"].append(f"needs {c.needed} connections, {c.free} free of {c.max_connections}")
        elif c.free - c.needed < max(3, c.max_connections // 10):
            found["degraded"].append(f"leaves {c.free - c.needed} of {c.max_connections} connections free")
    if key and key.indexed is False:
        what = f"{key.field} {key.column} is not indexed"
        if large and production:
            found["unsafe"].append(f"{what} on a table of ~{rows} rows in production: every run scans it")
        else:
            found["degraded"].append(f"{what}: every {'chunk' if export.mode == 'chunked' else 'run'} scans the table")
    if key and key.indexed == "unknown":
        found["acceptable"].append(f"{key.field} {key.column}: index unknown for a query export")
    if export.mode == "full" and large and production:
        found["acceptable"].append(f"full export of ~{rows} rows holds one snapshot open for the whole run")
    if rows is None:
        found["acceptable"].append("no row estimate")
    if report.chunks and (report.chunks.note or "").startswith("sparse"):
        found["acceptable"].append("sparse chunk key")
    return found
