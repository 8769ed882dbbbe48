"""State store: cached cursors (with their column), file ledger, schema snapshots and run metrics.

SQLite `.rivet_state.db` next to the config, or Postgres when `RIVET_STATE_URL` is a postgres URL. The
destination's manifests stay the truth (docs/state.md): this store is a cache and a history, never ahead of data.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rivet_core.sources.limits import bookkeeping_params
from rivet_core.writers import WrittenPart

STATE_STATEMENT_TIMEOUT_S = 30  # one state-store statement (they are all small)
# Postgres: first runs creating the tables at once collide in pg_type despite IF NOT EXISTS; this lock serializes them.
_SCHEMA_LOCK = int.from_bytes(hashlib.blake2b(b"rivet-state-ddl", digest_size=8).digest(), "big", signed=True)

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS rivet_cursors (
        export TEXT PRIMARY KEY, cursor_column TEXT NOT NULL, value TEXT, unit_id TEXT, updated_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS rivet_files (
        run_id TEXT NOT NULL, export TEXT NOT NULL, unit_id TEXT NOT NULL, uri TEXT NOT NULL, rows BIGINT NOT NULL,
        bytes BIGINT NOT NULL, fingerprint TEXT NOT NULL, created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS rivet_runs (
        run_id TEXT NOT NULL, export TEXT NOT NULL, started_at TEXT NOT NULL, duration_s DOUBLE PRECISION,
        status TEXT NOT NULL, rows BIGINT, bytes BIGINT, files INTEGER, peak_rss_mb DOUBLE PRECISION,
        retries INTEGER, validated TEXT, reconciled TEXT, error TEXT, summary TEXT)""",
    """CREATE TABLE IF NOT EXISTS rivet_chunk_runs (
        export TEXT NOT NULL, run_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status TEXT NOT NULL,
        plan TEXT NOT NULL, created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS rivet_chunk_tasks (
        run_id TEXT NOT NULL, idx INTEGER NOT NULL, chunk_key TEXT NOT NULL, status TEXT NOT NULL,
        attempts INTEGER NOT NULL, rows BIGINT, files INTEGER, error TEXT, updated_at TEXT NOT NULL,
        PRIMARY KEY (run_id, idx))""",
    """CREATE TABLE IF NOT EXISTS rivet_schemas (
        export TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, columns TEXT NOT NULL, updated_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS rivet_shapes (
        export TEXT NOT NULL, column_name TEXT NOT NULL, longest BIGINT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (export, column_name))""",
]


