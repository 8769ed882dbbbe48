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


def count(query: Query, slc: Slice, quote: Quote, placeholder: Placeholder) -> tuple[str, list[Any]]:
    """`COUNT(*)` of a slice."""
    cond, params = where(slc, quote, placeholder)
    return f"SELECT COUNT(*) FROM ({base_sql(query, quote)}) AS {ALIAS}{cond}", params


def bounds(query: Query, column: str, quote: Quote) -> str:
    """`MIN`/`MAX` of a column of the base query."""
    col = f"{ALIAS}.{quote(column)}"
    return f"SELECT MIN({col}), MAX({col}) FROM ({base_sql(query, quote)}) AS {ALIAS}"
