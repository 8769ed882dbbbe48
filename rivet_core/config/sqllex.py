"""Where does a position of SQL text stand: in code, a string, a quoted name, a comment? (for `${VAR}` placement)

A small tokenizer of the lexical forms of PostgreSQL and MySQL/MariaDB: `'…'` (`''`, and backslash escapes
where the engine or its mode takes them, `E'…'`), `"…"`, backticks, `--` / `#` line comments, `/* */` (nested in
PostgreSQL), dollar quotes `$tag$…$tag$`. A placement is accepted only when every lexing the engine may apply
(server settings such as standard_conforming_strings, NO_BACKSLASH_ESCAPES, ANSI_QUOTES) agrees on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VALUE = "value"  # a bare token in code
LITERAL = "literal"  # the whole content of a '…' literal
Placement = tuple[str, str]  # (VALUE | LITERAL | a refusal kind of sqltext._HINTS, what it stands in)

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$")
_BEFORE = set("_$.@:'\"`\\&")  # a value cannot follow these (or a letter/digit): it would join a name or literal
_AFTER = set("_$.'\"`")


@dataclass(frozen=True)
class Dialect:
    """One way an engine may lex SQL text."""

    backslash_single: bool  # '…' takes backslash escapes
    backslash_double: bool  # "…" takes backslash escapes
    double_is_name: bool  # "…" is a quoted identifier (else a string)
    e_strings: bool  # E'…' takes backslash escapes (PostgreSQL)
    backticks: bool
    hash_comments: bool
    dash_needs_space: bool  # `--` starts a comment only before whitespace (MySQL)
    dollar_quotes: bool
    nested_comments: bool


_PG = Dialect(False, False, True, True, False, False, False, True, True)
_MY = Dialect(True, True, False, False, True, True, True, False, False)
DIALECTS = {
    "postgres": (_PG, Dialect(True, False, True, True, False, False, False, True, True)),  # scs off
    "mysql": (
        _MY,
        Dialect(False, False, False, False, True, True, True, False, False),  # NO_BACKSLASH_ESCAPES
        Dialect(True, False, True, False, True, True, True, False, False),  # ANSI_QUOTES
    ),
}

_CODE, _SINGLE, _DOUBLE, _BACKTICK, _LINE, _BLOCK, _DOLLAR = range(7)


def _ident(c: str) -> bool:
    return c.isalnum() or c in "_$"


class _Lexer:
    """A character walk over the text, noting the state at each requested offset."""

    def __init__(self, sql: str, d: Dialect) -> None:
        self.sql, self.d = sql, d
        self.state, self.start, self.escapes, self.depth, self.tag = _CODE, 0, False, 0, ""

    def at(self, i: int, twins: bool) -> Placement:
        """The placement of an offset reached in the current state (`twins`: another `${…}` at the same offset)."""
        sql, n = self.sql, len(self.sql)
        if self.state == _CODE:
            before, after = sql[i - 1 : i], sql[i : i + 1]
            if twins or (before and (before.isalnum() or before in _BEFORE)):
                return "adjacent" if twins or not before.isalnum() else "name", "as part of a word or name"
            if after and (after.isalnum() or after in _AFTER):
                return "adjacent" if not after.isalnum() else "name", "as part of a word or name"
            return VALUE, "as a value"
        if self.state == _SINGLE:
            closes = sql[i : i + 1] == "'" and sql[i + 1 : i + 2] != "'"
            prefix = sql[self.start - 1 : self.start]
            if self.start == i - 1 and closes and not twins and not (prefix.isalnum() or prefix in _BEFORE):
                return LITERAL, "as a whole literal"
            return "string", "inside a string literal" if i < n else "inside an unterminated string literal"
        if self.state == _DOUBLE:
            return ("name" if self.d.double_is_name else "string"), 'inside "…" quotes'
        if self.state == _BACKTICK:
            return "name", "inside a `…` quoted name"
        if self.state == _DOLLAR:
            return "string", "inside a dollar-quoted string"
        return "comment", "in a comment"

    def step(self, i: int) -> int:
        """Consume the token part at `i`; the next offset."""
        sql, d, c = self.sql, self.d, self.sql[i]
        if self.state == _CODE:
            return self._code(i, c)
        if self.state in (_SINGLE, _DOUBLE, _BACKTICK):
            quote = "'\"`"[self.state - _SINGLE]
            if self.escapes and c == "\\":
                return i + 2
            if c == quote:
                if sql[i + 1 : i + 2] == quote:
                    return i + 2
                self.state = _CODE
            return i + 1
        if self.state == _LINE:
            self.state = _CODE if c == "\n" else _LINE
            return i + 1
        if self.state == _BLOCK:
            if sql.startswith("*/", i):
                self.depth -= 1
                self.state = _CODE if self.depth == 0 else _BLOCK
                return i + 2
            if d.nested_comments and sql.startswith("/*", i):
                self.depth += 1
                return i + 2
            return i + 1
        if sql.startswith(self.tag, i):  # _DOLLAR
            self.state = _CODE
            return i + len(self.tag)
        return i + 1

    def _code(self, i: int, c: str) -> int:
        sql, d = self.sql, self.d
        if c == "'":
            e_prefix = d.e_strings and sql[i - 1 : i] in ("e", "E") and not _ident(sql[i - 2 : i - 1] or " ")
            self.state, self.start, self.escapes = _SINGLE, i, d.backslash_single or e_prefix
        elif c == '"':
            self.state, self.escapes = _DOUBLE, d.backslash_double and not d.double_is_name
        elif c == "`" and d.backticks:
            self.state, self.escapes = _BACKTICK, False
        elif sql.startswith("--", i) and (not d.dash_needs_space or sql[i + 2 : i + 3] in ("", " ", "\t", "\n", "\r")):
            self.state = _LINE
            return i + 2
        elif c == "#" and d.hash_comments:
            self.state = _LINE
        elif sql.startswith("/*", i):
            self.state, self.depth = _BLOCK, 1
            return i + 2
        elif c == "$" and d.dollar_quotes and not (i and _ident(sql[i - 1])) and (m := _DOLLAR_TAG.match(sql, i)):
            self.state, self.tag = _DOLLAR, m[0]
            return i + len(m[0])
        return i + 1


def _lex(sql: str, offsets: list[int], d: Dialect) -> list[Placement]:
    lexer = _Lexer(sql, d)
    out: list[Placement] = []
    i, k = 0, 0
    while k < len(offsets):
        while k < len(offsets) and offsets[k] < i:  # skipped: the offset splits a two-character token
            out.append(("adjacent", "inside a token"))
            k += 1
        if k < len(offsets) and offsets[k] == i:
            twins = offsets.count(i) > 1
            while k < len(offsets) and offsets[k] == i:
                out.append(lexer.at(i, twins))
                k += 1
            continue
        if i >= len(sql):
            break
        i = lexer.step(i)
    return out


def placements(sql: str, offsets: list[int], engine: str | None) -> list[Placement]:
    """For each offset (ascending) of `sql`, where it stands; a refusal wherever the engine's lexings disagree."""
    dialects = DIALECTS.get(engine or "", DIALECTS["postgres"] + DIALECTS["mysql"])
    results = [_lex(sql, offsets, d) for d in dialects]
    out = []
    for found in zip(*results, strict=True):
        kinds = {kind for kind, _ in found}
        if len(kinds) == 1:
            out.append(found[0])
        elif kinds & {VALUE, LITERAL}:
            out.append(("ambiguous", "where the engine's SQL lexings (server settings) disagree"))
        else:
            out.append(next(p for p in found if p[0] not in (VALUE, LITERAL)))
    return out
