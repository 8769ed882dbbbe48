"""Writer options resolved from an export's config, and the Parquet row groups they produce."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rivet_core.config import parse_config
from rivet_core.destinations.local import LocalDestination
from rivet_core.writers import FormatOptions, RollingWriter, format_options


def options_for(tmp_path: Path, **export: Any) -> Any:
    doc = {
        "source": {"type": "postgres", "url": "postgresql://u@h/db"},
        "exports": [{"name": "e", "table": "t", "format": "parquet", "destination": {"type": "local", "path": "."},
                     **export}],
    }  # fmt: skip
    config = parse_config(doc, base_dir=tmp_path)
    return format_options(config.exports[0])


@pytest.mark.parametrize(
    ("export", "compression", "level"),
    [
        ({"compression_profile": "compact"}, "zstd", 9),
        ({"compression": "gzip", "compression_profile": "fast"}, "snappy", None),  # the profile wins (0.7.7)
        ({"compression": "snappy", "compression_profile": "compact"}, "zstd", 9),
        ({"compression_profile": "none"}, "none", None),
        ({"compression_level": 5, "compression_profile": "balanced"}, "zstd", 3),
        ({}, "zstd", 3),
        ({"compression": "gzip"}, "gzip", 6),
        ({"format": "csv"}, "none", None),
        ({"format": "csv", "compression": "gzip"}, "gzip", 6),
    ],
)
def test_compression_and_level(tmp_path: Path, export: dict[str, Any], compression: str, level: int | None) -> None:
    opts = options_for(tmp_path, **export)
    assert (opts.compression, opts.compression_level) == (compression, level)


def test_row_group_sizes(tmp_path: Path) -> None:
    default_rows = options_for(tmp_path, parquet={"row_group_strategy": "fixed_rows"})
    assert (default_rows.row_group_rows, default_rows.row_group_bytes) == (1_048_576, None)
    fixed = options_for(tmp_path, parquet={"row_group_strategy": "fixed_rows", "row_group_rows": 1000})
    assert (fixed.row_group_rows, fixed.row_group_bytes) == (1000, None)  # rows only, whatever their size
    assert options_for(tmp_path).row_group_bytes == 32 << 20
    assert (
        options_for(tmp_path, parquet={"target_row_group_mb": 128, "max_row_group_mb": 16}).row_group_bytes == 16 << 20
    )
    assert options_for(tmp_path, max_file_size="4MB").row_group_bytes == 2 << 20

    dest = LocalDestination(tmp_path)
    schema = pa.schema([("id", pa.int64())])
    writer = RollingWriter(schema, fixed, "out/e", lambda key: (key, dest.open_write(key)))
    for start in range(0, 2500, 500):
        writer.write(pa.record_batch([pa.array(range(start, start + 500), pa.int64())], schema=schema))
    (part,) = writer.finish(write_empty=False)
    meta = pq.ParquetFile(tmp_path / part.temp_key).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [1000, 1000, 500]
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_fixed_rows_groups_count_rows_whatever_their_bytes(tmp_path: Path) -> None:
    """fixed_rows as 0.7.7: `row_group_rows` rows per group, even past target_row_group_mb of Arrow data."""
    opts = options_for(tmp_path, parquet={"row_group_strategy": "fixed_rows", "row_group_rows": 1000,
                                          "target_row_group_mb": 1})  # fmt: skip
    dest = LocalDestination(tmp_path)
    schema = pa.schema([("text", pa.string())])
    writer = RollingWriter(schema, opts, "out/wide", lambda key: (key, dest.open_write(key)))
    for _ in range(10):
        writer.write(pa.record_batch([pa.array(["x" * 4096] * 250)], schema=schema))  # 1000 rows = 4 MiB
    (part,) = writer.finish(write_empty=False)
    meta = pq.ParquetFile(tmp_path / part.temp_key).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [1000, 1000, 500]


def test_parts_are_named_part0_part1_only_when_there_are_several(tmp_path: Path) -> None:
    """0.7.7's names: one part is `<stem>.<ext>`; a rolled output is `<stem>_part0.<ext>`, `_part1`, … (0-based)."""
    dest = LocalDestination(tmp_path)
    schema = pa.schema([("id", pa.int64())])

    def written(limit: int | None) -> list[str]:
        opts = FormatOptions("csv", compression="none", max_file_size=limit)
        writer = RollingWriter(schema, opts, f"out/e{limit}", lambda key: (f"tmp/{key}", dest.open_write(f"tmp/{key}")))
        for start in range(0, 30_000, 10_000):
            writer.write(pa.record_batch([pa.array(range(start, start + 10_000), pa.int64())], schema=schema))
        parts = writer.finish(write_empty=False)
        assert sum(p.rows for p in parts) == 30_000
        assert all((tmp_path / p.temp_key).stat().st_size == p.bytes for p in parts)
        return [p.final_key for p in parts]

    assert written(None) == ["out/eNone.csv"]
    assert written(60_000) == ["out/e60000_part0.csv", "out/e60000_part1.csv", "out/e60000_part2.csv"]
