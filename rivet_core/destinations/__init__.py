"""Destinations: local folder, S3, GCS behind one base class (base.py); placeholders resolved here."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rivet_core.config import GcsDestinationConfig, LocalDestinationConfig, S3DestinationConfig
from rivet_core.destinations.base import Destination, Sink
from rivet_core.destinations.gcs import GcsDestination
from rivet_core.destinations.local import LocalDestination
from rivet_core.destinations.object_store import ObjectStore
from rivet_core.destinations.s3 import S3Destination
from rivet_core.destinations.timeouts import StoreTimeouts

__all__ = [
    "Destination",
    "GcsDestination",
    "LocalDestination",
    "ObjectStore",
    "Placement",
    "S3Destination",
    "Sink",
    "StoreTimeouts",
    "expand",
    "open_destination",
    "split_stable",
]

_VARYING = ("{date}", "{run_id}")


@dataclass(frozen=True)
class Placement:
    """A destination opened at its stable root, plus the sub-path (with {date}/{run_id}) where data goes."""

    destination: Destination
    data_prefix: str


def expand(template: str, export: str, table: str, run_id: str, now: dt.datetime) -> str:
    """Replace {export}, {table}, {date} (YYYY-MM-DD, UTC) and {run_id} in a path or prefix."""
    values = {"export": export, "table": table, "date": now.strftime("%Y-%m-%d"), "run_id": run_id}
    return re.sub(r"\{(export|table|date|run_id)\}", lambda m: values[m.group(1)], template)


def split_stable(template: str) -> tuple[str, str]:
    """Split a path template before the first segment that varies per run ({date}, {run_id})."""
    parts = template.split("/")
    for i, part in enumerate(parts):
        if any(v in part for v in _VARYING):
            return "/".join(parts[:i]), "/".join(parts[i:])
    return template, ""


def open_destination(
    config: LocalDestinationConfig | S3DestinationConfig | GcsDestinationConfig,
    export: str,
    table: str,
    run_id: str,
    now: dt.datetime,
    base_dir: Path,
    client: Any = None,
) -> Placement:
    """The destination of an export, rooted at the stable part of its path/prefix.

    `client`: an S3/GCS client made by the caller (e.g. a Dagster resource's), used instead of the config's own.
    """
    template = config.path if isinstance(config, LocalDestinationConfig) else config.prefix.strip("/")
    stable, varying = split_stable(template)
    stable = expand(stable, export, table, run_id, now)
    data_prefix = expand(varying, export, table, run_id, now)
    destination: Destination
    match config:
        case LocalDestinationConfig():
            root = Path(stable or ".")
            destination = LocalDestination(root if root.is_absolute() else base_dir / root)
        case S3DestinationConfig():
            destination = S3Destination(config, stable, client=client)
        case GcsDestinationConfig():
            destination = GcsDestination(config, stable, base_dir, client)
    return Placement(destination, data_prefix)
