"""No row skipped by a late commit: incremental runs while writers hold transactions open and commit out of order.

Four writer threads take their cursor values early and commit them late, in an order of their own: bigserial /
AUTO_INCREMENT ids, and a coalesce cursor of `updated_at` (now(), the transaction's start: NOW(6) on MariaDB) over
`created_at` (clock_timestamp() / SYSDATE(6)). An export per cursor runs again and again meanwhile; every committed
row must then be in exactly one committed file (docs/cursor.md).
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import PG_URL
from e2e import data_files, export_config
from engines import Engine, engine_fixture  # noqa: F401 - the `engine` fixture

from rivet_core.config import load_config
from rivet_core.engine import run_export

WRITERS = 4
RUNS = 10
DDL = {
    "postgres": "CREATE TABLE {t} (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL,"
    " updated_at timestamptz, w int NOT NULL)",
    "mysql": "CREATE TABLE {t} (id BIGINT AUTO_INCREMENT PRIMARY KEY, created_at DATETIME(6)"
    " NOT NULL, updated_at DATETIME(6) NULL, w INT NOT NULL)",
}
INSERT = {  # the cursor values are taken at insert (or at transaction start: now()), long before the commit
    "postgres": "INSERT INTO {t} (created_at, updated_at, w) VALUES (clock_timestamp(), CASE WHEN %s THEN now() END,"
    " %s)",
    "mysql": "INSERT INTO {t} (created_at, updated_at, w) VALUES (SYSDATE(6), IF(%s, NOW(6), NULL), %s)",
}
EXPORTS = {
    "by_id": {"cursor_column": "id"},
    "by_coalesce": {
        "cursor_column": "updated_at",
        "cursor_fallback_column": "created_at",
        "incremental_cursor_mode": "coalesce",
    },
}


def connect(kind: str) -> Any:
    """A writer's own connection, not autocommit (its transactions stay open until it commits)."""
    if kind == "postgres":
        import psycopg

        return psycopg.connect(PG_URL)
    import mysql.connector

    conn = mysql.connector.connect(host="127.0.0.1", port=3306, user="root", password="", database="test")
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
    return conn


def writer(kind: str, table: str, number: int, stop: threading.Event, errors: list[BaseException]) -> None:
    """Open a transaction, maybe idle in it, insert 1-2 rows, hold it 0-0.12 s, then commit (1 in 10 rolls back)."""
    rng = random.Random(number)
    conn = connect(kind)
    try:
        while not stop.is_set():
            with conn.cursor() as cur:
                if rng.random() < 0.5:  # the transaction (and its now()) starts before the insert
                    cur.execute("SELECT 1")
                    cur.fetchall()
                    time.sleep(rng.uniform(0, 0.05))
                for _ in range(rng.randint(1, 2)):
                    cur.execute(INSERT[kind].format(t=table), (rng.random() < 0.5, number))
            time.sleep(rng.uniform(0, 0.12))
            conn.rollback() if rng.random() < 0.1 else conn.commit()
    except BaseException as exc:  # reported by the test
        errors.append(exc)
    finally:
        conn.close()


def exported_ids(root: Path) -> list[int]:
    """The ids in every committed data file of one export's destination."""
    return [i for f in data_files(root) for i in pq.read_table(f, columns=["id"]).column("id").to_pylist()]


