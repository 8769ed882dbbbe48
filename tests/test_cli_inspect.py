"""`rivet validate|reconcile|repair|journal|metrics|state …` as processes, with the rivet-cli 0.7.7 flags."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from e2e import data_files, export_config, insert_series, manifests, rivet_ok, run_json

FAST = {"profile": "fast"}


@pytest.fixture
def r3k(pg: Any, table_name: str) -> Iterator[str]:
    """A keyed table of ids 1..3000 with a text column."""
    pg.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, v text)")
    try:
        insert_series(pg, table_name, "g, 'v' || g", range(1, 3001))
        yield table_name
    finally:
        pg.execute(f"DROP TABLE {table_name}")


def checkpointed(tmp_path: Path, table: str, **extra: Any) -> Path:
    export = {"name": "ck", "table": table, "mode": "chunked", "chunk_column": "id", "chunk_size": 1000}
    return export_config(tmp_path, {**export, "chunk_checkpoint": True, "tuning": FAST, **extra})


def cli_json(*args: str, code: int = 0) -> Any:
    proc = run_cli(*args)
    assert proc.returncode == code, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.pg
def test_reconcile_json_then_repair_dry_run_and_execute(pg: Any, r3k: str, tmp_path: Path) -> None:
    config = checkpointed(tmp_path, r3k)
    first = run_json(config)
    clean = cli_json("reconcile", "-c", str(config), "-e", "ck", "--format", "json")
    assert clean["export_name"] == "ck" and clean["run_id"] == first["run_id"] and clean["strategy"] == "chunked"
    assert clean["summary"] == {
        "total_partitions": 4, "matches": 4, "mismatches": 0, "unknown": 0,
        "total_source_rows": 3000, "total_exported_rows": 3000,
    }  # fmt: skip
    assert {p["kind"] for p in clean["partitions"]} == {"chunk"}
    nothing = rivet_ok("repair", "-c", str(config), "-e", "ck")
    assert "nothing to repair" in nothing.stdout

    pg.execute(f"UPDATE {r3k} SET id = id + 10000 WHERE id BETWEEN 1001 AND 1010")  # chunk 1 loses 10 rows
    report = tmp_path / "reconcile.json"
    wrote = run_cli("reconcile", "-c", str(config), "-e", "ck", "--format", "json", "-o", str(report))
    assert wrote.returncode == 1 and wrote.stdout == "" and f"wrote {report}" in wrote.stderr
    doc = json.loads(report.read_text())
    (bad,) = [p for p in doc["partitions"] if p["status"] == "mismatch"]
    assert (bad["identifier"], bad["source_count"], bad["exported_count"]) == ("chunk1", 990, 1000)
    assert (bad["start_key"], bad["end_key"]) == ("1000", "1999")

    dry = cli_json("repair", "-c", str(config), "-e", "ck", "--report", str(report), "--format", "json")
    assert dry["reconcile_run_id"] == first["run_id"]
    assert [(a["chunk_index"], a["reason"]) for a in dry["actions"]] == [(1, "mismatch")]
    assert len(manifests(tmp_path / "out", "ck")) == 4  # a dry run writes nothing

    done = rivet_ok("repair", "-c", str(config), "-e", "ck", "--report", str(report), "--execute")
    assert "chunk 1: repaired, 990 rows" in done.stdout and "executed 1" in done.stdout
    units = manifests(tmp_path / "out", "ck")
    repaired = [m for m in units if m["run_id"] != first["run_id"]]
    assert [(m["slice"]["key"], m["row_count"]) for m in repaired] == [("chunk1", 990)]
    assert sum(m["row_count"] for m in units) == 2990  # the repaired chunk replaced the old one


@pytest.mark.pg
def test_reconcile_and_repair_refuse_other_modes_and_output_with_pretty(pg: Any, r3k: str, tmp_path: Path) -> None:
    window = {"name": "tw", "query": f"SELECT id, now() AS ts FROM {r3k}", "mode": "time_window", "time_column": "ts"}
    config = export_config(tmp_path, window, {"name": "full", "table": r3k})
    for command in ("reconcile", "repair"):
        proc = run_cli(command, "-c", str(config), "-e", "tw")
        assert proc.returncode == 2 and "chunk_by_days" in proc.stderr and "chunked" in proc.stderr
    proc = run_cli("reconcile", "-c", str(config), "-e", "full")
    assert proc.returncode == 2 and "chunk_checkpoint: true" in proc.stderr
    for command in ("reconcile", "validate", "repair"):
        proc = run_cli(command, "-c", str(config), "-e", "full", "-o", str(tmp_path / "x.json"))
        assert proc.returncode == 2 and "--output" in proc.stderr and "--format json" in proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.pg
def test_validate_all_exports_as_json(r3k: str, tmp_path: Path) -> None:
    config = export_config(
        tmp_path,
        {"name": "a", "table": r3k},
        {"name": "b", "table": r3k, "destination": {"type": "local", "path": "./b"}},
    )
    rivet_ok("run", "-c", str(config), "-e", "a")
    text = rivet_ok("validate", "-c", str(config)).stdout
    assert text.startswith("[OK] a ") and "[SKIP] b: no committed unit" in text
    rivet_ok("run", "-c", str(config), "-e", "b")
    out = tmp_path / "validate.json"
    rivet_ok("validate", "-c", str(config), "--format", "json", "--output", str(out))
    doc = json.loads(out.read_text())
    assert doc["passed"] is True and [e["export"] for e in doc["exports"]] == ["a", "b"]
    assert all(e["units"][0]["rows"] == 3000 for e in doc["exports"])
    data_files(tmp_path / "b")[0].write_bytes(b"broken")
    bad = cli_json("validate", "-c", str(config), "--format", "json", code=1)
    assert [e["passed"] for e in bad["exports"]] == [True, False]
    assert "bytes" in bad["exports"][1]["units"][0]["problems"][0]
    assert run_cli("validate", "-c", str(config), "--date", "2026-02-30").returncode == 2
    proc = run_cli("validate", "-c", str(config), "--prefix", "a_")
    assert proc.returncode == 2 and "exactly one -e" in proc.stderr


@pytest.mark.pg
def test_journal_progression_files_and_metrics(pg: Any, r3k: str, tmp_path: Path) -> None:
    inc = {"name": "inc", "table": r3k, "mode": "incremental", "cursor_column": "id"}
    config = export_config(tmp_path, inc, {"name": "ck", "table": r3k, "mode": "chunked", "chunk_size": 1000})
    first = run_json(config, "-e", "inc", "--validate")
    pg.execute(f"INSERT INTO {r3k} VALUES (3001, 'x')")
    second = run_json(config, "-e", "inc")
    run_json(config, "-e", "ck")

    entries = cli_json("journal", "-c", str(config), "-e", "inc", "--format", "json")
    assert [e["run"]["run_id"] for e in entries] == [second["run_id"], first["run_id"]]  # newest first
    newest = entries[0]
    assert newest["run"]["rows"] == 1 and newest["units"][0]["cursor"]["value"]["value"] == "3001"
    assert len(newest["files"]) == 1 and newest["report"]["report"].endswith("summary.md")
    only = cli_json("journal", "-c", str(config), "-e", "inc", "-l", "1", "--format", "json")
    assert [e["run"]["run_id"] for e in only] == [second["run_id"]]
    one = rivet_ok("journal", "-c", str(config), "-e", "inc", "--run-id", first["run_id"]).stdout
    assert one.startswith(f"run {first['run_id']} ") and "3000 rows" in one and "validated: passed" in one
    assert run_cli("journal", "-c", str(config), "-e", "inc", "--run-id", "nope").returncode == 1

    progression = {p["export"]: p for p in cli_json("state", "progression", "-c", str(config))}
    assert progression["inc"]["last_committed"]["cursor"] == "3001"
    assert progression["inc"]["last_committed"]["run_id"] == second["run_id"]
    assert progression["inc"]["last_verified"]["run_id"] == first["run_id"]
    assert progression["ck"]["last_committed"]["chunk_index"] == 3 and progression["ck"]["committed_units"] == 4
    (ck,) = cli_json("state", "progression", "-c", str(config), "-e", "ck")
    assert ck["mode"] == "chunked"

    files = cli_json("state", "files", "-c", str(config))
    assert [f["export"] for f in files] == ["inc", "inc", "ck", "ck", "ck", "ck"]
    last = cli_json("state", "files", "-c", str(config), "-l", "2")
    assert last == files[-2:]
    assert len(cli_json("state", "files", "-c", str(config), "-e", "inc")) == 2
    runs = cli_json("metrics", "-c", str(config), "-l", "2", "--format", "json")
    assert len(runs) == 2


@pytest.mark.pg
def test_reset_chunks_selection(pg: Any, r3k: str, tmp_path: Path) -> None:
    query = f"SELECT id, v, 1 / (id - 1500) AS x FROM {r3k}"  # division by zero in chunk 1: the run stays open
    export = {"name": "ck", "query": query, "mode": "chunked", "chunk_column": "id", "chunk_size": 1000}
    stuck = {**export, "chunk_checkpoint": True, "chunk_max_attempts": 1, "tuning": FAST}
    config = export_config(tmp_path, stuck, {"name": "other", "table": r3k})
    assert run_cli("run", "-c", str(config), "-e", "ck").returncode == 1
    for args in ((), ("-e", "ck", "--stuck-checkpoints")):
        proc = run_cli("state", "reset-chunks", "-c", str(config), *args)
        assert proc.returncode == 2 and "exactly one of -e/--export NAME or --stuck-checkpoints" in proc.stderr
    proc = rivet_ok("state", "reset-chunks", "-c", str(config), "--failed")
    assert proc.stdout.strip() == "abandoned 1 in-progress chunk run(s) of ck"
    again = rivet_ok("state", "reset-chunks", "-c", str(config), "--stuck-checkpoints")
    assert "no export of this config has an in-progress chunk run" in again.stdout
