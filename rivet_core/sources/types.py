"""What every engine's type mapping shares (README: Types): `ColumnPlan`, the export's schema, decimal widths.

A source describes each result column; its engine's `types.py` turns that into a `ColumnPlan`: which SQL
expression reads it (a server-side cast to text where Arrow has no faithful type) and which Arrow type it is
written as.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from rivet_core.errors import ConfigError

# Timestamps/dates outside Arrow's usual range (Postgres ±infinity) are clamped to these (README: Types).
TS_MAX = "9999-12-31 23:59:59.999999"
TS_MIN = "0001-01-01 00:00:00"
DATE_MAX = "9999-12-31"
DATE_MIN = "0001-01-01"


class UnmappedColumn(ConfigError):
    """A column with no faithful Arrow type and no `columns:` override (names it, so `rivet check` can list all)."""

    def __init__(self, message: str, column: str) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class ColumnPlan:
    """How one column is read: `expr` in the SELECT list, the Arrow type written, whether to cast client-side."""

    name: str
    source_type: str
    expr: str
    arrow_type: pa.DataType
    cast: bool = False


def target_schema(plans: list[ColumnPlan]) -> pa.Schema:
    """The schema every batch of the export is written with."""
    return pa.schema([pa.field(p.name, p.arrow_type) for p in plans])
