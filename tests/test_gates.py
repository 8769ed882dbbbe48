"""Gates through `rivet run` (issue 7): quality rules, schema drift, reconcile in the snapshot, validate, metrics."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import run_cli, start_cli
from e2e import data_files, export_config, manifests, rivet_ok, run_json, state_show
from engines import Engine, engine_fixture  # noqa: F401 - the `engine` fixture

FAST = {"profile": "fast"}


@pytest.fixture
def items(pg: Any, table_name: str) -> Iterator[str]:
    """4 rows: name NULL in 1 of 4 (ratio 0.25 exactly), code repeats once, id unique."""
    pg.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, name text, code text)")
    pg.execute(f"INSERT INTO {table_name} VALUES (1, 'a', 'x'), (2, 'b', 'y'), (3, 'c', 'z'), (4, NULL, 'z')")
    yield table_name
    pg.execute(f"DROP TABLE {table_name}")


def run(config: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """`rivet run --json ARGS`: exit code, the export's summary, stderr."""
    proc = run_cli("run", "-c", str(config), "--json", *args)
    assert "Traceback" not in proc.stderr
    return proc.returncode, json.loads(proc.stdout)["exports"][0], proc.stderr


def gate(summary: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [g for g in summary["gates"] if g["gate"] == name]
    return found  # type: ignore[no-any-return]


# -- quality -------------------------------------------------------------------------------------------------

PASSING = [  # each exactly at its limit
    {"row_count_min": 4},
    {"row_count_max": 4},
    {"null_ratio_max": {"name": 0.25}},
    {"unique_columns": ["id"]},
]
FAILING = [  # each just past its limit
    ({"row_count_min": 5}, "row_count_min", {"expected_min": 5, "actual": 4}),
    ({"row_count_max": 3}, "row_count_max", {"expected_max": 3, "actual": 4}),
    ({"null_ratio_max": {"name": 0.24}}, "null_ratio_max", {"failing_columns": ["name"]}),
    ({"unique_columns": ["id", "code"]}, "unique_columns", {"failing_columns": ["code"], "duplicates": {"code": 1}}),
]


@pytest.mark.pg
@pytest.mark.parametrize("rule", PASSING, ids=lambda r: next(iter(r)))
def test_rule_at_its_limit_passes(items: str, tmp_path: Path, rule: dict[str, Any]) -> None:
    code, summary, _ = run(export_config(tmp_path, {"name": "q", "table": items, "quality": rule, "tuning": FAST}))
    assert code == 0 and summary["status"] == "success"
    assert gate(summary, next(iter(rule)))["passed"] is True
    assert len(data_files(tmp_path / "out")) == 1


@pytest.mark.pg
@pytest.mark.parametrize(("rule", "name", "numbers"), FAILING, ids=[f[1] for f in FAILING])
def test_rule_past_its_limit_at_error_fails_and_commits_nothing(
    items: str, tmp_path: Path, rule: dict[str, Any], name: str, numbers: dict[str, Any]
) -> None:
    code, summary, stderr = run(export_config(tmp_path, {"name": "q", "table": items, "quality": rule}))
    assert code == 1 and summary["status"] == "failed"
    assert summary["error"].startswith(f"q: {name}") and name in stderr
    result = gate(summary, name)
    assert result["passed"] is False and result["severity"] == "error"
    assert numbers.items() <= result["details"].items()
    out = tmp_path / "out"
    assert data_files(out) == [] and manifests(out, "q") == []
    assert [p for p in out.rglob("*") if p.is_file()] == []


@pytest.mark.pg
@pytest.mark.parametrize(("rule", "name", "numbers"), FAILING, ids=[f[1] for f in FAILING])
def test_rule_past_its_limit_at_warn_degrades_and_commits(
    items: str, tmp_path: Path, rule: dict[str, Any], name: str, numbers: dict[str, Any]
) -> None:
    quality = {"severity": "warn", **rule}
    code, summary, stderr = run(export_config(tmp_path, {"name": "q", "table": items, "quality": quality}))
    assert code == 3 and summary["status"] == "degraded"
    assert any(w.startswith(name) for w in summary["warnings"]) and "quality (warn)" in stderr
    result = gate(summary, name)
    assert result["passed"] is False and result["severity"] == "warn"
    assert numbers.items() <= result["details"].items()
    (manifest,) = manifests(tmp_path / "out", "q")
    assert manifest["row_count"] == 4 and pq.read_table(data_files(tmp_path / "out")[0]).num_rows == 4


@pytest.mark.pg
def test_chunked_quality_is_decided_over_all_chunks_before_any_is_visible(items: str, tmp_path: Path) -> None:
    export = {"name": "q", "table": items, "mode": "chunked", "chunk_column": "id", "chunk_size": 2, "parallel": 2}
    code, summary, _ = run(export_config(tmp_path, {**export, "quality": {"row_count_max": 3}, "tuning": FAST}))
    assert code == 1 and gate(summary, "row_count_max")["details"] == {"expected_max": 3, "actual": 4}
    assert len(summary["slices"]) == 3  # chunks 0 (id 1), 1 (ids 2, 3), 2 (id 4): none over the limit alone
    assert data_files(tmp_path / "out") == [] and manifests(tmp_path / "out", "q") == []


@pytest.mark.pg
def test_row_count_min_on_an_empty_table_fails_and_max_zero_passes(pg: Any, items: str, tmp_path: Path) -> None:
    pg.execute(f"DELETE FROM {items}")
    code, summary, _ = run(export_config(tmp_path, {"name": "q", "table": items, "quality": {"row_count_min": 1}}))
    assert code == 1 and gate(summary, "row_count_min")["details"] == {"expected_min": 1, "actual": 0}
    assert data_files(tmp_path / "out") == []
    code, summary, _ = run(export_config(tmp_path, {"name": "q", "table": items, "quality": {"row_count_max": 0}}))
    assert code == 0 and gate(summary, "row_count_max")["passed"] is True
    assert data_files(tmp_path / "out") == []  # 0 rows: no data file, a committed unit of zero parts (0.7.7)
    assert [m["row_count"] for m in manifests(tmp_path / "out", "q")] == [0]


@pytest.mark.pg
def test_failed_quality_gate_keeps_the_incremental_cursor(pg: Any, items: str, tmp_path: Path) -> None:
    export = {"name": "q", "table": items, "mode": "incremental", "cursor_column": "id", "tuning": FAST}
    config = export_config(tmp_path, {**export, "quality": {"row_count_min": 2}})
    run_json(config)
    before, files = state_show(config, "q"), data_files(tmp_path / "out")
    assert before["cursor"]["value"] == {"type": "int", "value": "4"}

    pg.execute(f"INSERT INTO {items} VALUES (5, 'e', 'w')")  # one new row: below row_count_min
    code, summary, _ = run(config)
    assert code == 1 and summary["cursor"] is None
    assert state_show(config, "q") == before and data_files(tmp_path / "out") == files


@pytest.mark.pg
def test_unknown_quality_column_is_a_config_error(items: str, tmp_path: Path) -> None:
    quality = {"null_ratio_max": {"nope": 0.1}}
    proc = run_cli("run", "-c", str(export_config(tmp_path, {"name": "q", "table": items, "quality": quality})))
    assert proc.returncode == 2, proc.stderr
    assert "quality.null_ratio_max" in proc.stderr and "nope" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.pg
@pytest.mark.slow
def test_unique_past_unique_max_entries_stops_tracking_and_does_not_fail(
    pg: Any, table_name: str, tmp_path: Path
) -> None:
    pg.execute(f"CREATE TABLE {table_name} AS SELECT g AS id FROM generate_series(1, 1000000) g")
    try:
        quality = {"unique_columns": ["id"], "unique_max_entries": 100_000}
        code, summary, stderr = run(
            export_config(tmp_path, {"name": "u", "table": table_name, "quality": quality, "tuning": FAST})
        )
    finally:
        pg.execute(f"DROP TABLE {table_name}")
    assert code == 0 and summary["rows"] == 1_000_000
    assert "unique_max_entries=100000" in stderr and "no longer tracked" in stderr
    assert gate(summary, "unique_columns")["details"]["untracked"] == ["id"]


# -- schema drift --------------------------------------------------------------------------------------------


@pytest.mark.pg
@pytest.mark.parametrize("policy", ["warn", "continue", "fail"])
def test_added_column_between_runs(pg: Any, items: str, tmp_path: Path, policy: str) -> None:
    export = {"name": "d", "table": items, "mode": "incremental", "cursor_column": "id", "tuning": FAST}
    config = export_config(tmp_path, {**export, "on_schema_drift": policy})
    run_json(config)
    before, committed = state_show(config, "d"), manifests(tmp_path / "out", "d")
    pg.execute(f"ALTER TABLE {items} ADD COLUMN extra int")
    pg.execute(f"INSERT INTO {items} VALUES (5, 'e', 'w', 7)")

    code, summary, _ = run(config)
    change = {"added": ["extra"], "removed": [], "retyped": []}
    assert summary["schema_change"] == change
    drift_warnings = [w for w in summary["warnings"] if "schema drift" in w]
    if policy == "fail":
        assert code == 1 and summary["status"] == "failed" and "on_schema_drift: fail" in summary["error"]
        assert manifests(tmp_path / "out", "d") == committed and state_show(config, "d") == before
        return
    assert code == 0 and summary["rows"] == 1
    assert len(drift_warnings) == (1 if policy == "warn" else 0)
    assert state_show(config, "d")["cursor"]["value"] == {"type": "int", "value": "5"}
    assert pq.read_table(tmp_path / "out" / Path(summary["files"][0]).name).column_names[-1] == "extra"


# -- reconcile -----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_reconcile_counts_in_the_export_snapshot_while_rows_are_inserted(
    engine: Engine, table_name: str, tmp_path: Path
) -> None:
    engine.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, v varchar(20))")
    engine.insert(table_name, [(i, f"v{i}") for i in range(1, 20001)])
    tuning = {"profile": "fast", "batch_size": 500, "throttle_ms": 20}
    config = engine.config(tmp_path, {"name": "r", "table": table_name, "tuning": tuning})
    stdout = tmp_path / "summary.json"
    try:
        with stdout.open("w") as sink:
            proc = start_cli(
                "run", "-c", str(config), "--json", "--reconcile", "--validate", stdout=sink, stderr=subprocess.DEVNULL
            )
            next_id = 20001
            while proc.poll() is None:  # a concurrent writer, committing one row at a time
                engine.insert(table_name, [(next_id, "late")])
                next_id += 1
        (summary,) = json.loads(stdout.read_text())["exports"]
        total = engine.execute(f"SELECT count(*) FROM {table_name}")[0][0]
    finally:
        engine.execute(f"DROP TABLE {table_name}")
    assert proc.returncode == 0
    assert summary["reconciled"] == "match" and summary["validated"] == "passed"
    assert gate(summary, "reconcile")["details"]["difference"] == 0
    ids = sorted(pq.read_table(data_files(tmp_path / "out")[0]).column("id").to_pylist())
    assert ids == list(range(1, len(ids) + 1)) == list(range(1, summary["rows"] + 1))  # one instant: a prefix
    assert total > summary["rows"]  # rows kept arriving after the snapshot was taken


