"""Many time windows in one ordered read (issue 17 item 5): each window still its own committed, replaceable unit."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from e2e import manifests, rivet_ok
from engines import Engine, engine_fixture  # noqa: F401 - the `engine` fixture
from test_time_window import EDGES, WINDOWS, add, events, ids_by_window, window_config  # noqa: F401 - `events`

DAYS = 21  # days_window 20: the 20 complete days before today, and today
TODAY = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)


def day_key(back: int) -> str:
    return (TODAY - dt.timedelta(days=back)).strftime("%Y-%m-%d")


def filled(back: int) -> bool:
    """Which days hold rows: two days of each week are gaps (empty windows)."""
    return back % 7 not in (2, 3)


@pytest.fixture
def days(engine: Engine, table_name: str) -> Iterator[str]:
    """Three rows (ids back·10 + 0..2, at 00:00, 11:00, 23:59:59.999999) in each filled day of the last 21."""
    engine.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, ts {engine.utc_type} NOT NULL, v int NULL)")
    offsets = [dt.timedelta(0), dt.timedelta(hours=11), dt.timedelta(days=1, microseconds=-1)]
    rows = [
        (back * 10 + j, (TODAY - dt.timedelta(days=back) + offset).replace(tzinfo=dt.UTC), back)
        for back in range(DAYS)
        if filled(back)
        for j, offset in enumerate(offsets)
    ]
    engine.insert(table_name, rows)
    yield table_name
    engine.execute(f"DROP TABLE {table_name}")


def expected(extra: dict[int, list[int]] | None = None) -> dict[str, list[int]]:
    """Window key → the ids in it (empty windows: none)."""
    out = {day_key(b): [b * 10 + j for j in range(3)] if filled(b) else [] for b in range(DAYS)}
    for back, ids in (extra or {}).items():
        out[day_key(back)] = sorted(out[day_key(back)] + ids)
    return out


def config(engine: Engine, folder: Path, table: str, **extra: Any) -> Path:
    export = {"name": "tw", "table": table, "mode": "time_window", "time_column": "ts", "days_window": DAYS - 1}
    return engine.config(folder, {**export, "tuning": {"profile": "fast"}, **extra})


def scans(engine: Engine, table: str, before: int = -1) -> int:
    """Postgres: the table's sequential plus index scans, once the last run's counts arrived (stats are async):
    without `before`, once the count held still for a second; with it, once it moved past `before`."""
    statement = "SELECT seq_scan + COALESCE(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = %s"
    deadline = time.monotonic() + 10
    last, since = -1, time.monotonic()
    while True:
        (count,) = engine.execute(statement, (table,))[0]
        if count != last:
            last, since = count, time.monotonic()
        settled = count > before if before >= 0 else time.monotonic() - since >= 1.0
        if settled or time.monotonic() > deadline:
            time.sleep(0.5 if before >= 0 else 0)  # a slower backend's counts after the first
            return int(engine.execute(statement, (table,))[0][0])
        time.sleep(0.1)


def test_many_windows_are_read_once_and_committed_each_as_its_own_unit(
    engine: Engine, days: str, tmp_path: Path
) -> None:
    out, cfg = tmp_path / "out", config(engine, tmp_path, days)
    proc = rivet_ok("run", "-c", str(cfg))
    assert f"{DAYS} windows {day_key(DAYS - 1)} … {day_key(0)} in one ordered read" in proc.stderr
    assert ids_by_window(out) == expected()
    units = manifests(out, "tw")
    assert sorted(m["slice"]["key"] for m in units) == sorted(expected())
    assert all((out / "_rivet" / "tw" / "units" / m["unit_id"] / "_SUCCESS").exists() for m in units)

    late = (TODAY - dt.timedelta(days=15, hours=-5)).replace(tzinfo=dt.UTC)  # into an exported window
    engine.insert(days, [(9999, late, 15)])
    before = scans(engine, days) if engine.kind == "postgres" else 0
    rivet_ok("run", "-c", str(cfg))
    if engine.kind == "postgres":  # one read of the table for all 21 windows (window by window: 21)
        assert scans(engine, days, before) - before == 1
    again = manifests(out, "tw")
    assert sorted(m["slice"]["key"] for m in again) == sorted(expected())  # each window replaced, none doubled
    assert {m["unit_id"] for m in again}.isdisjoint(m["unit_id"] for m in units)
    assert ids_by_window(out) == expected({15: [9999]})


def test_a_failing_window_leaves_the_windows_before_it_committed(engine: Engine, days: str, tmp_path: Path) -> None:
    engine.execute(f"UPDATE {days} SET v = NULL WHERE id = 141")  # a row of the window 14 days back
    cfg = config(engine, tmp_path, days, quality={"null_ratio_max": {"v": 0.0}})
    proc = run_cli("run", "-c", str(cfg))
    assert proc.returncode == 1 and "null_ratio_max" in proc.stderr and "Traceback" not in proc.stderr
    committed = ids_by_window(tmp_path / "out")
    assert committed == {k: v for k, v in expected().items() if k < day_key(14)}  # older windows commit first

    engine.execute(f"UPDATE {days} SET v = 14 WHERE id = 141")
    rivet_ok("run", "-c", str(cfg))
    assert ids_by_window(tmp_path / "out") == expected()


def test_window_keys_with_a_gap_are_read_as_two_passes(engine: Engine, days: str, tmp_path: Path) -> None:
    keys = [day_key(b) for b in (12, 11, 10, 4)]
    proc = rivet_ok("run", "-c", str(config(engine, tmp_path, days)), *(a for k in keys for a in ("--window", k)))
    assert f"3 windows {day_key(12)} … {day_key(10)} in one ordered read" in proc.stderr
    assert proc.stderr.count("in one ordered read") == 1  # the lone window is read on its own
    assert ids_by_window(tmp_path / "out") == {k: v for k, v in expected().items() if k in keys}


@pytest.mark.parametrize("column", ["tz", "naive", "unix"])
def test_rows_at_window_edges_are_split_into_the_window_holding_them(
    engine: Engine,
    events: str,  # noqa: F811 - test_time_window's fixture
    tmp_path: Path,
    column: str,
) -> None:
    add(engine, events, EDGES)
    keys = [a for k in WINDOWS for a in ("--window", k)]
    proc = rivet_ok("run", "-c", str(window_config(engine, tmp_path, events, column)), *keys)
    assert "3 windows 2026-10-31 … 2026-11-02 in one ordered read" in proc.stderr
    assert ids_by_window(tmp_path / "out") == WINDOWS
