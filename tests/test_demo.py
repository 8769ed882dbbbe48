"""The README's one-command demo: embedded PostgreSQL, seeded, materialized into `out/`, server stopped at exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

DEMO = Path(__file__).resolve().parent.parent / "demo" / "run_demo.py"


def run_demo(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEMO), "--dir", str(folder), *args], capture_output=True, text=True, timeout=240
    )


def rows(folder: Path, export: str) -> list[dict]:
    """Every row of an export's data files, oldest file first."""
    out = []
    for path in sorted((folder / "out" / export).glob(f"{export}_*")):
        table = pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)
        out += table.to_pylist()
    return out


def servers_on(pgdata: Path) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name", "cmdline"]) if str(pgdata) in " ".join(p.info["cmdline"] or [])]


@pytest.mark.dagster
@pytest.mark.slow
def test_demo_materializes_through_dagster_then_exports_only_new_orders(tmp_path: Path) -> None:
    first = run_demo(tmp_path)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "data file(s) under" in first.stdout
    assert len(rows(tmp_path, "customers")) == 2000
    assert len(rows(tmp_path, "vip_customers")) == 2000 // 11
    orders = rows(tmp_path, "orders")
    assert [o["id"] for o in orders] == list(range(1, 5001))
    assert not servers_on(tmp_path / ".demo" / "pgdata")

    second = run_demo(tmp_path, "--via", "cli")
    assert second.returncode == 0, second.stderr[-2000:]
    orders = rows(tmp_path, "orders")
    assert [o["id"] for o in orders] == list(range(1, 5251))  # the 250 new orders, nothing twice
    assert not servers_on(tmp_path / ".demo" / "pgdata")
