"""MySQL/MariaDB source engine (mysql-connector's C extension, unbuffered text protocol); registers `mysql`."""

from rivet_core.sources.mysql.catalog import MySqlCatalog
from rivet_core.sources.mysql.connection import (
    connect_args,
    quote_ident,
    read_session,
    session_settings,
    session_variables,
)
from rivet_core.sources.mysql.decode import BatchDecoder, ZeroDates, time_values
from rivet_core.sources.mysql.snapshot import MySQLSnapshot
from rivet_core.sources.mysql.source import MySQLSource

__all__ = [
    "BatchDecoder",
    "MySQLSnapshot",
    "MySQLSource",
    "MySqlCatalog",
    "ZeroDates",
    "connect_args",
    "quote_ident",
    "read_session",
    "session_settings",
    "session_variables",
    "time_values",
]
