"""The cursor rule: an incremental run continues after the newest committed cursor since the last reset.

The destination's manifests are the truth; the state store's cached cursor is only checked against them
(docs/cursor.md).
"""

from __future__ import annotations

import logging
from typing import Any

from rivet_core.commit import Manifest, since_reset
from rivet_core.config import ExportConfig
from rivet_core.destinations.base import Destination
from rivet_core.errors import StateError
from rivet_core.slices import Slice, cursor_slice, encode_value
from rivet_core.state import StateStore

log = logging.getLogger("rivet")


def cursor_label(export: ExportConfig) -> str:
    """The cursor's name in manifests and state: the column, or `coalesce(column,fallback)`."""
    assert export.cursor_column
    if export.cursor_fallback_column and export.incremental_cursor_mode == "coalesce":
        return f"coalesce({export.cursor_column},{export.cursor_fallback_column})"
    return export.cursor_column


def cursor_plan(export: ExportConfig, after: Any) -> Slice:
    """The incremental slice: rows whose cursor (or its coalesce fallback) is past `after`."""
    assert export.cursor_column
    fallback = export.cursor_fallback_column if export.incremental_cursor_mode == "coalesce" else None
    return cursor_slice(export.cursor_column, after, fallback)


def committed_cursor(dest: Destination, export: str, units: list[Manifest] | None = None) -> Manifest | None:
    """The newest manifest since the last `rivet state reset` that carries a cursor, or None."""
    with_cursor = [m for m in since_reset(dest, export, units) if m.cursor is not None]
    return with_cursor[-1] if with_cursor else None


def stored_cursor(export: ExportConfig, dest: Destination, state: StateStore) -> Any:
    """The cursor to continue from; StateError when it belongs to another column than the config's."""
    name, label = export.name, cursor_label(export)
    latest = committed_cursor(dest, name)
    cached = state.cursor(name)
    columns = ([latest.cursor.column] if latest and latest.cursor else []) + ([cached[0]] if cached else [])
    for column in columns:
        if column != label:
            raise StateError(
                f"exports[{name}].cursor_column: the stored cursor belongs to {column!r}, the config says "
                f"{label!r}; run `rivet state reset -c <config> -e {name}` to start over with the new column"
            )
    if latest is None or latest.cursor is None:
        if cached and cached[1] is not None:
            log.info("%s: state has a cursor but the destination has no committed data; exporting from start", name)
        return None
    value = latest.cursor.value
    if not cached or cached[1] != encode_value(value):
        log.info("%s: cursor recovered from the destination manifest %s", name, latest.unit_id)
    return value
