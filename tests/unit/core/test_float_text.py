"""CSV floats as rivet-cli 0.7.7 writes them (ryu's shortest form), through the real CSV writer."""

from __future__ import annotations

import io

import pyarrow as pa
import pytest

from rivet_core.float_text import ryu_text
from rivet_core.writers import FormatOptions, RollingWriter

F64 = [
    (1.0, "1.0"), (0.1, "0.1"), (2.5, "2.5"), (-0.0, "-0.0"), (123456.789, "123456.789"),
    (1e15, "1000000000000000.0"), (1e16, "1e16"), (1.2345678901234567e16, "1.2345678901234568e16"),
    (1e-5, "0.00001"), (5e-6, "5e-6"), (1.5e-7, "1.5e-7"), (-2.5e-10, "-2.5e-10"), (3e300, "3e300"),
    (float("nan"), "NaN"), (float("inf"), "inf"), (float("-inf"), "-inf"),
]  # fmt: skip
F32 = [(123456.789, "123456.79"), (1e12, "1000000000000.0"), (1e13, "1e13"), (1e-6, "0.000001"), (5e-7, "5e-7")]


@pytest.mark.parametrize(("value", "text"), F64)
def test_float64_text(value: float, text: str) -> None:
    assert ryu_text(value) == text


@pytest.mark.parametrize(("value", "text"), F32)
def test_float32_text(value: float, text: str) -> None:
    assert ryu_text(value, single=True) == text


def test_csv_files_hold_0_7_7s_float_text_and_nulls_stay_empty() -> None:
    values = [v for v, _ in F64] + [None]
    batch = pa.record_batch(
        [pa.array(values, pa.float64()), pa.array([1.0] * len(F64) + [None], pa.float32())], names=["d", "f"]
    )
    out = io.BytesIO()
    writer = RollingWriter(batch.schema, FormatOptions("csv", compression="none"), "x", lambda key: (key, out))
    out.close = lambda: None  # type: ignore[method-assign]  # read the bytes after the part closes
    writer.write(batch)
    writer.finish(write_empty=False)
    lines = out.getvalue().decode().splitlines()
    assert lines[0] == "d,f"
    assert [line.split(",")[0] for line in lines[1:]] == [t for _, t in F64] + [""]
    assert {line.split(",")[1] for line in lines[1:-1]} == {"1.0"} and lines[-1] == ","
