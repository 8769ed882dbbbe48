"""`_rivet_row_hash` as rivet-cli 0.7.7: xxh3-128's low 64 bits (signed) over the values' text joined by 0x1f."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import xxhash

from rivet_core.config import MetaColumn
from rivet_core.pipeline.meta import row_hashes, with_meta


def expected(*fields: bytes) -> int:
    low = xxhash.xxh3_128_intdigest(b"\x1f".join(fields)) & (2**64 - 1)
    return low - 2**64 if low >= 2**63 else low


def test_values_nulls_and_floats_hash_as_their_text() -> None:
    batch = pa.record_batch(
        [pa.array([1, 2]), pa.array(["a", None]), pa.array([1e16, 0.5]), pa.array([True, None])],
        names=["id", "s", "f", "b"],
    )
    assert row_hashes(batch).to_pylist() == [
        expected(b"1", b"a", b"1e16", b"true"),
        expected(b"2", b"\x00", b"0.5", b"\x00"),  # NULL is the byte 0x00
    ]


def test_meta_columns_go_last_in_order_with_their_types() -> None:
    batch = pa.record_batch([pa.array([7])], names=["id"])
    meta = (MetaColumn("_rivet_exported_at", "timestamp_us_utc"), MetaColumn("_rivet_row_hash", "int64"))
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    out = with_meta(batch, meta, now)
    assert out.schema.names == ["id", "_rivet_exported_at", "_rivet_row_hash"]
    assert out.schema.field("_rivet_row_hash").type == pa.int64()
    assert out.column(1).to_pylist() == [now] and out.column(2).to_pylist() == [expected(b"7")]
