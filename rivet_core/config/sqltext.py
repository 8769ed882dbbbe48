"""`${VAR}` in `query:` text: a variable may stand only as a whole SQL value, and is quoted when the SQL is rendered.

The text is split into SQL and values (`SqlText`); each value is later quoted by the driver's own literal quoting
(README: SQL and parameters). The SQL is lexed only to see where each `${…}` stands — strings, quoted names,
comments, dollar quotes — under every lexing the engine may apply; it is never otherwise parsed or rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rivet_core.config.sqllex import LITERAL, VALUE, placements

_VAR = re.compile(r"\$\$|\$\{([^}]*)\}")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_VAR = re.compile(r"pass|pwd|secret|token|key|credential|url|dsn", re.IGNORECASE)

_HINTS = {
    "string": "a variable can only be a whole literal '${X}' or stand alone; build text in SQL instead, e.g. "
    "'%' || ${X} || '%' (MySQL: CONCAT('%', ${X}, '%'))",
    "name": "a variable is a value, never part of a name, keyword or quoted identifier",
    "comment": "remove it from the comment",
    "adjacent": "put it alone, with spaces or operators around it: a variable is one whole value",
    "ambiguous": "write it outside any quoted text and comment, so every SQL lexer agrees where it stands",
}


@dataclass(frozen=True)
class SqlValue:
    """One `${NAME}` of a query, with the value it has in this run (quoted only when rendered)."""

    name: str
    value: str


@dataclass(frozen=True)
class SqlText:
    """User SQL as text pieces and values; `render` quotes each value with the engine's literal quoting."""

    parts: tuple[str | SqlValue, ...]

    @classmethod
    def plain(cls, sql: str) -> SqlText:
        """SQL with no variables (a `query_file`, or a query built without `${VAR}` expansion)."""
        return cls((sql,))

    def render(self, literal: Callable[[str], str]) -> str:
        """The SQL with each value as `literal(value)` (the driver's quoting: a value never becomes SQL text)."""
        return "".join(p if isinstance(p, str) else literal(p.value) for p in self.parts)

    @property
    def text(self) -> str:
        """The SQL as shown, fingerprinted and stored: values as standard `'…'` literals (never executed)."""
        return self.render(_display_literal)

    @property
    def template(self) -> str:
        """The text in `query:` syntax (`$$` for `$`, `${NAME}` where a value goes), for plans."""
        return "".join(p.replace("$", "$$") if isinstance(p, str) else f"${{{p.name}}}" for p in self.parts)

    @property
    def values(self) -> dict[str, str]:
        return {p.name: p.value for p in self.parts if isinstance(p, SqlValue)}


def _display_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class _Scan:
    """`query:` text split at each `${NAME}` (`$$` already `$`), with the problems found on the way."""

    chunks: list[str]
    names: list[str]
    problems: list[str]


def _split(raw: str, env: Mapping[str, str], where: str) -> _Scan:
    scan = _Scan([""], [], [])
    pos = 0
    for match in _VAR.finditer(raw):
        scan.chunks[-1] += raw[pos : match.start()]
        pos = match.end()
        if match[0] == "$$":
            scan.chunks[-1] += "$"
            continue
        name = match[1]
        if not _VAR_NAME.match(name):
            scan.problems.append(f"{where}: '${{{name}}}' is not a valid variable reference (write $$ for a literal $)")
        elif name not in env:
            scan.problems.append(f"{where}: environment variable {name} is not set")
        elif "\x00" in env[name]:
            scan.problems.append(f"{where}: the value of ${{{name}}} holds a NUL character, which SQL text cannot")
        scan.names.append(name)
        scan.chunks.append("")
    scan.chunks[-1] += raw[pos:]
    return scan


def _strip(parts: list[str | SqlValue]) -> tuple[str | SqlValue, ...]:
    """Leading whitespace, trailing whitespace and `;` removed (rivet wraps the query in its own statements)."""
    if parts and isinstance(parts[0], str):
        parts[0] = parts[0].lstrip()
    if parts and isinstance(parts[-1], str):
        last = parts[-1].rstrip()
        while last.endswith(";"):
            last = last[:-1].rstrip()
        parts[-1] = last
    return tuple(p for p in parts if p != "")


def parse_query(raw: str, env: Mapping[str, str], where: str, engine: str | None) -> tuple[SqlText, list[str]]:
    """`query:` text → SqlText, and the problems (each `<where>: …`) that refuse it; see the module docstring."""
    scan = _split(raw, env, where)
    if scan.problems:
        return SqlText.plain(raw), scan.problems
    sql = "".join(scan.chunks)
    offsets, offset = [], 0
    for chunk in scan.chunks[:-1]:
        offset += len(chunk)
        offsets.append(offset)
    chunks = list(scan.chunks)
    problems = []
    for i, (name, (kind, detail)) in enumerate(zip(scan.names, placements(sql, offsets, engine), strict=True)):
        if kind == LITERAL:  # '${X}': the value replaces the whole literal, quotes included
            chunks[i], chunks[i + 1] = chunks[i][:-1], chunks[i + 1][1:]
        elif kind != VALUE:
            problems.append(
                f"{where}: ${{{name}}} stands {detail}; {_HINTS[kind]} (or write $${{{name}}} for the text)"
            )
    if not sql.strip():
        problems.append(f"{where}: the query is only a variable; a variable is a value, not SQL (use query_file)")
    parts: list[str | SqlValue] = [chunks[0]]
    for name, chunk in zip(scan.names, chunks[1:], strict=True):
        parts += [SqlValue(name, env[name]), chunk]
    return SqlText(_strip(parts)), problems


def expand_queries(
    tree: dict[str, Any], env: Mapping[str, str], problems: list[str], secrets: list[str]
) -> dict[int, SqlText]:
    """Parse each `exports[i].query` (left raw by the `${VAR}` pass) and put its display text in its place.

    Returns the SqlText of each export index, for `attach_queries`; refusals go to `problems`, values of
    secret-looking variables to `secrets` (masked from error text).
    """
    source = tree.get("source")
    engine = source.get("type") if isinstance(source, dict) else None
    exports = tree.get("exports")
    found: dict[int, SqlText] = {}
    for i, export in enumerate(exports if isinstance(exports, list) else []):
        if not isinstance(export, dict) or not isinstance(export.get("query"), str):
            continue
        name = export.get("name")
        where = f"exports[{name if isinstance(name, str) and name else i}].query"
        text, refused = parse_query(export["query"], env, where, engine if isinstance(engine, str) else None)
        problems += refused
        secrets += [v for k, v in text.values.items() if _SECRET_VAR.search(k)]
        export["query"] = text.text
        found[i] = text
    return found
