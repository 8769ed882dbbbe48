"""Shared rivet.yaml fixtures of the config unit tests: a full example, a minimal config, load/error helpers."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from rivet_core.config import Config, load_config
from rivet_core.errors import ConfigError

FULL_YAML = """\
source:
  type: postgres
  host: db.internal
  port: 6432
  user: exporter
  password_env: PG_PASSWORD
  database: shop
  environment: production
  tls:
    mode: verify-full
    ca_file: ca.pem
    accept_invalid_certs: false
    accept_invalid_hostnames: false
  tuning:
    profile: safe
    batch_size: 3000
    throttle_ms: 100
    statement_timeout_s: 60
    lock_timeout_s: 5
    max_retries: 2
    retry_backoff_ms: 750
    memory_threshold_mb: 1024
    max_batch_memory_mb: 256
    on_batch_memory_exceeded: auto_shrink
parallel_exports: true
notifications:
  slack:
    webhook_url_env: SLACK_HOOK
    on: [failure, schema_change, degraded]
dagster:
  group: shop
  key_prefix: raw/shop
  tags: {team: data}
  owners: [team:data]
  schedule: "0 3 * * *"
  window: day
  automation: on_cron
exports:
  - name: orders
    table: public.orders
    mode: incremental
    cursor_column: updated_at
    cursor_fallback_column: created_at
    incremental_cursor_mode: coalesce
    format: parquet
    compression: zstd
    compression_level: 9
    compression_profile: balanced
    parquet:
      row_group_strategy: fixed_rows
      row_group_rows: 100000
      target_row_group_mb: 64
      max_row_group_mb: 128
    skip_empty: true
    max_file_size: 256MB
    destination:
      type: s3
      bucket: lake
      prefix: "raw/{export}/{date}/"
      region: eu-west-1
      endpoint: http://localhost:9000
      access_key_env: AWS_KEY
      secret_key_env: AWS_SECRET
      session_token_env: AWS_TOKEN
      aws_profile: default
      allow_anonymous: false
    meta_columns:
      exported_at: true
      row_hash: true
    quality:
      severity: warn
      row_count_min: 1
      row_count_max: {value: 1000000, severity: error}
      null_ratio_max:
        email: 0.1
      unique_columns: [id]
      unique_max_entries: 5000
    columns:
      amount: decimal(18,2)
      qty: int64
    on_schema_drift: fail
    tuning:
      batch_size: 500
    dagster:
      description: Orders table
      tags: {tier: gold}
      partition_start: 2024-01-01
  - name: events.v2
    query_file: sql/events.sql
    mode: chunked
    chunk_column: id
    chunk_count: 8
    parallel: 4
    chunk_checkpoint: true
    chunk_max_attempts: 5
    format: csv
    compression: gzip
    destination:
      type: gcs
      bucket: lake
      prefix: events/
      credentials_file: sa.json
      endpoint: http://localhost:4443
      allow_anonymous: false
  - name: daily
    query: "SELECT * FROM audit WHERE kind = 'x';"
    mode: time_window
    time_column: ts
    time_column_type: unix
    days_window: 7
    format: parquet
    destination:
      type: local
      path: ./out/{export}
"""

MINIMAL: dict[str, Any] = {
    "source": {"type": "postgres", "url": "postgresql://exporter@localhost:5432/shop"},
    "exports": [
        {"name": "orders", "table": "orders", "format": "parquet", "destination": {"type": "local", "path": "out"}}
    ],
}


def write(tmp_path: Path, text: str, name: str = "rivet.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def minimal(**export_fields: Any) -> dict[str, Any]:
    """A copy of MINIMAL with fields of its only export replaced (None removes a key)."""
    data = copy.deepcopy(MINIMAL)
    for key, value in export_fields.items():
        if value is None:
            data["exports"][0].pop(key, None)
        else:
            data["exports"][0][key] = value
    return data


def load_dict(tmp_path: Path, data: dict[str, Any], env: dict[str, str] | None = None) -> Config:
    path = tmp_path / "rivet.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_config(path, env={} if env is None else env)


def error_of(tmp_path: Path, data: dict[str, Any] | str, env: dict[str, str] | None = None) -> str:
    """The ConfigError message loading `data` (a dict dumped to YAML, or raw YAML text) produces."""
    with pytest.raises(ConfigError) as info:
        if isinstance(data, str):
            load_config(write(tmp_path, data), env={} if env is None else env)
        else:
            load_dict(tmp_path, data, env)
    assert info.value.exit_code == 2
    return str(info.value)


# A YAML "billion laughs": 9 levels of 9 aliases (9^9 strings once expanded).
BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)),
        'source: {type: postgres, url: "postgresql://u@h/d"}',
        "exports: *i",
    ]
)
