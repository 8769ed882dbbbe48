"""Floats in CSV as rivet-cli 0.7.7 writes them (arrow-rs's CSV writer formats them with ryu): the shortest digits
that read back exactly, `1.0` / `0.001` / `1e16` / `1.5e-7` — never `1e+16`, and `1e-5` rather than `0.00001`.

Polars writes the same text inside ryu's plain-decimal range, so only values outside it (rare) are formatted here,
one by one; the rest keep Polars's vectorized text.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

# (plain-decimal upper bound, lower bound) of ryu's pretty form, as powers of ten: f64 prints 1e-5 <= |v| < 1e16
# in plain decimals, f32 1e-6 <= |v| < 1e13; everything else in scientific notation without a `+`.
_PLAIN = {pl.Float64: (16, -5), pl.Float32: (13, -6)}


def _shortest(value: float, single: bool) -> str:
    """The shortest round-trip digits of `value` (f32 ones for a float32), in Python's notation."""
    return np.format_float_scientific(np.float32(value), unique=True) if single else repr(value)


def ryu_text(value: float, single: bool = False) -> str:
    """`value` as ryu's `Buffer::format` writes it (NaN, inf, -inf for the non-finite ones)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    mantissa, _, exp_text = _shortest(abs(value), single).partition("e")
    whole, _, frac = mantissa.partition(".")
    leading = whole.lstrip("0")
    exponent = int(exp_text or 0)
    kk = len(leading) + exponent if leading else exponent - (len(frac) - len(frac.lstrip("0")))  # 10^(kk-1) <= v
    digits = (whole + frac).strip("0")
    k = kk - len(digits)
    high, low = _PLAIN[pl.Float32 if single else pl.Float64]
    if k >= 0 and kk <= high:
        text = digits + "0" * k + ".0"
    elif 0 < kk <= high:
        text = f"{digits[:kk]}.{digits[kk:]}"
    elif low < kk <= 0:
        text = "0." + "0" * -kk + digits
    else:
        text = (digits if len(digits) == 1 else f"{digits[0]}.{digits[1:]}") + f"e{kk - 1}"
    return ("-" if value < 0 else "") + text


def float_column(series: pl.Series) -> pl.Series | None:
    """A float column as 0.7.7's CSV text, or None when Polars's own CSV text already is (all in plain range)."""
    high, low = _PLAIN[pl.Float32 if series.dtype == pl.Float32 else pl.Float64]
    size = series.abs()
    scientific = (series.is_finite() & (size != 0) & ((size >= 10.0**high) | (size < 10.0**low))).fill_null(False)
    if not scientific.any():
        return None
    single = series.dtype == pl.Float32
    where = scientific.arg_true()
    fixed = pl.Series([ryu_text(v, single) for v in series.gather(where).to_list()], dtype=pl.String)
    return series.cast(pl.String).scatter(where, fixed)
