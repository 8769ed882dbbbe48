"""Parquet dictionaries only where values repeat (`dictionary_columns`): judged on a part's first batch."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from rivet_core.writers import FormatOptions, RollingWriter, dictionary_columns

N = 1000


def batch() -> pa.RecordBatch:
    return pa.record_batch(
        {
            "id": pa.array(range(N), pa.int64()),
            "kind": pa.array([["a", "b", "c"][i % 3] for i in range(N)]),
            "note": pa.array([f"note {i}" for i in range(N)]),
            "empty": pa.array([None] * N, pa.string()),
            "flag": pa.array([i % 2 == 0 for i in range(N)]),
            "tags": pa.array([[i % 2] for i in range(N)], pa.list_(pa.int64())),
        }
    )


def test_repeating_columns_get_a_dictionary_unique_ones_do_not() -> None:
    assert dictionary_columns(batch()) == ["kind", "empty"]  # bools and nested columns are never asked for


def test_the_written_file_encodes_only_the_repeating_columns_with_a_dictionary() -> None:
    out = io.BytesIO()
    out.close = lambda: None  # type: ignore[method-assign]  # read the bytes after the part closes
    writer = RollingWriter(batch().schema, FormatOptions("parquet"), "x", lambda key: (key, out))
    writer.write(batch())
    writer.finish(write_empty=False)
    meta = pq.ParquetFile(io.BytesIO(out.getvalue())).metadata
    encoded = {meta.schema.column(i).path: meta.row_group(0).column(i).encodings for i in range(meta.num_columns)}
    assert "RLE_DICTIONARY" in encoded["kind"]
    assert "RLE_DICTIONARY" not in encoded["id"] and "RLE_DICTIONARY" not in encoded["note"]
    assert pq.read_table(io.BytesIO(out.getvalue())).to_pylist() == pa.Table.from_batches([batch()]).to_pylist()


def test_an_empty_part_still_writes_a_readable_file() -> None:
    out = io.BytesIO()
    out.close = lambda: None  # type: ignore[method-assign]
    writer = RollingWriter(batch().schema, FormatOptions("parquet"), "x", lambda key: (key, out))
    writer.finish(write_empty=True)
    assert pq.read_table(io.BytesIO(out.getvalue())).schema.names == batch().schema.names
