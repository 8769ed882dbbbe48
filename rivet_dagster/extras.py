"""Optional packages of the Dagster integration, named by the extra that installs them (README "Install")."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

DISTRIBUTION = "rivet-export"


class MissingExtraError(ImportError):
    """A feature needs a package of an extra that is not installed."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import an optional module; a missing one raises the `pip install` line of its extra."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or module.split(".")[0] != exc.name.split(".")[0]:
            raise
        raise MissingExtraError(
            f"{feature} needs {module.split('.')[0]}, which is not installed: pip install '{DISTRIBUTION}[{extra}]'"
        ) from None


def store_client(resource: Any, field: str, kind: str) -> Any:
    """The client of a given dagster-aws S3Resource / dagster-gcp GCSResource (None: rivet builds its own)."""
    if resource is None:
        return None
    if not callable(getattr(resource, "get_client", None)):
        raise TypeError(
            f"{field}: expected a {'dagster-aws S3Resource' if kind == 's3' else 'dagster-gcp GCSResource'} "
            f"(pip install '{DISTRIBUTION}[{kind}]'), got {type(resource).__name__}"
        )
    return resource.get_client()
