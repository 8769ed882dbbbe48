"""Reading the commit record: an export's manifests, the `rivet state reset` watermark, the current units."""

from __future__ import annotations

import json

from rivet_core.commit.layout import MANIFEST, Layout
from rivet_core.commit.manifest import Manifest
from rivet_core.destinations.base import Destination


def manifests(dest: Destination, export: str) -> list[Manifest]:
    """Every committed manifest of an export, oldest first (unit ids sort by time)."""
    keys = [k for k in dest.list(Layout(export).units_prefix) if k.endswith(f"/{MANIFEST}")]
    return sorted((Manifest.loads(dest.read_bytes(k)) for k in keys), key=lambda m: m.unit_id)


def latest_reset(dest: Destination, export: str) -> str | None:
    """The unit-id watermark written by `rivet state reset` (manifests at or before it are ignored)."""
    key = Layout(export).reset_key
    if dest.size(key) is None:
        return None
    return str(json.loads(dest.read_bytes(key))["after_unit"])


def write_reset(dest: Destination, export: str, after_unit: str) -> None:
    """Forget the export's history at the destination (cursor recovery starts after `after_unit`)."""
    body = json.dumps({"after_unit": after_unit}, indent=2, sort_keys=True).encode()
    dest.write_bytes(Layout(export).reset_key, body)


def since_reset(dest: Destination, export: str, units: list[Manifest] | None = None) -> list[Manifest]:
    """The committed manifests after the reset watermark, oldest first (the units that still count)."""
    watermark = latest_reset(dest, export)
    units = manifests(dest, export) if units is None else units
    return [m for m in units if watermark is None or m.unit_id > watermark]


def current_manifests(dest: Destination, export: str) -> list[Manifest]:
    """The committed units readers should see: for windows, only the newest unit of each window."""
    latest: dict[str, Manifest] = {}
    out = []
    for m in manifests(dest, export):
        if m.replaces_slice:
            latest[m.slice.key] = m
        else:
            out.append(m)
    return out + list(latest.values())
