"""Source safety on both real engines (issue 14): user SQL runs as one statement in a read-only session, catalog
connections are bounded, every socket has keepalives, and `Snapshot.cancel()` ends a running stream."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from engines import Engine, engine_fixture  # noqa: F401 - the `engine` fixture

from rivet_core.config import SourceConfig, Tuning
from rivet_core.config.sqltext import SqlText
from rivet_core.errors import SourceError
from rivet_core.slices import full_slice
from rivet_core.sources import open_source
from rivet_core.sources.base import Query, Source
from rivet_core.sources.batching import BatchSizing
from rivet_core.sources.catalog import open_catalog

TUNING = Tuning("balanced", 1000, 0, 300, 1, 0, 0, 0)  # lock_timeout_s = 1

# Each text is placed in `query:`, which rivet wraps as `SELECT … FROM (<query>) AS _rivet_q …`: the first three
# close the wrapper's parenthesis to smuggle statements after it (the `--param` injection of issue 14, value
# already substituted), the last is a plain second statement.
INJECTIONS = {
    "ddl": "SELECT * FROM {t} WHERE name = 'n1') AS q; COMMIT; CREATE TABLE {p}(v int); COMMIT; BEGIN;"
    " SELECT * FROM (SELECT * FROM {t} WHERE name = 'n1'",
    "dml": "SELECT * FROM {t} WHERE name = 'n1') AS q; COMMIT; DELETE FROM {t}; UPDATE {t} SET name = 'x'; COMMIT;"
    " SELECT * FROM (SELECT * FROM {t} WHERE name = 'n1'",
    "sleep": "SELECT * FROM {t} WHERE name = 'n1') AS q; SELECT {sleep}; SELECT * FROM (SELECT * FROM {t}"
    " WHERE name = 'n1'",
    "second": "SELECT 1 AS v; CREATE TABLE {p}(v int)",
}


def _source(engine: Engine, tuning: Tuning = TUNING) -> Source:
    return open_source(SourceConfig(type=engine.kind, url=engine.url), engine.url, tuning)  # type: ignore[arg-type]


@pytest.fixture
def names(engine: Engine, table_name: str) -> Any:
    """A small table `t` of names and the name `p` of a table that must never come to exist."""
    pwned = f"pwned_{table_name}"
    engine.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, name varchar(10))")
    engine.insert(table_name, [(1, "n1"), (2, "n2")])
    yield table_name, pwned
    engine.execute(f"DROP TABLE IF EXISTS {table_name}")
    engine.execute(f"DROP TABLE IF EXISTS {pwned}")


def _exists(engine: Engine, table: str) -> bool:
    if engine.kind == "postgres":
        return bool(engine.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))[0][0])
    return bool(engine.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = %s", (table,))[0][0])


@pytest.mark.parametrize("kind", list(INJECTIONS))
@pytest.mark.parametrize("command", ["run", "check"])
def test_injected_statements_never_execute(
    engine: Engine, names: tuple[str, str], tmp_path: Path, kind: str, command: str
) -> None:
    table, pwned = names
    sleep = "pg_sleep(30)" if engine.kind == "postgres" else "SLEEP(30)"
    query = INJECTIONS[kind].format(t=table, p=pwned, sleep=sleep)
    config = engine.config(tmp_path, {"name": "inj", "query": query})
    started = time.monotonic()
    proc = run_cli(command, "-c", str(config), cwd=tmp_path, timeout=60)
    elapsed = time.monotonic() - started
    output = proc.stdout + proc.stderr
    assert proc.returncode in (1, 2), output
    assert "Traceback" not in output
    assert f"{engine.kind}: " in output  # one clear line from the source
    assert elapsed < 25, f"the injected sleep ran ({elapsed:.0f} s)"
    assert not _exists(engine, pwned)
    assert engine.execute(f"SELECT id, name FROM {table} ORDER BY id") == [(1, "n1"), (2, "n2")]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.parquet"))


def test_connections_are_read_only_sessions_a_commit_cannot_escape(engine: Engine, names: tuple[str, str]) -> None:
    """Even a statement sent on rivet's own connections cannot write: read-only is the session's default."""
    table, pwned = names
    source = _source(engine)
    conn = source.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("COMMIT")
            with pytest.raises(Exception, match=r"(?i)read.only"):
                cur.execute(f"CREATE TABLE {pwned} (v int)")
    finally:
        conn.close()
    with source.snapshot() as snap:
        if engine.kind == "postgres":
            data = snap._reader()  # type: ignore[attr-defined]
            with data.cursor() as cur:
                cur.execute("COMMIT")
                with pytest.raises(Exception, match=r"(?i)read.only"):
                    cur.execute(f"INSERT INTO {table} VALUES (3, 'n3')")
        else:
            with snap.conn.cursor() as cur:  # type: ignore[attr-defined]
                cur.execute("COMMIT")
                with pytest.raises(Exception, match=r"(?i)read.only"):
                    cur.execute(f"INSERT INTO {table} VALUES (3, 'n3')")
    assert not _exists(engine, pwned)
    assert len(engine.execute(f"SELECT id FROM {table}")) == 2


@contextmanager
def _locked(engine: Engine, table: str) -> Iterator[None]:
    """Another session holds `table` locked exclusively for the block."""
    if engine.kind == "postgres":
        import psycopg

        holder: Any = psycopg.connect(engine.url)
        holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    else:
        import mysql.connector

        holder = mysql.connector.connect(host="127.0.0.1", port=3306, user="root", password="", database="test")
        with holder.cursor() as cur:
            cur.execute(f"LOCK TABLES {table} WRITE")
    try:
        yield
    finally:
        holder.rollback()
        holder.close()


def test_a_catalog_statement_waiting_on_a_lock_gives_up(engine: Engine, names: tuple[str, str]) -> None:
    """EXPLAIN (rivet check) of a table another session holds locked ends after the lock timeout, not never."""
    table, _ = names
    with _locked(engine, table):
        catalog = open_catalog(_source(engine))
        started = time.monotonic()
        try:
            with pytest.raises(Exception, match=r"(?i)lock"):
                catalog.explain_rows(Query(table=(None, table)))
        finally:
            catalog.close()
        assert time.monotonic() - started < 10


def _keepalive_idle(fd: int) -> tuple[int, int]:
    sock = socket.socket(fileno=os.dup(fd))
    with sock:
        return (
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        )


def _peer_fds(port: int) -> list[int]:
    fds = []
    for entry in Path("/proc/self/fd").iterdir():
        try:
            if str(entry.readlink()).startswith("socket:"):
                with socket.socket(fileno=os.dup(int(entry.name))) as sock:
                    if sock.family == socket.AF_INET and sock.getpeername()[1] == port:
                        fds.append(int(entry.name))
        except OSError:
            continue
    return fds


def test_every_database_socket_has_keepalives(engine: Engine) -> None:
    source = _source(engine)
    conn = source.connect()
    try:
        fds = [conn.pgconn.socket] if engine.kind == "postgres" else _peer_fds(3306)
        assert fds
        assert all(_keepalive_idle(fd) == (1, 30) for fd in fds)
    finally:
        conn.close()


def _cancelled(snap: Any, read: Any) -> BaseException:
    """Run `read` in a thread, `snap.cancel()` a second later; the error it ended with (within 5 s)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            read()
        except BaseException as exc:
            failure.append(exc)

    reader = threading.Thread(target=run, daemon=True)
    reader.start()
    time.sleep(1)
    started = time.monotonic()
    snap.cancel()
    reader.join(10)
    assert not reader.is_alive(), "the statement did not end after cancel()"
    assert time.monotonic() - started < 5
    assert len(failure) == 1, "the statement ended without an error"
    return failure[0]


