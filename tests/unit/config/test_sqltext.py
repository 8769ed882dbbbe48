"""`${VAR}` in `query:` text: allowed only as a whole value, refused elsewhere with the field named (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rivet_core.config.sqltext import SqlText, SqlValue, parse_query

from .config_cases import error_of, load_dict, minimal

ENV = {"X": "x'; DROP TABLE t; --", "N": "5"}
WHERE = "exports[e].query"


def parsed(sql: str, dialect: str | None = "postgres") -> SqlText:
    text, problems = parse_query(sql, ENV, WHERE, dialect)
    assert problems == []
    return text


def refusal(sql: str, dialect: str | None = "postgres") -> str:
    _, problems = parse_query(sql, ENV, WHERE, dialect)
    assert problems, "accepted"
    assert all(p.startswith(f"{WHERE}: ") for p in problems)
    return problems[0]


@pytest.mark.parametrize("dialect", ["postgres", "mysql", None])
def test_a_whole_literal_and_a_bare_token_become_values(dialect: str | None) -> None:
    text = parsed("SELECT * FROM t WHERE name = '${X}' AND id > ${N};", dialect)
    assert text.parts == ("SELECT * FROM t WHERE name = ", SqlValue("X", ENV["X"]), " AND id > ", SqlValue("N", "5"))
    assert text.render(lambda v: f"<{v}>") == f"SELECT * FROM t WHERE name = <{ENV['X']}> AND id > <5>"
    assert text.text == "SELECT * FROM t WHERE name = 'x''; DROP TABLE t; --' AND id > '5'"
    assert text.template == "SELECT * FROM t WHERE name = ${X} AND id > ${N}"
    assert text.values == {"X": ENV["X"], "N": "5"}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM t WHERE a LIKE 'a%' AND b LIKE '%x%'",
        "SELECT '?' AS q, :name AS n, 1::int AS c, '%s' AS s",
        "SELECT 'costs $$5', '$${X}' -- $${X} is literal text here",
    ],
)
def test_sql_without_substitutions_is_left_alone(sql: str) -> None:
    text = parsed(sql)
    assert text.values == {} and text.text == sql.replace("$$", "$")


def test_casts_and_operators_next_to_a_value() -> None:
    assert parsed("SELECT ${N}::int + 1, -${N}, (${N}), f(${N},${N})").text == (
        "SELECT '5'::int + 1, -'5', ('5'), f('5','5')"
    )


@pytest.mark.parametrize(
    ("sql", "dialect", "says"),
    [
        ("SELECT * FROM t WHERE name LIKE '%${X}%'", "postgres", "inside a string literal"),
        ("SELECT * FROM t WHERE name LIKE '%${X}%'", "mysql", "CONCAT('%', ${X}, '%')"),
        ("SELECT '${X}''s'", "postgres", "inside a string literal"),
        ("SELECT E'${X}'", "postgres", "inside a string literal"),
        ("SELECT N'${X}'", "mysql", "inside a string literal"),
        ('SELECT "${X}" FROM t', "postgres", 'inside "…" quotes'),
        ("SELECT `${X}` FROM t", "mysql", "inside a `…` quoted name"),
        ("SELECT * FROM t_${N}", "postgres", "as part of a word"),
        ("SELECT * FROM s.${X}", "postgres", "as part of a word"),
        ("SELECT 1 -- ${X}", "postgres", "in a comment"),
        ("SELECT 1 /* ${X} */", "mysql", "in a comment"),
        ("SELECT 1 /* a /* b */ ${X} */", "postgres", "in a comment"),
        ("SELECT 1 # ${X}", "mysql", "in a comment"),
        ("SELECT $$$$${X}$$$$", "postgres", "inside a dollar-quoted string"),
        ("SELECT $$q$$ ${X} $$q$$", "postgres", "inside a dollar-quoted string"),
        ("SELECT ${X}${N}", "postgres", "as part of a word"),
        ("SELECT '\\'${X}'", "mysql", "inside a string literal"),  # `\'` escapes the quote in MySQL
        ("SELECT '\\' ${X} '", "postgres", "lexings (server settings) disagree"),  # standard_conforming_strings
        ("SELECT 1 # ${X}", None, "disagree"),
    ],
)
def test_any_other_placement_is_refused(sql: str, dialect: str | None, says: str) -> None:
    message = refusal(sql, dialect)
    assert says in message, message
    assert "$${" in message  # says how to write the text literally


def test_a_query_that_is_only_a_variable_is_refused() -> None:
    assert "not SQL" in refusal("${X}")


def test_unset_and_invalid_references_name_the_field() -> None:
    assert refusal("SELECT ${MISSING}") == f"{WHERE}: environment variable MISSING is not set"
    assert "not a valid variable reference" in refusal("SELECT ${1x}")
    _, problems = parse_query("SELECT ${Z}", {"Z": "a\x00b"}, WHERE, "postgres")
    assert problems and "NUL" in problems[0]


def test_load_refuses_a_misplaced_variable_with_exit_2_naming_the_export(tmp_path: Path) -> None:
    data = minimal(table=None, query="SELECT * FROM t WHERE name LIKE '%${X}%'")
    message = error_of(tmp_path, data, env={"X": "a"})
    assert "exports[orders].query: ${X} stands inside a string literal" in message


def test_load_keeps_values_apart_and_other_fields_expand_as_text(tmp_path: Path) -> None:
    data = minimal(
        table=None, query="SELECT * FROM t WHERE name = '${X}'", destination={"type": "local", "path": "${N}/x"}
    )
    cfg = load_dict(tmp_path, data, env=ENV)
    export = cfg.exports[0]
    text = export.sql_text(tmp_path)
    assert text is not None and text.values == {"X": ENV["X"]}
    assert export.query == "SELECT * FROM t WHERE name = 'x''; DROP TABLE t; --'"
    assert export.destination.type == "local" and export.destination.path == "5/x"


def test_a_query_file_is_read_as_is(tmp_path: Path) -> None:
    (tmp_path / "q.sql").write_text("SELECT '${X}' AS v;\n")
    cfg = load_dict(tmp_path, minimal(table=None, query_file="q.sql"), env=ENV)
    assert cfg.exports[0].sql_text(tmp_path) == SqlText.plain("SELECT '${X}' AS v")
