"""Sources: one package per database engine (`postgres/`, `mysql/`) behind the `Source` base class of `base.py`.

`open_source` (registry) picks the engine's class; `sql` builds the statements every engine shares.
"""

from __future__ import annotations

from rivet_core.sources import sql
from rivet_core.sources.registry import open_source, register

__all__ = ["open_source", "register", "sql"]
