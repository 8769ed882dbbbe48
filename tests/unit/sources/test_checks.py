"""Checked casts (rivet_core/sources/checks.py): no decimal wraps, out-of-range temporals fail, the bad row is found."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from rivet_core.sources.checks import (
    BadValue,
    bad_value_error,
    check_range,
    checked,
    decimal_fixes,
    decimal_from_text,
    first_failing,
    row_location,
)
from rivet_core.sources.types import ColumnPlan


@pytest.mark.parametrize("digits", [39, 40, 43, 77, 1000])
def test_too_many_digits_never_wrap(digits: int) -> None:
    """Arrow's own cast wraps some of these silently (40 digits into decimal128(38,0)); the checked one raises."""
    with pytest.raises(pa.ArrowInvalid):
        decimal_from_text(pa.array(["1" * digits]), pa.decimal128(38, 0))


def test_values_that_fit_are_exact_even_when_long() -> None:
    text = pa.array(["-0001.2300000000000000000000000000000000000000000", "9" * 38, None, "0"])
    got = decimal_from_text(text, pa.decimal256(40, 2)).to_pylist()
    assert got == [Decimal("-1.23"), Decimal("9" * 38), None, Decimal(0)]
    with pytest.raises(pa.ArrowInvalid):
        decimal_from_text(pa.array(["1.234"]), pa.decimal128(10, 2))  # never rounded


def test_decimal_fixes_name_the_narrowest_width_then_string() -> None:
    assert decimal_fixes("9" * 39, pa.decimal128(38, 0)) == ["decimal(39,0)", "string"]
    assert decimal_fixes("-1.2345", pa.decimal128(10, 2)) == ["decimal(10,4)", "string"]
    assert decimal_fixes("7" * 1000, pa.decimal256(76, 0)) == ["string"]
    assert decimal_fixes("nan", pa.decimal128(10, 2)) == ["string"]


@pytest.mark.parametrize(
    "array",
    [
        pa.array([-9222426057710551616], pa.timestamp("us")),  # Postgres 294276 AD, wrapped by the driver
        pa.array([-63517780800000000], pa.timestamp("us", tz="UTC")),  # 44 BC
        pa.array([pa.scalar(dt.date(9999, 12, 31)).value + 1], pa.int32()).view(pa.date32()),
        pa.array([86_400_000_000], pa.time64("us")),  # 24:00:00
    ],
)
def test_out_of_range_temporals_fail(array: pa.Array) -> None:
    with pytest.raises(pa.ArrowInvalid):
        check_range(array)


def test_the_whole_range_passes() -> None:
    check_range(pa.array([dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999), None]))
    check_range(pa.array([dt.date(1, 1, 1), dt.date(9999, 12, 31)]))
    check_range(pa.array([dt.time(0), dt.time(23, 59, 59, 999999)], pa.time64("us")))
    check_range(pa.array([None], pa.timestamp("us")))


def test_first_failing_bisects_to_the_bad_value() -> None:
    values = pa.array([str(i) for i in range(1000)] + ["x"] + ["1"] * 99)
    assert first_failing(values, lambda a: pc.cast(a, pa.int64())) == 1000


def test_checked_names_column_row_value_and_fixes() -> None:
    plan = ColumnPlan("v", "numeric", "v", pa.decimal128(38, 0), cast=True)
    text = pa.array(["1", "2", "9" * 39])
    with pytest.raises(BadValue) as info:
        checked(1, plan, text, lambda t: decimal_from_text(t, plan.arrow_type))
    bad = info.value
    assert (bad.column, bad.index, bad.fixes) == (1, 2, ["decimal(39,0)", "string"])
    where = row_location({"id": pa.array([10, 20, 30])}, bad.index, 0, ["id"])
    message = str(bad_value_error("postgres", [plan, plan], bad, where))
    assert "column 'v' (numeric) cannot be written as decimal128(38, 0)" in message
    assert "at id=30" in message and "`v: decimal(39,0)` or `v: string` for its exact text" in message


def test_row_location_without_a_key_is_the_position_in_the_stream() -> None:
    assert row_location({}, 4, 100, []) == "row 105 of the stream"
    assert row_location({"x": pa.array([1])}, 0, 0, ["id"]) == "row 1 of the stream"
