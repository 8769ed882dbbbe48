"""Error kinds map to the documented exit codes (docs/exit-codes.md)."""

from __future__ import annotations

import pytest

from rivet_core.errors import (
    EXIT_DEGRADED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    ConfigError,
    DestinationError,
    GateFailed,
    RivetError,
    SourceError,
    StateError,
)


def test_exit_code_values() -> None:
    assert (EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DEGRADED) == (0, 1, 2, 3)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError("exports[0].mode: …"), EXIT_USAGE),
        (SourceError("connection refused", transient=True), EXIT_FAILED),
        (DestinationError("bucket missing"), EXIT_FAILED),
        (GateFailed("reconcile", "3 rows missing"), EXIT_FAILED),
        (StateError("cursor column changed"), EXIT_FAILED),
    ],
)
def test_every_kind_is_a_rivet_error_with_its_exit_code(error: RivetError, code: int) -> None:
    assert isinstance(error, RivetError)
    assert error.exit_code == code


def test_source_error_is_permanent_unless_said() -> None:
    assert SourceError("syntax error").transient is False
    assert SourceError("server closed the connection", transient=True).transient is True


def test_gate_failed_keeps_its_gate_and_numbers() -> None:
    error = GateFailed("row_count_min", "row_count_min: 0 < 1", {"expected": 1, "actual": 0})
    assert (error.gate, error.details, str(error)) == (
        "row_count_min",
        {"expected": 1, "actual": 0},
        "row_count_min: 0 < 1",
    )
    assert GateFailed("schema_drift", "drift").details == {}
