"""`rivet check` text for one export."""

from __future__ import annotations

from rivet_core.preflight.report import CheckReport, ColumnReport
from rivet_core.preflight.type_report import type_table


def _column_line(c: ColumnReport) -> str:
    return f"  column {c.name}: {c.source_type} -> {c.arrow_type}" + (f"  [{c.flag}]" if c.flag else "")


def render(report: CheckReport, *, type_report: bool = True, strict: bool = False) -> str:
    """The report as text, then with `type_report` 0.7.7's table of every column (its violations fatal when
    `strict`); without it only the flagged columns are listed."""
    lines = [f"{report.export} ({report.mode}, {report.source}): {report.verdict.upper()}"]
    lines += [f"  verdict: {reason}" for reason in report.reasons]
    lines.append(f"  query: {report.query}")
    if report.row_estimate is not None:
        lines.append(f"  rows: ~{report.row_estimate} ({report.row_estimate_from})")
    if report.key:
        lines.append(f"  {report.key.field}: {report.key.column} indexed: {report.key.indexed}")
    if report.chunks:
        lines.append(f"  chunks: {report.chunks.estimate} {report.chunks.note or ''}".rstrip())
    if report.windows:
        lines.append(f"  windows per run: {report.windows}")
    if c := report.connections:
        lines.append(f"  connections: needs {c.needed}, {c.free} free ({c.in_use} in use of {c.max_connections})")
    t = report.tuning
    lines.append(
        f"  tuning: profile {t.profile_label} (recommended: {report.recommended_profile}), batch_size {t.batch_size}, "
        f"throttle_ms {t.throttle_ms}, statement_timeout_s {t.statement_timeout_s}, lock_timeout_s "
        f"{t.lock_timeout_s}, max_retries {t.max_retries}, retry_backoff_ms {t.retry_backoff_ms}, "
        f"memory_threshold_mb {t.memory_threshold_mb}"
    )
    d = report.destination
    lines.append(f"  destination: {d.type}, credentials: {d.credentials or d.error}")
    if type_report:
        lines.append(f"  type report: {len(report.columns)} column(s), {len(report.flagged)} violation(s)")
    else:
        lines += [_column_line(c) for c in report.flagged]
    lines += [f"  warning: {w}" for w in report.warnings]
    lines += [f"  error: {e}" for e in report.errors]
    if type_report and report.columns:
        lines.append(type_table(report, strict))
    return "\n".join(lines)
