"""time_window exports through `rivet run` (issue 5): UTC window edges, re-export replacing a window, --window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import run_cli
from e2e import data_files, export_config, manifests, run_json
from engines import Engine, engine_fixture  # noqa: F401 - the `engine` fixture

FAST = {"profile": "fast"}
EDGES = {  # id → moment (UTC); 2026-11-01 holds ids 2, 3, 4
    1: dt.datetime(2026, 10, 31, 23, 59, 59, 999999),
    2: dt.datetime(2026, 11, 1),
    3: dt.datetime(2026, 11, 1, 12),
    4: dt.datetime(2026, 11, 1, 23, 59, 59, 999999),
    5: dt.datetime(2026, 11, 2),
}
WINDOWS = {"2026-10-31": [1], "2026-11-01": [2, 3, 4], "2026-11-02": [5]}


@pytest.fixture
def events(engine: Engine, table_name: str) -> Iterator[str]:
    """id and one moment as a UTC instant, a wall-clock timestamp and unix seconds (floored)."""
    engine.execute(
        f"CREATE TABLE {table_name} (id int PRIMARY KEY, tz {engine.utc_type} NULL, naive {engine.naive_type} NULL,"
        " unix bigint NULL)"
    )
    yield table_name
    engine.execute(f"DROP TABLE {table_name}")


def add(engine: Engine, table: str, rows: dict[int, dt.datetime]) -> None:
    engine.insert(
        table, [(i, m.replace(tzinfo=dt.UTC), m, int(m.replace(tzinfo=dt.UTC).timestamp())) for i, m in rows.items()]
    )


def window_config(engine: Engine, folder: Path, table: str, column: str = "tz", **extra: Any) -> Path:
    kind = {"time_column_type": "unix"} if column == "unix" else {}
    export = {"name": "tw", "table": table, "mode": "time_window", "time_column": column, "tuning": FAST}
    return engine.config(folder, {**export, **kind, **extra})


def ids_by_window(out: Path) -> dict[str, list[int]]:
    """The ids in the data files of each `window=<key>/` folder (duplicates kept), and `[]` for a window committed
    as a unit of zero parts (an empty window)."""
    found: dict[str, list[int]] = {m["slice"]["key"]: [] for m in manifests(out, "tw") if not m["parts"]}
    for f in data_files(out):
        key = f.parent.name.removeprefix("window=")
        found.setdefault(key, []).extend(pq.read_table(f).column("id").to_pylist())
    return {k: sorted(v) for k, v in found.items()}


def window_manifests(out: Path, key: str) -> list[dict[str, Any]]:
    return [m for m in manifests(out, "tw") if m["slice"]["key"] == key]


@pytest.mark.parametrize("column", ["tz", "naive", "unix"])
def test_rows_at_window_edges_land_in_exactly_one_window(
    engine: Engine, events: str, tmp_path: Path, column: str
) -> None:
    add(engine, events, EDGES)
    config = window_config(engine, tmp_path, events, column)
    summary = run_json(config, "--window", "2026-10-31", "--window", "2026-11-01", "--window", "2026-11-02",
                       "--reconcile")  # fmt: skip
    assert summary["rows"] == 5 and summary["reconciled"] == "match"
    assert ids_by_window(tmp_path / "out") == WINDOWS


def test_late_row_replaces_its_window_without_duplicates(engine: Engine, events: str, tmp_path: Path) -> None:
    add(engine, events, EDGES)
    out = tmp_path / "out"
    config = window_config(engine, tmp_path, events)
    run_json(config, "--window", "2026-10-31", "--window", "2026-11-01")
    (old,) = window_manifests(out, "2026-11-01")
    neighbour = [p["key"] for m in window_manifests(out, "2026-10-31") for p in m["parts"]]

    add(engine, events, {6: dt.datetime(2026, 11, 1, 5)})  # arrives late, into an exported window
    summary = run_json(config, "--window", "2026-11-01")
    assert summary["rows"] == 4
    (new,) = window_manifests(out, "2026-11-01")
    assert new["unit_id"] != old["unit_id"] and new["row_count"] == 4
    assert all(not (out / p["key"]).exists() for p in old["parts"])
    assert ids_by_window(out) == {"2026-10-31": [1], "2026-11-01": [2, 3, 4, 6]}
    assert [p["key"] for m in window_manifests(out, "2026-10-31") for p in m["parts"]] == neighbour


def test_run_without_window_exports_the_last_days_window_windows_and_the_current_one(
    engine: Engine, events: str, tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = {i: now - i * dt.timedelta(hours=5) for i in range(41)}  # from now back ~8 days
    add(engine, events, rows)
    summary = run_json(window_config(engine, tmp_path, events, days_window=3))
    today = dt.datetime.fromisoformat(summary["started_at"]).astimezone(dt.UTC).date()
    expected = [str(today - dt.timedelta(days=n)) for n in (3, 2, 1, 0)]
    assert sorted(s["key"] for s in summary["slices"]) == expected
    out = tmp_path / "out"
    assert sorted(m["slice"]["key"] for m in manifests(out, "tw")) == expected
    wanted = sorted(i for i, m in rows.items() if m.date() >= today - dt.timedelta(days=3))
    assert sorted(i for ids in ids_by_window(out).values() for i in ids) == wanted
    assert summary["rows"] == len(wanted) < len(rows)


@pytest.mark.pg
@pytest.mark.parametrize("value", ["2026-13-01", "yesterday"])
def test_bad_window_value_is_a_usage_error(pg: Any, table_name: str, tmp_path: Path, value: str) -> None:
    pg.execute(f"CREATE TABLE {table_name} (id int, tz timestamptz)")
    export = {"name": "tw", "table": table_name, "mode": "time_window", "time_column": "tz"}
    try:
        proc = run_cli("run", "-c", str(export_config(tmp_path, export)), "--window", value)
    finally:
        pg.execute(f"DROP TABLE {table_name}")
    assert proc.returncode == 2, proc.stderr
    assert "--window" in proc.stderr and "2026-11-01" in proc.stderr and "Traceback" not in proc.stderr
    assert data_files(tmp_path / "out") == []
