"""PostgreSQL and MariaDB behind one small face, so a chunk/window test body runs against both real servers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from conftest import MYSQL_URL, PG_URL
from e2e import export_config


@dataclass
class Engine:
    """A test connection (autocommit, UTC session) to one engine, and what differs between the engines."""

    kind: str  # postgres | mysql
    url: str
    port: int
    conn: Any
    utc_type: str  # a column holding UTC instants: timestamptz / TIMESTAMP(6)
    naive_type: str  # a wall-clock column: timestamp / DATETIME(6)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (empty for DDL/DML)."""
        if self.kind == "postgres":
            cur = self.conn.execute(statement, params)
            return cur.fetchall() if cur.description else []
        with self.conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.with_rows else []

    def insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Insert rows; aware datetimes are UTC instants (made naive for MariaDB, whose session is UTC)."""
        if self.kind == "mysql":
            rows = [tuple(v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v for v in r) for r in rows]
        marks = ", ".join(["%s"] * len(rows[0]))
        with self.conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)

    def config(self, folder: Path, *exports: dict[str, Any]) -> Path:
        """A rivet.yaml for this engine (parquet to `./out` unless the exports say otherwise)."""
        path = export_config(folder, *exports, url=self.url)
        doc = yaml.safe_load(path.read_text())
        doc["source"]["type"] = self.kind
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def sessions_of(self, pid: int) -> int:
        """Server sessions whose client socket belongs to process `pid` (pg_stat_activity / PROCESSLIST)."""
        try:
            conns = psutil.Process(pid).net_connections("tcp")
        except psutil.NoSuchProcess:
            return 0
        ports = {c.laddr.port for c in conns if c.raddr and c.raddr.port == self.port}
        if self.kind == "postgres":
            rows = self.execute("SELECT client_port FROM pg_stat_activity WHERE application_name = 'rivet'")
            return sum(r[0] in ports for r in rows)
        rows = self.execute("SELECT HOST FROM information_schema.PROCESSLIST")
        # `127.0.0.1:54321`; a session still in its handshake shows `connecting host` (no port yet)
        found = (str(r[0]).rpartition(":")[2] for r in rows)
        return sum(int(port) in ports for port in found if port.isdigit())


ENGINES = [
    pytest.param("postgres", marks=pytest.mark.pg),
    pytest.param("mysql", marks=pytest.mark.mysql),
]


@pytest.fixture(name="engine", params=ENGINES)
def engine_fixture(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Each engine in turn (tests using it are marked pg / mysql accordingly)."""
    if request.param == "postgres":
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute("SET TimeZone = 'UTC'")
            yield Engine("postgres", PG_URL, 5432, conn, "timestamptz", "timestamp")
        return
    import mysql.connector

    conn = mysql.connector.connect(
        host="127.0.0.1", port=3306, user="root", password="", database="test", autocommit=True
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
        yield Engine("mysql", MYSQL_URL, 3306, conn, "TIMESTAMP(6)", "DATETIME(6)")
    finally:
        conn.close()
