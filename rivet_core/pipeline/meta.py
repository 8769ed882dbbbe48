"""Meta columns rivet adds to every row (`ExportConfig.meta_column_list`): `_rivet_exported_at`, one timestamp
per run, and `_rivet_row_hash`, int64 as rivet-cli 0.7.7: the low 64 bits of xxh3-128 over the row's values as
text joined by 0x1f, a NULL as the byte 0x00. A value's text is its CSV text (`writers.csv_frame`)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import xxhash

from rivet_core.config import EXPORTED_AT, ROW_HASH, MetaColumn
from rivet_core.sources.types import ColumnPlan
from rivet_core.writers import csv_frame, exact_decimals

_SEPARATOR = "\x1f"
_NULL = "\x00"
_LOW_64 = (1 << 64) - 1


def meta_plans(plans: list[ColumnPlan], meta: tuple[MetaColumn, ...]) -> list[ColumnPlan]:
    """The column plans with the configured meta columns appended."""
    return plans + [ColumnPlan(column.name, "rivet", "", column.arrow_type()) for column in meta]


def constant(value: dt.datetime, rows: int) -> pa.Array:
    """`rows` copies of one timestamp without a Python object per row (a scalar repeated)."""
    return pa.repeat(pa.scalar(value, pa.timestamp("us", tz="UTC")), rows)


def row_hashes(batch: pa.RecordBatch) -> pa.Array:
    """`_rivet_row_hash` of each row of `batch` (see the module doc), as signed int64."""
    import polars as pl  # only when hashing (start-up: most runs never load it)

    texts = csv_frame(pl.from_arrow(exact_decimals(batch)))  # type: ignore[arg-type]
    fields = [pl.col(name).cast(pl.String).fill_null(_NULL) for name in texts.columns]
    rows = texts.select(pl.concat_str(fields, separator=_SEPARATOR)).to_series().to_list()
    digest = xxhash.xxh3_128_intdigest
    low = np.fromiter((digest(row.encode()) & _LOW_64 for row in rows), dtype=np.uint64, count=len(rows))
    return pa.array(low.view(np.int64))


def with_meta(batch: pa.RecordBatch, meta: tuple[MetaColumn, ...], exported_at: dt.datetime) -> pa.RecordBatch:
    """`batch` with the configured meta columns appended, in their order."""
    if not meta:
        return batch
    arrays, names = list(batch.columns), list(batch.schema.names)
    for column in meta:
        if column.name == EXPORTED_AT:
            arrays.append(constant(exported_at, batch.num_rows))
        else:
            assert column.name == ROW_HASH
            arrays.append(row_hashes(batch))
        names.append(column.name)
    return pa.RecordBatch.from_arrays(arrays, names=names)
