"""MySQL source pieces that need no server: identifier quoting, URL → driver arguments, type mapping, TIME text,
error translation."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

import rivet_core  # noqa: F401  (first: it loads the MySQL C extension before pyarrow can)
from rivet_core.config import TlsConfig, Tuning
from rivet_core.errors import ConfigError, SourceError
from rivet_core.sources.mysql import MySQLSource, connect_args, quote_ident, time_values
from rivet_core.sources.mysql.types import MySQLDescribed, mysql_plan

BALANCED = Tuning("balanced", 10000, 0, 300, 30, 3, 2000, 0)
H = dt.timedelta(hours=1)
MYSQL_URL = "mysql://root@127.0.0.1:3306/test"


def test_identifiers_are_backtick_quoted() -> None:
    assert quote_ident("we`ird name") == "`we``ird name`"


def test_url_and_tls_become_driver_arguments() -> None:
    args = connect_args("mysql://u%40x:p%3Aw@db.example:3307/shop?ssl-mode=VERIFY_IDENTITY&ssl-ca=/ca.pem", None)
    assert (args["host"], args["port"], args["user"], args["password"], args["database"]) == (
        "db.example",
        3307,
        "u@x",
        "p:w",
        "shop",
    )
    assert args["use_pure"] is False and args["ssl_ca"] == "/ca.pem"
    assert args["ssl_verify_cert"] is True and args["ssl_verify_identity"] is True
    relaxed = connect_args("mysql://u@h/d", TlsConfig(mode="verify-full", accept_invalid_hostnames=True))
    assert relaxed["ssl_verify_cert"] is True and relaxed["ssl_verify_identity"] is False
    assert connect_args("mysql://u@h/d", TlsConfig(mode="disable"))["ssl_disabled"] is True
    unset = connect_args("mysql://u@h/d?ssl-mode=DISABLED", TlsConfig(ca_file="/ca.pem"))  # the block wins
    assert unset["ssl_disabled"] is False and unset["ssl_verify_cert"] and unset["ssl_verify_identity"]
    assert "ssl_disabled" not in connect_args("mysql://u@h/d", None)
    with pytest.raises(ConfigError, match="unsupported parameters foo"):
        connect_args("mysql://u@h/d?foo=1", None)
    with pytest.raises(ConfigError, match="mysql://"):
        connect_args("postgresql://u@h/d", None)


def test_declared_widths_decide_bool_bit_and_decimal_precision() -> None:
    tiny = MySQLDescribed("x", 1, 0, 0, 63)
    assert mysql_plan(tiny, "q.x", None).arrow_type == pa.int8()
    assert mysql_plan(MySQLDescribed("x", 1, 0, 0, 63, "tinyint(1)", 3), "q.x", None).arrow_type == pa.bool_()
    assert mysql_plan(MySQLDescribed("x", 1, 32, 0, 63), "q.x", None).arrow_type == pa.uint8()
    assert mysql_plan(MySQLDescribed("x", 16, 32, 0, 63, "bit(1)", 1), "q.x", None).arrow_type == pa.bool_()
    assert mysql_plan(MySQLDescribed("x", 246, 0, 4, 63), "q.x", None).arrow_type == pa.decimal128(38, 4)
    override = mysql_plan(tiny, "q.x", pa.string())
    assert (override.arrow_type, override.cast) == (pa.string(), True)


def test_time_text_reads_as_duration_and_only_fitting_values_as_time64() -> None:
    raw = pa.array(["-838:59:59.000000", "25:00:00.5", "00:00:00", None])
    got = time_values(raw, pa.duration("us")).to_pylist()
    assert got == [-(838 * H + dt.timedelta(minutes=59, seconds=59)), 25 * H + dt.timedelta(seconds=0.5),
                   dt.timedelta(0), None]  # fmt: skip
    assert time_values(pa.array(["12:34:56.789"]), pa.time64("us")).to_pylist() == [dt.time(12, 34, 56, 789000)]
    with pytest.raises(pa.ArrowInvalid, match="time of day"):
        time_values(raw, pa.time64("us"))
    with pytest.raises(pa.ArrowInvalid, match="not a MySQL TIME"):
        time_values(pa.array(["noon"]), pa.duration("us"))


def test_source_errors_are_classified_transient_by_errno() -> None:
    source = MySQLSource(MYSQL_URL, BALANCED)

    class Lost(Exception):
        errno, msg = 2013, "Lost connection to server during query"

    class Syntax(Exception):
        errno, msg = 1064, "You have an error in your SQL syntax"

    assert source.error(Lost()).transient and not source.error(Syntax()).transient
    assert isinstance(source.error(Syntax()), SourceError)
    assert str(source.error(Lost())) == "mysql: Lost connection to server during query (error 2013)"
