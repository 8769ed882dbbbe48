"""Server-free: the one JSON form of a slice round-trips; manifests written before it stay readable; key layout."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rivet_core.commit import Layout, Manifest, data_stem, unit_id
from rivet_core.planning import chunk_key
from rivet_core.planning.windows import window_slice
from rivet_core.slices import Slice, chunk_slice, cursor_slice, full_slice

NOW = dt.datetime(2026, 11, 1, 13, 5, 6, 789, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "slc",
    [
        full_slice(),
        cursor_slice("updated_at", dt.datetime(2026, 1, 1, 5, tzinfo=dt.UTC), "created_at"),
        cursor_slice("id", None),
        chunk_slice("id", 3, 300, 399),
        chunk_slice("day", 0, dt.date(2026, 1, 1), dt.date(2026, 1, 8), False),
        chunk_slice("amount", 1, Decimal("1.50"), Decimal("9.25")),
        window_slice("ts", dt.datetime(2026, 11, 1, 13), "hour"),
        window_slice("ts", dt.datetime(2026, 11, 1), "day", unix=True),
    ],
)
def test_slice_json_round_trips(slc: Slice) -> None:
    assert Slice.from_json(slc.to_json()) == slc


def test_slice_keys_and_typed_chunk_index() -> None:
    assert chunk_slice("id", 7, 700, 799).key == "chunk7" and chunk_slice("id", 7, 700, 799).chunk_index == 7
    assert window_slice("ts", dt.datetime(2026, 11, 1, 13), "hour").key == "2026-11-01-13:00"
    assert cursor_slice("id", 5).ordered and not full_slice().ordered
    with pytest.raises(ValueError):
        _ = full_slice().chunk_index
    assert chunk_key(-5) == "-0000000000000000005" and chunk_key(30) == "00000000000000000030"


def test_a_manifest_written_before_slice_kinds_is_readable() -> None:
    old = {
        "bytes": 10, "compression": "zstd", "created_at": "2026-01-01T00:00:00+00:00", "destination": "/out",
        "export": "ev", "format": "parquet", "row_count": 2, "run_id": "r1", "rivet_version": "0.1.0",
        "schema": [{"name": "id", "type": "int64"}], "schema_fingerprint": "sha256:ab", "status": "committed",
        "unit_id": "20260101_000000_000000_r1_chunk2", "source": {"engine": "postgres", "table": "t", "query": "t"},
        "slice": {"key": "chunk2", "column": "id", "lo": 200, "hi": 299}, "chunk_run": "r1",
        "parts": [{"key": "ev_20260101_000000_chunk2.parquet", "rows": 2, "bytes": 10, "fingerprint": "sha256:cd"}],
    }  # fmt: skip
    manifest = Manifest.from_json(old)
    assert manifest.slice == chunk_slice("id", 2, 200, 299) and manifest.slice.chunk_index == 2
    doc = manifest.to_json()
    assert set(old) <= set(doc) and {k: doc[k] for k in old if k != "slice"} == {
        k: v for k, v in old.items() if k != "slice"
    }
    assert {k: doc["slice"][k] for k in old["slice"]} == old["slice"]


def test_layout_names_every_key() -> None:
    layout = Layout("ev")
    uid = unit_id(NOW, "abc", chunk_slice("id", 2, 200, 299))
    assert uid == "20261101_130506_000789_abc_chunk2"
    assert layout.manifest_key(uid) == f"_rivet/ev/units/{uid}/manifest.json"
    assert layout.success_key(uid) == f"_rivet/ev/units/{uid}/_SUCCESS"
    assert layout.intent_key(uid) == f"_rivet/ev/units/{uid}/intent.json"
    assert layout.owner_key(uid) == f"_rivet/ev/owners/{uid}.json"
    assert layout.unit(uid).temp_key("a/b.parquet") == f"_rivet/ev/_tmp/{uid}/a/b.parquet"
    assert layout.reset_key == "_rivet/ev/reset.json"
    assert data_stem("data", "ev", NOW, chunk_slice("id", 2, 200, 299)) == "data/ev_20261101_130506_chunk2"
    window = window_slice("ts", dt.datetime(2026, 11, 1, 13), "hour")
    assert data_stem("", "ev", NOW, window) == "window=2026-11-01-1300/ev_20261101_130506"
