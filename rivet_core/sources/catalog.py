"""What preflight asks a server's catalog (design §7 `doctor` / `check`): version, privileges, TLS, indexes, row
estimates and the connection budget. One class per engine over a plain DB-API connection from `Source.connect()`;
read-only statements only, values bound as parameters, user SQL only ever wrapped as a subquery.
"""

from __future__ import annotations

import json
import re
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Protocol

from rivet_core.sources import sql
from rivet_core.sources.base import Query


@dataclass(frozen=True)
class Privileges:
    """Whether the connected user can change anything, and what says so (empty `reasons` = read-only)."""

    user: str
    reasons: list[str]
    replica: bool = False


@dataclass(frozen=True)
class Budget:
    """Connections: the server's limit, how many are open now, how many are kept for superusers."""

    max_connections: int
    used: int
    reserved: int = 0

    @property
    def free(self) -> int:
        return self.max_connections - self.reserved - self.used


class Catalog(Protocol):
    """Catalog questions of one engine; `close()` releases the connection."""

    def version(self) -> str: ...

    def privileges(self) -> Privileges: ...

    def tls(self) -> str | None:
        """The TLS protocol/cipher of this connection, or None when it is not encrypted."""
        ...

    def indexed(self, table: tuple[str | None, str], column: str, fallback: str | None = None) -> bool:
        """Whether an index leads with `column` (or with COALESCE(column, fallback))."""
        ...

    def table_rows(self, table: tuple[str | None, str]) -> int | None:
        """The planner's row count of a table (statistics), None when it has none."""
        ...

    def explain_rows(self, query: Query) -> int | None:
        """The planner's row estimate of the base query (EXPLAIN)."""
        ...

    def budget(self) -> Budget: ...

    def close(self) -> None: ...


def _normalized(expr: str) -> str:
    return re.sub(r'[\s"`()]', "", expr).lower()


class PgCatalog:
    """PostgreSQL: pg_roles / has_*_privilege, pg_stat_ssl, pg_index, pg_class.reltuples, EXPLAIN (FORMAT JSON)."""

    def __init__(self, conn: Any) -> None:
        conn.autocommit = True
        self.conn = conn

    def _one(self, statement: str, params: tuple[Any, ...] = ()) -> Any:
        row = self.conn.execute(statement, params).fetchone()
        return row[0] if row else None

    @staticmethod
    def _ref(table: tuple[str | None, str]) -> str:
        from rivet_core.sources.postgres import quote_ident

        schema, name = table
        return f"{quote_ident(schema)}.{quote_ident(name)}" if schema else quote_ident(name)

    def version(self) -> str:
        return f"PostgreSQL {self._one('SHOW server_version')}"

    def privileges(self) -> Privileges:
        user, superuser, replica, create_db = self.conn.execute(
            "SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), pg_is_in_recovery(),"
            " has_database_privilege(current_database(), 'CREATE')"
        ).fetchone()
        if replica:
            return Privileges(user, [], replica=True)
        reasons = ["superuser"] if superuser else []
        if create_db:
            reasons.append("CREATE on the database")
        schemas = self._one(
            "SELECT count(*) FROM pg_namespace WHERE has_schema_privilege(oid, 'CREATE')"
            " AND nspname !~ '^pg_' AND nspname <> 'information_schema'"
        )
        if schemas:
            reasons.append(f"CREATE on {schemas} schema(s)")
        tables = self._one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"
            " AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')"
        )
        if tables:
            reasons.append(f"INSERT/UPDATE/DELETE/TRUNCATE on {tables} table(s)")
        return Privileges(user, reasons)

    def tls(self) -> str | None:
        row = self.conn.execute("SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        return f"{row[1]} {row[2]}" if row and row[0] else None

    def indexed(self, table: tuple[str | None, str], column: str, fallback: str | None = None) -> bool:
        ref = self._ref(table)
        if fallback is None:
            return bool(
                self._one(
                    "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                    " AND a.attnum = i.indkey[0] WHERE i.indrelid = %s::regclass AND i.indisvalid AND a.attname = %s)",
                    (ref, column),
                )
            )
        rows = self.conn.execute(
            "SELECT pg_get_expr(i.indexprs, i.indrelid) FROM pg_index i"
            " WHERE i.indrelid = %s::regclass AND i.indisvalid AND i.indkey[0] = 0",
            (ref,),
        ).fetchall()
        wanted = _normalized(f"coalesce({column},{fallback})")
        return any(_normalized(r[0] or "").startswith(wanted) for r in rows)

    def table_rows(self, table: tuple[str | None, str]) -> int | None:
        rows = self._one("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", (self._ref(table),))
        return None if rows is None or rows < 0 else int(rows)  # -1: never vacuumed/analyzed

    def explain_rows(self, query: Query) -> int | None:
        from rivet_core.sources.postgres import quote_ident

        base = sql.base_sql(query, quote_ident)
        doc = self._one(f"EXPLAIN (FORMAT JSON) SELECT * FROM ({base}) AS {sql.ALIAS}")
        doc = json.loads(doc) if isinstance(doc, str) else doc
        return int(doc[0]["Plan"]["Plan Rows"])

    def budget(self) -> Budget:
        limit, reserved, used = self.conn.execute(
            "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,"
            " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
        ).fetchone()
        superuser = self._one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        return Budget(limit, used, 0 if superuser else reserved)

    def close(self) -> None:
        self.conn.close()


