"""MySQL / MariaDB catalog: SHOW GRANTS, Ssl_cipher, information_schema.statistics / tables, EXPLAIN."""

from __future__ import annotations

import re
from contextlib import closing
from typing import Any

from rivet_core.sources import sql
from rivet_core.sources.base import Query
from rivet_core.sources.catalog import Budget, Catalog, Privileges
from rivet_core.sources.mysql.connection import decoded, literal, quote_ident, ssl_cipher

_WRITE_GRANTS = ("ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "SUPER")


class MySqlCatalog(Catalog):
    """Catalog questions on one connection (read-only session with timeouts, multi-statements off)."""

    def _rows(self, statement: str, params: tuple[Any, ...] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        with closing(self.conn.cursor()) as cur:
            cur.execute(statement, params)
            rows = cur.fetchall()
            names = [d[0].lower() for d in cur.description or []]
        return names, [tuple(decoded(v) for v in r) for r in rows]

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
        return ssl_cipher(self.conn)

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
        base = sql.base_sql(query, quote_ident, lambda value: literal(self.conn, value))
        names, rows = self._rows(f"EXPLAIN SELECT * FROM ({base}) AS {sql.ALIAS}")
        if "rows" not in names:
            return None
        counts = [int(r[names.index("rows")]) for r in rows if r[names.index("rows")] is not None]
        return max(counts) if counts else None

    def budget(self) -> Budget:
        limit = int(self._one("SELECT @@max_connections"))
        rows = self._rows("SHOW GLOBAL STATUS LIKE 'Threads_connected'")[1]
        return Budget(limit, int(rows[0][1]) if rows else 0)
