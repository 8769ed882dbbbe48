"""Start-up (issue 17 item 4): a Parquet `rivet run` loads no SDK, orchestrator or frame library it does not use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import MYSQL_URL
from e2e import data_files, export_config

UNUSED = ("polars", "dagster", "boto3", "google.cloud.storage", "azure.storage.blob", "pandas")


@pytest.mark.mysql
def test_a_parquet_run_imports_no_unused_heavy_module(mysql: Any, table_name: str, tmp_path: Path) -> None:
    with mysql.cursor() as cur:
        cur.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, v varchar(10))")
        cur.execute(f"INSERT INTO {table_name} VALUES (1, 'a'), (2, 'b')")
    config = export_config(tmp_path, {"name": "s", "table": table_name}, url=MYSQL_URL)
    config.write_text(config.read_text().replace("type: postgres", "type: mysql"))
    probe = (
        "import atexit, sys;"
        f" atexit.register(lambda: print('loaded:', [m for m in {UNUSED!r} if m in sys.modules], file=sys.stderr));"
        f"from rivet_core.cli import main; sys.argv = ['rivet', 'run', '-c', {str(config)!r}]; main()"
    )
    try:
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    finally:
        with mysql.cursor() as cur:
            cur.execute(f"DROP TABLE {table_name}")
    assert proc.returncode == 0, proc.stderr
    assert "loaded: []" in proc.stderr
    assert len(data_files(tmp_path / "out")) == 1