class StateStore:
    """A thin SQL store; one short transaction per call, so a crash never leaves it half-written."""

    def __init__(self, connect: Any, placeholder: str, location: str, *, schema_lock: str | None = None) -> None:
        self._connect = connect
        self._ph = placeholder
        self.location = location
        with self._tx() as cur:
            if schema_lock is not None:
                cur.execute(schema_lock, (_SCHEMA_LOCK,))
            for ddl in _SCHEMA:
                cur.execute(ddl)

    @classmethod
    def open(cls, config_dir: Path, env: dict[str, str] | None = None) -> StateStore:
        """SQLite next to the config, or Postgres when RIVET_STATE_URL says so."""
        url = (env if env is not None else os.environ).get("RIVET_STATE_URL", "")
        if url.startswith(("postgres://", "postgresql://")):
            import psycopg

            # a state store that stops answering fails the run instead of hanging it
            bounds = bookkeeping_params(statement_timeout_s=STATE_STATEMENT_TIMEOUT_S)
            lock = "SELECT pg_advisory_xact_lock(%s)"
            return cls(lambda: psycopg.connect(url, **bounds), "%s", "postgres (RIVET_STATE_URL)", schema_lock=lock)
        path = config_dir / ".rivet_state.db"
        return cls(lambda: sqlite3.connect(path, timeout=30), "?", str(path))

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        conn = self._connect()
        try:
            cur = conn.cursor()
            yield cur
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    def _sql(self, text: str) -> str:
        return text.replace("?", self._ph)

    def cursor(self, export: str) -> tuple[str, dict[str, str] | None] | None:
        """(column, encoded value) of the cached cursor, or None."""
        with self._tx() as cur:
            cur.execute(self._sql("SELECT cursor_column, value FROM rivet_cursors WHERE export = ?"), (export,))
            row = cur.fetchone()
        return (row[0], json.loads(row[1]) if row[1] else None) if row else None

    def save_cursor(self, export: str, column: str, value: dict[str, str] | None, unit_id: str, now: str) -> None:
        with self._tx() as cur:
            cur.execute(self._sql("DELETE FROM rivet_cursors WHERE export = ?"), (export,))
            cur.execute(
                self._sql("INSERT INTO rivet_cursors VALUES (?, ?, ?, ?, ?)"),
                (export, column, json.dumps(value) if value else None, unit_id, now),
            )

    def reset(self, export: str) -> None:
        with self._tx() as cur:
            for table in ("rivet_cursors", "rivet_schemas", "rivet_shapes"):
                cur.execute(self._sql(f"DELETE FROM {table} WHERE export = ?"), (export,))

    def record_files(
        self, run_id: str, export: str, unit_id: str, uris: list[str], parts: list[WrittenPart], now: str
    ) -> None:
        """The file ledger of a committed unit: each part's URI, rows, bytes and fingerprint."""
        with self._tx() as cur:
            for uri, p in zip(uris, parts, strict=True):
                cur.execute(
                    self._sql("INSERT INTO rivet_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                    (run_id, export, unit_id, uri, p.rows, p.bytes, p.fingerprint, now),
                )

    def files(self, export: str) -> list[dict[str, Any]]:
        with self._tx() as cur:
            cur.execute(
                self._sql(
                    "SELECT run_id, unit_id, uri, rows, bytes, fingerprint, created_at FROM rivet_files"
                    " WHERE export = ? ORDER BY created_at, uri"
                ),
                (export,),
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def record_run(self, run: dict[str, Any]) -> None:
        cols = [
            "run_id",
            "export",
            "started_at",
            "duration_s",
            "status",
            "rows",
            "bytes",
            "files",
            "peak_rss_mb",
            "retries",
            "validated",
            "reconciled",
            "error",
        ]
        values = [run.get(c) for c in cols] + [json.dumps(run, default=str)]
        with self._tx() as cur:
            names, marks = ", ".join([*cols, "summary"]), ", ".join("?" * (len(cols) + 1))
            cur.execute(self._sql(f"INSERT INTO rivet_runs ({names}) VALUES ({marks})"), values)

    def runs(self, export: str | None = None, last: int = 20) -> list[dict[str, Any]]:
        where = " WHERE export = ?" if export else ""
        with self._tx() as cur:
            cur.execute(
                self._sql(
                    "SELECT run_id, export, started_at, duration_s, status, rows, bytes, files, peak_rss_mb, retries,"
                    f" validated, reconciled, error FROM rivet_runs{where} ORDER BY started_at DESC LIMIT {int(last)}"
                ),
                (export,) if export else (),
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def schema(self, export: str) -> list[dict[str, str]] | None:
        """The columns (name, type) last written by an export, or None before its first commit."""
        with self._tx() as cur:
            cur.execute(self._sql("SELECT columns FROM rivet_schemas WHERE export = ?"), (export,))
            row = cur.fetchone()
        return json.loads(row[0]) if row else None

    def save_schema(self, export: str, columns: list[dict[str, str]], now: str) -> None:
        """Remember the written schema (schema drift compares the next run with it)."""
        text = json.dumps([{"name": c["name"], "type": c["type"]} for c in columns])
        fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]
        with self._tx() as cur:
            cur.execute(self._sql("DELETE FROM rivet_schemas WHERE export = ?"), (export,))
            cur.execute(self._sql("INSERT INTO rivet_schemas VALUES (?, ?, ?, ?)"), (export, fingerprint, text, now))

    def shape(self, export: str) -> dict[str, int]:
        """The longest value (bytes) committed so far per text/binary column of an export (shape drift)."""
        with self._tx() as cur:
            cur.execute(self._sql("SELECT column_name, longest FROM rivet_shapes WHERE export = ?"), (export,))
            return {str(name): int(longest) for name, longest in cur.fetchall()}

    def save_shape(self, export: str, longest: dict[str, int], now: str) -> None:
        """Raise the stored longest values to `longest` where it is longer (never lowers them)."""
        stored = self.shape(export)
        with self._tx() as cur:
            for name, length in longest.items():
                if length > stored.get(name, -1):
                    cur.execute(
                        self._sql("DELETE FROM rivet_shapes WHERE export = ? AND column_name = ?"), (export, name)
                    )
                    cur.execute(self._sql("INSERT INTO rivet_shapes VALUES (?, ?, ?, ?)"), (export, name, length, now))

    # -- chunk checkpoints ------------------------------------------------------------------------------------
    def active_chunk_run(self, export: str) -> dict[str, Any] | None:
        """The in-progress checkpointed chunk run of an export (at most one), with its plan."""
        with self._tx() as cur:
            cur.execute(
                self._sql(
                    "SELECT run_id, fingerprint, plan, created_at FROM rivet_chunk_runs"
                    " WHERE export = ? AND status = 'in_progress' ORDER BY created_at DESC"
                ),
                (export,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return {"run_id": row[0], "fingerprint": row[1], "plan": json.loads(row[2]), "created_at": row[3]}

    def start_chunk_run(self, export: str, run_id: str, fingerprint: str, plan: list[dict[str, Any]], now: str) -> None:
        """Record a new checkpointed run and one pending task per chunk."""
        with self._tx() as cur:
            cur.execute(
                self._sql("INSERT INTO rivet_chunk_runs VALUES (?, ?, ?, 'in_progress', ?, ?)"),
                (export, run_id, fingerprint, json.dumps(plan), now),
            )
            for task in plan:
                cur.execute(
                    self._sql("INSERT INTO rivet_chunk_tasks VALUES (?, ?, ?, 'pending', 0, NULL, NULL, NULL, ?)"),
                    (run_id, task["index"], task["key"], now),
                )

    def chunk_plan(self, run_id: str) -> list[dict[str, Any]]:
        """The chunk ranges a checkpointed run planned (encoded bounds)."""
        with self._tx() as cur:
            cur.execute(self._sql("SELECT plan FROM rivet_chunk_runs WHERE run_id = ?"), (run_id,))
            row = cur.fetchone()
        return json.loads(row[0]) if row else []

    def chunk_tasks(self, run_id: str) -> list[dict[str, Any]]:
        with self._tx() as cur:
            cur.execute(
                self._sql(
                    "SELECT idx, chunk_key, status, attempts, rows, files, error, updated_at FROM rivet_chunk_tasks"
                    " WHERE run_id = ? ORDER BY idx"
                ),
                (run_id,),
            )
            names = ["index", "key", "status", "attempts", "rows", "files", "error", "updated_at"]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def update_chunk(self, run_id: str, index: int, status: str, now: str, **fields: Any) -> None:
        """Move one chunk task to `status` (running adds an attempt); rows/files/error when given."""
        sets = ["status = ?", "updated_at = ?"]
        values: list[Any] = [status, now]
        if status == "running":
            sets.append("attempts = attempts + 1")
        for name in ("rows", "files", "error"):
            if name in fields:
                sets.append(f"{name} = ?")
                values.append(fields[name])
        with self._tx() as cur:
            cur.execute(
                self._sql(f"UPDATE rivet_chunk_tasks SET {', '.join(sets)} WHERE run_id = ? AND idx = ?"),
                (*values, run_id, index),
            )

    def finish_chunk_run(self, run_id: str, status: str) -> None:
        with self._tx() as cur:
            cur.execute(self._sql("UPDATE rivet_chunk_runs SET status = ? WHERE run_id = ?"), (status, run_id))

    def chunk_runs(self, export: str) -> list[dict[str, Any]]:
        with self._tx() as cur:
            cur.execute(
                self._sql(
                    "SELECT run_id, fingerprint, status, created_at FROM rivet_chunk_runs WHERE export = ?"
                    " ORDER BY created_at"
                ),
                (export,),
            )
            names = ["run_id", "fingerprint", "status", "created_at"]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def reset_chunks(self, export: str) -> int:
        """Abandon the export's in-progress checkpointed runs; returns how many."""
        with self._tx() as cur:
            cur.execute(
                self._sql(
                    "UPDATE rivet_chunk_runs SET status = 'abandoned' WHERE export = ? AND status = 'in_progress'"
                ),
                (export,),
            )
            return int(cur.rowcount or 0)
