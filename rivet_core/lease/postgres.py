"""Lease by Postgres session advisory locks in the RIVET_STATE_URL database (docs/lease.md).

One dedicated connection per lease holds `pg_try_advisory_lock(key)` (a partition: the export key shared, its own
key exclusive) for the lease's lifetime; the server frees the locks when the session ends, so a killed run's lease
is gone as soon as its connection is. `rivet_leases` records the holder for the error message. Session advisory
locks need a direct or session-pooled connection (not a transaction pooler).
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from rivet_core.errors import StateError
from rivet_core.lease.model import EXPORT_SCOPE, Claim, Conflict, HolderInfo, LeaseLost, conflicts
from rivet_core.sources.limits import bookkeeping_params

STATEMENT_TIMEOUT_S = 10
_DDL_KEY = "rivet-lease-ddl"

_DDL = """CREATE TABLE IF NOT EXISTS rivet_leases (
    export TEXT NOT NULL, scope TEXT NOT NULL, run_id TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    since TEXT NOT NULL, backend_pid INTEGER NOT NULL, PRIMARY KEY (export, scope))"""
_UPSERT = """INSERT INTO rivet_leases (export, scope, run_id, host, pid, since, backend_pid)
VALUES (%s, %s, %s, %s, %s, %s, pg_backend_pid())
ON CONFLICT (export, scope) DO UPDATE SET run_id = EXCLUDED.run_id, host = EXCLUDED.host, pid = EXCLUDED.pid,
    since = EXCLUDED.since, backend_pid = EXCLUDED.backend_pid"""
# The live holders of an export's leases: rows whose session still exists.
_HOLDERS = """SELECT l.scope, l.run_id, l.host, l.pid, l.since FROM rivet_leases l
JOIN pg_stat_activity a ON a.pid = l.backend_pid WHERE l.export = %s ORDER BY (l.scope = 'export') DESC, l.since"""


def lock_key(export: str, scope: str) -> int:
    """A stable signed 64-bit advisory-lock key for one export scope."""
    digest = hashlib.blake2b(f"rivet-lease\0{export}\0{scope}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class _PgClaim:
    """The connection whose session holds the advisory locks."""

    def __init__(self, conn: Any) -> None:
        self._conn: Any = conn

    def check(self) -> None:
        """One round trip: a dropped session has dropped its locks."""
        import psycopg

        try:
            self._conn.execute("SELECT 1")
        except (psycopg.Error, AttributeError) as exc:
            raise LeaseLost(f"lease lost: the state database session holding it ended ({type(exc).__name__})") from None

    def release(self) -> None:
        import psycopg

        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(psycopg.Error):
            conn.execute("DELETE FROM rivet_leases WHERE backend_pid = pg_backend_pid()")
            conn.execute("SELECT pg_advisory_unlock_all()")
        with contextlib.suppress(psycopg.Error):
            conn.close()


class PostgresLeaseBackend:
    """Advisory locks on a dedicated, bounded connection to the state database."""

    name = "postgres advisory lock"

    def __init__(self, url: str) -> None:
        self.url = url
        self._ddl_done = False

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(
            self.url,
            autocommit=True,
            application_name="rivet lease",
            **bookkeeping_params(statement_timeout_s=STATEMENT_TIMEOUT_S),
        )

    def _ensure_table(self, conn: Any) -> None:
        """Create `rivet_leases` once; serialized, since concurrent CREATE TABLE IF NOT EXISTS can collide."""
        if self._ddl_done:
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(_DDL_KEY, EXPORT_SCOPE),))
            conn.execute(_DDL)
        self._ddl_done = True

    def try_acquire(self, export: str, scope: str, holder: HolderInfo) -> Claim | Conflict:
        from psycopg import Error

        try:
            conn = self._connect()
        except Error as exc:  # the driver's text may quote the URL: name the class only
            raise StateError(
                f"state database (RIVET_STATE_URL): cannot connect to take the lease ({_kind(exc)})"
            ) from None
        try:
            self._ensure_table(conn)
            top = lock_key(export, EXPORT_SCOPE)
            if scope == EXPORT_SCOPE:
                got = _try(conn, "pg_try_advisory_lock", top)
            else:
                got = _try(conn, "pg_try_advisory_lock_shared", top) and _try(
                    conn, "pg_try_advisory_lock", lock_key(export, scope)
                )
            if not got:
                conflict = _conflict(conn, export, scope)
                conn.close()
                return conflict
            h = holder.to_dict()
            conn.execute(_UPSERT, (export, scope, h["run_id"], h["host"], h["pid"], h["since"]))
        except Error as exc:
            conn.close()
            raise StateError(f"state database (RIVET_STATE_URL): cannot take the lease ({_kind(exc)})") from None
        return _PgClaim(conn)


def _kind(exc: Exception) -> str:
    sqlstate = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__} {sqlstate}" if sqlstate else type(exc).__name__


def _try(conn: Any, function: str, key: int) -> bool:
    row = conn.execute(f"SELECT {function}(%s)", (key,)).fetchone()
    return bool(row and row[0])


def _conflict(conn: Any, export: str, scope: str) -> Conflict:
    """The live holder whose scope conflicts with `scope` (the whole-export one first)."""
    for row in conn.execute(_HOLDERS, (export,)):
        if conflicts(row[0], scope):
            keys = ("run_id", "host", "pid", "since")
            return Conflict(row[0], HolderInfo.from_dict(dict(zip(keys, row[1:], strict=True))))
    return Conflict(scope, None)
