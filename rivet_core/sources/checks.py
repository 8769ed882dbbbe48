"""Checked casts: a value that does not fit its Arrow type fails the export, never lands wrapped (README: Types).

Arrow's text → decimal cast wraps silently once a value has more digits than its 128/256-bit accumulator holds,
and Arrow timestamps/dates/times hold values Parquet readers and the CSV writer cannot (years outside 1..9999,
`24:00:00`). `decimal_from_text` and `check_range` close those gaps with vectorised checks; a failure is a
`BadValue`, which the snapshot turns into one `SourceError` naming the column, the row and the override.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from rivet_core.errors import SourceError
from rivet_core.sources.types import ColumnPlan

# The range every writer and reader handles: the year 1 to 9999, a time of day below 24:00.
_RANGES = {
    "timestamp": (dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)),
    "date": (dt.date(1, 1, 1), dt.date(9999, 12, 31)),
}
_DAY_US = 86_400_000_000
_VALUE_CHARS = 60  # a value quoted in a message is cut to this many characters


class BadValue(Exception):
    """A value of `column` at `index` of its batch that does not fit the plan's type; `fixes` are overrides."""

    def __init__(self, column: int, index: int, reason: str, fixes: Sequence[str]) -> None:
        super().__init__(reason)
        self.column, self.index, self.reason, self.fixes = column, index, reason, list(fixes)


def first_failing(array: pa.Array, convert: Callable[[pa.Array], object]) -> int:
    """The index of the first value `convert` raises on (bisecting: log n calls, only on the error path)."""
    lo, hi = 0, len(array)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            convert(array.slice(lo, mid - lo))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, BadValue):
            hi = mid
        else:
            lo = mid
    return lo


def decimal_from_text(text: pa.Array, target: pa.Decimal128Type | pa.Decimal256Type) -> pa.Array:
    """Decimal text (`-12.50`) as `target`, exactly, or ArrowInvalid: too many digits never wrap."""
    lengths = pc.utf8_length(text)
    longest = pc.max(lengths).as_py() or 0
    if longest <= target.precision:  # at most `precision` digits: Arrow parses (and range-checks) them exactly
        return pc.cast(text, target)
    whole, frac = target.precision - target.scale, target.scale
    fits = pc.match_substring_regex(text, rf"^[+-]?0*\d{{0,{whole}}}(?:\.\d{{0,{frac}}}0*)?$")
    if not pc.all(pc.fill_null(fits, True)).as_py():
        raise pa.ArrowInvalid(f"more digits than {target.precision - target.scale} before or {frac} after the point")
    trimmed = pc.replace_substring_regex(text, r"^([+-]?)0+(\d)", r"\1\2")
    trimmed = pc.replace_substring_regex(trimmed, r"(\.\d*?)0+$", r"\1")
    return pc.cast(trimmed, target)


def decimal_fixes(value: str, target: pa.DataType) -> list[str]:
    """Overrides that hold `value` exactly: the narrowest decimal up to 76 digits, then `string`."""
    digits = value.strip().lstrip("+-")
    whole, _, frac = digits.partition(".")
    whole, frac = whole.lstrip("0"), frac.rstrip("0")
    scale = max(len(frac), getattr(target, "scale", 0))
    precision = max(len(whole) + scale, getattr(target, "precision", 1))
    if digits.replace(".", "", 1).isdigit() and precision <= 76:
        return [f"decimal({precision},{scale})", "string"]
    return ["string"]


def check_range(array: pa.Array) -> None:
    """ArrowInvalid when a timestamp or date lies outside the year 1 … 9999, or a time of day is 24:00 or more."""
    bounds = _bounds(array.type)
    if bounds is None:
        return
    ints = array.view(pa.int32() if pa.types.is_date32(array.type) else pa.int64())
    extremes = pc.min_max(ints)
    lowest, highest = extremes["min"].as_py(), extremes["max"].as_py()
    if lowest is not None and (lowest < bounds[0] or highest > bounds[1]):
        what = "a time of 24:00:00 or later" if pa.types.is_time(array.type) else "a year outside 1 … 9999"
        raise pa.ArrowInvalid(what)


def _bounds(target: pa.DataType) -> tuple[int, int] | None:
    """The range of `target`'s integer storage every writer and reader handles, or None when unchecked."""
    if pa.types.is_timestamp(target):
        naive = pa.timestamp(target.unit)
        low, high = _RANGES["timestamp"]
        return pa.scalar(low, naive).cast(pa.int64()).as_py(), pa.scalar(high, naive).cast(pa.int64()).as_py()
    if pa.types.is_date32(target):
        low, high = _RANGES["date"]
        return pa.scalar(low, target).cast(pa.int32()).as_py(), pa.scalar(high, target).cast(pa.int32()).as_py()
    if pa.types.is_time64(target) and target.unit == "us":
        return 0, _DAY_US - 1
    return None


def checked(
    index: int,
    plan: ColumnPlan,
    array: pa.Array,
    convert: Callable[[pa.Array], pa.Array],
    fixes: Sequence[str] = ("string",),
) -> pa.Array:
    """`convert(array)` then the range check; a failure is a BadValue pointing at the first offending value
    (`fixes`: the overrides to suggest; decimals compute theirs)."""

    def run(part: pa.Array) -> pa.Array:
        out = convert(part)
        check_range(out)
        return out

    try:
        return run(array)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        row = first_failing(array, run)
        reason = str(exc).splitlines()[0]
        if pa.types.is_temporal(array.type):  # out of Python's range too: the row's key shows which it is
            raise BadValue(index, row, f"a value with {reason}", fixes) from None
        text = _text(array[row].as_py())
        if pa.types.is_decimal(plan.arrow_type):
            fixes = decimal_fixes(text, plan.arrow_type)
        shown = text if len(text) <= _VALUE_CHARS else f"{text[:_VALUE_CHARS]}… ({len(text)} characters)"
        raise BadValue(index, row, f"value {shown!r} ({reason})", fixes) from None


def bad_value_error(engine: str, plans: list[ColumnPlan], bad: BadValue, where: str) -> SourceError:
    """One line naming the column, its source type, the row, the value and the `columns:` override(s) that fix it."""
    plan = plans[bad.column]
    fixes = " or ".join(f"`{plan.name}: {fix}`" for fix in bad.fixes)
    exact = " for its exact text" if bad.fixes[-1] == "string" else ""
    return SourceError(
        f"{engine}: column {plan.name!r} ({plan.source_type}) cannot be written as {plan.arrow_type}: "
        f"{bad.reason} at {where}; set its type under `columns:` (e.g. {fixes}{exact})"
    )


def row_location(columns: Mapping[str, pa.Array], row: int, offset: int, keys: Sequence[str]) -> str:
    """`id=2` when the key columns are at hand, else the row's position in the slice's stream (1-based)."""
    if keys and all(k in columns for k in keys):
        return ", ".join(f"{k}={_text(columns[k][row].as_py())}" for k in keys)
    return f"row {offset + row + 1} of the stream"


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
