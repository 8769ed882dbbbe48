"""Postgres → local files through `rivet run`: full, incremental, crashes, naming (docs/commit-protocol.md)."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xxhash
import yaml
from conftest import PG_URL, run_cli, start_cli
from e2e import data_files, export_config, kill_run_when, manifests, read_parquet, rivet_ok, run_json, state_show

pytestmark = pytest.mark.pg

BIG_ROWS = 1_000_000


@pytest.fixture
def events(pg: Any, table_name: str) -> Iterator[str]:
    """A small table with several types; rows are added by `add_events`."""
    pg.execute(
        f"CREATE TABLE {table_name} (id int PRIMARY KEY, seq int NOT NULL, name text, amount numeric(12,2),"
        " created_at timestamptz NOT NULL, updated_at timestamptz, day date, flag bool)"
    )
    yield table_name
    pg.execute(f"DROP TABLE {table_name}")


def add_events(pg: Any, table: str, ids: range, seq: int | None = None, updated: bool = True) -> None:
    """Insert rows `ids`; `seq` defaults to 10 * id; created_at is id hours after 2026-01-01."""
    pg.execute(
        f"INSERT INTO {table} SELECT g, coalesce(%s::int, g * 10), 'name ' || g, g * 1.25,"
        " timestamptz '2026-01-01 00:00:00+00' + g * interval '1 hour',"
        " CASE WHEN %s THEN timestamptz '2026-01-01 00:00:00+00' + g * interval '1 hour' END,"
        " date '2025-12-31' + g, g %% 2 = 0 FROM generate_series(%s::int, %s::int) g",
        (seq, updated, ids.start, ids.stop - 1),
    )


def source_rows(pg: Any, table: str) -> list[tuple[Any, ...]]:
    return pg.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


def exported_ids(root: Path) -> list[int]:
    """Every id in the data files under `root`, sorted (duplicates kept, so they show)."""
    return sorted(read_parquet(root).column("id").to_pylist())


def incremental(name: str, table: str, cursor: str = "seq", **extra: Any) -> dict[str, Any]:
    return {"name": name, "table": table, "mode": "incremental", "cursor_column": cursor, **extra}


# -- full and incremental ----------------------------------------------------------------------------------


def test_full_export_round_trips_values_and_types(pg: Any, events: str, tmp_path: Path) -> None:
    add_events(pg, events, range(1, 51))
    pg.execute(f"UPDATE {events} SET name = NULL, amount = NULL, updated_at = NULL WHERE id = 7")
    summary = run_json(export_config(tmp_path, {"name": "ev", "table": events}))
    assert summary["status"] == "success" and summary["rows"] == 50
    table = read_parquet(tmp_path / "out").sort_by("id")
    assert table.schema.types == [
        pa.int32(), pa.int32(), pa.string(), pa.decimal128(12, 2),
        pa.timestamp("us", tz="UTC"), pa.timestamp("us", tz="UTC"), pa.date32(), pa.bool_(),
    ]  # fmt: skip
    got = [tuple(r.values()) for r in table.to_pylist()]
    assert got == source_rows(pg, events)


def test_incremental_twice_with_inserts_between_has_no_gap_and_no_duplicate(
    pg: Any, events: str, tmp_path: Path
) -> None:
    config = export_config(tmp_path, incremental("ev", events, cursor="id"))
    add_events(pg, events, range(1, 101))
    first = run_json(config)
    assert first["rows"] == 100 and first["cursor"] == {"column": "id", "value": "100"}
    add_events(pg, events, range(101, 131))
    second = run_json(config)
    assert second["rows"] == 30 and second["cursor"]["value"] == "130"
    add_events(pg, events, range(131, 136))
    assert run_json(config)["rows"] == 5
    assert exported_ids(tmp_path / "out") == list(range(1, 136))
    assert len(data_files(tmp_path / "out")) == 3
    got = sorted((tuple(r.values()) for r in read_parquet(tmp_path / "out").to_pylist()), key=lambda r: r[0])
    assert got == source_rows(pg, events)


def test_incremental_with_no_new_rows_writes_nothing_and_keeps_the_cursor(pg: Any, events: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, incremental("ev", events))
    add_events(pg, events, range(1, 11))
    run_json(config)
    before = state_show(config, "ev")
    files = data_files(tmp_path / "out")
    summary = run_json(config)
    assert summary["status"] == "success" and summary["rows"] == 0 and summary["files"] == []
    assert data_files(tmp_path / "out") == files
    assert len(manifests(tmp_path / "out", "ev")) == 1
    assert state_show(config, "ev") == before
    assert before["cursor"] == {"column": "seq", "value": {"type": "int", "value": "100"}}


def test_row_with_cursor_equal_to_the_last_one_is_not_exported(pg: Any, events: str, tmp_path: Path) -> None:
    """Documented semantics: the next run reads `cursor > last` (strict), so a late row at `last` is skipped."""
    config = export_config(tmp_path, incremental("ev", events))
    add_events(pg, events, range(1, 4))  # seq 10, 20, 30
    assert run_json(config)["cursor"]["value"] == "30"
    add_events(pg, events, range(4, 5), seq=30)  # late row at the stored cursor
    add_events(pg, events, range(5, 6), seq=31)
    second = run_json(config)
    assert second["rows"] == 1 and second["cursor"]["value"] == "31"
    assert exported_ids(tmp_path / "out") == [1, 2, 3, 5]


def test_coalesce_cursor_mode_uses_the_fallback_when_the_cursor_is_null(pg: Any, events: str, tmp_path: Path) -> None:
    extra = {"incremental_cursor_mode": "coalesce", "cursor_fallback_column": "created_at"}
    config = export_config(tmp_path, incremental("ev", events, cursor="updated_at", **extra))
    add_events(pg, events, range(1, 4), updated=False)  # keys = created_at: 01:00, 02:00, 03:00
    pg.execute(f"UPDATE {events} SET updated_at = '2026-01-01 05:00+00' WHERE id = 2")  # key 05:00
    first = run_json(config)
    assert first["rows"] == 3
    assert first["cursor"] == {"column": "coalesce(updated_at,created_at)", "value": "2026-01-01T05:00:00+00:00"}
    add_events(pg, events, range(4, 5), updated=False)  # key 04:00 ≤ 05:00: not exported
    add_events(pg, events, range(6, 7), updated=False)  # key 06:00
    pg.execute(f"UPDATE {events} SET updated_at = '2026-01-01 07:00+00' WHERE id = 1")  # key 07:00
    second = run_json(config)
    assert second["rows"] == 2
    assert second["cursor"]["value"] == "2026-01-01T07:00:00+00:00"
    (newest,) = [f for f in data_files(tmp_path / "out") if f.name != Path(first["files"][0]).name]
    assert pq.read_table(newest).column("id").to_pylist() == [6, 1]  # in cursor order


def test_changing_the_cursor_column_without_reset_fails_naming_both(pg: Any, events: str, tmp_path: Path) -> None:
    add_events(pg, events, range(1, 6))
    run_json(export_config(tmp_path, incremental("ev", events, cursor="seq")))
    config = export_config(tmp_path, incremental("ev", events, cursor="id"))
    proc = run_cli("run", "-c", str(config))
    assert proc.returncode == 1, proc.stderr
    assert "'seq'" in proc.stderr and "'id'" in proc.stderr and "rivet state reset" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(data_files(tmp_path / "out")) == 1
    rivet_ok("state", "reset", "-c", str(config), "-e", "ev")
    after = run_json(config)
    assert after["rows"] == 5 and after["cursor"] == {"column": "id", "value": "5"}


def test_state_reset_exports_everything_again(pg: Any, events: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, incremental("ev", events))
    add_events(pg, events, range(1, 21))
    run_json(config)
    assert run_json(config)["rows"] == 0
    rivet_ok("state", "reset", "-c", str(config), "-e", "ev")
    assert state_show(config, "ev")["cursor"] is None
    again = run_json(config)
    assert again["rows"] == 20 and again["cursor"]["value"] == "200"
    assert exported_ids(tmp_path / "out") == sorted([*range(1, 21), *range(1, 21)])


# -- crash safety ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_table() -> Iterator[str]:
    """BIG_ROWS rows (id, md5 text, timestamptz), created once for the module."""
    name = f"big_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {name} AS SELECT g AS id, md5(g::text) AS s,"
            " timestamptz '2026-01-01 00:00+00' + g * interval '1 second' AS ts"
            f" FROM generate_series(1, {BIG_ROWS}) g"
        )
        conn.execute(f"ANALYZE {name}")
        try:
            yield name
        finally:
            conn.execute(f"DROP TABLE {name}")


def temp_files(root: Path, export: str) -> list[Path]:
    return [p for p in (root / "_rivet" / export / "_tmp").rglob("*") if p.is_file()]


@pytest.mark.slow
def test_sigkill_mid_export_leaves_no_file_and_the_rerun_exports_each_row_once(big_table: str, tmp_path: Path) -> None:
    query = f"SELECT * FROM {big_table} WHERE id <= ${{UPTO}}"
    tuning = {"batch_size": 20000, "throttle_ms": 20}
    config = export_config(
        tmp_path, {"name": "crash", "query": query, "mode": "incremental", "cursor_column": "id", "tuning": tuning}
    )
    out = tmp_path / "out"
    assert run_json(config, env={"UPTO": "1000"})["rows"] == 1000
    before = state_show(config, "crash", env={"UPTO": "1"})
    first_files = data_files(out)

    assert kill_run_when(config, lambda: bool(temp_files(out, "crash")), env={"UPTO": str(BIG_ROWS)}) == -signal.SIGKILL
    assert temp_files(out, "crash"), "the run was killed after it finished writing"
    assert data_files(out) == first_files
    assert len(manifests(out, "crash")) == 1
    assert state_show(config, "crash", env={"UPTO": "1"}) == before

    rerun = run_json(config, env={"UPTO": str(BIG_ROWS)})
    assert rerun["status"] == "success" and rerun["rows"] == BIG_ROWS - 1000
    assert temp_files(out, "crash") == []
    assert exported_ids(out) == list(range(1, BIG_ROWS + 1))


def test_crash_between_promote_and_manifest_is_undone(pg: Any, events: str, tmp_path: Path) -> None:
    add_events(pg, events, range(1, 11))
    config = export_config(tmp_path, {"name": "ev", "table": events})
    out = tmp_path / "out"
    orphan = out / "ev_20000101_000000.parquet"
    orphan.parent.mkdir(parents=True)
    pq.write_table(pa.table({"id": [99]}), orphan)
    unit = out / "_rivet" / "ev" / "units" / "20000101_000000_deadbeef0000"
    unit.mkdir(parents=True)
    (unit / "intent.json").write_text(json.dumps({"keys": [orphan.name]}))
    leftover = out / "_rivet" / "ev" / "_tmp" / "20000101_000000_deadbeef0000" / "ev_20000101_000000_part2.parquet"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"PAR1 half")

    summary = run_json(config)
    assert summary["rows"] == 10
    assert not orphan.exists() and not (unit / "intent.json").exists() and not leftover.exists()
    assert exported_ids(out) == list(range(1, 11))


# -- files ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_max_file_size_rolls_into_readable_parts_that_add_up(big_table: str, tmp_path: Path) -> None:
    limit = 1 << 20
    query = f"SELECT * FROM {big_table} WHERE id <= 200000"
    summary = run_json(export_config(tmp_path, {"name": "roll", "query": query, "max_file_size": "1MB"}))
    files = sorted(data_files(tmp_path / "out"), key=lambda f: (len(f.name), f.name))  # _part10 after _part9
    assert len(files) >= 3, [f.stat().st_size for f in files]
    stem = files[0].name.removesuffix("_part0.parquet")
    assert [f.name for f in files] == [f"{stem}_part{i}.parquet" for i in range(len(files))]  # 0-based, as 0.7.7
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in files) == 200000 == summary["rows"]
    assert all(f.stat().st_size <= limit * 1.25 for f in files), [f.stat().st_size for f in files]
    assert exported_ids(tmp_path / "out") == list(range(1, 200001))
    (manifest,) = manifests(tmp_path / "out", "roll")
    assert [p["key"] for p in manifest["parts"]] == [f.name for f in files]


def test_skip_empty_writes_nothing_for_zero_rows(pg: Any, events: str, tmp_path: Path) -> None:
    summary = run_json(export_config(tmp_path, {"name": "ev", "table": events, "skip_empty": True}))
    assert summary["status"] == "skipped" and summary["rows"] == 0  # as 0.7.7 reports it; exit 0
    assert not (tmp_path / "out").exists() or not any(p.is_file() for p in (tmp_path / "out").rglob("*"))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_an_empty_source_without_skip_empty_commits_a_unit_of_no_files(events: str, tmp_path: Path, fmt: str) -> None:
    """0.7.7: `skip_empty: false` on 0 rows writes no data file, but a zero-part manifest and `_SUCCESS`."""
    summary = run_json(export_config(tmp_path, {"name": "ev", "table": events, "format": fmt, "skip_empty": False}))
    assert (summary["status"], summary["rows"], summary["files"]) == ("success", 0, [])
    assert data_files(tmp_path / "out", fmt) == []
    (manifest,) = manifests(tmp_path / "out", "ev")
    assert (manifest["row_count"], manifest["parts"]) == (0, [])
    names = ["id", "seq", "name", "amount", "created_at", "updated_at", "day", "flag"]
    assert [column["name"] for column in manifest["schema"]] == names  # the schema is still recorded
    (success,) = (tmp_path / "out" / "_rivet" / "ev" / "units").glob("*/_SUCCESS")
    assert success.parent.name == manifest["unit_id"]


def test_meta_columns(pg: Any, events: str, tmp_path: Path) -> None:
    add_events(pg, events, range(1, 21))
    pg.execute(
        f"INSERT INTO {events} SELECT 21, seq, name, amount, created_at, updated_at, day, flag FROM {events}"
        " WHERE id = 20"
    )  # same values as row 20 except the id
    meta = {"meta_columns": {"exported_at": True, "row_hash": True}}
    config = export_config(tmp_path, {"name": "ev", "table": events, **meta})
    started = dt.datetime.now(dt.UTC)
    run_json(config)
    finished = dt.datetime.now(dt.UTC)
    table = read_parquet(tmp_path / "out").sort_by("id")
    assert table.schema.field("_rivet_exported_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("_rivet_row_hash").type == pa.int64()  # as 0.7.7
    assert table.column_names[-2:] == ["_rivet_exported_at", "_rivet_row_hash"]
    (stamp,) = set(table.column("_rivet_exported_at").to_pylist())
    assert started - dt.timedelta(seconds=1) <= stamp <= finished
    hashes = table.column("_rivet_row_hash").to_pylist()
    assert None not in hashes and len(set(hashes)) == 21
    # 0.7.7's hash: xxh3-128's low 64 bits over the values' text joined by 0x1f (signed)
    text = b"\x1f".join([b"1", b"10", b"name 1", b"1.25", *[b"2026-01-01T01:00:00.000000+00:00"] * 2,
                          b"2026-01-01", b"false"])  # fmt: skip
    low = xxhash.xxh3_128_intdigest(text) & (2**64 - 1)
    assert hashes[0] == (low - 2**64 if low >= 2**63 else low)
    run_json(config)  # the same rows hash the same in the next run
    again = {r["id"]: r["_rivet_row_hash"] for r in read_parquet(tmp_path / "out").to_pylist()}
    assert [again[i] for i in range(1, 22)] == hashes


def test_path_placeholders(pg: Any, events: str, tmp_path: Path) -> None:
    add_events(pg, events, range(1, 4))
    dest = {"type": "local", "path": "./out/{export}/{table}/{date}"}
    before = dt.datetime.now(dt.UTC).date()
    summary = run_json(export_config(tmp_path, {"name": "ev", "table": events, "destination": dest}))
    after = dt.datetime.now(dt.UTC).date()
    (path,) = [Path(f) for f in summary["files"]]
    folder = path.parent.relative_to(tmp_path)
    assert folder.parts[:3] == ("out", "ev", events)
    assert folder.parts[3] in {before.isoformat(), after.isoformat()} and len(folder.parts) == 4
    assert pq.read_table(path).num_rows == 3


def test_concurrent_runs_never_overwrite_each_others_files_or_manifests(pg: Any, events: str, tmp_path: Path) -> None:
    """Runs started together (same second, same stem): each either commits its own file or fails cleanly.

    A loser fails on the taken name, or because a concurrent run's recover() removed its temp part (reported:
    concurrent runs of one export are not coordinated); either way nothing committed is overwritten or lost.
    """
    add_events(pg, events, range(1, 101))
    config = export_config(tmp_path, {"name": "ev", "table": events})
    out = tmp_path / "out"
    procs = [start_cli("run", "-c", str(config), stderr=subprocess.PIPE) for _ in range(3)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    codes = [p.returncode for p in procs]
    assert set(codes) <= {0, 1}, errors
    assert not any("Traceback" in e for e in errors)
    rivet_ok("run", "-c", str(config))  # recovers whatever a losing run left; must not touch committed files
    committed = manifests(out, "ev")
    assert len(committed) == codes.count(0) + 1
    assert len({m["run_id"] for m in committed}) == len(committed)
    assert sorted(p["key"] for m in committed for p in m["parts"]) == [f.name for f in data_files(out)]
    for m in committed:
        (part,) = m["parts"]
        assert pq.read_table(out / part["key"]).column("id").to_pylist() == list(range(1, 101))
        assert (out / part["key"]).stat().st_size == part["bytes"]


def test_runs_in_the_same_second_get_distinct_files(pg: Any, events: str, tmp_path: Path) -> None:
    add_events(pg, events, range(1, 6))
    config = export_config(tmp_path, {"name": "ev", "table": events})
    names = [Path(run_json(config)["files"][0]).name for _ in range(3)]
    suffixes: dict[str, list[int]] = {}
    for name in names:
        match = re.fullmatch(r"ev_(\d{8}_\d{6})(?:_(\d+))?\.parquet", name)
        assert match, name
        suffixes.setdefault(match.group(1), []).append(int(match.group(2) or 1))
    assert all(v == list(range(1, len(v) + 1)) for v in suffixes.values()), names  # `_2`, `_3` within one second
    assert len(manifests(tmp_path / "out", "ev")) == 3


def test_validate_and_reconcile(pg: Any, events: str, tmp_path: Path) -> None:
    add_events(pg, events, range(1, 31))
    config = export_config(
        tmp_path,
        incremental("ev", events),
        {"name": "ev_csv", "table": events, "format": "csv", "destination": {"type": "local", "path": "./csv"}},
    )
    proc = rivet_ok("run", "-c", str(config), "--validate", "--reconcile", "--json")
    results = {r["export"]: r for r in json.loads(proc.stdout)["exports"]}
    for name in ("ev", "ev_csv"):
        assert results[name]["validated"] == "passed" and results[name]["reconciled"] == "match"
        assert results[name]["rows"] == 30
    add_events(pg, events, range(31, 36))
    again = run_json(config, "-e", "ev", "--validate", "--reconcile")
    assert again["rows"] == 5 and again["validated"] == "passed" and again["reconciled"] == "match"


def test_file_naming_is_export_and_utc_timestamp(pg: Any, events: str, tmp_path: Path) -> None:
    add_events(pg, events, range(1, 3))
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    summary = run_json(export_config(tmp_path, {"name": "orders_eu", "table": events}))
    after = dt.datetime.now(dt.UTC)
    (path,) = data_files(tmp_path / "out")
    assert summary["files"] == [str(path)]
    match = re.fullmatch(r"orders_eu_(\d{8}_\d{6})\.parquet", path.name)
    assert match, path.name
    stamp = dt.datetime.strptime(match.group(1), "%Y%m%d_%H%M%S").replace(tzinfo=dt.UTC)
    assert before <= stamp <= after


def test_shape_drift_warns_when_a_text_column_grows_past_the_factor(pg: Any, events: str, tmp_path: Path) -> None:
    """0.7.7's shape_drift_warn_factor (default 2): the longest text value against the longest stored."""
    add_events(pg, events, range(1, 11))  # names up to 7 bytes ('name 10')
    config = export_config(tmp_path, {"name": "ev", "table": events})
    assert run_json(config)["warnings"] == []  # nothing stored yet: nothing to compare with
    pg.execute(f"UPDATE {events} SET name = repeat('x', 14) WHERE id = 1")  # exactly 2x: not past it
    assert run_json(config)["warnings"] == []
    pg.execute(f"UPDATE {events} SET name = repeat('é', 15) WHERE id = 2")  # 30 bytes > 2 x 14
    warned = run_cli("run", "-c", str(config), "--json", cwd=tmp_path)
    assert warned.returncode == 0, warned.stderr
    (summary,) = json.loads(warned.stdout)["exports"]
    message = "shape drift: column name's longest value is 30 bytes, over 2x the stored longest (14 bytes)"
    assert summary["warnings"] == [message] and message in warned.stderr
    assert run_json(config)["warnings"] == []  # 30 is the stored longest now: one spike warns once
    off = export_config(tmp_path, {"name": "ev", "table": events, "shape_drift_warn_factor": 0}, name="off.yaml")
    pg.execute(f"UPDATE {events} SET name = repeat('y', 500) WHERE id = 3")
    assert run_json(off)["warnings"] == []  # 0 turns it off


