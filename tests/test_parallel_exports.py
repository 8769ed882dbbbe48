"""`parallel_exports` / `parallel_export_processes` against the real Postgres: the exports of one `rivet run`
overlap in time, one export's failure fails only that export, and the exit code and --json summary cover all."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from conftest import run_cli, start_cli
from e2e import export_config, read_parquet


@pytest.fixture
def slow_table(pg: Any, table_name: str) -> Iterator[str]:
    """4000 rows; read 500 a batch with a 150 ms pause after each: an export of it streams for over 1 s."""
    pg.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, v text)")
    pg.execute(f"INSERT INTO {table_name} SELECT g, 'v' || g FROM generate_series(1, 4000) g")
    yield table_name
    pg.execute(f"DROP TABLE IF EXISTS {table_name}")


def _config(folder: Path, table: str, root: dict[str, Any]) -> Path:
    slow = {"batch_size": 500, "throttle_ms": 150}
    exports = [
        {"name": name, "table": table, "tuning": slow, "destination": {"type": "local", "path": f"./{name}"}}
        for name in ("a", "b")
    ]
    missing = {"name": "bad", "table": f"{table}_missing"}
    path = export_config(folder, *exports, missing)
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **root}, sort_keys=False))
    return path


def _span(result: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.fromisoformat(result["started_at"])
    return start, start + dt.timedelta(seconds=result["duration_s"])


@pytest.mark.parametrize(
    ("root", "flags", "label"),
    [
        ({"parallel_exports": True}, [], "parallel-threads"),
        ({}, ["--parallel-export-processes"], "parallel-processes"),
    ],
    ids=["threads (root key)", "processes (flag)"],
)
def test_exports_overlap_and_a_failure_stays_with_its_export(
    slow_table: str, tmp_path: Path, root: dict[str, Any], flags: list[str], label: str
) -> None:
    proc = run_cli("run", "-c", str(_config(tmp_path, slow_table, root)), "--json", *flags)
    assert proc.returncode == 1, proc.stderr  # one export failed
    summary = json.loads(proc.stdout)
    assert summary["parallel_mode"] == label
    assert [(e["export_name"], e["status"]) for e in summary["per_export"]] == [
        ("a", "success"),
        ("b", "success"),
        ("bad", "failed"),
    ]
    bad = summary["per_export"][2]["error_message"]
    assert f"{slow_table}_missing" in bad
    a, b = (_span(r) for r in summary["exports"][:2])
    assert max(a[0], b[0]) < min(a[1], b[1]), (a, b)  # both were running at the same time
    for name in ("a", "b"):
        assert sorted(read_parquet(tmp_path / name).column("id").to_pylist()) == list(range(1, 4001))


def _streaming_children(parent: psutil.Process) -> list[psutil.Process]:
    """The export processes under `parent` that hold a connection to the Postgres port."""
    found = []
    for child in parent.children(recursive=True):
        try:
            if any(c.raddr and c.raddr.port == 5432 for c in child.net_connections("tcp")):
                found.append(child)
        except psutil.Error:  # ended meanwhile
            continue
    return found


def test_a_killed_export_process_fails_only_its_export(slow_table: str, tmp_path: Path) -> None:
    config = _config(tmp_path, slow_table, {"parallel_export_processes": True})
    proc = start_cli("run", "-c", str(config), "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    victims: set[int] = set()
    while time.monotonic() < deadline and proc.poll() is None and len(victims) < 2:
        before = {p.pid for p in _streaming_children(psutil.Process(proc.pid))}
        time.sleep(0.3)  # still connected 0.3 s later: a slow export (`bad` fails at once)
        victims = before & {p.pid for p in _streaming_children(psutil.Process(proc.pid))}
    assert len(victims) >= 2, "the two slow exports never streamed at the same time"
    os.kill(min(victims), signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    per_export = {e["export_name"]: e for e in json.loads(out)["per_export"]}
    statuses = sorted(per_export[name]["status"] for name in ("a", "b"))
    assert statuses == ["failed", "success"], per_export
    (killed,) = [e for name, e in per_export.items() if name != "bad" and e["status"] == "failed"]
    assert killed["error_message"] == f"{killed['export_name']}: its process ended without a result"
    assert per_export["bad"]["status"] == "failed"