@pytest.mark.slow
def test_no_row_skipped_or_duplicated_by_late_commits(engine: Engine, table_name: str, tmp_path: Path) -> None:
    engine.execute(DDL[engine.kind].format(t=table_name))
    local = {"mode": "incremental", "table": table_name, "tuning": {"late_commit_wait_s": 30}}
    exports = [
        {**local, "name": n, "destination": {"type": "local", "path": f"./{n}"}, **c} for n, c in EXPORTS.items()
    ]
    config = load_config(engine.config(tmp_path, *exports))
    stop, errors = threading.Event(), []
    threads = [threading.Thread(target=writer, args=(engine.kind, table_name, n, stop, errors)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(RUNS):
            for name in EXPORTS:
                result = run_export(config, name)
                assert result.status == "success", result.error
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert errors == []
    for name in EXPORTS:  # the writers are done: one more run each picks up their last commits
        assert run_export(config, name).status == "success"
    committed = sorted(r[0] for r in engine.execute(f"SELECT id FROM {table_name}"))
    assert len(committed) > 50
    counts = {}  # (lost, duplicated by primary key, not in the table) per export
    for name in EXPORTS:
        ids = exported_ids(tmp_path / name)
        counts[name] = (len(set(committed) - set(ids)), len(ids) - len(set(ids)), len(set(ids) - set(committed)))
    assert counts == dict.fromkeys(EXPORTS, (0, 0, 0)), f"(lost, duplicated, unknown) of {len(committed)}: {counts}"


def test_a_transaction_open_past_the_wait_fails_the_run_and_its_row_comes_next(
    engine: Engine, table_name: str, tmp_path: Path
) -> None:
    engine.execute(DDL[engine.kind].format(t=table_name))
    export = {"name": "orders", "table": table_name, "mode": "incremental", "cursor_column": "id"}
    config = load_config(engine.config(tmp_path, {**export, "tuning": {"late_commit_wait_s": 1}}))
    late = connect(engine.kind)
    try:
        with late.cursor() as cur:  # takes id 1 and stays open
            cur.execute(INSERT[engine.kind].format(t=table_name), (False, 0))
        engine.execute(INSERT[engine.kind].format(t=table_name), (False, 1))  # id 2, committed
        started = time.monotonic()
        failed = run_export(config, "orders")
        waited = time.monotonic() - started
        assert failed.status == "failed" and failed.error is not None
        assert "exports[orders].tuning.late_commit_wait_s: 1 transaction(s) still open after 1s" in failed.error
        assert " since " in failed.error and waited >= 1
        assert exported_ids(tmp_path / "out") == []
        late.commit()
    finally:
        late.close()
    assert run_export(config, "orders").status == "success"
    assert sorted(exported_ids(tmp_path / "out")) == [1, 2]


@pytest.mark.pg
def test_a_role_that_cannot_see_other_sessions_is_warned(pg: Any, table_name: str, tmp_path: Path) -> None:
    role = f"r_{table_name}"
    pg.execute(DDL["postgres"].format(t=table_name))
    pg.execute(INSERT["postgres"].format(t=table_name), (False, 0))
    pg.execute(f"CREATE ROLE {role} LOGIN")
    try:
        pg.execute(f"GRANT SELECT ON {table_name} TO {role}")
        export = {"name": "orders", "table": table_name, "mode": "incremental", "cursor_column": "id"}
        url = PG_URL.replace("postgres@", f"{role}@", 1)  # `pg`, a superuser session, is one it cannot see
        config = load_config(export_config(tmp_path, export, url=url))
        result = run_export(config, "orders")
        assert result.status == "success", result.error
        assert any("hidden from this role" in w and "pg_read_all_stats" in w for w in result.warnings)
        assert exported_ids(tmp_path / "out") == [1]
    finally:
        pg.execute(f"REVOKE ALL ON {table_name} FROM {role}")
        pg.execute(f"DROP ROLE {role}")


@pytest.mark.mysql
def test_a_mysql_user_without_process_is_warned_and_still_exports(mysql: Any, table_name: str, tmp_path: Path) -> None:
    user = f"u_{table_name}"[:32]
    cur = mysql.cursor()
    cur.execute(DDL["mysql"].format(t=table_name))
    cur.execute(INSERT["mysql"].format(t=table_name), (False, 0))
    cur.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'Fence-Pass-1'")
    try:
        cur.execute(f"GRANT SELECT ON test.{table_name} TO '{user}'@'127.0.0.1'")
        export = {"name": "orders", "table": table_name, "mode": "incremental", "cursor_column": "id"}
        url = f"mysql://{user}:Fence-Pass-1@127.0.0.1:3306/test"
        doc = export_config(tmp_path, export, url=url)
        doc.write_text(doc.read_text().replace("type: postgres", "type: mysql"))
        result = run_export(load_config(doc), "orders")
        assert result.status == "success", result.error
        assert any("lacks the PROCESS privilege" in w and "GRANT PROCESS" in w for w in result.warnings)
        assert exported_ids(tmp_path / "out") == [1]
    finally:
        cur.execute(f"DROP USER '{user}'@'127.0.0.1'")
        cur.execute(f"DROP TABLE {table_name}")
