"""Commit: where things are named (`Layout`), what a unit records (`Manifest`), and how it becomes visible."""

from rivet_core.commit.history import current_manifests, latest_reset, manifests, since_reset, write_reset
from rivet_core.commit.layout import Layout, Unit, data_stem, frames_stem, free_stem, unit_id
from rivet_core.commit.manifest import Cursor, Manifest, Part, schema_fingerprint, schema_json
from rivet_core.commit.protocol import claim, commit, discard, recover, supersede
from rivet_core.commit.repair import roll_forward, success_line, sweep_temp_files

__all__ = [
    "Cursor",
    "Layout",
    "Manifest",
    "Part",
    "Unit",
    "claim",
    "commit",
    "current_manifests",
    "data_stem",
    "discard",
    "frames_stem",
    "free_stem",
    "latest_reset",
    "manifests",
    "recover",
    "roll_forward",
    "schema_fingerprint",
    "schema_json",
    "since_reset",
    "success_line",
    "supersede",
    "sweep_temp_files",
    "unit_id",
    "write_reset",
]
