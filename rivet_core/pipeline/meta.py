"""Meta columns rivet adds to every row: `_rivet_exported_at` (one constant per run) and `_rivet_row_hash`."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from rivet_core.config import MetaColumns
from rivet_core.sources.types import ColumnPlan

EXPORTED_AT = "_rivet_exported_at"
ROW_HASH = "_rivet_row_hash"
_TIMESTAMP = pa.timestamp("us", tz="UTC")


def meta_plans(plans: list[ColumnPlan], meta: MetaColumns | None) -> list[ColumnPlan]:
    """The column plans with the configured meta columns appended."""
    extra = []
    if meta and meta.exported_at:
        extra.append(ColumnPlan(EXPORTED_AT, "rivet", "", _TIMESTAMP))
    if meta and meta.row_hash:
        extra.append(ColumnPlan(ROW_HASH, "rivet", "", pa.uint64()))
    return plans + extra


def constant(value: dt.datetime, rows: int) -> pa.Array:
    """`rows` copies of one timestamp without a Python object per row (a scalar repeated)."""
    return pa.repeat(pa.scalar(value, _TIMESTAMP), rows)


def with_meta(batch: pa.RecordBatch, meta: MetaColumns | None, exported_at: dt.datetime) -> pa.RecordBatch:
    """`batch` with `_rivet_exported_at` / `_rivet_row_hash` appended when configured."""
    if not meta or not (meta.exported_at or meta.row_hash):
        return batch
    arrays, names = list(batch.columns), list(batch.schema.names)
    if meta.exported_at:
        arrays.append(constant(exported_at, batch.num_rows))
        names.append(EXPORTED_AT)
    if meta.row_hash:
        import polars as pl  # only when hashing (start-up: most runs never load it)

        arrays.append(pl.from_arrow(batch).hash_rows(seed=0).to_arrow())  # type: ignore[union-attr]
        names.append(ROW_HASH)
    return pa.RecordBatch.from_arrays(arrays, names=names)
