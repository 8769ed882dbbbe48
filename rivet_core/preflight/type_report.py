"""The type-report table `rivet check --type-report` prints per export, laid out as rivet-cli 0.7.7's."""

from __future__ import annotations

from rivet_core.preflight.report import CheckReport, ColumnReport

MIN_WIDTH = 8  # a column of the table is at least this wide
FIDELITY_WIDTH = len("logical_string")  # the widest fidelity
# 0.7.7's markers: after the fidelity without a target, after the target status with one.
_FIDELITY_MARKS = {"lossy": " ✗", "unsupported": " ✗", "logical_string": " ~"}
_STATUS_MARKS = {"fail": " ✗", "warn": " ~"}


def _cells(c: ColumnReport) -> list[str]:
    """One table row; with a target, its type and status (marked ✗ fail, ~ warn) close it."""
    if c.target is None:
        return [c.name, c.source_type, c.rivet_type, c.arrow_type, c.fidelity + _FIDELITY_MARKS.get(c.fidelity, "")]
    status = c.target.status + _STATUS_MARKS.get(c.target.status, "")
    return [c.name, c.source_type, c.rivet_type, c.arrow_type, c.fidelity, c.target.target_type, status]


def type_table(report: CheckReport, strict: bool) -> str:
    """`Export: NAME` and the table of its columns, notes under their row, then each violation (FAIL when
    `strict`, else WARN)."""
    headers = ["Column", "Source type", "Rivet type", "Arrow type", "Fidelity"]
    if report.target:
        headers += ["Target type", "Status"]
    rows = [_cells(c) for c in report.columns]
    widths = [max(MIN_WIDTH, len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    widths[4] = max(widths[4], FIDELITY_WIDTH)

    def line(cells: list[str]) -> str:
        return "  " + "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    title = f"Export: {report.export}" + (f"  [target: {report.target}]" if report.target else "")
    lines = ["", title, line(headers), line(["-" * w for w in widths])]
    for c, row in zip(report.columns, rows, strict=True):
        lines.append(line(row))
        if c.target is not None and c.target.note:
            lines.append(f"  {'':<{widths[0]}}    note: {c.target.note}")
    violations = [c.violation(strict) for c in report.flagged]
    if violations:
        lines.append("")
        lines += [f"  {'FAIL' if v['fatal'] else 'WARN'}: {v['message']}" for v in violations]
    return "\n".join(lines)
