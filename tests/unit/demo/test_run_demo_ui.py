"""demo/run_demo.py --ui: the flag parses and `dagster dev` is built on the demo's code location (no UI started)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

DEMO = Path(__file__).resolve().parents[3] / "demo" / "run_demo.py"


def demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_demo", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ui_flag_and_port_parse_and_build_dagster_dev_on_the_code_location() -> None:
    run_demo = demo()
    args = run_demo.parse_args(["--ui", "--port", "3111"])
    assert (args.ui, args.port, args.via) == (True, 3111, "dagster")
    assert run_demo.parse_args([]).ui is False
    assert run_demo.ui_command(3111) == [
        str(Path(sys.executable).with_name("dagster")),
        "dev",
        "-m",
        "rivet_dagster.definitions",
        "-p",
        "3111",
    ]
