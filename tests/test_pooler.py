"""Pooler detection (README: Poolers and proxies) via a real pgBouncer in transaction mode; no session setting leaks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import PG_URL, run_cli
from e2e import export_config, read_parquet, run_json
from pgbouncer import PgBouncer, pgbouncer_fixture  # noqa: F401 - the `pgbouncer` fixture

pytestmark = pytest.mark.pg

POOLER = "transaction-mode connection pooler"


@pytest.fixture
def small(pg: Any, table_name: str) -> Any:
    pg.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, name text)")
    pg.execute(f"INSERT INTO {table_name} SELECT g, 'n' || g FROM generate_series(1, 500) g")
    yield table_name
    pg.execute(f"DROP TABLE {table_name}")


def test_export_through_pgbouncer_warns_once_and_succeeds(small: str, pgbouncer: PgBouncer, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "ev", "table": small}, url=pgbouncer.url("postgres", "pgpw"))
    proc = run_cli("run", "-c", str(config), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["exports"][0]
    assert summary["status"] == "success" and summary["rows"] == 500
    assert [w for w in summary["warnings"] if POOLER in w] == [summary["warnings"][0]]
    assert len(summary["warnings"]) == 1
    assert proc.stderr.count(POOLER) == 1
    assert "pgpw" not in proc.stderr + proc.stdout
    assert sorted(read_parquet(tmp_path / "out").column("id").to_pylist()) == list(range(1, 501))


def test_no_session_setting_leaks_to_the_next_pooled_client(small: str, pgbouncer: PgBouncer, tmp_path: Path) -> None:
    """The export SETs statement_timeout/lock_timeout/TimeZone LOCAL: both pooled server connections stay default."""
    with psycopg.connect(PG_URL) as direct:
        defaults = direct.execute(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'),"
            " current_setting('TimeZone'), current_setting('IntervalStyle')"
        ).fetchone()
    config = export_config(
        tmp_path,
        {
            "name": "ev",
            "table": small,
            "mode": "chunked",
            "chunk_size": 100,
            "tuning": {"statement_timeout_s": 77, "lock_timeout_s": 7},
        },
        url=pgbouncer.url("postgres", "pgpw"),
    )
    assert run_json(config)["rows"] == 500
    url = pgbouncer.url("postgres", "pgpw")
    # Two clients, each holding a transaction, occupy both server connections of the pool (pool size 2).
    with psycopg.connect(url) as a, psycopg.connect(url) as b:
        seen = []
        for conn in (a, b):
            seen.append(
                conn.execute(
                    "SELECT pg_backend_pid(), current_setting('statement_timeout'),"
                    " current_setting('lock_timeout'), current_setting('TimeZone'),"
                    " current_setting('IntervalStyle'), current_setting('rivet.p1', true)"
                ).fetchone()
            )
        assert seen[0][0] != seen[1][0]  # really two server connections
        for row in seen:
            assert row[1:5] == defaults
            assert row[5] in (None, "")  # the slice bound was set_config(..., true): gone with the transaction


def test_direct_connection_has_no_pooler_warning(small: str, tmp_path: Path) -> None:
    summary = run_json(export_config(tmp_path, {"name": "ev", "table": small}))
    assert summary["status"] == "success"
    assert not [w for w in summary["warnings"] if POOLER in w]


def test_doctor_through_pgbouncer_warns_about_the_pooler(pgbouncer: PgBouncer, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "ev", "table": "pg_class"}, url=pgbouncer.url("postgres", "pgpw"))
    proc = run_cli("doctor", "-c", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARN] pooler: postgres: a transaction-mode connection pooler" in proc.stdout
    assert "pgpw" not in proc.stdout + proc.stderr
