"""rivet: export PostgreSQL and MySQL/MariaDB tables to Parquet/CSV on local disk, S3 or GCS.

The public API is loaded on first use (`rivet_core.run_export`, …), so `import rivet_core` stays light.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import TYPE_CHECKING, Any

# mysql-connector's C extension links the system libstdc++, which needs static TLS that pyarrow's libraries use
# up: loaded after pyarrow it fails and the driver silently falls back to pure Python. Load it first (~2 ms).
with contextlib.suppress(ImportError):
    import _mysql_connector  # noqa: F401

__version__ = "0.1.0"

if TYPE_CHECKING:
    from rivet_core.config import Config, load_config
    from rivet_core.engine import RunOptions, run_export, write_frames
    from rivet_core.errors import ConfigError, RivetError
    from rivet_core.gates import GateResult
    from rivet_core.results import CommittedUnit, ExportResult
    from rivet_core.slices import Slice

_PUBLIC = {
    "Config": "rivet_core.config",
    "load_config": "rivet_core.config",
    "RunOptions": "rivet_core.engine",
    "run_export": "rivet_core.engine",
    "write_frames": "rivet_core.engine",
    "ConfigError": "rivet_core.errors",
    "RivetError": "rivet_core.errors",
    "GateResult": "rivet_core.gates",
    "CommittedUnit": "rivet_core.results",
    "ExportResult": "rivet_core.results",
    "Slice": "rivet_core.slices",
}

__all__ = [
    "CommittedUnit",
    "Config",
    "ConfigError",
    "ExportResult",
    "GateResult",
    "RivetError",
    "RunOptions",
    "Slice",
    "__version__",
    "load_config",
    "run_export",
    "write_frames",
]


def __getattr__(name: str) -> Any:
    """The public names, each imported from its module on first use."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'rivet_core' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
