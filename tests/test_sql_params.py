"""`${VAR}` / `--param` in `query:` on both real servers: values stay values, misplaced ones are refused (exit 2).

Every run is `rivet` as a process. README: SQL and parameters.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from e2e import read_parquet
from engines import Engine, engine_fixture  # noqa: F401 - the `engine` fixture

ROWS = [(1, "n1"), (2, "n2"), (3, "o'brien"), (4, "a\\b"), (5, 'q"uote'), (6, "%s")]


@pytest.fixture
def people(engine: Engine, table_name: str) -> Iterator[str]:
    engine.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, name varchar(50) NOT NULL)")
    engine.insert(table_name, ROWS)
    yield table_name
    engine.execute(f"DROP TABLE IF EXISTS {table_name}")
    engine.execute(f"DROP TABLE IF EXISTS {table_name}_pwned")


def _tables(engine: Engine, prefix: str) -> set[str]:
    if engine.kind == "postgres":
        found = engine.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE %s", (prefix + "%",))
    else:
        found = engine.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE %s",
            (prefix + "%",),
        )
    return {str(r[0]) for r in found}


def _run(config: Path, *params: str, command: str = "run") -> Any:
    args = [a for p in params for a in ("--param", p)]
    return run_cli(command, "-c", str(config), *(["--json"] if command == "run" else []), *args, cwd=config.parent)


def _rows(config: Path, *params: str) -> list[int]:
    proc = _run(config, *params)
    assert proc.returncode == 0, proc.stderr
    (summary,) = json.loads(proc.stdout)["exports"]
    if summary["rows"] == 0:
        return []
    return sorted(read_parquet(config.parent / "out").column("id").to_pylist())


def _injections(engine: Engine, table: str) -> list[str]:
    pwned = f"{table}_pwned"
    sleep = "' || pg_sleep(30) || '" if engine.kind == "postgres" else "' + SLEEP(30) + '"
    return [
        f"n1') AS q; COMMIT; CREATE TABLE {pwned}(v int); COMMIT; BEGIN; SELECT * FROM (SELECT * FROM {table} WHERE "
        "name = 'n1",
        "' OR '1'='1",
        f"'; DROP TABLE {table}; --",
        f"x'; CREATE TABLE {pwned}(v int); SELECT '",
        "x\\'; CREATE TABLE " + pwned + "(v int); -- ",
        sleep,
    ]


def test_injected_values_are_only_values(engine: Engine, people: str, tmp_path: Path) -> None:
    query = f"SELECT * FROM {people} WHERE name = '${{NAME}}'"
    for i, value in enumerate(_injections(engine, people)):
        folder = tmp_path / str(i)
        folder.mkdir()
        config = engine.config(folder, {"name": "q", "query": query})
        for command in ("check", "plan") if i == 0 else ():  # `check` used to wait for ever on this one
            proc = _run(config, f"NAME={value}", command=command)
            assert proc.returncode == 0, f"{command} {value!r}: {proc.stderr}"
        started = time.monotonic()
        assert _rows(config, f"NAME={value}") == [], value
        assert time.monotonic() - started < 25, f"{value!r} ran as SQL (a 30 s sleep)"
        assert _tables(engine, people) == {people}, f"{value!r} executed a statement"
    assert len(engine.execute(f"SELECT id FROM {people}")) == len(ROWS)


@pytest.mark.parametrize("value", ["n1", "o'brien", "a\\b", 'q"uote', "%s"])
def test_quotes_backslashes_and_percent_in_a_value_match_exactly(
    engine: Engine, people: str, tmp_path: Path, value: str
) -> None:
    config = engine.config(tmp_path, {"name": "q", "query": f"SELECT * FROM {people} WHERE name = ${{NAME}}"})
    assert _rows(config, f"NAME={value}") == [next(i for i, n in ROWS if n == value)]


def test_a_numeric_value_is_coerced_by_the_server(engine: Engine, people: str, tmp_path: Path) -> None:
    config = engine.config(tmp_path, {"name": "q", "query": f"SELECT * FROM {people} WHERE id > ${{N}}"})
    assert _rows(config, "N=4") == [5, 6]


@pytest.mark.parametrize(
    "mode",
    [
        {"mode": "full"},
        {"mode": "incremental", "cursor_column": "id"},
        {"mode": "chunked", "chunk_column": "id", "chunk_size": 2},
    ],
    ids=["full", "incremental", "chunked"],
)
def test_percent_question_marks_and_casts_in_user_sql_just_work(
    engine: Engine, people: str, tmp_path: Path, mode: dict[str, Any]
) -> None:
    cast = "id::int" if engine.kind == "postgres" else "CAST(id AS SIGNED)"
    query = (
        f"SELECT id, {cast} AS i, name, '%s' AS pct, '?' AS q, ':name' AS n FROM {people} "
        f"WHERE (name LIKE 'n%' OR name LIKE '%bri%' OR name LIKE '%s') AND id >= ${{LOW}}"
    )
    config = engine.config(tmp_path, {"name": "q", "query": query, **mode})
    for command in ("check", "plan"):
        proc = _run(config, "LOW=2", command=command)
        assert proc.returncode == 0, f"{command}: {proc.stderr}"
    assert _rows(config, "LOW=2") == [2, 3, 6]
    table = read_parquet(tmp_path / "out")
    assert set(table.column("pct").to_pylist()) == {"%s"} and set(table.column("q").to_pylist()) == {"?"}


@pytest.mark.parametrize(
    "where",
    [
        "name LIKE '%${X}%'",
        "name = '${X}s'",
        "name = 'a' -- ${X}",
        "name = 'a' /* ${X} */",
        "name = t_${X}",
        "QUOTED = 1",
    ],
)
def test_misplaced_variables_are_refused_at_load(engine: Engine, people: str, tmp_path: Path, where: str) -> None:
    quoted = '"${X}"' if engine.kind == "postgres" else "`${X}`"
    config = engine.config(
        tmp_path, {"name": "q", "query": f"SELECT * FROM {people} WHERE {where}".replace("QUOTED", quoted)}
    )
    for command in ("check", "run", "plan") if where.startswith("name LIKE") else ("check",):
        proc = _run(config, "X=a", command=command)
        assert proc.returncode == 2, f"{command}: {proc.returncode} {proc.stderr}"
        assert "exports[q].query: ${X} stands" in proc.stderr and "Traceback" not in proc.stderr
    assert _tables(engine, people) == {people}


def test_a_plan_keeps_the_values_it_was_made_with(engine: Engine, people: str, tmp_path: Path) -> None:
    config = engine.config(tmp_path, {"name": "q", "query": f"SELECT * FROM {people} WHERE name = '${{NAME}}'"})
    plan_file = tmp_path / "plan.json"
    proc = run_cli("plan", "-c", str(config), "-o", str(plan_file), "--param", "NAME=o'brien", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(plan_file.read_text())["exports"][0]["export"]
    assert doc["query"].endswith("WHERE name = ${NAME}") and doc["query_params"] == {"NAME": "o'brien"}
    proc = run_cli("apply", str(plan_file), "--json", cwd=tmp_path)  # NAME is not set: the plan holds it
    assert proc.returncode == 0, proc.stderr
    assert read_parquet(tmp_path / "out").column("id").to_pylist() == [3]
