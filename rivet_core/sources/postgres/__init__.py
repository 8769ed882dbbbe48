"""PostgreSQL source engine (psycopg for control and catalog, ADBC binary COPY for data); registers `postgres`."""

from rivet_core.sources.postgres.catalog import PgCatalog
from rivet_core.sources.postgres.connection import is_transient, quote_ident
from rivet_core.sources.postgres.snapshot import PgSnapshot
from rivet_core.sources.postgres.source import PostgresSource

__all__ = ["PgCatalog", "PgSnapshot", "PostgresSource", "is_transient", "quote_ident"]
