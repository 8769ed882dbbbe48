"""Shared fixtures: the real PostgreSQL and MariaDB of the machine, config files, the `rivet` CLI as a process.

Importing this module connects to nothing and starts nothing: every server is behind a fixture and starts when a
test first uses it, so the server-free tier (tests/unit, see its conftest) collects and runs without any server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from forkserver import ForkedProcess, ForkServer, Out
from servers import azurite, gcs_emulator, moto_s3, slack  # noqa: F401  (S3, GCS, Azure servers, a Slack stand-in: on use)

import rivet_core  # noqa: F401  (first: it loads the MySQL C extension before pyarrow can)
from rivet_core.redact import forget_all

PG_URL = os.environ.get("RIVET_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("RIVET_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
RIVET = [sys.executable, "-m", "rivet_core.cli"]
DAGSTER = [sys.executable, "-m", "dagster"]  # this interpreter's (a copied venv's `dagster` script may run another)
# The suite starts hundreds of rivet and Dagster processes: let the first write the bytecode the rest reuse
# (a machine with PYTHONDONTWRITEBYTECODE set would recompile every rivet module in each of them).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
_FORKS = {program: ForkServer(program) for program in ("rivet", "dagster")}  # each started on first use


# The files that take longest, longest first (wall seconds summed per file from `pytest --durations=0`, measured
# 2026-12-04). xdist hands out whole files in collection order (`--dist loadfile --no-loadscope-reorder`), so these
# start at once and the many short files fill in behind them rather than a long one ending the run alone.
LONGEST_FILES = [
    "faults/test_object_store_faults.py",
    "test_exactly_once.py",
    "test_object_stores.py",
    "test_scale_out.py",
    "test_dagster_component.py",
    "faults/test_database_faults.py",
    "test_secrets.py",
    "test_lease.py",
    "test_pg_export.py",
    "test_edge_values.py",
    "test_dagster_partitions.py",
    "test_dagster_mysql.py",
    "test_gates.py",
    "test_dagster.py",
    "test_demo.py",
    "test_late_commit.py",
    "test_chunked.py",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests of the LONGEST_FILES first, in that order; every other file after them, in collection order."""
    here = Path(__file__).parent
    rank = {here / name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path, len(rank)))  # stable: the collection's order within a file


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Each test starts with an empty secret registry (one test's password must not mask another's messages)."""
    yield
    forget_all()


@pytest.fixture
def pg_url() -> str:
    return PG_URL


@pytest.fixture
def pg() -> Iterator[Any]:
    """An autocommit psycopg connection to the test database."""
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        yield conn


@pytest.fixture
def mysql_url() -> str:
    return MYSQL_URL


@pytest.fixture
def mysql() -> Iterator[Any]:
    """An autocommit mysql-connector connection to the test database."""
    import mysql.connector

    conn = mysql.connector.connect(
        host="127.0.0.1", port=3306, user="root", password="", database="test", autocommit=True
    )
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def table_name() -> str:
    """A unique table name, so tests never collide with each other or with earlier runs."""
    return f"t_{uuid.uuid4().hex[:10]}"


def write_config(folder: Path, text: str, name: str = "rivet.yaml") -> Path:
    """Write a rivet.yaml (dedented) into `folder` and return its path."""
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `rivet ARGS` as a separate process (exit codes and stderr exactly as a user sees them), forked from one
    that imported rivet once (tests/forkserver.py) unless the environment changes how Python starts."""
    return _run(_FORKS["rivet"], RIVET, args, cwd, env, timeout)


def run_dagster(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `dagster ARGS` as `run_cli` runs rivet: a separate process, forked from one that imported Dagster and
    rivet_dagster once."""
    return _run(_FORKS["dagster"], DAGSTER, args, cwd, env, timeout)


CliProcess = subprocess.Popen[str] | ForkedProcess


def start_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, stdout: Out = None, stderr: Out = None
) -> CliProcess:
    """Start `rivet ARGS` as `subprocess.Popen(..., text=True)` would (the caller waits, signals or kills it by its
    `pid`), forked like `run_cli`'s commands."""
    return _start(_FORKS["rivet"], RIVET, args, cwd, env, stdout, stderr)


def start_dagster(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, stdout: Out = None, stderr: Out = None
) -> CliProcess:
    """Start `dagster ARGS` as `start_cli` starts rivet."""
    return _start(_FORKS["dagster"], DAGSTER, args, cwd, env, stdout, stderr)


def _run(
    forks: ForkServer, argv: list[str], args: tuple[str, ...], cwd: Path | None, env: dict[str, str] | None,
    timeout: float,
) -> subprocess.CompletedProcess[str]:  # fmt: skip
    full_env = {**os.environ, **(env or {})}
    if forks.usable(full_env):
        return forks.run([*argv, *args], list(args), cwd, full_env, timeout)
    return subprocess.run([*argv, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def _start(
    forks: ForkServer, argv: list[str], args: tuple[str, ...], cwd: Path | None, env: dict[str, str] | None,
    stdout: Out, stderr: Out,
) -> CliProcess:  # fmt: skip
    full_env = {**os.environ, **(env or {})}
    if forks.usable(full_env):
        return forks.popen([*argv, *args], list(args), cwd, full_env, stdout, stderr)
    return subprocess.Popen([*argv, *args], cwd=cwd, env=full_env, stdout=stdout, stderr=stderr, text=True)
