"""What preflight asks a server's catalog (`rivet doctor` / `rivet check`): version, privileges, TLS, indexes, row
estimates and the connection budget. One subclass per engine (`<engine>/catalog.py`) over a connection from
`Source.connect()` (read-only session, statement and lock timeouts); values bound as parameters, user SQL only
ever wrapped as a subquery.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rivet_core.sources.base import Query, Source


@dataclass(frozen=True)
class Privileges:
    """Whether the connected user can change anything, and what says so (empty `reasons` = read-only)."""

    user: str
    reasons: list[str]
    replica: bool = False


@dataclass(frozen=True)
class Budget:
    """Connections: the server's limit, how many are open now, how many are kept for superusers."""

    max_connections: int
    used: int
    reserved: int = 0

    @property
    def free(self) -> int:
        return self.max_connections - self.reserved - self.used


class Catalog(ABC):
    """Catalog questions of one engine on one connection of its own; `close()` releases it."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    @abstractmethod
    def version(self) -> str:
        """The server's product and version, e.g. `PostgreSQL 16.2`."""

    @abstractmethod
    def privileges(self) -> Privileges:
        """Whether the user could write, and why."""

    @abstractmethod
    def tls(self) -> str | None:
        """The TLS protocol/cipher of this connection, or None when it is not encrypted."""

    @abstractmethod
    def indexed(self, table: tuple[str | None, str], column: str, fallback: str | None = None) -> bool:
        """Whether an index leads with `column` (or with COALESCE(column, fallback))."""

    @abstractmethod
    def table_rows(self, table: tuple[str | None, str]) -> int | None:
        """The planner's row count of a table (statistics), None when it has none."""

    @abstractmethod
    def explain_rows(self, query: Query) -> int | None:
        """The planner's row estimate of the base query (EXPLAIN)."""

    @abstractmethod
    def budget(self) -> Budget:
        """The server's connection limit and use."""

    def close(self) -> None:
        self.conn.close()


def normalized(expr: str) -> str:
    """An index expression without quotes, parentheses and blanks, lower-cased (to compare expressions)."""
    return re.sub(r'[\s"`()]', "", expr).lower()


def open_catalog(source: Source) -> Catalog:
    """The catalog of a source, on a new connection of its own (raises the source's SourceError)."""
    return source.catalog()
