"""Destinations: local folder, S3, GCS behind one protocol; placeholders resolved here."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rivet_core.destinations.base import Destination

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
    config: object, export: str, table: str, run_id: str, now: dt.datetime, base_dir: Path, client: Any = None
) -> Placement:
    """The destination of an export, rooted at the stable part of its path/prefix.

    `client`: an S3/GCS client made by the caller (e.g. a Dagster resource's), used instead of the config's own.
    """
    kind = config.type  # type: ignore[attr-defined]
    template = config.path if kind == "local" else config.prefix  # type: ignore[attr-defined]
    stable, varying = split_stable(template.strip("/") if kind != "local" else template)
    stable = expand(stable, export, table, run_id, now)
    data_prefix = expand(varying, export, table, run_id, now)
    if kind == "local":
        from rivet_core.destinations.local import LocalDestination

        root = Path(stable or ".")
        return Placement(LocalDestination(root if root.is_absolute() else base_dir / root), data_prefix)
    if kind == "s3":
        from rivet_core.destinations.s3 import S3Destination

        return Placement(S3Destination(config, stable, client=client), data_prefix)  # type: ignore[arg-type]
    from rivet_core.destinations.gcs import GcsDestination

    return Placement(GcsDestination(config, stable, base_dir, client), data_prefix)  # type: ignore[arg-type]
