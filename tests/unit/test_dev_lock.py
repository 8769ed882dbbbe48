"""requirements/dev.lock still satisfies pyproject.toml (else: regenerate it, README "Development")."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent.parent
LOCK_LINE = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>[^\s;]+)\s*(?:;\s*(?P<marker>.+))?$")


def locked() -> dict[str, str]:
    """Name → version of every lock entry that applies to this interpreter and platform."""
    out = {}
    for line in (ROOT / "requirements" / "dev.lock").read_text().splitlines():
        match = LOCK_LINE.match(line.strip())
        if match and (match["marker"] is None or Marker(match["marker"]).evaluate()):
            out[canonicalize_name(match["name"])] = match["version"]
    return out


def extra_requirements(project: dict, extra: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """An extra's requirements, with the package's own extras it names (`rivet-export[all]`) expanded."""
    out = []
    for line in project["optional-dependencies"][extra]:
        req = Requirement(line)
        if canonicalize_name(req.name) != canonicalize_name(project["name"]):
            out.append(line)
            continue
        for name in sorted(req.extras - seen - {extra}):
            out += extra_requirements(project, name, seen | {extra})
    return out


def test_every_requirement_of_the_package_and_its_dev_extra_is_locked_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in [*project["dependencies"], *extra_requirements(project, "dev")]]
    versions = locked()
    stale = []
    for req in requirements:
        if req.marker is not None and not req.marker.evaluate():
            continue
        version = versions.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            stale.append(f"{req} (locked: {version})")
    assert not stale, "requirements/dev.lock is stale, regenerate it (README Development): " + "; ".join(stale)
