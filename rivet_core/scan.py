"""Read committed data back as a Polars LazyFrame, from any destination (Dagster's `load_input`, notebooks).

Which files: the newest committed unit of each slice (since the last `rivet state reset`), or every unit for
incremental exports, whose increments add up. How: local files are scanned by Polars directly; object-store
files through a pyarrow filesystem over the destination itself, so reads use the destination's own credentials,
endpoint and retries, fetch byte ranges on demand, and nothing is read before the frame is collected.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs

from rivet_core import commit
from rivet_core.commit import Manifest
from rivet_core.destinations.base import Destination


def current_units(dest: Destination, name: str, incremental: bool) -> list[Manifest]:
    """Manifests of the units an export (or asset) holds now, oldest first; their `parts` list the data files."""
    units = sorted(commit.since_reset(dest, name, commit.current_manifests(dest, name)), key=lambda m: m.unit_id)
    if not incremental:
        units = sorted({m.slice.key: m for m in units}.values(), key=lambda m: m.unit_id)
    return units


class _DestinationFiles(pafs.FileSystemHandler):
    """A read-only pyarrow filesystem over a Destination's keys (what pyarrow datasets need, nothing more)."""

    def __init__(self, dest: Destination) -> None:
        self.dest = dest

    def get_type_name(self) -> str:
        return f"rivet-{self.dest.kind}"

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        infos = []
        for path in paths:
            size = self.dest.size(path)
            kind = pafs.FileType.NotFound if size is None else pafs.FileType.File
            infos.append(pafs.FileInfo(path, kind, size=size))
        return infos

    def open_input_file(self, path: str) -> Any:
        return pa.PythonFile(self.dest.open_read(path), mode="r")

    def open_input_stream(self, path: str) -> Any:
        return self.open_input_file(path)

    def _read_only(self, *args: Any) -> Any:
        raise OSError(f"{self.dest.uri()} is opened read-only")

    get_file_info_selector = create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = _read_only
    delete_file = move = copy_file = open_output_stream = open_append_stream = _read_only


def _dataset(paths: list[str], fmt: str, filesystem: pafs.FileSystem | None = None) -> Any:
    """A pyarrow dataset over `paths`; pyarrow.dataset is imported here, on first read: it imports pandas (~0.6 s of
    CPU), which every process that merely loads a code location would otherwise pay."""
    import pyarrow.dataset as ds

    return ds.dataset(paths, format=fmt, filesystem=filesystem)


def scan(dest: Destination, units: list[Manifest], fmt: str) -> pl.LazyFrame:
    """A LazyFrame over the data files of committed units in one format (an empty frame when there are none)."""
    keys = [p.key for m in units for p in m.parts]
    if not keys:
        return pl.LazyFrame()
    if dest.kind == "local":
        paths = [dest.uri(k) for k in keys]
        return pl.scan_parquet(paths) if fmt == "parquet" else pl.scan_csv(paths)
    filesystem = pafs.PyFileSystem(_DestinationFiles(dest))
    return pl.scan_pyarrow_dataset(_dataset(keys, fmt, filesystem))


def batches(dest: Destination, units: list[Manifest], fmt: str) -> Iterator[pa.RecordBatch]:
    """The committed units' rows as Arrow batches, streamed file by file (nothing is held beyond a batch)."""
    keys = [p.key for m in units for p in m.parts]
    if not keys:
        return iter(())
    if dest.kind == "local":
        dataset = _dataset([dest.uri(k) for k in keys], fmt)
    else:
        dataset = _dataset(keys, fmt, pafs.PyFileSystem(_DestinationFiles(dest)))
    return iter(dataset.to_batches())