_WRITE_GRANTS = ("ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "SUPER")


class MySqlCatalog:
    """MySQL / MariaDB: SHOW GRANTS, Ssl_cipher, information_schema.statistics / tables, EXPLAIN."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def _rows(self, statement: str, params: tuple[Any, ...] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        with closing(self.conn.cursor()) as cur:
            cur.execute(statement, params)
            rows = cur.fetchall()
            names = [d[0].lower() for d in cur.description or []]
        return names, [tuple(_text(v) for v in r) for r in rows]

    def _one(self, statement: str, params: tuple[Any, ...] = ()) -> Any:
        rows = self._rows(statement, params)[1]
        return rows[0][0] if rows else None

    def version(self) -> str:
        version, comment = self._rows("SELECT VERSION(), @@version_comment")[1][0]
        return f"{'MariaDB' if 'mariadb' in str(version).lower() else 'MySQL'} {version} ({comment})"

    def privileges(self) -> Privileges:
        user = self._one("SELECT CURRENT_USER()")
        read_only = int(self._one("SELECT @@read_only") or 0)
        reasons = []
        for (grant,) in self._rows("SHOW GRANTS")[1]:
            match = re.match(r"GRANT (.+?) ON (\S+) TO", str(grant))
            if not match:
                continue
            privileges = {p.strip().upper() for p in match[1].split(",")}
            found = [p for p in _WRITE_GRANTS if any(q == p or q.startswith(p + " ") for q in privileges)]
            if found:
                reasons.append(f"{', '.join(found)} ON {match[2]}")
        if read_only and not any("ALL PRIVILEGES" in r or "SUPER" in r for r in reasons):
            return Privileges(str(user), [], replica=True)
        return Privileges(str(user), reasons)

    def tls(self) -> str | None:
        rows = self._rows("SHOW SESSION STATUS LIKE 'Ssl_cipher'")[1]
        cipher = rows[0][1] if rows else ""
        return str(cipher) if cipher else None

    def indexed(self, table: tuple[str | None, str], column: str, fallback: str | None = None) -> bool:
        if fallback is not None:  # MySQL 8 functional indexes aside, COALESCE(…) cannot use an index
            return False
        schema, name = table
        return bool(
            self._one(
                "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = COALESCE(%s, DATABASE())"
                " AND table_name = %s AND column_name = %s AND seq_in_index = 1",
                (schema, name, column),
            )
        )

    def table_rows(self, table: tuple[str | None, str]) -> int | None:
        schema, name = table
        rows = self._one(
            "SELECT table_rows FROM information_schema.tables WHERE table_schema = COALESCE(%s, DATABASE())"
            " AND table_name = %s",
            (schema, name),
        )
        return None if rows is None else int(rows)

    def explain_rows(self, query: Query) -> int | None:
        base = sql.base_sql(query, lambda n: "`" + n.replace("`", "``") + "`")
        names, rows = self._rows(f"EXPLAIN SELECT * FROM ({base}) AS {sql.ALIAS}")
        if "rows" not in names:
            return None
        counts = [int(r[names.index("rows")]) for r in rows if r[names.index("rows")] is not None]
        return max(counts) if counts else None

    def budget(self) -> Budget:
        limit = int(self._one("SELECT @@max_connections"))
        rows = self._rows("SHOW GLOBAL STATUS LIKE 'Threads_connected'")[1]
        return Budget(limit, int(rows[0][1]) if rows else 0)

    def close(self) -> None:
        self.conn.close()


def _text(value: Any) -> Any:
    """mysql-connector may return bytes/bytearray for SHOW output; decode them."""
    return value.decode() if isinstance(value, bytes | bytearray) else value


def open_catalog(source: Any) -> Catalog:
    """The catalog of a source, on a new connection of its own (raises the source's SourceError)."""
    conn = source.connect()
    return PgCatalog(conn) if source.engine == "postgres" else MySqlCatalog(conn)
