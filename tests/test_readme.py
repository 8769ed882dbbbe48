"""README.md stays true: its config reference matches the schema, its test command is the one CI runs."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from rivet_core.config import config_json_schema

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config_reference", ROOT / "scripts" / "gen_config_reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def setup_command(label: str) -> str:
    """The shell command in the first ```sh block after the README's `**(a)` / `**(b)` paragraph."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"\*\*\({label}\).*?```sh\n(.+?)\n```", text, re.S)
    assert match, f"README.md has no ```sh block after **({label})"
    return match.group(1).strip()


def test_config_reference_matches_the_schema() -> None:
    text = README.read_text(encoding="utf-8")
    assert generator().update(text) == text, "run: .venv/bin/python scripts/gen_config_reference.py"


def test_reference_lists_every_model_and_key() -> None:
    schema = config_json_schema()
    rendered = generator().render(schema)
    for name, model in schema["$defs"].items():
        assert f"### {name}" in rendered
        section = rendered.split(f"### {name}\n", 1)[1].split("\n### ", 1)[0]
        for key in model.get("properties", {}):
            assert f"| `{key}` |" in section, f"{name}.{key} missing from the reference"


def test_update_refuses_a_readme_without_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        generator().update("# no markers here\n")


def test_readme_test_command_is_what_ci_runs() -> None:
    """Every step of README (b) is a command line of .ci/run, in the same order."""
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    steps = setup_command("b").split(" && ")
    assert steps[-1] == ".venv/bin/python -m pytest -q"
    positions = []
    for step in steps:
        found = [i for i, line in enumerate(lines) if line == step or line.startswith(step + " ||")]
        assert found, f".ci/run does not run README (b) step {step!r}"
        positions.append(found[0])
    assert positions == sorted(positions)


def test_demo_command_runs_the_demo_script() -> None:
    steps = setup_command("a").split(" && ")
    assert steps[:2] == setup_command("b").split(" && ")[:2]  # same install as the tests
    script = steps[-1].split()[-1]
    assert (ROOT / script).is_file()


def test_quick_start_config_loads(tmp_path: Path) -> None:
    from rivet_core.config import load_config

    text = README.read_text(encoding="utf-8").split("## Quick start", 1)[1]
    match = re.search(r"```yaml\n(.+?)\n```", text, re.S)
    assert match, "README.md Quick start has no ```yaml block"
    path = tmp_path / "rivet.yaml"
    path.write_text(match.group(1))
    cfg = load_config(path, {"DATABASE_URL": "postgresql://reader@db.internal:5432/shop"})
    assert [e.name for e in cfg.exports] == ["orders", "customers"]
