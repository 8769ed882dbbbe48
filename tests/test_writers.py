"""Writer options resolved from an export's config, and the Parquet row groups they produce."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rivet_core.config import parse_config
from rivet_core.destinations.local import LocalDestination
from rivet_core.writers import RollingWriter, format_options


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
        ({"compression": "gzip", "compression_profile": "fast"}, "gzip", 1),
        ({"compression": "snappy", "compression_profile": "compact"}, "snappy", None),
        ({"compression_profile": "none"}, "none", None),
        ({"compression_level": 5, "compression_profile": "fast"}, "zstd", 5),
        ({"format": "csv"}, "none", None),
        ({"format": "csv", "compression": "gzip"}, "gzip", None),
    ],
)
def test_compression_and_level(tmp_path: Path, export: dict[str, Any], compression: str, level: int | None) -> None:
    opts = options_for(tmp_path, **export)
    assert (opts.compression, opts.compression_level) == (compression, level)


def test_row_group_sizes(tmp_path: Path) -> None:
    assert options_for(tmp_path, parquet={"row_group_strategy": "fixed_rows"}).row_group_rows == 122_880
    fixed = options_for(tmp_path, parquet={"row_group_strategy": "fixed_rows", "row_group_rows": 1000})
    assert fixed.row_group_rows == 1000
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
