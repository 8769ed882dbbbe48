"""Raw text-protocol rows → typed Arrow batches, with no Python code per value (docs/architecture.md).

The C extension's `fetch_row` is driven from C (`islice(iter(fetch_row, None))`) and yields the text protocol's
raw bytes; every `_PIECE_ROWS` rows become one Arrow struct array of binary values, and each column of a batch is
typed by vectorised Arrow casts (binary → string → int, decimal, timestamp …).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rivet_core.sources.checks import BadValue, bad_value_error, checked, decimal_from_text, first_failing, row_location
from rivet_core.sources.types import ColumnPlan, target_schema

log = logging.getLogger("rivet")

# Year 0, month 0 or day 0: MySQL accepts them (sql_mode permitting); Arrow has no such date → NULL, counted.
_ZERO_DATE = r"^(?:0000-|\d{4}-00-|\d{4}-\d{2}-00)"
_TIME = r"^(?P<sign>-?)(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?$"
_DAY_US = 86_400_000_000
# Rows held as Python objects at a time (~0.5 KB each); measured: 50k-row batches of Python rows cost ~70 MiB more
# peak RSS than 10k at the same speed.
_PIECE_ROWS = 10_000


class ZeroDates:
    """Zero dates written as NULL, per column, shared by an export's snapshot and its workers; warned once."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, column: str, n: int) -> None:
        with self._lock:
            self.counts[column] += n

    def warn(self) -> None:
        total = self.counts.total()
        if total:
            columns = ", ".join(f"{name} ({n})" for name, n in sorted(self.counts.items()))
            plural = "s" if total > 1 else ""
            log.warning("mysql: %d zero date%s (e.g. '0000-00-00') written as NULL: %s", total, plural, columns)


def pieces(
    rows_of: Iterator[tuple[Any, ...]], batch_size: int, convert: Callable[[list[Any]], pa.StructArray]
) -> Iterator[pa.StructArray]:
    """The next `batch_size` rows, converted to Arrow every `_PIECE_ROWS`: Python row objects stay few."""
    left = batch_size
    while left > 0 and (rows := list(islice(rows_of, min(left, _PIECE_ROWS)))):
        left -= len(rows)
        yield convert(rows)


class BatchDecoder:
    """Raw text-protocol rows → one typed Arrow batch: one struct conversion, then a vectorised cast per column."""

    def __init__(self, plans: list[ColumnPlan], zero_dates: ZeroDates, keys: Callable[[], list[str]]) -> None:
        self.plans = plans
        self.keys = keys  # the columns naming a row in an error (asked only when a value does not fit)
        self.seen = 0
        self.schema = target_schema(plans)
        self.zero_dates = zero_dates
        # Raw bytes throughout: converting to binary is ~40% cheaper than to string, and the vectorised
        # binary → string cast validates UTF-8 in one pass.
        self.row_type = pa.struct([(f"c{i}", pa.binary()) for i in range(len(plans))])

    def rows(self, rows: list[tuple[bytes | None, ...]]) -> pa.StructArray:
        """Python rows → one struct array of their raw values (the only step that touches Python objects)."""
        return pa.array(rows, self.row_type)

    def __call__(self, pieces: list[pa.StructArray]) -> pa.RecordBatch:
        """One typed batch; a value that does not fit fails naming its column, row and the override to set."""
        raw = pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces)
        columns = raw.flatten()
        try:
            arrays = [self.column(i, p, col) for i, (p, col) in enumerate(zip(self.plans, columns, strict=True))]
        except BadValue as bad:
            named = {p.name: col for p, col in zip(self.plans, columns, strict=True)}
            where = row_location(named, bad.index, self.seen, self.keys())
            raise bad_value_error("mysql", self.plans, bad, where) from None
        self.seen += len(raw)
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def column(self, index: int, plan: ColumnPlan, raw: pa.Array) -> pa.Array:
        """One column's text values as `plan.arrow_type`; a value that does not fit is a `checks.BadValue`."""
        target = plan.arrow_type
        if pa.types.is_binary(target):
            return raw
        try:
            raw = raw.cast(pa.string())
        except pa.ArrowInvalid:
            raise BadValue(index, first_failing(raw, lambda r: r.cast(pa.string())), "not UTF-8", ["binary"]) from None
        if pa.types.is_string(target):
            return raw
        if pa.types.is_date(target) or pa.types.is_timestamp(target):
            return checked(index, plan, raw, lambda text: self.dates(plan.name, text, target))
        tinyint_bool = pa.types.is_boolean(target) and plan.source_type.lower().startswith("tinyint")
        return checked(index, plan, raw, _converter(plan), ["int8"] if tinyint_bool else ["string"])

    def dates(self, name: str, raw: pa.Array, target: pa.DataType) -> pa.Array:
        """Dates/datetimes; zero dates become NULL and are counted (the fast cast is tried first)."""
        naive = pa.timestamp(target.unit) if pa.types.is_timestamp(target) else target
        try:
            out = pc.cast(raw, naive)
        except pa.ArrowInvalid:
            zero = pc.match_substring_regex(raw, _ZERO_DATE)
            self.zero_dates.add(name, pc.sum(zero).as_py() or 0)
            out = pc.cast(pc.if_else(zero, pa.scalar(None, raw.type), raw), naive)
        return out if naive == target else out.cast(target)


