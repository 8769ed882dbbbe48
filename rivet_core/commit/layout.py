"""Every name rivet gives things at a destination: `_rivet/<export>/…` keys, unit ids and data-file stems.

  <data files at their final keys>                  `<prefix>/<export>_<YYYYMMDD_HHMMSS>[_chunk<i>][_part<n>].<ext>`
  _rivet/<export>/_tmp/<unit>/…                     parts while being written (removed after a crash)
  _rivet/<export>/owners/<unit>.json                which process writes the unit
  _rivet/<export>/units/<unit>/intent.json          the final keys about to be promoted (only mid-commit)
  _rivet/<export>/units/<unit>/manifest.json        the commit record
  _rivet/<export>/units/<unit>/_SUCCESS             sha256 of the manifest bytes
  _rivet/<export>/reset.json                        `rivet state reset`: units up to it are forgotten
See docs/commit-protocol.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from rivet_core.slices import Slice

MANIFEST = "manifest.json"
SUCCESS = "_SUCCESS"
INTENT = "intent.json"


@dataclass(frozen=True)
class Layout:
    """The `_rivet/<export>/` key space of one export."""

    export: str

    @property
    def root(self) -> str:
        return f"_rivet/{self.export}"

    @property
    def units_prefix(self) -> str:
        return f"{self.root}/units/"

    @property
    def tmp_prefix(self) -> str:
        return f"{self.root}/_tmp/"

    @property
    def owners_prefix(self) -> str:
        return f"{self.root}/owners/"

    @property
    def reset_key(self) -> str:
        return f"{self.root}/reset.json"

    def unit_prefix(self, unit_id: str) -> str:
        return f"{self.units_prefix}{unit_id}"

    def manifest_key(self, unit_id: str) -> str:
        return f"{self.unit_prefix(unit_id)}/{MANIFEST}"

    def success_key(self, unit_id: str) -> str:
        return f"{self.unit_prefix(unit_id)}/{SUCCESS}"

    def intent_key(self, unit_id: str) -> str:
        return f"{self.unit_prefix(unit_id)}/{INTENT}"

    def owner_key(self, unit_id: str) -> str:
        return f"{self.owners_prefix}{unit_id}.json"

    def temp_prefix(self, unit_id: str) -> str:
        return f"{self.tmp_prefix}{unit_id}"

    def unit(self, unit_id: str) -> Unit:
        return Unit(self, unit_id)


def unit_id(now: dt.datetime, run_id: str, slc: Slice | None = None) -> str:
    """`<YYYYMMDD_HHMMSS_µs>_<run>[_<slice key>]`: unit ids sort by start time."""
    suffix = f"_{slc.key}" if slc is not None and slc.kind in ("chunk", "window") else ""
    return f"{now:%Y%m%d_%H%M%S_%f}_{run_id}{suffix}"


def data_stem(prefix: str, export: str, now: dt.datetime, slc: Slice) -> str:
    """`<prefix>/<export>_<YYYYMMDD_HHMMSS>[_chunk<i>]`, windows under `window=<key>/`."""
    if slc.kind == "window":
        prefix = f"{prefix}/window={slc.key.replace(':', '')}".lstrip("/")
    chunk = f"_{slc.key}" if slc.kind == "chunk" else ""
    return "/".join(filter(None, [prefix, f"{export}_{now:%Y%m%d_%H%M%S}{chunk}"]))


def frames_stem(prefix: str, name: str, now: dt.datetime, run_id: str) -> str:
    """The stem of frames committed for a Dagster asset: `<prefix>/<name>_<YYYYMMDD_HHMMSS>_<run>`."""
    return "/".join(filter(None, [prefix, f"{name}_{now:%Y%m%d_%H%M%S}_{run_id}"]))


def free_stem(stem: str, extension: str, exists: Callable[[str], bool]) -> str:
    """`stem`, or `stem_2`, `stem_3`, … : never the name of an existing data file (one part or the first of many)."""
    candidate, n = stem, 1
    while exists(f"{candidate}.{extension}") or exists(f"{candidate}_part0.{extension}"):
        n += 1
        candidate = f"{stem}_{n}"
    return candidate


@dataclass(frozen=True)
class Unit:
    """One unit of an export being committed: a run's slice (full, cursor range, chunk or window)."""

    layout: Layout
    unit_id: str

    @property
    def export(self) -> str:
        return self.layout.export

    @property
    def prefix(self) -> str:
        return self.layout.unit_prefix(self.unit_id)

    @property
    def temp_prefix(self) -> str:
        return self.layout.temp_prefix(self.unit_id)

    @property
    def owner_key(self) -> str:
        return self.layout.owner_key(self.unit_id)

    def temp_key(self, final_key: str) -> str:
        return f"{self.temp_prefix}/{final_key}"
