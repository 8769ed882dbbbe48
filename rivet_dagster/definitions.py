"""`defs` of the Dagster code location, built from `$RIVET_CONFIG` (default `./rivet.yaml`, relative to the cwd)."""

from __future__ import annotations

import os

from rivet_dagster._engine import ConfigError
from rivet_dagster.assets import build_definitions

try:
    defs = build_definitions(os.environ.get("RIVET_CONFIG", "rivet.yaml"))
except ConfigError as exc:
    raise ConfigError(f"{exc}\n(rivet_dagster loads $RIVET_CONFIG, default ./rivet.yaml here)") from None
