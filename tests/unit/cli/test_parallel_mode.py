"""How `rivet run` chooses to spread its exports (rivet-cli 0.7.7's rules), without a server."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from rivet_core.cli.parallel import parallel_mode
from rivet_core.config import Config, load_config

EXPORT = {"table": "orders", "format": "csv", "destination": {"type": "local", "path": "out"}}


def two_exports(tmp_path: Path, root: dict[str, Any], second: dict[str, Any] | None = None) -> Config:
    exports = [{"name": "a", **EXPORT}, {"name": "b", **copy.deepcopy(EXPORT), **(second or {})}]
    doc = {"source": {"type": "postgres", "url": "postgresql://u@h:5432/d"}, "exports": exports, **root}
    path = tmp_path / "rivet.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_config(path, env={})


@pytest.mark.parametrize(
    ("root", "threads", "processes", "expected"),
    [
        ({}, False, False, "sequential"),
        ({}, True, False, "threads"),
        ({}, False, True, "processes"),
        ({"parallel_exports": True}, False, False, "threads"),
        ({"parallel_export_processes": True}, False, False, "processes"),
        ({"parallel_exports": True, "parallel_export_processes": True}, False, False, "processes"),
        ({"parallel_exports": True}, False, True, "processes"),  # the flags OR in; processes first
        ({"parallel_export_processes": True}, True, False, "processes"),
    ],
)
def test_flags_or_root_keys_processes_first(
    tmp_path: Path, root: dict[str, Any], threads: bool, processes: bool, expected: str
) -> None:
    assert parallel_mode(two_exports(tmp_path, root), ["a", "b"], False, threads, processes) == expected


def test_not_with_export_a_single_export_or_a_stdout_export(tmp_path: Path) -> None:
    cfg = two_exports(tmp_path, {"parallel_exports": True})
    assert parallel_mode(cfg, ["a", "b"], True, False, False) == "sequential"  # --export given
    assert parallel_mode(cfg, ["a"], False, False, False) == "sequential"
    piped = two_exports(tmp_path, {"parallel_exports": True}, {"destination": {"type": "stdout"}})
    assert parallel_mode(piped, ["a", "b"], False, False, False) == "sequential"
