"""Rules of the unit tier: every test here is marked `unit`, bounded in time, and may not use a server fixture.

Each folder below tests/unit is a package (an `__init__.py`), so two areas may hold test files of the same name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

# Fixtures that reach a database or start a server process (tests/conftest.py, servers.py, engines.py,
# pgbouncer.py). A test that needs one belongs in the real-server tier (tests/*.py).
SERVER_FIXTURES = frozenset(
    {"pg", "pg_url", "mysql", "mysql_url", "engine", "moto_s3", "gcs_emulator", "azurite", "slack", "pgbouncer"}
)
UNIT_TIMEOUT_S = 60


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark and bound the unit tests; refuse the run when one of them asks for a server."""
    misplaced = []
    for item in items:
        if not item.path.is_relative_to(HERE):
            continue
        item.add_marker(pytest.mark.unit)
        item.add_marker(pytest.mark.timeout(UNIT_TIMEOUT_S))
        used = SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if used:
            misplaced.append(f"{item.nodeid} uses {', '.join(sorted(used))}")
    if misplaced:
        raise pytest.UsageError("unit tests must not use a server (move them to tests/): " + "; ".join(misplaced))


def pytest_collect_directory(path: Path, parent: pytest.Collector) -> None:
    """A folder of tests/unit without `__init__.py` is an error here, not a confusing module-name clash later."""
    if path.is_relative_to(HERE) and any(path.glob("*.py")) and not (path / "__init__.py").exists():
        raise pytest.UsageError(f"{path} has no __init__.py (every folder under tests/unit must be a package)")
