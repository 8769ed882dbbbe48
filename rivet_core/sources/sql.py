"""SQL text shared by the sources: the base query wrapped as a subquery, a slice predicate with bound values.

Identifiers go through the engine's quoting function; slice bounds are bound parameters (the engine's
`placeholder`), `${VAR}` values of the user's SQL the engine's literal quoting (README: SQL and parameters). The
user's SQL is never parsed for driver placeholders: the statements reach no %-style formatting (`LIKE 'a%'`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rivet_core.slices import Slice
from rivet_core.sources.base import Query

Quote = Callable[[str], str]
QuoteValue = Callable[[str], str]  # a `${VAR}` value as an (untyped) SQL string literal
Placeholder = Callable[[int, Any], str]  # (parameter number, value) → its marker in the statement

ALIAS = "_rivet_q"


def base_sql(query: Query, quote: Quote, literal: QuoteValue) -> str:
    """`SELECT * FROM schema.table`, or the user's SQL with its values quoted (only ever used as a subquery)."""
    if query.sql is not None:
        return query.sql.render(literal)
    assert query.table is not None
    schema, table = query.table
    ref = f"{quote(schema)}.{quote(table)}" if schema else quote(table)
    return f"SELECT * FROM {ref}"


def slice_key(slc: Slice, quote: Quote) -> str:
    """The expression a slice ranges over: a column, or COALESCE of the cursor and its fallback."""
    assert slc.column is not None
    col = f"{ALIAS}.{quote(slc.column)}"
    return f"COALESCE({col}, {ALIAS}.{quote(slc.fallback)})" if slc.fallback else col


def where(slc: Slice, quote: Quote, placeholder: Placeholder, first: int = 1) -> tuple[str, list[Any]]:
    """` WHERE …` for the slice (empty for a full slice) and its parameters, numbered from `first`."""
    if slc.column is None:
        return "", []
    key = slice_key(slc, quote)
    terms: list[str] = []
    params: list[Any] = []
    for op, value in ((">", slc.after), (">=", slc.lo), ("<=" if slc.hi_inclusive else "<", slc.hi)):
        if value is not None:
            params.append(value)
            terms.append(f"{key} {op} {placeholder(first + len(params) - 1, value)}")
    return (" WHERE " + " AND ".join(terms)) if terms else "", params


def _base(snap: Any, query: Query) -> str:
    return base_sql(query, snap.quote, snap.literal)


def select(snap: Any, query: Query, slc: Slice, exprs: Sequence[str]) -> tuple[str, list[Any]]:
    """The data statement of a slice: the wrapped base query, its projection, predicate and cursor order."""
    cond, params = where(slc, snap.quote, snap.placeholder(slc))
    order = f" ORDER BY {slice_key(slc, snap.quote)}" if slc.ordered and slc.column else ""
    projection = ", ".join(exprs) if exprs else "*"
    return f"SELECT {projection} FROM ({_base(snap, query)}) AS {ALIAS}{cond}{order}", params


def count(snap: Any, query: Query, slc: Slice) -> int:
    """`COUNT(*)` of a slice, in the snapshot."""
    cond, params = where(slc, snap.quote, snap.placeholder(slc))
    statement = f"SELECT COUNT(*) FROM ({_base(snap, query)}) AS {ALIAS}{cond}"
    return int(snap.fetch_one(statement, slc, params)[0])


def top(snap: Any, query: Query, slc: Slice) -> Any:
    """`MAX` of a slice's key over the whole base query, in the snapshot (the late-commit fence's bound)."""
    statement = f"SELECT MAX({slice_key(slc, snap.quote)}) FROM ({_base(snap, query)}) AS {ALIAS}"
    return snap.fetch_one(statement, slc, [])[0]


def bounds(snap: Any, query: Query, column: str, after: Any = None) -> tuple[Any, Any]:
    """`MIN`/`MAX` of a column of the base query (above `after` when given: a seek to the next key)."""
    slc = Slice("incremental", column, after=after)
    cond, params = where(slc, snap.quote, snap.placeholder(slc))
    col = f"{ALIAS}.{snap.quote(column)}"
    statement = f"SELECT MIN({col}), MAX({col}) FROM ({_base(snap, query)}) AS {ALIAS}{cond}"
    lo, hi = snap.fetch_one(statement, slc, params)
    return lo, hi


def key_at(snap: Any, query: Query, column: str, lo: Any, offset: int) -> Any:
    """The key `offset` rows after `lo` in key order (dense chunk boundaries), or None past the end."""
    slc = Slice("chunk", column, lo=lo)
    cond, params = where(slc, snap.quote, snap.placeholder(slc))
    col = f"{ALIAS}.{snap.quote(column)}"
    statement = f"SELECT {col} FROM ({_base(snap, query)}) AS {ALIAS}{cond} ORDER BY {col} LIMIT 1 OFFSET {int(offset)}"
    row = snap.fetch_one(statement, slc, params)
    return row[0] if row else None
