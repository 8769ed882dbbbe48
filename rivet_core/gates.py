"""Gates: validate (read back what was committed). Reconcile lives in the engine (it needs the snapshot)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow.parquet as pq

from rivet_core.destinations.base import Destination


def _rows_in(dest: Destination, key: str, fmt: str) -> int:
    with dest.open_read(key) as f:
        if fmt == "parquet":
            return pq.ParquetFile(f).metadata.num_rows
        import gzip

        stream: Any = f
        if key.endswith(".gz"):
            stream = gzip.GzipFile(fileobj=f)
        elif key.endswith(".zst"):
            import pyarrow as pa

            stream = pa.CompressedInputStream(f, "zstd")
        import polars as pl

        return pl.read_csv(stream.read(), infer_schema=False).height


def validate_unit(dest: Destination, manifest_key: str) -> list[str]:
    """Problems found re-reading a committed unit: manifest, `_SUCCESS`, each part's size, hash and rows."""
    if dest.size(manifest_key) is None:
        return [f"manifest missing: {dest.uri(manifest_key)}"]
    body = dest.read_bytes(manifest_key)
    manifest = json.loads(body)
    problems = []
    success_key = manifest_key.rsplit("/", 1)[0] + "/_SUCCESS"
    expected = "sha256:" + hashlib.sha256(body).hexdigest()
    if dest.size(success_key) is None or dest.read_bytes(success_key).decode().strip() != expected:
        problems.append(f"_SUCCESS missing or not matching the manifest: {dest.uri(success_key)}")
    for part in manifest["parts"]:
        key, uri = part["key"], dest.uri(part["key"])
        size = dest.size(key)
        if size is None:
            problems.append(f"part missing: {uri}")
            continue
        if size != part["bytes"]:
            problems.append(f"part {uri} has {size} bytes, manifest says {part['bytes']}")
            continue
        digest = hashlib.sha256()
        with dest.open_read(key) as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        if "sha256:" + digest.hexdigest() != part["fingerprint"]:
            problems.append(f"part {uri} content fingerprint differs from the manifest")
            continue
        rows = _rows_in(dest, key, manifest["format"])
        if rows != part["rows"]:
            problems.append(f"part {uri} has {rows} rows, manifest says {part['rows']}")
    return problems
