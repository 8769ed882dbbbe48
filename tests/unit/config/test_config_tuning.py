"""rivet_core.config: Tuning profiles: the numbers, the environment default, field-by-field overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from rivet_core.config import (
    PROFILES,
    Profile,
    Tuning,
)

from .config_cases import error_of, load_dict, minimal


def test_profile_numbers_match_the_spec() -> None:
    assert PROFILES == {
        "fast": {
            "batch_size": 50000,
            "throttle_ms": 0,
            "statement_timeout_s": 0,
            "lock_timeout_s": 0,
            "max_retries": 1,
            "retry_backoff_ms": 1000,
            "memory_threshold_mb": 0,
            "stall_timeout_s": 600,
        },
        "balanced": {
            "batch_size": 10000,
            "throttle_ms": 50,
            "statement_timeout_s": 300,
            "lock_timeout_s": 30,
            "max_retries": 3,
            "retry_backoff_ms": 2000,
            "memory_threshold_mb": 4096,
            "stall_timeout_s": 300,
        },
        "safe": {
            "batch_size": 2000,
            "throttle_ms": 500,
            "statement_timeout_s": 120,
            "lock_timeout_s": 10,
            "max_retries": 5,
            "retry_backoff_ms": 5000,
            "memory_threshold_mb": 2048,
            "stall_timeout_s": 120,
        },
    }


@pytest.mark.parametrize("profile", ["fast", "balanced", "safe"])
def test_explicit_profile_gives_its_numbers(tmp_path: Path, profile: Profile) -> None:
    data = minimal()
    data["source"]["tuning"] = {"profile": profile}
    cfg = load_dict(tmp_path, data)
    assert cfg.tuning_for(cfg.exports[0]) == Tuning(profile=profile, **PROFILES[profile])


@pytest.mark.parametrize(
    ("environment", "profile"),
    [("local", "fast"), ("production", "balanced"), ("replica", "balanced"), (None, "balanced")],
)
def test_environment_picks_the_default_profile(tmp_path: Path, environment: str | None, profile: str) -> None:
    data = minimal()
    if environment:
        data["source"]["environment"] = environment
    cfg = load_dict(tmp_path, data)
    tuning = cfg.tuning_for(cfg.exports[0])
    assert tuning.profile == profile
    assert tuning.batch_size == PROFILES[profile]["batch_size"]
    assert tuning.on_batch_memory_exceeded == "warn"
    assert tuning.max_batch_memory_mb is None


def test_tuning_overrides_field_by_field(tmp_path: Path) -> None:
    data = minimal(tuning={"throttle_ms": 7, "max_batch_memory_mb": 64})
    data["source"]["environment"] = "local"  # would be fast, but source.tuning says safe
    data["source"]["tuning"] = {"profile": "safe", "batch_size": 1234, "throttle_ms": 99}
    data["exports"].append({**data["exports"][0], "name": "other", "tuning": {"profile": "fast"}})
    cfg = load_dict(tmp_path, data)

    first = cfg.tuning_for(cfg.export("orders"))
    assert first == Tuning(
        profile="safe",
        batch_size=1234,  # source.tuning
        throttle_ms=7,  # export.tuning beats source.tuning
        statement_timeout_s=120,  # profile safe
        lock_timeout_s=10,
        max_retries=5,
        retry_backoff_ms=5000,
        memory_threshold_mb=2048,
        stall_timeout_s=120,
        max_batch_memory_mb=64,
        on_batch_memory_exceeded="warn",
    )
    second = cfg.tuning_for(cfg.export("other"))
    assert second.profile == "fast"  # the export's profile wins
    assert second.batch_size == 1234  # source numbers still override the export's profile
    assert second.throttle_ms == 99
    assert second.statement_timeout_s == 0


def test_stall_timeout_comes_from_the_profile_and_is_overridable_within_its_bounds(tmp_path: Path) -> None:
    data = minimal(tuning={"stall_timeout_s": 2})
    data["source"]["tuning"] = {"profile": "safe"}
    cfg = load_dict(tmp_path, data)
    assert cfg.tuning_for(cfg.exports[0]).stall_timeout_s == 2
    plain = load_dict(tmp_path, minimal())
    assert plain.tuning_for(plain.exports[0]).stall_timeout_s == 300  # balanced
    message = error_of(tmp_path, minimal(tuning={"stall_timeout_s": -1}))
    assert "exports[0].tuning.stall_timeout_s" in message


def test_tuning_key_under_export_says_put_it_under_tuning(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(batch_size=100))
    assert "exports[0].batch_size: tuning keys go under 'tuning:' (exports[0].tuning.batch_size)" in message


def test_tuning_key_under_source_says_put_it_under_tuning(tmp_path: Path) -> None:
    data = minimal()
    data["source"]["profile"] = "fast"
    message = error_of(tmp_path, data)
    assert "source.profile: tuning keys go under 'tuning:' (source.tuning.profile)" in message


def test_bad_tuning_value_names_its_path(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(tuning={"batch_size": 0}))
    assert "exports[0].tuning.batch_size: Input should be greater than 0" in message
