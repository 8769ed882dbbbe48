"""The Postgres state store (RIVET_STATE_URL, docs/state.md): first runs that open a fresh database at once all
create its tables without an error (concurrent CREATE TABLE IF NOT EXISTS otherwise collide in pg_type)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from conftest import PG_URL

from rivet_core.state import StateStore

pytestmark = pytest.mark.pg


def test_first_runs_at_once_create_the_state_tables_without_colliding(tmp_path: Path) -> None:
    db = f"rivet_state_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    env = {"RIVET_STATE_URL": PG_URL.rsplit("/", 1)[0] + "/" + db}
    start, errors = threading.Barrier(8), []

    def first_run() -> None:
        start.wait()
        try:
            StateStore.open(tmp_path, env)
        except psycopg.Error as exc:
            errors.append(repr(exc))

    try:
        threads = [threading.Thread(target=first_run) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        with psycopg.connect(env["RIVET_STATE_URL"]) as conn:
            (tables,) = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'rivet_%'").fetchone()  # type: ignore[misc]
        assert tables == 7
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
