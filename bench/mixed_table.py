"""The bench's mixed table, built server-side through the databases' own clients (psql, mariadb) when absent.

Columns: bigint id, int, short text, numeric(12,2), 40-80-char text with 10% NULL, timestamptz / datetime(6),
bool; deterministic values. The table is named after its row count (`bench_mixed_5000000`) so sizes coexist; it
is filled under a temporary name and renamed at the end, so a table of the final name is always complete.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

Engine = Literal["pg", "mysql"]
ENGINES: tuple[Engine, ...] = ("pg", "mysql")
CLIENTS: dict[Engine, tuple[str, ...]] = {"pg": ("psql",), "mysql": ("mariadb", "mysql")}
TIMEOUT_S = 3600

_PG_DDL = (
    "CREATE TABLE {t} (id bigint PRIMARY KEY, account_id integer, kind text, amount numeric(12,2), note text,"
    " created_at timestamptz, active boolean)"
)
_PG_FILL = """INSERT INTO {t}
SELECT i, (i * 7919) % 100000, 'k' || (i % 17), ((i * 104729) % 10000000) / 100.0,
       CASE WHEN i % 10 = 0 THEN NULL ELSE left(repeat(md5(i::text), 3), (40 + (i * 7919) % 41)::int) END,
       timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second' + (i % 1000) * interval '1 microsecond',
       i % 3 = 0
FROM generate_series(1::bigint, {rows}) AS i"""
_MYSQL_DDL = (
    "CREATE TABLE {t} (id BIGINT PRIMARY KEY, account_id INT, kind VARCHAR(16), amount DECIMAL(12,2), note TEXT,"
    " created_at DATETIME(6), active BOOL) ENGINE=InnoDB CHARSET utf8mb4"
)
# Ids from a recursive CTE no deeper than the servers' default recursion limit (1000): 1000 x 1000 x ceil(N/1M).
_MYSQL_FILL = """INSERT INTO {t}
WITH RECURSIVE d(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM d WHERE k < 999),
     s(i) AS (SELECT c.k * 1000000 + a.k * 1000 + b.k + 1 FROM d c CROSS JOIN d a CROSS JOIN d b WHERE c.k < {millions})
SELECT i, (i * 7919) % 100000, CONCAT('k', i % 17), ((i * 104729) % 10000000) / 100.0,
       IF(i % 10 = 0, NULL, LEFT(REPEAT(MD5(i), 3), 40 + (i * 7919) % 41)),
       TIMESTAMP('2026-01-01 00:00:00') + INTERVAL i SECOND + INTERVAL (i % 1000) MICROSECOND,
       i % 3 = 0
FROM s WHERE i <= {rows} ORDER BY i"""


@dataclass(frozen=True)
class Server:
    """Where one engine's database is, split out of its URL for the command-line clients."""

    engine: Engine
    url: str
    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def parse(cls, engine: Engine, url: str) -> Server:
        parts = urlsplit(url)
        return cls(
            engine=engine,
            url=url,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (5432 if engine == "pg" else 3306),
            user=unquote(parts.username or ("postgres" if engine == "pg" else "root")),
            password=unquote(parts.password or ""),
            database=parts.path.lstrip("/") or "test",
        )

    def client(self) -> str | None:
        """The command-line client on the PATH, if any."""
        return next((found for name in CLIENTS[self.engine] if (found := shutil.which(name))), None)

    def env(self) -> dict[str, str]:
        """The environment for a client process: the password out of the command line."""
        key = "PGPASSWORD" if self.engine == "pg" else "MYSQL_PWD"
        return {**os.environ, key: self.password} if self.password else dict(os.environ)

    def sql_cmd(self, *statements: str) -> list[str]:
        """The client running each statement on its own (psql: one implicit transaction per -c)."""
        client = self.client() or CLIENTS[self.engine][0]
        if self.engine == "pg":
            return [
                client,
                "-X",
                "-q",
                "-tA",
                "-v",
                "ON_ERROR_STOP=1",
                self.url,
                *(a for s in statements for a in ("-c", s)),
            ]
        conn = ["-h", self.host, "-P", str(self.port), "-u", self.user, "-N", "-B", self.database]
        return [client, *conn, "-e", ";\n".join(statements)]

    def dump_cmd(self, table: str) -> list[str]:
        """The database's own fastest dump of the table (its output goes to /dev/null)."""
        if self.engine == "pg":
            return self.sql_cmd(f"COPY {table} TO STDOUT (FORMAT binary)")
        client = self.client() or "mariadb"
        conn = ["-h", self.host, "-P", str(self.port), "-u", self.user, self.database]
        return [client, "--quick", *conn, "-e", f"SELECT * FROM {table}"]

    def query(self, *statements: str) -> str:
        """Run statements; their output (tab-separated, no headers). Exits with the client's error on failure."""
        proc = subprocess.run(
            self.sql_cmd(*statements), env=self.env(), capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
        if proc.returncode != 0:
            raise SystemExit(f"{self.engine}: {proc.stderr.strip()}")
        return proc.stdout.strip()


def table_name(rows: int) -> str:
    return f"bench_mixed_{rows}"


def _row_count(server: Server, table: str) -> int | None:
    """The table's row count, or None when it does not exist."""
    if server.engine == "pg":
        exists = server.query(f"SELECT to_regclass('{table}') IS NOT NULL") == "t"
    else:
        exists = (
            server.query(
                "SELECT COUNT(*) FROM information_schema.TABLES"
                f" WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}'"
            )
            == "1"
        )
    return int(server.query(f"SELECT count(*) FROM {table}")) if exists else None


def ensure_table(server: Server, rows: int) -> str:
    """The mixed table of `rows` rows on this server, built when absent (or of another size); its name."""
    table = table_name(rows)
    if _row_count(server, table) == rows:
        return table
    print(f"{server.engine}: building {table} ({rows:,} rows) …", flush=True)
    started = time.perf_counter()
    building = f"{table}_building"
    if server.engine == "pg":
        server.query(
            f"DROP TABLE IF EXISTS {building}",
            f"DROP TABLE IF EXISTS {table}",
            _PG_DDL.format(t=building),
            _PG_FILL.format(t=building, rows=rows),
            f"ALTER TABLE {building} RENAME TO {table}",
            f"VACUUM ANALYZE {table}",
        )
    else:
        server.query(
            f"DROP TABLE IF EXISTS {building}",
            f"DROP TABLE IF EXISTS {table}",
            _MYSQL_DDL.format(t=building),
            _MYSQL_FILL.format(t=building, rows=rows, millions=-(-rows // 1_000_000)),
            f"RENAME TABLE {building} TO {table}",
            f"ANALYZE TABLE {table}",
        )
    print(f"  {time.perf_counter() - started:.1f}s", flush=True)
    return table
