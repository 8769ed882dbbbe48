"""rivet_core.config: The JSON Schema and the export fingerprint."""

from __future__ import annotations

from pathlib import Path

from rivet_core.config import (
    config_json_schema,
    export_fingerprint,
)

from .config_cases import load_dict, minimal


def test_json_schema() -> None:
    schema = config_json_schema()
    assert isinstance(schema, dict)
    assert set(schema["properties"]) == {
        "source",
        "exports",
        "notifications",
        "parallel_exports",
        "parallel_export_processes",
        "dagster",
    }
    assert schema["required"] == ["source", "exports"]
    assert schema["additionalProperties"] is False


def test_export_fingerprint_changes_with_the_export(tmp_path: Path) -> None:
    first = load_dict(tmp_path, minimal())
    same = load_dict(tmp_path, minimal())
    other = load_dict(tmp_path, minimal(format="csv"))
    fp = export_fingerprint(first, first.exports[0])
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert fp == export_fingerprint(same, same.exports[0])
    assert fp != export_fingerprint(other, other.exports[0])


def test_export_fingerprint_follows_query_file_text(tmp_path: Path) -> None:
    (tmp_path / "q.sql").write_text("SELECT 1", encoding="utf-8")
    cfg = load_dict(tmp_path, minimal(table=None, query_file="q.sql"))
    before = export_fingerprint(cfg, cfg.exports[0])
    (tmp_path / "q.sql").write_text("SELECT 2", encoding="utf-8")
    assert export_fingerprint(cfg, cfg.exports[0]) != before
