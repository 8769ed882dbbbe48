"""Progress lines: one per export per interval, rows/s from the elapsed time, a bad interval named."""

from __future__ import annotations

import logging

import pytest

from rivet_core.errors import ConfigError
from rivet_core.progress import ProgressLog, interval_from_env


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_line_per_interval_with_rows_rate_and_elapsed(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    progress = ProgressLog(5.0, clock)
    with caplog.at_level(logging.INFO, logger="rivet"):
        for rows in (1_000, 2_000, 3_000):  # within the first 5 s: nothing
            clock.now += 1
            progress("orders", rows, 0)
        clock.now += 2  # 5 s after the run started
        progress("orders", 10_000, 0)
        clock.now += 1
        progress("orders", 11_000, 0)  # 1 s after the last line: nothing
    assert [r.getMessage() for r in caplog.records] == ["orders: 10,000 rows, 2,000 rows/s, 5 s elapsed"]


def test_the_interval_comes_from_the_environment_and_a_bad_one_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIVET_PROGRESS_INTERVAL_S", "0.5")
    assert interval_from_env() == 0.5
    monkeypatch.setenv("RIVET_PROGRESS_INTERVAL_S", "soon")
    with pytest.raises(ConfigError, match="RIVET_PROGRESS_INTERVAL_S: 'soon'"):
        interval_from_env()
