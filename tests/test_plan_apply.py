"""`rivet plan` / `rivet apply`: planned ranges replayed verbatim, age limits, cursor moves, secrets."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PG_URL, run_cli
from e2e import export_config, read_parquet

from rivet_core.plan import seal

pytestmark = pytest.mark.pg


@pytest.fixture
def events(pg: Any, table_name: str) -> Iterator[str]:
    pg.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, seq int NOT NULL, name text)")
    add(pg, table_name, 1, 250)
    yield table_name
    pg.execute(f"DROP TABLE {table_name}")


def add(pg: Any, table: str, first: int, last: int) -> None:
    pg.execute(f"INSERT INTO {table} SELECT g, g, 'n' || g FROM generate_series(%s::int, %s::int) g", (first, last))


def plan(config: Path, out: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = run_cli("plan", "-c", str(config), "-o", str(out), *args, cwd=config.parent, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def apply(plan_file: Path, *args: str, cwd: Path, env: dict[str, str] | None = None) -> Any:
    return run_cli("apply", str(plan_file), "--json", *args, cwd=cwd, env=env)


def summary(proc: Any) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)["exports"]
    return result  # type: ignore[no-any-return]


def age(plan_file: Path, hours: float) -> None:
    """Make the plan `hours` old and re-seal it (what an operator could not do by hand-editing)."""
    doc = json.loads(plan_file.read_text())
    doc["created_at"] = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).isoformat()
    doc["seal"] = seal(doc)
    plan_file.write_text(json.dumps(doc))


def ids(root: Path) -> list[int]:
    return sorted(read_parquet(root).column("id").to_pylist())


def test_chunked_plan_replays_exactly_the_planned_ranges(pg: Any, events: str, tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    config = export_config(project, {"name": "ev", "table": events, "mode": "chunked", "chunk_size": 100})
    doc = plan(config, elsewhere / "plan.json")
    (entry,) = doc["exports"]
    # aligned ranges; the last one ends at the planned maximum, not at its aligned end 299
    assert [(s["lo"], s["hi"]) for s in entry["slices"]] == [(0, 99), (100, 199), (200, 250)]
    assert all(s["types"] == {"lo": "int", "hi": "int"} for s in entry["slices"])  # typed: apply binds ints
    assert doc["config_path"] == str(config.resolve()) and entry["row_estimate"] is not None
    add(pg, events, 251, 900)  # beyond the planned max: a re-plan would read them, the plan does not
    pg.execute(f"DELETE FROM {events} WHERE id < 50")  # and a new MIN would not matter either
    config.unlink()  # apply never reads the config again
    result = summary(apply(elsewhere / "plan.json", cwd=elsewhere))
    assert result["status"] == "success" and result["rows"] == 201
    assert [(s["lo"], s["hi"]) for s in result["slices"]] == [(0, 99), (100, 199), (200, 250)]
    assert ids(project / "out") == list(range(50, 251))  # exactly the planned ranges
    assert (project / ".rivet_state.db").exists()  # state next to the original config
    assert not (elsewhere / ".rivet_state.db").exists() and not (elsewhere / "out").exists()


def test_a_day_chunked_plan_ends_at_the_planned_maximum(pg: Any, table_name: str, tmp_path: Path) -> None:
    pg.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, at timestamptz NOT NULL)")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    insert = f"INSERT INTO {table_name} SELECT g, %s + g * interval '1 hour' FROM generate_series(%s::int, %s::int) g"
    pg.execute(insert, (start, 0, 29))  # up to 2026-01-02 05:00
    try:
        export = {"name": "bd", "table": table_name, "mode": "chunked", "chunk_column": "at", "chunk_by_days": 1}
        doc = plan(export_config(tmp_path, export), tmp_path / "plan.json")
        last = doc["exports"][0]["slices"][-1]
        assert (last["hi"], last["hi_inclusive"]) == ("2026-01-02T05:00:00+00:00", True)
        pg.execute(insert, (start, 30, 40))  # later the same day: not in the plan
        result = summary(apply(tmp_path / "plan.json", cwd=tmp_path))
        assert result["rows"] == 30 and ids(tmp_path / "out") == list(range(30))
    finally:
        pg.execute(f"DROP TABLE {table_name}")


def test_plan_age_warns_refuses_and_force_runs(events: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "ev", "table": events})
    plan_file = tmp_path / "plan.json"
    plan(config, plan_file)
    fresh = summary(apply(plan_file, cwd=tmp_path))
    assert fresh["warnings"] == []
    age(plan_file, 2)
    warned = summary(apply(plan_file, cwd=tmp_path))
    assert [w for w in warned["warnings"] if "2.0 h old" in w]
    age(plan_file, 25)
    refused = apply(plan_file, cwd=tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "25.0 h old" in refused.stderr and "--force" in refused.stderr
    forced = summary(apply(plan_file, "--force", cwd=tmp_path))
    assert forced["rows"] == 250 and [w for w in forced["warnings"] if w.startswith("--force") and "25.0 h" in w]
    runs = json.loads(run_cli("metrics", "-c", str(config), "--format", "json", cwd=tmp_path).stdout)
    assert len(runs) == 3  # the refused apply ran nothing


def test_tampered_plan_is_refused(events: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "ev", "table": events, "mode": "chunked", "chunk_size": 100})
    plan_file = tmp_path / "plan.json"
    doc = plan(config, plan_file)
    doc["exports"][0]["slices"][0]["hi"] = 100000
    plan_file.write_text(json.dumps(doc))
    proc = apply(plan_file, cwd=tmp_path)
    assert proc.returncode == 2 and "modified after `rivet plan`" in proc.stderr


def test_incremental_plan_refused_when_the_cursor_moved(pg: Any, events: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "ev", "table": events, "mode": "incremental", "cursor_column": "seq"})
    plan_file = tmp_path / "plan.json"
    doc = plan(config, plan_file)
    assert doc["exports"][0]["cursor"] == {"column": "seq", "value": None}
    assert run_cli("run", "-c", str(config), cwd=tmp_path).returncode == 0  # the cursor moves to 250
    add(pg, events, 251, 260)
    refused = apply(plan_file, cwd=tmp_path)
    assert refused.returncode == 2
    assert "stored cursor moved since the plan (seq (start) -> 250)" in refused.stderr
    assert ids(tmp_path / "out") == list(range(1, 251))  # nothing was exported
    forced = summary(apply(plan_file, "--force", cwd=tmp_path))
    assert forced["rows"] == 10
    assert [w for w in forced["warnings"] if w.startswith("--force: the stored cursor moved")]
    assert ids(tmp_path / "out") == list(range(1, 261))  # no row twice
    runs = json.loads(run_cli("metrics", "-c", str(config), "--format", "json", "--last", "1", cwd=tmp_path).stdout)
    assert runs[0]["status"] == "success"


def test_incremental_plan_applies_from_the_planned_cursor(pg: Any, events: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "ev", "table": events, "mode": "incremental", "cursor_column": "seq"})
    assert run_cli("run", "-c", str(config), cwd=tmp_path).returncode == 0
    plan_file = tmp_path / "plan.json"
    doc = plan(config, plan_file)
    assert doc["exports"][0]["cursor"] == {"column": "seq", "value": {"type": "int", "value": "250"}}
    add(pg, events, 251, 270)
    result = summary(apply(plan_file, cwd=tmp_path))
    assert result["rows"] == 20 and result["warnings"] == []
    assert ids(tmp_path / "out") == list(range(1, 271))


def test_plan_strips_url_password_and_apply_explains(events: str, tmp_path: Path) -> None:
    secret = "Plan-Secret-4711"
    url = PG_URL.replace("postgres@", f"postgres:{secret}@")  # the server trusts 127.0.0.1: any password works
    config = export_config(tmp_path, {"name": "ev", "table": events}, url=url)
    plan_file = tmp_path / "plan.json"
    doc = plan(config, plan_file)
    assert secret not in plan_file.read_text()
    assert doc["stripped"] == ["source.url (its password)"]
    proc = apply(plan_file, cwd=tmp_path)
    assert proc.returncode == 2 and "url_env" in proc.stderr and secret not in proc.stderr


def test_plan_keeps_env_references_and_apply_resolves_them(events: str, tmp_path: Path) -> None:
    env = {"RIVET_TEST_PLAN_URL": PG_URL.replace("postgres@", "postgres:Env-Secret-815@")}
    doc = yaml.safe_load(export_config(tmp_path, {"name": "ev", "table": events}).read_text())
    doc["source"] = {"type": "postgres", "url_env": "RIVET_TEST_PLAN_URL", "environment": "local"}
    config = tmp_path / "rivet.yaml"
    config.write_text(yaml.safe_dump(doc))
    plan_file = tmp_path / "plan.json"
    planned = plan(config, plan_file, env=env)
    assert planned["source"] == {"type": "postgres", "url_env": "RIVET_TEST_PLAN_URL", "environment": "local"}
    assert "Env-Secret-815" not in plan_file.read_text()
    assert planned["exports"][0]["tuning"]["profile"] == "fast"
    assert summary(apply(plan_file, cwd=tmp_path, env=env))["rows"] == 250


def test_query_file_is_inlined_and_dollar_signs_survive(events: str, tmp_path: Path) -> None:
    (tmp_path / "q.sql").write_text(f"SELECT id, name || '$${{x}}' AS name FROM {events} WHERE id <= 5\n")
    config = export_config(tmp_path, {"name": "ev", "query_file": "q.sql"})
    plan_file = tmp_path / "plan.json"
    doc = plan(config, plan_file)
    assert "query_file" not in doc["exports"][0]["export"] and "WHERE id <= 5" in doc["exports"][0]["export"]["query"]
    (tmp_path / "q.sql").unlink()
    assert summary(apply(plan_file, cwd=tmp_path))["rows"] == 5
    assert read_parquet(tmp_path / "out").column("name").to_pylist()[0].endswith("$${x}")


def test_plan_pretty_output(events: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "ev", "table": events, "mode": "chunked", "chunk_size": 100})
    proc = run_cli("plan", "-c", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "ev (chunked): 3 slice(s)" in proc.stdout and "chunk2: 200 <= id <= 250" in proc.stdout
    as_json = run_cli("plan", "-c", str(config), "--format", "json", cwd=tmp_path)
    assert json.loads(as_json.stdout)["kind"] == "rivet-plan"


def test_time_window_plan_applies_the_planned_windows(pg: Any, table_name: str, tmp_path: Path) -> None:
    pg.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, at timestamptz NOT NULL)")
    pg.execute(f"INSERT INTO {table_name} SELECT g, now() - g * interval '1 hour' FROM generate_series(0, 71) g")
    try:
        config = export_config(
            tmp_path, {"name": "tw", "table": table_name, "mode": "time_window", "time_column": "at", "days_window": 1}
        )
        doc = plan(config, tmp_path / "plan.json")
        planned = [s["key"] for s in doc["exports"][0]["slices"]]
        today = dt.datetime.now(dt.UTC).date()
        assert planned == [str(today - dt.timedelta(days=1)), str(today)]
        result = summary(apply(tmp_path / "plan.json", cwd=tmp_path))
        assert [s["key"] for s in result["slices"]] == planned
        expected = pg.execute(f"SELECT count(*) FROM {table_name} WHERE at >= %s", (today - dt.timedelta(days=1),))
        assert result["rows"] == expected.fetchone()[0]
    finally:
        pg.execute(f"DROP TABLE {table_name}")


def test_source_group_and_reconcile_required_shape_the_plans_prioritization(events: str, tmp_path: Path) -> None:
    config = export_config(
        tmp_path,
        {"name": "a", "table": events, "source_group": "oltp-primary", "reconcile_required": True},
        {"name": "b", "table": events, "mode": "incremental", "cursor_column": "seq", "source_group": "oltp-primary"},
        {"name": "c", "table": events},
    )
    doc = plan(config, tmp_path / "plan.json")
    recommended = {r["export"]: r for r in doc["prioritization"]["export_recommendation"]}
    assert sorted(r["rank"] for r in recommended.values()) == [1, 2, 3]
    assert recommended["a"]["source_group"] == "oltp-primary" and recommended["c"]["source_group"] is None
    assert any("--reconcile" in advice for advice in recommended["a"]["advice"])
    assert not any("--reconcile" in advice for advice in recommended["b"]["advice"])
    campaign = doc["prioritization"]["campaign"]
    assert sorted(campaign["order"]) == ["a", "b", "c"] and campaign["source_groups"] == {
        "oltp-primary": [n for n in campaign["order"] if n in ("a", "b")]
    }
    (warning,) = campaign["warnings"]
    assert "source_group oltp-primary: 2 exports" in warning
    proc = run_cli("plan", "-c", str(config), cwd=tmp_path)
    assert "campaign: source_group oltp-primary" in proc.stdout, proc.stdout
    applied = json.loads(apply(tmp_path / "plan.json", cwd=tmp_path).stdout)["exports"]
    assert [e["status"] for e in applied] == ["success"] * 3  # advisory: execution is unchanged
