"""Small pieces doctor and check share: an export's destination root, a redacted one-line error."""

from __future__ import annotations

import datetime as dt

from rivet_core.config import Config, ExportConfig
from rivet_core.destinations import open_destination
from rivet_core.destinations.base import Destination
from rivet_core.redact import redact


def export_destination(config: Config, export: ExportConfig, run_id: str) -> Destination:
    """The destination root of an export, opened (credentials resolved) but not written."""
    table = export.source_table[1] if export.source_table else export.name
    placement = open_destination(
        export.destination, export.name, table, run_id, dt.datetime.now(dt.UTC), config.base_dir
    )
    return placement.destination


def one_line(exc: BaseException) -> str:
    """The first line of an error, redacted (the type name when it has no text)."""
    text = str(exc).strip()
    return redact(text.splitlines()[0] if text else type(exc).__name__)
