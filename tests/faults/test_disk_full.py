"""A real disk-full (ENOSPC) at a local destination: a 4 MiB tmpfs fills mid-export. The run exits 1 with one line
naming the write, nothing is visible at a final path, no temp part or hidden temp file is left behind, the cursor
is unchanged; once the disk has room the rerun exports every row exactly once (by primary key).

Needs the right to mount a tmpfs (root with CAP_SYS_ADMIN, as CI runs); skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from conftest import run_cli
from e2e import data_files, export_config, insert_series, read_parquet, run_json, state_show

pytestmark = pytest.mark.pg

ROWS = 200_000  # ~10 MB of incompressible Parquet: more than twice the disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for the test (unmounted afterwards)."""
    where = tmp_path / f"disk_{uuid.uuid4().hex[:6]}"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_fails_cleanly_and_the_rerun_exports_once(
    pg: Any, table_name: str, tmp_path: Path, small_disk: Path
) -> None:
    pg.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, payload bytea NOT NULL)")
    insert_series(pg, table_name, "g, decode(md5(g::text) || md5((-g)::text) || md5((g * 7)::text), 'hex')",
                  range(1, 1001))  # fmt: skip
    export = {"name": "inc", "table": table_name, "mode": "incremental", "cursor_column": "id",
              "destination": {"type": "local", "path": str(small_disk / "out")},
              "tuning": {"batch_size": 5000}}  # fmt: skip
    config = export_config(tmp_path, export)
    assert run_json(config)["rows"] == 1000
    before = (state_show(config, "inc"), data_files(small_disk / "out"))
    insert_series(pg, table_name, "g, decode(md5(g::text) || md5((-g)::text) || md5((g * 7)::text), 'hex')",
                  range(1001, ROWS + 1))  # fmt: skip

    proc = run_cli("run", "-c", str(config), "--json", cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "No space left on device" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    (summary,) = json.loads(proc.stdout)["exports"]
    assert summary["status"] == "failed" and "No space left on device" in summary["error"]
    assert (state_show(config, "inc"), data_files(small_disk / "out")) == before
    leftovers = [p for p in (small_disk / "out").rglob("*") if p.is_file() and ("_tmp" in p.parts or ".tmp" in p.name)]
    assert leftovers == [], leftovers  # temp parts and hidden temp files removed on the way out

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    rerun = run_json(config)
    assert rerun["rows"] == ROWS - 1000 and rerun["cursor"]["value"] == str(ROWS)
    ids = read_parquet(small_disk / "out").column("id")
    assert len(ids) == ROWS and pc.count_distinct(ids).as_py() == ROWS
