"""Error kinds and the exit codes they map to: 0 ok, 1 failed, 2 usage/config, 3 degraded (docs/exit-codes.md)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DEGRADED = 3


class RivetError(Exception):
    """Base of every error rivet reports to a user: one clear message, no traceback."""

    exit_code = EXIT_FAILED


class ConfigError(RivetError):
    """The config file or a CLI flag is wrong; the message names the field and what would be valid."""

    exit_code = EXIT_USAGE


class SourceError(RivetError):
    """The source database refused or failed a statement; `transient` ones are retried on a new connection."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class DestinationError(RivetError):
    """The destination could not be written or read."""


class GateFailed(RivetError):
    """An error-level gate (quality, reconcile, drift, validate) failed; `details` holds its numbers."""

    def __init__(self, gate: str, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.gate = gate
        self.details = details or {}


class StateError(RivetError):
    """The state store disagrees with the request (e.g. cursor column changed without `rivet state reset`)."""
