"""Helpers for the end-to-end tests that drive `rivet` as a process against the real PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from conftest import PG_URL, run_cli, start_cli


def export_config(folder: Path, *exports: dict[str, Any], url: str = PG_URL, name: str = "rivet.yaml") -> Path:
    """Write a rivet.yaml with a Postgres source and `exports` (parquet to `./out` unless they say otherwise)."""
    defaults = {"format": "parquet", "destination": {"type": "local", "path": "./out"}}
    doc = {"source": {"type": "postgres", "url": url}, "exports": [{**defaults, **e} for e in exports]}
    path = folder / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def rivet_ok(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `rivet ARGS` and require exit 0 (the assertion shows stderr)."""
    proc = run_cli(*args, cwd=cwd, env=env)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr}"
    return proc


def run_json(config: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """`rivet run -c CONFIG --json ARGS` (exit 0 required); the summary of its only export."""
    proc = rivet_ok("run", "-c", str(config), "--json", *args, env=env)
    (summary,) = json.loads(proc.stdout)["exports"]
    return summary  # type: ignore[no-any-return]


def state_show(config: Path, export: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """`rivet state show -e EXPORT` parsed."""
    (entry,) = json.loads(rivet_ok("state", "show", "-c", str(config), "-e", export, env=env).stdout)
    return entry  # type: ignore[no-any-return]


def data_files(root: Path, ext: str = "parquet") -> list[Path]:
    """Data files at their final names under `root` (rivet's own `_rivet/` folder excluded)."""
    return sorted(p for p in root.rglob(f"*.{ext}") if "_rivet" not in p.relative_to(root).parts)


def manifests(root: Path, export: str) -> list[dict[str, Any]]:
    """Every committed manifest of an export under `root`."""
    return [json.loads(p.read_text()) for p in sorted((root / "_rivet" / export / "units").glob("*/manifest.json"))]


def read_parquet(root: Path) -> pa.Table:
    """All Parquet data files under `root` as one table."""
    files = data_files(root)
    assert files, f"no parquet files under {root}"
    return pa.concat_tables(pq.read_table(f) for f in files)


def insert_series(pg: Any, table: str, select: str, ids: range, *params: Any) -> None:
    """INSERT INTO `table` SELECT `select` for each g (bigint) in `ids`, made by the server; `params` bind its %s."""
    pg.execute(
        f"INSERT INTO {table} SELECT {select} FROM generate_series(%s::bigint, %s::bigint) g",
        (*params, ids.start, ids.stop - 1),
    )


def kill_run_when(config: Path, ready: Callable[[], bool], env: dict[str, str] | None = None) -> int:
    """Start `rivet run -c CONFIG`, SIGKILL it as soon as `ready()` holds (unless it ends first); its exit code."""
    proc = start_cli("run", "-c", str(config), env=env, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and not ready():
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    return proc.returncode