def test_compression_profile_decides_the_codec_over_compression(pg: Any, events: str, tmp_path: Path) -> None:
    add_events(pg, events, range(1, 11))
    export = {"name": "ev", "table": events, "compression": "gzip", "compression_level": 9,
              "compression_profile": "fast"}  # fmt: skip
    summary = run_json(export_config(tmp_path, export))
    (path,) = data_files(tmp_path / "out")
    meta = pq.ParquetFile(path).metadata
    assert {meta.row_group(0).column(i).compression for i in range(meta.num_columns)} == {"SNAPPY"}  # as 0.7.7
    (manifest,) = manifests(tmp_path / "out", "ev")
    assert manifest["compression"] == "snappy" and summary["rows"] == 10


def test_the_tuning_profile_and_what_chose_it_are_reported(events: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "ev", "table": events})
    doc = yaml.safe_load(config.read_text())
    doc["source"]["environment"] = "local"
    config.write_text(yaml.safe_dump(doc))
    run = run_cli("run", "-c", str(config), cwd=tmp_path)
    assert run.returncode == 0 and "ev: tuning profile fast (from source.environment)" in run.stderr, run.stderr
    check = run_cli("check", "-c", str(config), cwd=tmp_path)
    assert "tuning: profile fast (from source.environment)" in check.stdout, check.stdout
    doc["exports"][0]["tuning"] = {"profile": "safe"}
    config.write_text(yaml.safe_dump(doc))
    assert "ev: tuning profile safe (from tuning.profile)" in run_cli("run", "-c", str(config), cwd=tmp_path).stderr