# -- validate ------------------------------------------------------------------------------------------------


@pytest.mark.pg
def test_validate_finds_truncated_and_missing_parts_and_selects_runs(items: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "v", "table": items, "tuning": FAST})
    first, second = run_json(config), run_json(config)
    out = tmp_path / "out"
    units = {m["run_id"]: m for m in manifests(out, "v")}

    def validate(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("validate", "-c", str(config), "-e", "v", *args)

    ok = validate()
    assert ok.returncode == 0 and ok.stdout.startswith("[OK] ") and units[second["run_id"]]["unit_id"] in ok.stdout
    today = dt.datetime.fromisoformat(first["started_at"]).strftime("%Y-%m-%d")
    assert validate("--date", today).stdout.count("[OK]") == 2

    part = out / units[first["run_id"]]["parts"][0]["key"]
    part.write_bytes(part.read_bytes()[:-10])
    truncated = validate("--run-id", first["run_id"])
    assert truncated.returncode == 1 and "[FAIL]" in truncated.stdout
    assert f"part {part} has" in truncated.stdout and "manifest says" in truncated.stdout
    assert validate("--run-id", second["run_id"]).returncode == 0

    other = out / units[second["run_id"]]["parts"][0]["key"]
    other.unlink()
    missing = validate()
    assert missing.returncode == 1 and f"part missing: {other}" in missing.stdout

    nothing = validate("--date", "2000-01-01")
    assert nothing.returncode == 1 and "no committed unit of v matches" in nothing.stderr


# -- metrics -------------------------------------------------------------------------------------------------


@pytest.mark.pg
def test_metrics_json_shows_status_rows_validated_reconciled(items: str, tmp_path: Path) -> None:
    base = {"name": "m", "table": items, "tuning": FAST}
    ok = run_json(export_config(tmp_path, base), "--validate", "--reconcile")
    degraded = run(export_config(tmp_path, {**base, "quality": {"row_count_max": {"value": 1, "severity": "warn"}}}))
    failed = run(export_config(tmp_path, {**base, "quality": {"row_count_max": 1}}))
    assert (degraded[0], failed[0]) == (3, 1)
    proc = rivet_ok("metrics", "-c", str(tmp_path / "rivet.yaml"), "-e", "m", "--format", "json")
    runs = {r["run_id"]: r for r in json.loads(proc.stdout)}
    assert len(runs) == 3
    assert {k: runs[ok["run_id"]][k] for k in ("status", "rows", "validated", "reconciled", "files")} == {
        "status": "success", "rows": 4, "validated": "passed", "reconciled": "match", "files": 1,
    }  # fmt: skip
    assert (runs[degraded[1]["run_id"]]["status"], runs[degraded[1]["run_id"]]["rows"]) == ("degraded", 4)
    assert (runs[failed[1]["run_id"]]["status"], runs[failed[1]["run_id"]]["rows"]) == ("failed", 0)
    assert runs[failed[1]["run_id"]]["error"].startswith("m: row_count_max")
