"""`rivet run` as a process: export isolation, run reports, the aggregate summary and the 0.7.7 flags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from e2e import data_files, export_config

S3_NOWHERE = {
    "type": "s3",
    "bucket": "rivet-none",
    "endpoint": "http://127.0.0.1:1",
    "access_key_env": "RIVET_TEST_UNSET_ACCESS",
    "secret_key_env": "RIVET_TEST_UNSET_SECRET",
}


@pytest.fixture
def numbers(pg: Any, table_name: str) -> Any:
    pg.execute(f"CREATE TABLE {table_name} AS SELECT g AS id, g::numeric AS nu FROM generate_series(1, 12) g")
    yield table_name
    pg.execute(f"DROP TABLE {table_name}")


def three_exports(tmp_path: Path, table: str, second: dict[str, Any]) -> Path:
    return export_config(
        tmp_path,
        {"name": "first", "table": table, "columns": {"nu": "decimal(10,0)"}},
        {"name": "second", "table": table, **second},
        {
            "name": "third",
            "table": table,
            "columns": {"nu": "decimal(10,0)"},
            "destination": {"type": "local", "path": "./out3"},
        },
    )


@pytest.mark.pg
@pytest.mark.parametrize(
    ("case", "second", "named"),
    [
        (
            "unset credential env var",
            {"columns": {"nu": "decimal(10,0)"}, "destination": S3_NOWHERE},
            "RIVET_TEST_UNSET_ACCESS",
        ),
        ("unbounded numeric", {"destination": {"type": "local", "path": "./out2"}}, "unbounded numeric"),
        (
            "source error",
            {"table": "no_such_table_rivet", "destination": {"type": "local", "path": "./out2"}},
            'relation "no_such_table_rivet" does not exist',
        ),
    ],
)
def test_one_exports_failure_fails_that_export_only(
    numbers: str, tmp_path: Path, case: str, second: dict[str, Any], named: str
) -> None:
    config = three_exports(tmp_path, numbers, second)
    proc = run_cli("run", "-c", str(config), "--json")
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)
    by_name = {e["export"]: e for e in summary["exports"]}
    assert list(by_name) == ["first", "second", "third"]
    assert by_name["first"]["status"] == by_name["third"]["status"] == "success"
    assert by_name["first"]["rows"] == by_name["third"]["rows"] == 12
    assert by_name["second"]["status"] == "failed"
    assert (
        by_name["second"]["error"].startswith(("second: ", "exports[second]: ")) and named in by_name["second"]["error"]
    )
    assert summary["per_export"][1]["error_message"] == by_name["second"]["error"]
    assert (summary["total_exports"], summary["success_count"], summary["failed_count"]) == (3, 2, 1)
    assert [p["export_name"] for p in summary["per_export"]] == ["first", "second", "third"]
    assert len(data_files(tmp_path / "out")) == 1 and len(data_files(tmp_path / "out3")) == 1
    assert "Traceback" not in proc.stderr


@pytest.mark.pg
def test_only_config_failures_still_exit_2_with_one_error_per_export(numbers: str, tmp_path: Path) -> None:
    config = export_config(
        tmp_path, {"name": "a", "table": numbers}, {"name": "b", "table": numbers, "destination": S3_NOWHERE}
    )
    proc = run_cli("--json-errors", "run", "-c", str(config))
    assert proc.returncode == 2, proc.stderr
    errors = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert [(e["export"], e["exit_code"]) for e in errors] == [("a", 2), ("b", 2)]
    assert "unbounded numeric" in errors[0]["error"] and "RIVET_TEST_UNSET_ACCESS" in errors[1]["error"]


@pytest.mark.pg
def test_run_reports_and_summary_output(numbers: str, tmp_path: Path) -> None:
    config = export_config(
        tmp_path,
        {"name": "ok", "table": numbers, "columns": {"nu": "decimal(10,0)"}},
        {"name": "bad", "table": "no_such_table_rivet"},
    )
    summary_path = tmp_path / "agg.json"
    proc = run_cli("run", "-c", str(config), "--summary-output", str(summary_path), "-p", "UNUSED=1", "--force")
    assert proc.returncode == 1, proc.stderr
    assert "--param UNUSED is not used" in proc.stderr and "--force only matters with --resume" in proc.stderr
    reports = [line.split(None, 1)[1] for line in proc.stderr.splitlines() if line.startswith("report:    ")]
    assert len(reports) == 2 and all(Path(r).name == "summary.md" for r in reports)
    ok, bad = (json.loads(Path(r).with_name("summary.json").read_text()) for r in reports)
    assert Path(reports[0]).parent.parent == tmp_path / ".rivet" / "runs"
    assert Path(reports[0]).parent.name.startswith("ok_")
    assert ok["export_name"] == "ok" and ok["status"] == "success" and ok["total_rows"] == 12
    assert ok["files_produced"] == 1 and ok["destination_kind"] == "local" and ok["format"] == "parquet"
    assert ok["tuning_profile"] == "balanced" and ok["error_message"] is None and ok["resumable"] is False
    assert bad["status"] == "failed" and "no_such_table_rivet" in bad["error_message"]
    assert "**failed**" in Path(reports[1]).read_text()
    agg = json.loads(summary_path.read_text())
    assert agg["run_aggregate_id"].startswith("agg_") and agg["parallel_mode"] == "sequential"
    assert (agg["success_count"], agg["failed_count"], agg["total_rows"]) == (1, 1, 12)


@pytest.mark.pg
def test_parallel_flags_are_accepted_and_exclusive(numbers: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "ok", "table": numbers, "columns": {"nu": "decimal(10,0)"}})
    both = run_cli("run", "-c", str(config), "--parallel-exports", "--parallel-export-processes")
    assert both.returncode == 2 and "--parallel-exports and --parallel-export-processes" in both.stderr
    proc = run_cli("run", "-c", str(config), "--parallel-exports")
    assert proc.returncode == 0, proc.stderr
    assert "not used with --export or a single export" in proc.stderr
