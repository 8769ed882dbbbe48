"""A failure on the writing side while the prefetch queue is full ends the run promptly (no deadlock on the way out).

The destination becomes unwritable mid-run: the unit's temp folder is replaced by a file, so the next part cannot
be opened while the fetch thread has filled its queue. The run must exit 1 within seconds, publish nothing and
leave the cursor where it was.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import start_cli
from e2e import data_files, export_config, insert_series, run_json, state_show

pytestmark = pytest.mark.pg


def test_destination_failure_with_a_full_prefetch_queue_ends_the_run(pg: Any, table_name: str, tmp_path: Path) -> None:
    pg.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, v text NOT NULL)")
    insert_series(pg, table_name, "g, repeat(md5(g::text), 8)", range(1, 1001))
    # zstd 19 and a part per batch make the writer far slower than the fetch: the prefetch queue is full.
    export = {"name": "ev", "table": table_name, "mode": "incremental", "cursor_column": "id",
              "max_file_size": "1KB", "compression": "zstd", "compression_level": 19,
              "tuning": {"batch_size": 2000}}  # fmt: skip
    config = export_config(tmp_path, export)
    assert run_json(config)["rows"] == 1000
    before = data_files(tmp_path / "out")
    insert_series(pg, table_name, "g, repeat(md5(g::text), 8)", range(1001, 200_001))

    tmp = tmp_path / "out" / "_rivet" / "ev" / "_tmp"
    known = set(tmp.iterdir()) if tmp.exists() else set()
    proc = start_cli("run", "-c", str(config), stderr=subprocess.PIPE)
    fresh: list[Path] = []
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            fresh = (
                [p for p in tmp.iterdir() if p not in known and p.is_dir() and len(list(p.rglob("*.parquet"))) >= 3]
                if tmp.exists()
                else []
            )
            if fresh:
                fresh[0].rename(fresh[0].with_name(fresh[0].name + ".moved"))
                fresh[0].write_text("not a folder")  # the next part cannot be opened: a destination failure
                break
            time.sleep(0.005)
        broken = time.monotonic()
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert fresh, "the run ended before its unit's temp folder appeared"
    assert time.monotonic() - broken < 10, "the run did not end promptly after the destination failed"
    assert proc.returncode == 1, stderr
    assert "cannot write" in stderr
    assert data_files(tmp_path / "out") == before  # nothing of the failed run is visible
    assert state_show(config, "ev")["cursor"]["value"] == {"type": "int", "value": "1000"}
