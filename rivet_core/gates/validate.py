"""Validate gate: read back what was committed (manifest, `_SUCCESS`, each part's size, hash and rows)."""

from __future__ import annotations

import gzip
import hashlib
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rivet_core.commit import Layout, Manifest, success_line
from rivet_core.destinations.base import Destination


def _rows_in(dest: Destination, key: str, fmt: str) -> int:
    with dest.open_read(key) as f:
        if fmt == "parquet":
            return pq.ParquetFile(f).metadata.num_rows
        stream: Any = f
        if key.endswith(".gz"):
            stream = gzip.GzipFile(fileobj=f)
        elif key.endswith(".zst"):
            stream = pa.CompressedInputStream(f, "zstd")
        import polars as pl  # CSV only (start-up: most runs never load it)

        return pl.read_csv(stream.read(), infer_schema=False).height


def _digest(dest: Destination, key: str) -> str:
    digest = hashlib.sha256()
    with dest.open_read(key) as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def validate_unit(dest: Destination, export: str, unit_id: str) -> list[str]:
    """Problems found re-reading one committed unit of `export` (empty: it reads back as recorded)."""
    layout = Layout(export)
    manifest_key, success_key = layout.manifest_key(unit_id), layout.success_key(unit_id)
    if dest.size(manifest_key) is None:
        return [f"manifest missing: {dest.uri(manifest_key)}"]
    body = dest.read_bytes(manifest_key)
    manifest = Manifest.loads(body)
    problems = []
    if dest.size(success_key) is None or dest.read_bytes(success_key).strip() != success_line(body).strip():
        problems.append(f"_SUCCESS missing or not matching the manifest: {dest.uri(success_key)}")
    for part in manifest.parts:
        uri = dest.uri(part.key)
        size = dest.size(part.key)
        if size is None:
            problems.append(f"part missing: {uri}")
        elif size != part.bytes:
            problems.append(f"part {uri} has {size} bytes, manifest says {part.bytes}")
        elif _digest(dest, part.key) != part.fingerprint:
            problems.append(f"part {uri} content fingerprint differs from the manifest")
        elif (rows := _rows_in(dest, part.key, manifest.format)) != part.rows:
            problems.append(f"part {uri} has {rows} rows, manifest says {part.rows}")
    return problems
