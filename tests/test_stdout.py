"""The stdout destination (rivet_core/destinations/stdout.py) through the `rivet` process and the real PostgreSQL:
the data alone on stdout (CSV or Parquet), logs on stderr, no manifest, the generated name in the state, incremental
runs continuing from the state's cursor, and the flags and keys that cannot go with it refused (exit 2)."""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import RIVET, run_cli
from e2e import export_config
from stores import add_items, items_fixture  # noqa: F401  (fixture)

STDOUT = {"type": "stdout"}


def run_bytes(config: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`rivet run -c CONFIG ARGS` with stdout as raw bytes; exit 0 required."""
    proc = subprocess.run([*RIVET, "run", "-c", str(config), *args], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc


def csv_ids(data: bytes) -> list[int]:
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    return [int(r["id"]) for r in rows]


@pytest.mark.pg
def test_csv_goes_to_stdout_alone_and_incremental_runs_continue_from_the_state(
    pg: Any, items: str, tmp_path: Path
) -> None:
    add_items(pg, items, range(1, 1001))
    config = export_config(
        tmp_path,
        {"name": "out", "table": items, "format": "csv", "destination": STDOUT},
        {"name": "inc", "table": items, "format": "csv", "mode": "incremental", "cursor_column": "id",
         "destination": STDOUT},
    )  # fmt: skip
    proc = run_bytes(config, "-e", "out")
    rows = list(csv.reader(io.StringIO(proc.stdout.decode())))
    assert rows[0] == ["id", "name", "amount", "created_at", "flag"] and len(rows) == 1001
    assert rows[1][:3] == ["1", "item 1", "1.25"]
    assert b"rivet INFO out: success, 1000 rows" in proc.stderr
    assert (
        not list(tmp_path.rglob("_rivet"))
        and not list(tmp_path.rglob("manifest.json"))
        and not list(tmp_path.rglob("_SUCCESS"))
    )

    files = json.loads(run_cli("state", "files", "-c", str(config), "-e", "out").stdout)
    (name,) = [f["uri"] for f in files]
    assert name.startswith("stdout:out_") and name.endswith(".csv")

    assert csv_ids(run_bytes(config, "-e", "inc").stdout) == list(range(1, 1001))
    add_items(pg, items, range(1001, 1101))
    assert csv_ids(run_bytes(config, "-e", "inc").stdout) == list(range(1001, 1101))
    again = run_bytes(config, "-e", "inc")
    assert again.stdout == b"" and b"inc: success, 0 rows" in again.stderr


@pytest.mark.pg
def test_parquet_to_stdout_and_a_pipe(pg: Any, items: str, tmp_path: Path) -> None:
    add_items(pg, items, range(1, 5001))
    config = export_config(
        tmp_path,
        {"name": "pq", "table": items, "destination": STDOUT},
        {"name": "lines", "table": items, "format": "csv", "destination": STDOUT},
    )
    table = pq.read_table(pa.BufferReader(run_bytes(config, "-e", "pq").stdout))
    assert table.num_rows == 5000 and table.column("id").to_pylist() == list(range(1, 5001))

    command = " ".join(shlex.quote(a) for a in [*RIVET, "run", "-c", str(config), "-e", "lines"]) + " | wc -l"
    piped = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=300,
                           env=os.environ)  # fmt: skip
    assert piped.returncode == 0 and piped.stdout.strip() == "5001", piped.stderr


@pytest.mark.pg
def test_flags_and_keys_that_cannot_go_with_stdout_exit_2(items: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "out", "table": items, "format": "csv", "destination": STDOUT})
    for flag, words in (("--json", "the JSON summary would mix into it"), ("--validate", "cannot be read back")):
        proc = run_cli("run", "-c", str(config), flag)
        assert proc.returncode == 2 and f"error: {flag}: export out writes" in proc.stderr and words in proc.stderr
        assert proc.stdout == ""
    for key, value in (("max_file_size", "1MB"), ("mode", "chunked")):
        bad = export_config(tmp_path, {"name": "out", "table": items, "destination": STDOUT, key: value,
                                       "chunk_column": "id"} if key == "mode" else
                            {"name": "out", "table": items, "destination": STDOUT, key: value},
                            name=f"{key}.yaml")  # fmt: skip
        proc = run_cli("run", "-c", str(bad))
        assert proc.returncode == 2 and key in proc.stderr and "destination type stdout" in proc.stderr, proc.stderr
