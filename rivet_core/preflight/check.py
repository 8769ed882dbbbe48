"""`rivet check` of one export: the query resolves, column types, key index, row estimate, chunks, connections."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from rivet_core.config import Config, ExportConfig, parse_type_override
from rivet_core.errors import RivetError
from rivet_core.planning import base_query, chunk_size
from rivet_core.planning.key_columns import key_fields, missing_key_columns
from rivet_core.preflight.common import one_line
from rivet_core.preflight.credentials import destination_credentials
from rivet_core.preflight.fidelity import logical_type, rivet_type
from rivet_core.preflight.report import (
    CheckReport,
    ChunkEstimate,
    ColumnReport,
    ConnectionReport,
    KeyReport,
)
from rivet_core.preflight.target import COMPAT
from rivet_core.preflight.verdict import LARGE_TABLE_ROWS, SPARSE_FACTOR, decide
from rivet_core.sources import open_source, sql
from rivet_core.sources.base import Query, Snapshot, Source
from rivet_core.sources.catalog import Catalog, open_catalog
from rivet_core.sources.types import ColumnPlan, UnmappedColumn


def check(config: Config, names: list[str], target: str | None = None) -> list[CheckReport]:
    """One report per export (each column also against `target`); an unreachable source is an error in each."""
    return [check_export(config, config.export(name), target) for name in names]


def check_export(config: Config, export: ExportConfig, target: str | None = None) -> CheckReport:
    """Everything `rivet check` says about one export, without exporting a row."""
    tuning = config.tuning_for(export)
    report = CheckReport(
        export=export.name,
        mode=export.mode,
        source=f"table {export.table}" if export.table else "query",
        environment=config.source.environment or "production (unset)",
        tuning=tuning,
        destination=destination_credentials(config, export),
        target=target,
    )
    if report.destination.error is not None:
        report.errors.append(f"destination: {report.destination.error}")
    try:
        source = open_source(config.source, config.source.resolve_url(config.base_dir), tuning)
        query = base_query(config, export)
        catalog = open_catalog(source)
    except RivetError as exc:
        report.query = "not checked"
        report.errors.append(str(exc))
        return report
    try:
        inspect(export, source, catalog, query, report)
    except Exception as exc:  # a rivet error, or a catalog statement the server refused
        message = str(exc) if isinstance(exc, RivetError) else one_line(exc)
        report.errors.append(message)
        if report.query == "unresolved":
            report.query = f"failed: {message}"
    finally:
        catalog.close()
    decide(config, export, report)
    return report


def key_column(export: ExportConfig) -> tuple[str, str | None, str | None]:
    """(config field, column, fallback) of the column the export ranges over; column None for full/auto-chunk."""
    fields = key_fields(export)
    if not fields:
        return ("chunk_column" if export.mode == "chunked" else ""), None, None
    return fields[0].field, fields[0].column, fields[1].column if len(fields) > 1 else None


def inspect(export: ExportConfig, source: Source, catalog: Catalog, query: Query, report: CheckReport) -> None:
    """Columns, key index, row estimate, chunk/window count and connection budget of one export."""
    overrides = {k: parse_type_override(v) for k, v in (export.columns or {}).items()}
    field_name, column, fallback = key_column(export)
    if export.mode == "chunked" and column is None and export.source_table:
        pk = source.primary_key(export.source_table)
        column = pk[0] if len(pk) == 1 else None
        if column is None:
            report.errors.append(f"exports[{export.name}].chunk_column: not set and no single-column primary key")
    report.query = "unresolved"
    with source.snapshot() as snap:
        report.columns = describe(snap, query, overrides, f"exports[{export.name}]", report.target)
        report.query = "ok"
        names = [c.name for c in report.columns]
        if missing := missing_key_columns(export, names, case_sensitive=source.engine == "postgres"):
            report.errors += missing
            column = None  # no index, chunk or MIN/MAX probe of a column that is not there
        if export.source_table:
            report.row_estimate = catalog.table_rows(export.source_table)
            report.row_estimate_from = "statistics"
        if report.row_estimate is None:
            report.row_estimate = catalog.explain_rows(query)
            report.row_estimate_from = "EXPLAIN"
        if column:
            indexed = catalog.indexed(export.source_table, column, fallback) if export.source_table else None
            report.key = KeyReport(
                field=field_name,
                column=column if not fallback else f"coalesce({column},{fallback})",
                indexed=indexed if indexed is not None else "unknown",
            )
            if export.mode == "chunked":
                report.chunks = chunk_estimate(export, snap, query, column, report)
        if export.mode == "time_window":
            report.windows = export.window_count + 1
    budget = catalog.budget()
    report.connections = ConnectionReport(
        needed=(export.parallel if export.mode == "chunked" else 1) + 1,
        max_connections=budget.max_connections,
        in_use=budget.used,
        free=budget.free,
    )


def describe(
    snap: Snapshot, query: Query, overrides: dict[str, pa.DataType], path: str, target: str | None = None
) -> list[ColumnReport]:
    """Each column's source, Rivet and Arrow type, flagging unsupported (unbounded numeric) and lossy (text)
    mappings, and how it loads into `target`."""
    flagged: dict[str, str] = {}
    while True:
        try:
            plans = snap.plan(query, {**overrides, **{c: pa.string() for c in flagged}}, path)
            break
        except UnmappedColumn as exc:
            if exc.column in flagged:
                raise
            flagged[exc.column] = f"unsupported: {exc} — the export fails until it has a columns: override"
    return [_column(p, flagged.get(p.name), p.name in overrides, target) for p in plans]


def _column(plan: ColumnPlan, flag: str | None, overridden: bool, target: str | None) -> ColumnReport:
    """The report of one planned column; `flag` set when it has no Arrow type yet."""
    arrow = None if flag else plan.arrow_type
    typ = rivet_type(arrow, plan.source_type, overridden=overridden)
    if flag is None and not overridden and plan.expr.endswith("::text") and logical_type(plan.source_type) is None:
        flag = f"lossy: {plan.source_type} has no Arrow type and is written as its text form"
    if flag is None and pa.types.is_list(plan.arrow_type) and plan.expr.endswith("::text[]"):
        flag = f"lossy: {plan.source_type} elements are written as text"
    return ColumnReport(
        name=plan.name,
        source_type=plan.source_type,
        rivet_type=typ.label,
        arrow_type="(needs override)" if arrow is None else str(arrow),
        fidelity="lossy" if flag and arrow is not None else typ.fidelity,  # a flagged typed column is lossy
        flag=flag,
        target=COMPAT[target](arrow) if target else None,
    )


def chunk_estimate(
    export: ExportConfig, snap: Snapshot, query: Query, column: str, report: CheckReport
) -> ChunkEstimate:
    """How many chunks a run would plan (MIN/MAX only where an index or a small table makes it cheap)."""
    rows = report.row_estimate
    size = chunk_size(export, snap.source)
    if report.key and report.key.indexed is False and (rows is None or rows >= LARGE_TABLE_ROWS):
        return ChunkEstimate(None, note=f"not computed: MIN/MAX of the unindexed {column} would scan the table")
    lo, hi = sql.bounds(snap, query, column)
    bounds = (_plain(lo), _plain(hi))
    if lo is None:
        return ChunkEstimate(0, bounds)
    if export.chunk_count:
        return ChunkEstimate(export.chunk_count, bounds)
    if export.chunk_by_days:
        days = (hi - lo).days if hasattr(hi - lo, "days") else 0
        return ChunkEstimate(days // export.chunk_by_days + 1, bounds)
    expected = max(1, -(-(rows or 0) // size))
    if export.chunk_dense or not isinstance(lo, int):
        return ChunkEstimate(expected, bounds)
    span = hi // size - lo // size + 1
    estimate = min(span, max(expected, rows or span))
    if span <= SPARSE_FACTOR * expected:
        return ChunkEstimate(estimate, bounds)
    note = (
        f"sparse key {column}: {span} aligned ranges of {size} for ~{rows} rows; empty ranges are skipped by "
        "index seeks (work follows the non-empty chunks), chunk_dense gives ranges of equal row counts"
    )
    report.warnings.append(note)
    return ChunkEstimate(estimate, bounds, note)


def _plain(value: Any) -> Any:
    iso = getattr(value, "isoformat", None)
    return iso() if iso else value
