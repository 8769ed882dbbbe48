"""SQL text shared by the sources: the base query wrapped as a subquery, a slice predicate with bound values.

Identifiers go through the engine's quoting function; values are never spliced, only bound as parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rivet_core.slices import Slice
from rivet_core.sources.base import Query

Quote = Callable[[str], str]
Placeholder = Callable[[int], str]

ALIAS = "_rivet_q"


def base_sql(query: Query, quote: Quote) -> str:
    """`SELECT * FROM schema.table`, or the user's SQL as given (it is only ever used as a subquery)."""
    if query.sql is not None:
        return query.sql
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
            terms.append(f"{key} {op} {placeholder(first + len(params) - 1)}")
    return (" WHERE " + " AND ".join(terms)) if terms else "", params


def select(
    query: Query,
    slc: Slice,
    exprs: Sequence[str],
    quote: Quote,
    placeholder: Placeholder,
) -> tuple[str, list[Any]]:
    """The data statement of a slice: the wrapped base query, its projection, predicate and cursor order."""
    cond, params = where(slc, quote, placeholder)
    order = f" ORDER BY {slice_key(slc, quote)}" if slc.ordered and slc.column else ""
    projection = ", ".join(exprs) if exprs else "*"
    return f"SELECT {projection} FROM ({base_sql(query, quote)}) AS {ALIAS}{cond}{order}", params


def count(snap: Any, query: Query, slc: Slice) -> int:
    """`COUNT(*)` of a slice, in the snapshot."""
    cond, params = where(slc, snap.quote, snap.placeholder(slc))
    statement = f"SELECT COUNT(*) FROM ({base_sql(query, snap.quote)}) AS {ALIAS}{cond}"
    return int(snap.fetch_one(statement, slc, params)[0])


def bounds(snap: Any, query: Query, column: str, after: Any = None) -> tuple[Any, Any]:
    """`MIN`/`MAX` of a column of the base query (above `after` when given: a seek to the next key)."""
    slc = Slice("incremental", column, after=after)
    cond, params = where(slc, snap.quote, snap.placeholder(slc))
    col = f"{ALIAS}.{snap.quote(column)}"
    statement = f"SELECT MIN({col}), MAX({col}) FROM ({base_sql(query, snap.quote)}) AS {ALIAS}{cond}"
    lo, hi = snap.fetch_one(statement, slc, params)
    return lo, hi


def key_at(snap: Any, query: Query, column: str, lo: Any, offset: int) -> Any:
    """The key `offset` rows after `lo` in key order (dense chunk boundaries), or None past the end."""
    slc = Slice("chunk", column, lo=lo)
    cond, params = where(slc, snap.quote, snap.placeholder(slc))
    col = f"{ALIAS}.{snap.quote(column)}"
    statement = (
        f"SELECT {col} FROM ({base_sql(query, snap.quote)}) AS {ALIAS}{cond} ORDER BY {col}"
        f" LIMIT 1 OFFSET {int(offset)}"
    )
    row = snap.fetch_one(statement, slc, params)
    return row[0] if row else None
