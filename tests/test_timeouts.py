"""statement_timeout_s bounds planning statements, not the data stream (which throttling makes long on purpose)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e import read_parquet, run_json
from engines import Engine, engine_fixture  # noqa: F401 - the `engine` fixture

pytestmark = pytest.mark.slow


def test_a_throttled_stream_outlives_statement_timeout(engine: Engine, table_name: str, tmp_path: Path) -> None:
    engine.execute(f"CREATE TABLE {table_name} (id BIGINT PRIMARY KEY, v VARCHAR(20))")
    engine.insert(table_name, [(i, f"v{i}") for i in range(1, 31)])
    tuning = {"batch_size": 1, "throttle_ms": 100, "statement_timeout_s": 1}  # ~3 s of streaming, 1 s timeout
    config = engine.config(tmp_path, {"name": "slow", "table": table_name, "tuning": tuning})
    summary = run_json(config)
    assert summary["status"] == "success" and summary["rows"] == 30
    assert summary["duration_s"] > 2
    assert sorted(read_parquet(tmp_path / "out").column("id").to_pylist()) == list(range(1, 31))
