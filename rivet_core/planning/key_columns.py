"""The columns an export ranges over (cursor, fallback, chunk, time column), each with the config field naming it,
checked against the columns the export's query returns — so a typo is one error naming the field, never the
database's complaint about an internal alias."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rivet_core.config import ExportConfig


@dataclass(frozen=True)
class KeyField:
    """A config field that names a column of the export's result, and that column."""

    field: str
    column: str


def key_fields(export: ExportConfig) -> list[KeyField]:
    """The key columns the export's mode reads (a chunked export's unset chunk_column comes from the primary key)."""
    named: list[tuple[str, str | None]] = []
    if export.mode == "incremental":
        named.append(("cursor_column", export.cursor_column))
        if export.incremental_cursor_mode == "coalesce":
            named.append(("cursor_fallback_column", export.cursor_fallback_column))
    elif export.mode == "chunked":
        named.append(("chunk_column", export.chunk_column))
    elif export.mode == "time_window":
        named.append(("time_column", export.time_column))
    return [KeyField(field, column) for field, column in named if column is not None]


def missing_key_columns(export: ExportConfig, columns: Iterable[str], *, case_sensitive: bool) -> list[str]:
    """One message per key field whose column the query does not return (MySQL names match in any case)."""
    names = list(columns)
    known = set(names) if case_sensitive else {n.casefold() for n in names}
    shown = ", ".join(names)
    return [
        f"exports[{export.name}].{k.field}: column {k.column!r} is not among the export's columns ({shown})"
        for k in key_fields(export)
        if (k.column if case_sensitive else k.column.casefold()) not in known
    ]
