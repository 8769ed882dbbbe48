"""The JSON encoding and text of a `rivet check` report, without a server."""

from __future__ import annotations

from typing import Any

from rivet_core.config import PROFILES, Tuning
from rivet_core.preflight import CheckReport, ProbeResult, render
from rivet_core.preflight.report import ChunkEstimate, ColumnReport, ConnectionReport, DestinationReport, KeyReport

_BALANCED: dict[str, Any] = dict(PROFILES["balanced"])


def _report() -> CheckReport:
    return CheckReport(
        export="ev",
        mode="chunked",
        source="table events",
        environment="production (unset)",
        tuning=Tuning("balanced", **_BALANCED),
        destination=DestinationReport("local", credentials="none needed"),
        columns=[
            ColumnReport("id", "int4", "int4", "int32", "exact"),
            ColumnReport(
                "amount",
                "numeric",
                "unsupported(numeric)",
                "(needs override)",
                "unsupported",
                "unsupported: unbounded numeric",
            ),
        ],
        key=KeyReport("chunk_column", "id", True),
        row_estimate=10,
        row_estimate_from="statistics",
        chunks=ChunkEstimate(1, (1, 10)),
        connections=ConnectionReport(needed=2, max_connections=100, in_use=5, free=95),
    )


def test_the_json_keeps_the_shape_rivet_check_prints() -> None:
    doc = _report().to_json()
    assert list(doc) == [
        "export", "mode", "source", "environment", "query", "columns", "violations", "key", "row_estimate",
        "row_estimate_from",
        "chunks", "windows", "connections", "verdict", "reasons", "recommended_profile", "tuning", "destination",
        "warnings", "errors",
    ]  # fmt: skip
    assert doc["columns"][0] == {
        "column": "id", "source_type": "int4", "rivet_type": "int4", "arrow_type": "int32", "fidelity": "exact",
        "name": "id", "flag": None,
    }  # fmt: skip
    assert doc["violations"] == [
        {
            "column_name": "amount",
            "fidelity": "unsupported",
            "message": "column 'amount' (source type 'numeric'): fidelity=unsupported: unbounded numeric",
            "fatal": False,
            "column": "amount",
            "source_type": "numeric",
            "arrow_type": "(needs override)",
            "severity": "unsupported",
        }
    ]
    assert _report().to_json(strict=True)["violations"][0]["fatal"] is True
    assert "target_failures" not in doc  # 0.7.7 writes it only when true
    assert doc["key"] == {"field": "chunk_column", "column": "id", "indexed": True}
    assert doc["chunks"] == {"min": 1, "max": 10, "estimate": 1}
    assert doc["connections"] == {"needed": 2, "max_connections": 100, "in_use": 5, "free": 95}
    assert doc["destination"] == {"type": "local", "credentials": "none needed"}
    assert doc["tuning"]["profile"] == "balanced" and doc["tuning"]["batch_size"] == PROFILES["balanced"]["batch_size"]


def test_chunk_and_destination_encodings_leave_out_what_was_not_found() -> None:
    assert ChunkEstimate(None, note="not computed").to_json() == {"estimate": None, "note": "not computed"}
    assert ChunkEstimate(0, (None, None)).to_json() == {"min": None, "max": None, "estimate": 0}
    assert DestinationReport("s3", "b", error="unset").to_json() == {"type": "s3", "bucket": "b", "error": "unset"}


def test_render_lists_unflagged_columns_only_in_the_type_report() -> None:
    report = _report()
    assert report.flagged == [report.columns[1]]
    short, full = render(report, type_report=False), render(report)
    assert "column amount: numeric -> (needs override)  [unsupported: unbounded numeric]" in short
    assert "column id" not in short and "Export: ev" not in short
    rows = [line.split() for line in full.splitlines()]
    assert ["id", "int4", "int4", "int32", "exact"] in rows and ["Export:", "ev"] in rows
    assert "column amount:" not in full  # the table lists it
    assert "  chunks: 1" in full and "  connections: needs 2, 95 free (5 in use of 100)" in full


def test_a_probe_is_one_line() -> None:
    assert ProbeResult("tls", "WARN", "not encrypted").line() == "[WARN] tls: not encrypted"