def test_cancel_ends_a_running_stream_with_a_transient_source_error(engine: Engine) -> None:
    sleep = "SELECT 1 AS x FROM pg_sleep(30)" if engine.kind == "postgres" else "SELECT SLEEP(30) AS x"
    with _source(engine).snapshot() as snap:
        plans = snap.plan(Query(sql=SqlText.plain("SELECT 1 AS x")), {}, "exports[s]")
        error = _cancelled(
            snap, lambda: list(snap.stream(Query(sql=SqlText.plain(sleep)), full_slice(), plans, BatchSizing(100)))
        )
    assert isinstance(error, SourceError) and error.transient, error
    assert "cancelled" in str(error)


def test_cancel_ends_a_describe_waiting_on_a_lock(engine: Engine, names: tuple[str, str]) -> None:
    table, _ = names
    patient = Tuning("balanced", 1000, 0, 300, 60, 0, 0, 0)  # the lock wait outlasts the test
    with _source(engine, patient).snapshot() as snap, _locked(engine, table):
        error = _cancelled(snap, lambda: snap.plan(Query(table=(None, table)), {}, "exports[s]"))
    assert isinstance(error, SourceError) and error.transient, error


@pytest.mark.parametrize(
    ("tls", "connects"),
    [
        ({"ca_file": "/nonexistent/ca.pem"}, False),  # a tls: block without mode asks for verify-full (as 0.7.7)
        ({"accept_invalid_certs": True}, False),  # still encrypted: require
        ({"mode": "disable"}, True),
    ],
)
def test_a_tls_block_without_mode_demands_a_verified_encrypted_connection(
    engine: Engine, tls: dict[str, Any], connects: bool
) -> None:
    """The test servers speak plain text only, so every mode that asks for TLS must refuse to connect."""
    config = SourceConfig.model_validate({"type": engine.kind, "url": engine.url, "tls": tls})
    source = open_source(config, engine.url, TUNING)
    if connects:
        source.connect().close()
        return
    with pytest.raises(SourceError) as failure:
        source.connect().close()
    assert "ssl" in str(failure.value).lower() or "tls" in str(failure.value).lower()
