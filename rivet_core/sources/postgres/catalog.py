"""PostgreSQL catalog: pg_roles / has_*_privilege, pg_stat_ssl, pg_index, pg_class.reltuples, EXPLAIN (FORMAT JSON).

Statements run with the extended protocol (`binary=True`): the server refuses more than one command in each.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg import sql as pgsql

from rivet_core.sources import sql
from rivet_core.sources.base import Query
from rivet_core.sources.catalog import Budget, Catalog, Privileges, normalized
from rivet_core.sources.postgres.connection import quote_ident


class PgCatalog(Catalog):
    """Catalog questions on one autocommit psycopg connection (read-only session with timeouts)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        conn.autocommit = True
        super().__init__(conn)

    def _row(self, statement: str, params: tuple[Any, ...] | None = None) -> tuple[Any, ...]:
        """One row; without `params` psycopg leaves the text alone (no `%` placeholder parsing of user SQL)."""
        row = self.conn.execute(statement, params, binary=True).fetchone()
        return tuple(row) if row else ()

    def _one(self, statement: str, params: tuple[Any, ...] | None = None) -> Any:
        row = self._row(statement, params)
        return row[0] if row else None

    @staticmethod
    def _ref(table: tuple[str | None, str]) -> str:
        schema, name = table
        return f"{quote_ident(schema)}.{quote_ident(name)}" if schema else quote_ident(name)

    def version(self) -> str:
        return f"PostgreSQL {self._one('SHOW server_version')}"

    def privileges(self) -> Privileges:
        user, superuser, replica, create_db = self._row(
            "SELECT current_user::text, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),"
            " pg_is_in_recovery(), has_database_privilege(current_database(), 'CREATE')"
        )
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
        row = self._row("SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
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
            binary=True,
        ).fetchall()
        wanted = normalized(f"coalesce({column},{fallback})")
        return any(normalized(r[0] or "").startswith(wanted) for r in rows)

    def table_rows(self, table: tuple[str | None, str]) -> int | None:
        rows = self._one("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", (self._ref(table),))
        return None if rows is None or rows < 0 else int(rows)  # -1: never vacuumed/analyzed

    def explain_rows(self, query: Query) -> int | None:
        base = sql.base_sql(query, quote_ident, lambda value: pgsql.Literal(value).as_string(self.conn))
        doc = self._one(f"EXPLAIN (FORMAT JSON) SELECT * FROM ({base}) AS {sql.ALIAS}")
        doc = json.loads(doc) if isinstance(doc, str) else doc
        return int(doc[0]["Plan"]["Plan Rows"])

    def budget(self) -> Budget:
        limit, reserved, used = self._row(
            "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,"
            " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
        )
        superuser = self._one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        return Budget(limit, used, 0 if superuser else reserved)
