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
from forkserver import ForkServer
from servers import azurite, gcs_emulator, moto_s3, slack  # noqa: F401  (S3, GCS, Azure servers, a Slack stand-in: on use)

import rivet_core  # noqa: F401  (first: it loads the MySQL C extension before pyarrow can)
from rivet_core.redact import forget_all

PG_URL = os.environ.get("RIVET_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("RIVET_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
RIVET = [sys.executable, "-m", "rivet_core.cli"]
# The suite starts hundreds of rivet and Dagster processes: let the first write the bytecode the rest reuse
# (a machine with PYTHONDONTWRITEBYTECODE set would recompile every rivet module in each of them).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
_FORKS = ForkServer()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with slow Dagster tests first, then files with other slow tests: xdist hands out whole files in this
    order (`--dist loadfile`), so the longest start at once rather than end the run alone."""
    weight: dict[Path, int] = {}
    for item in items:
        slow, dagster = item.get_closest_marker("slow"), item.get_closest_marker("dagster")
        weight[item.path] = max(weight.get(item.path, 0), 2 if slow and dagster else 1 if slow else 0)
    items.sort(key=lambda item: -weight[item.path])  # stable: the collection's order within a weight


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
    full_env = {**os.environ, **(env or {})}
    if _FORKS.usable(full_env):
        return _FORKS.run([*RIVET, *args], list(args), cwd, full_env, timeout)
    return subprocess.run([*RIVET, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