def _converter(plan: ColumnPlan) -> Callable[[pa.Array], pa.Array]:
    """The vectorised text → `plan.arrow_type` conversion of one column (dates aside)."""
    target = plan.arrow_type
    if pa.types.is_boolean(target):
        return _tinyint_bool if plan.source_type.lower().startswith("tinyint") else _bool
    if pa.types.is_duration(target) or pa.types.is_time(target):
        return lambda text: time_values(text, target)
    if pa.types.is_decimal(target):
        return lambda text: decimal_from_text(text, target)
    return lambda text: pc.cast(text, target)


def _bool(text: pa.Array) -> pa.Array:
    return pc.not_equal(pc.cast(text, pa.int64()), 0)


def _tinyint_bool(text: pa.Array) -> pa.Array:
    """TINYINT(1) as bool only while every value is 0 or 1: any other value fails (README: Types)."""
    ints = pc.cast(text, pa.int8())
    extremes = pc.min_max(ints)
    if extremes["min"].as_py() is not None and (extremes["min"].as_py() < 0 or extremes["max"].as_py() > 1):
        raise pa.ArrowInvalid("TINYINT(1) holding a value other than 0 or 1 is not a bool")
    return pc.not_equal(ints, 0)


def time_values(raw: pa.Array, target: pa.DataType) -> pa.Array:
    """MySQL TIME text (`-838:59:59.000000` … `838:59:59.999999`) as duration[us] (or time64 when it fits)."""
    parts = pc.extract_regex(raw, _TIME)
    if parts.null_count != raw.null_count:
        raise pa.ArrowInvalid("a value is not a MySQL TIME")

    def number(name: str, width: int = 0) -> pa.Array:
        text = pc.struct_field(parts, name)
        return pc.cast(pc.utf8_rpad(text, width, "0") if width else text, pa.int64())

    seconds = pc.add(pc.add(pc.multiply(number("h"), 3600), pc.multiply(number("m"), 60)), number("s"))
    micros = pc.add(pc.multiply(seconds, 1_000_000), number("f", 6))
    micros = pc.if_else(pc.equal(pc.struct_field(parts, "sign"), "-"), pc.negate(micros), micros)
    if pa.types.is_time(target) and not pc.all(pc.and_(pc.greater_equal(micros, 0), pc.less(micros, _DAY_US))).as_py():
        raise pa.ArrowInvalid("a TIME value is negative or 24 h or more; time64 holds a time of day only")
    return pc.cast(micros, target)
