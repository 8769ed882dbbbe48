"""rivet-cli 0.7.7 rules and resolutions on the config side: what 0.7.7 rejects, and the views the engine reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rivet_core.config import CompressionChoice, RowGroupSizing, TlsConfig

from .config_cases import MINIMAL, error_of, load_dict, minimal

AZURE = {"type": "azure", "bucket": "c", "account_name": "acct"}


@pytest.mark.parametrize("mode", [None, "single_column", "single"])
def test_fallback_column_without_coalesce_is_an_error(tmp_path: Path, mode: str | None) -> None:
    data = minimal(mode="incremental", cursor_column="updated_at", cursor_fallback_column="created_at")
    if mode is not None:
        data["exports"][0]["incremental_cursor_mode"] = mode
    message = error_of(tmp_path, data)
    assert "  exports[0].cursor_fallback_column: only used with incremental_cursor_mode: coalesce" in message


def test_single_is_read_as_single_column(tmp_path: Path) -> None:
    cfg = load_dict(tmp_path, minimal(mode="incremental", cursor_column="id", incremental_cursor_mode="single"))
    assert cfg.exports[0].incremental_cursor_mode == "single_column"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"mode": "chunked", "chunk_dense": True, "chunk_count": 4},
            "exports[0].chunk_dense: cannot be combined with chunk_count",
        ),
        (
            {"mode": "chunked", "chunk_dense": True, "chunk_by_days": 2, "chunk_column": "d"},
            "exports[0].chunk_dense: cannot be combined with chunk_by_days",
        ),
        ({"chunk_by_days": 2}, "exports[0].chunk_by_days: needs mode: chunked"),
        (
            {"mode": "chunked", "chunk_size_memory_mb": 64, "chunk_size": 10},
            "exports[0].chunk_size_memory_mb: cannot be combined with chunk_size",
        ),
        (
            {"mode": "chunked", "chunk_size_memory_mb": 64, "table": None, "query": "SELECT 1", "chunk_column": "id"},
            "exports[0].chunk_size_memory_mb: needs table:",
        ),
        (
            {"mode": "chunked", "destination": {"type": "stdout"}},
            "exports[0].mode: chunked cannot write to destination type stdout",
        ),
        (
            {"max_file_size": "1MB", "destination": {"type": "stdout"}},
            "exports[0].max_file_size: cannot split output written to destination type stdout",
        ),
    ],
)
def test_combinations_0_7_7_rejects(tmp_path: Path, fields: dict[str, Any], expected: str) -> None:
    assert f"  {expected}" in error_of(tmp_path, minimal(**fields))


def test_batch_size_and_memory_sizing_clash_at_one_level_and_merged(tmp_path: Path) -> None:
    both = {"batch_size": 1000, "batch_size_memory_mb": 64}
    message = error_of(tmp_path, minimal(tuning=both))
    assert "  exports[0].tuning.batch_size_memory_mb: cannot be combined with batch_size" in message
    data = minimal(tuning={"batch_size_memory_mb": 64})
    data["source"]["tuning"] = {"batch_size": 1000}
    message = error_of(tmp_path, data)
    assert "  exports[0].tuning.batch_size_memory_mb: cannot be combined with source.tuning.batch_size" in message
    data = minimal(tuning={"batch_size": 1000})
    data["source"]["tuning"] = {"batch_size_memory_mb": 64}
    message = error_of(tmp_path, data)
    assert "  exports[0].tuning.batch_size: cannot be combined with source.tuning.batch_size_memory_mb" in message
    data["exports"][0]["tuning"] = {"throttle_ms": 0}  # the profile's batch_size is no clash
    cfg = load_dict(tmp_path, data)
    assert cfg.tuning_for(cfg.exports[0]).batch_size_memory_mb == 64


@pytest.mark.parametrize("key", ["adaptive", "batch_size_memory_mb", "on_batch_memory_exceeded"])
def test_new_tuning_keys_belong_under_tuning(tmp_path: Path, key: str) -> None:
    value = {"adaptive": True, "batch_size_memory_mb": 64, "on_batch_memory_exceeded": "fail"}[key]
    message = error_of(tmp_path, minimal(**{key: value}))
    assert f"  exports[0].{key}: tuning keys go under 'tuning:' (exports[0].tuning.{key})" in message


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        (
            {"type": "azure", "bucket": "c", "account_key_env": "K"},
            "destination.account_name: required unless allow_anonymous: true",
        ),
        ({**AZURE}, "destination: set exactly one of account_key_env / sas_token_env"),
        (
            {**AZURE, "account_key_env": "K", "sas_token_env": "S"},
            "destination: set exactly one of account_key_env / sas_token_env",
        ),
        ({**AZURE, "allow_anonymous": True}, "destination: allow_anonymous: true cannot be combined with account_name"),
        (
            {"type": "azure", "bucket": "c", "allow_anonymous": True},
            "destination.endpoint: required with allow_anonymous: true",
        ),
        ({"type": "azure", "account_name": "a", "account_key_env": "K"}, "destination.bucket: required"),
        (
            {"type": "gcs", "bucket": "b", "credentials_file": "k.json", "allow_anonymous": True},
            "destination.credentials_file: cannot be combined with allow_anonymous: true",
        ),
        ({"type": "stdout", "path": "x"}, "destination.path: unknown key (allowed: type)"),
    ],
)
def test_destination_rules(tmp_path: Path, destination: dict[str, Any], expected: str) -> None:
    assert f"  exports[0].{expected}" in error_of(tmp_path, minimal(destination=destination))


def test_shape_drift_factor(tmp_path: Path) -> None:
    export = load_dict(tmp_path, minimal(shape_drift_warn_factor=0)).exports[0]
    assert export.shape_drift_factor is None  # 0 turns it off
    export = load_dict(tmp_path, minimal(shape_drift_warn_factor=-1.5)).exports[0]
    assert export.shape_drift_factor is None
    assert load_dict(tmp_path, minimal(shape_drift_warn_factor=4)).exports[0].shape_drift_factor == 4.0
    cfg = load_dict(tmp_path, minimal(shape_drift_warn_factor="${F}"), env={"F": "2.5"})
    assert cfg.exports[0].shape_drift_factor == 2.5
    for bad in (True, "2.5"):
        message = error_of(tmp_path, minimal(shape_drift_warn_factor=bad))
        assert "exports[0].shape_drift_warn_factor: Input should be a valid number" in message


def test_tls_block_defaults_to_verify_full() -> None:
    assert TlsConfig().effective_mode == "verify-full"
    assert TlsConfig(accept_invalid_certs=True).effective_mode == "require"
    assert TlsConfig(accept_invalid_hostnames=True).effective_mode == "verify-ca"
    assert TlsConfig(mode="disable", accept_invalid_certs=True).effective_mode == "disable"


@pytest.mark.parametrize(
    ("fields", "choice"),
    [
        ({}, CompressionChoice("zstd", 3, "compression")),
        ({"compression": "gzip"}, CompressionChoice("gzip", 6, "compression")),
        ({"compression": "zstd", "compression_level": 7}, CompressionChoice("zstd", 7, "compression")),
        (
            {"compression_profile": "fast", "compression_level": 5},
            CompressionChoice("snappy", None, "compression_profile"),
        ),
        ({"format": "csv"}, CompressionChoice("none", None, "csv_default")),
        ({"format": "csv", "compression_profile": "compact"}, CompressionChoice("none", None, "csv_default")),
        ({"format": "csv", "compression": "gzip"}, CompressionChoice("gzip", 6, "compression")),
        ({"format": "csv", "compression": "snappy"}, CompressionChoice("none", None, "csv_default")),
    ],
)
def test_compression_choice(tmp_path: Path, fields: dict[str, Any], choice: CompressionChoice) -> None:
    assert load_dict(tmp_path, minimal(**fields)).exports[0].compression_choice == choice


def test_row_group_sizing_defaults(tmp_path: Path) -> None:
    assert load_dict(tmp_path, MINIMAL).exports[0].row_groups == RowGroupSizing("auto", None, 32 << 20)
    fixed = minimal(parquet={"row_group_strategy": "fixed_rows", "max_row_group_mb": 1})
    assert load_dict(tmp_path, fixed).exports[0].row_groups == RowGroupSizing("fixed_rows", 1_048_576, None)


def test_parallel_mode(tmp_path: Path) -> None:
    assert load_dict(tmp_path, MINIMAL).parallel_mode == "sequential"
    assert load_dict(tmp_path, {**MINIMAL, "parallel_exports": True}).parallel_mode == "threads"
    assert load_dict(tmp_path, {**MINIMAL, "parallel_export_processes": True}).parallel_mode == "processes"
