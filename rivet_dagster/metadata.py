"""Materialization metadata of a run under Dagster's own keys (`dagster/row_count`, `dagster/table_name`,
`dagster/column_schema`, `dagster/uri`) and each partition's own numbers; numbers as numbers, never a secret."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dagster import MetadataValue, TableColumn, TableSchema

from rivet_dagster._engine import ExportConfig, ExportResult, partition_of


@dataclass(frozen=True)
class UnitNumbers:
    """One committed unit of a run as a partition sees it: its key and its own numbers."""

    partition: str
    rows: int
    bytes: int
    files: list[str]
    bounds: dict[str, Any]
    duration_s: float


def committed_units(export: ExportConfig, result: ExportResult) -> list[UnitNumbers]:
    """The units the run committed, each with its partition key, rows, bytes, files and bounds."""
    out = []
    for unit in result.units:
        bounds = unit.slice.to_json()
        out.append(
            UnitNumbers(
                partition_of(export, unit.slice),
                unit.rows,
                unit.bytes,
                list(unit.files),
                {k: bounds[k] for k in ("column", "lo", "hi") if k in bounds},
                unit.duration_s,
            )
        )
    return out


def as_uri(location: str) -> str:
    """A destination location as a URI: object stores' already are (s3://, gs://, az://); a local path → file://."""
    if not location or "://" in location or location.startswith("stdout"):
        return location
    return "file://" + quote(str(Path(location).resolve()), safe="/=")  # `=` of hive-style folders kept


def result_metadata(result: ExportResult, table_name: str, total_rows: int | None = None) -> dict[str, Any]:
    """Materialization metadata of a run: counts (as numbers), schema, URIs, timings, cursor, redacted query.

    Never a secret. `table_name`: the dataset's `dagster/table_name`; `total_rows`: the rows the dataset holds
    after the run, when known.
    """
    meta: dict[str, Any] = {
        "dagster/row_count": MetadataValue.int(result.rows),
        "dagster/table_name": table_name,
        "dagster/column_schema": TableSchema(
            columns=[TableColumn(c["name"], c["type"], description=c.get("source") or None) for c in result.schema]
        ),
        "dagster/uri": as_uri(result.destination),
        "rivet/file_count": MetadataValue.int(len(result.files)),
        "files": MetadataValue.json([as_uri(f) for f in result.files]),
        "bytes": MetadataValue.int(result.bytes),
        "duration_s": MetadataValue.float(round(result.duration_s, 3)),
        "rows_per_s": MetadataValue.float(round(result.rows / result.duration_s, 1) if result.duration_s else 0.0),
        "peak_rss_mb": MetadataValue.float(round(result.peak_rss_mb, 1)),
        "slices": MetadataValue.json([s.to_json() for s in result.slices]),
        "run_id": result.run_id,
        "status": result.status,
    }
    if total_rows is not None:
        meta["rivet/total_rows"] = MetadataValue.int(total_rows)
    if result.gates:
        meta["gates"] = MetadataValue.json([g.to_json() for g in result.gates])
    for name in ("validated", "reconciled"):
        if getattr(result, name) is not None:
            meta[name] = getattr(result, name)
    if result.cursor is not None:
        meta["cursor"] = MetadataValue.json(result.cursor)
    if result.query:
        meta["query"] = result.query  # the table, or the SQL with any password masked
    if result.warnings:
        meta["warnings"] = MetadataValue.json(result.warnings)
    if result.error:
        meta["error"] = result.error
    return meta


def unit_metadata(unit: UnitNumbers) -> dict[str, Any]:
    """A partition's own numbers (its rows, bytes, files, bounds, seconds), over the run-wide ones."""
    return {
        "dagster/row_count": MetadataValue.int(unit.rows),
        "dagster/partition_row_count": MetadataValue.int(unit.rows),
        "bytes": MetadataValue.int(unit.bytes),
        "duration_s": MetadataValue.float(round(unit.duration_s, 3)),
        "rivet/file_count": MetadataValue.int(len(unit.files)),
        "files": MetadataValue.json([as_uri(f) for f in unit.files]),
        "bounds": MetadataValue.json(unit.bounds),
    }
