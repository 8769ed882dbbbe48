"""Engine registry, connection bounds and connection strings, without a server."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

import rivet_core  # noqa: F401  (first: it loads the MySQL C extension before pyarrow can)
from rivet_core.config import SourceConfig, TlsConfig, Tuning
from rivet_core.errors import ConfigError
from rivet_core.sources import open_source, register
from rivet_core.sources.base import Source
from rivet_core.sources.limits import CATALOG_LOCK_TIMEOUT_S, CATALOG_STATEMENT_TIMEOUT_S, Limits
from rivet_core.sources.mysql import MySQLSource, connect_args, session_variables
from rivet_core.sources.postgres import PostgresSource
from rivet_core.sources.postgres.connection import conninfo
from rivet_core.sources.registry import source_class

FAST = Tuning("fast", 50000, 0, 0, 0, 1, 1000, 0)
BALANCED = Tuning("balanced", 10000, 50, 300, 30, 3, 2000, 4096)


def test_each_engine_package_registers_its_source() -> None:
    assert source_class("postgres") is PostgresSource and source_class("mysql") is MySQLSource
    assert issubclass(PostgresSource, Source) and issubclass(MySQLSource, Source)
    source = open_source(SourceConfig(type="mysql", url="mysql://u@h/d"), "mysql://u@h/d", BALANCED)
    assert isinstance(source, MySQLSource) and source.engine == "mysql"


def test_an_unknown_engine_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no source engine named 'oracle'"):
        source_class("oracle")


def test_a_new_engine_is_one_registered_class() -> None:
    @register("unit_test_engine")
    class Fake(PostgresSource):
        engine = "unit_test_engine"

    assert source_class("unit_test_engine") is Fake


def test_catalog_connections_are_bounded_even_when_the_tuning_sets_no_limit() -> None:
    assert Limits.of(FAST).statement_timeout_s == CATALOG_STATEMENT_TIMEOUT_S
    assert Limits.of(FAST).lock_timeout_s == CATALOG_LOCK_TIMEOUT_S
    assert (Limits.of(BALANCED).statement_timeout_s, Limits.of(BALANCED).lock_timeout_s) == (300, 30)


def test_postgres_sessions_are_read_only_bounded_and_kept_alive() -> None:
    info = conninfo_to_dict(conninfo("postgresql://u:pw@db:5432/d", None, Limits.of(BALANCED)))
    assert info["options"] == ("-c default_transaction_read_only=on -c statement_timeout=300000 -c lock_timeout=30000")
    assert (info["keepalives"], info["keepalives_idle"], info["keepalives_interval"], info["keepalives_count"]) == (
        "1", "30", "10", "3"
    )  # fmt: skip
    assert info["connect_timeout"] == "30" and info["application_name"] == "rivet"
    # The URL's own settings win; its `options` are kept and rivet's appended.
    mine = conninfo("postgresql://u@db/d?keepalives_idle=5&options=-c%20search_path%3Dx", None, Limits.of(FAST))
    info = conninfo_to_dict(mine)
    assert info["keepalives_idle"] == "5"
    assert str(info["options"]).startswith("-c search_path=x -c default_transaction_read_only=on")
    # A pooler that refuses startup options gets the connection without them.
    plain = conninfo_to_dict(conninfo("postgresql://u@db/d", TlsConfig(mode="require"), Limits.of(FAST), options=False))
    assert "options" not in plain and plain["sslmode"] == "require" and plain["keepalives"] == "1"


def test_mysql_connections_refuse_multi_statements_and_sessions_are_read_only() -> None:
    args = connect_args("mysql://u@h/d", None)
    assert args["client_flags"] == [-(1 << 16)]  # CLIENT_MULTI_STATEMENTS cleared
    assert args["connection_timeout"] == 30
    assert session_variables(Limits.of(FAST), mariadb=True)["tx_read_only"] == 1
    assert session_variables(Limits.of(FAST), mariadb=False)["transaction_read_only"] == 1
    assert session_variables(Limits.of(FAST), mariadb=True)["max_statement_time"] == CATALOG_STATEMENT_TIMEOUT_S
