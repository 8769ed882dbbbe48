"""rivet_core.config: loading rivet.yaml, profile resolution, and errors that name the path (design §3)."""

from __future__ import annotations

import copy
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from rivet_core.config import (
    PROFILES,
    Config,
    NullRatioRule,
    QualityRule,
    S3DestinationConfig,
    Tuning,
    config_json_schema,
    export_fingerprint,
    load_config,
    parse_file_size,
    parse_type_override,
)
from rivet_core.errors import ConfigError
from rivet_core.redact import redact, redact_url

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
    chunk_dense: true
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
      allow_anonymous: true
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


# ---------------------------------------------------------------------------------------------------------
# A full example
# ---------------------------------------------------------------------------------------------------------


def test_full_example_loads_every_field(tmp_path: Path) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "events.sql").write_text("SELECT id, kind FROM events ;\n  \n", encoding="utf-8")
    cfg = load_config(write(tmp_path, FULL_YAML), env={})

    assert cfg.path == (tmp_path / "rivet.yaml").resolve()
    assert cfg.base_dir == tmp_path.resolve()
    assert cfg.parallel_exports is True
    assert cfg.source.port == 6432
    assert cfg.source.tls is not None and cfg.source.tls.mode == "verify-full"
    assert cfg.notifications is not None and cfg.notifications.slack is not None
    assert cfg.notifications.slack.on == ["failure", "schema_change", "degraded"]
    assert [e.name for e in cfg.exports] == ["orders", "events.v2", "daily"]

    orders = cfg.export("orders")
    assert orders.source_table == ("public", "orders")
    assert orders.incremental_cursor_mode == "coalesce"
    assert orders.max_file_size_bytes == 256 * 1024 * 1024
    assert orders.parquet is not None and orders.parquet.row_group_rows == 100000
    assert isinstance(orders.destination, S3DestinationConfig)
    assert orders.destination.prefix == "raw/{export}/{date}/"
    assert orders.meta_columns is not None and orders.meta_columns.row_hash is True
    assert orders.columns == {"amount": "decimal(18,2)", "qty": "int64"}
    assert orders.on_schema_drift == "fail"
    assert orders.resolved_query(cfg.base_dir) is None

    quality = orders.quality
    assert quality is not None
    assert isinstance(quality.row_count_min, QualityRule)
    assert (quality.row_count_min.value, quality.row_count_min.severity) == (1, "warn")
    assert quality.row_count_max is not None and quality.row_count_max.value == 1_000_000
    assert quality.row_count_max.severity == "error"
    assert isinstance(quality.null_ratio_max, NullRatioRule)
    assert quality.null_ratio_max.value == {"email": 0.1}
    assert quality.null_ratio_max.severity == "warn"
    assert quality.unique_columns is not None and quality.unique_columns.value == ["id"]
    assert quality.unique_max_entries == 5000

    events = cfg.export("events.v2")
    assert events.source_table is None
    assert events.resolved_query(cfg.base_dir) == "SELECT id, kind FROM events"
    assert events.destination.type == "gcs"
    assert (events.chunk_count, events.parallel, events.chunk_max_attempts) == (8, 4, 5)

    daily = cfg.export("daily")
    assert daily.window_count == 7
    assert daily.resolved_query(cfg.base_dir) == "SELECT * FROM audit WHERE kind = 'x'"
    assert daily.destination.type == "local"


def test_minimal_defaults(tmp_path: Path) -> None:
    export = load_dict(tmp_path, MINIMAL).exports[0]
    assert (export.mode, export.compression, export.on_schema_drift) == ("full", "zstd", "warn")
    assert (export.parallel, export.chunk_max_attempts, export.chunk_size) == (1, 3, None)
    assert export.max_file_size_bytes is None
    assert export.window_count == 1
    assert export.source_table == (None, "orders")


def test_config_is_frozen(tmp_path: Path) -> None:
    cfg = load_dict(tmp_path, MINIMAL)
    with pytest.raises(ValueError, match="frozen"):
        cfg.exports[0].format = "csv"  # type: ignore[misc]


def test_unknown_export_name_lists_known(tmp_path: Path) -> None:
    cfg = load_dict(tmp_path, MINIMAL)
    with pytest.raises(ConfigError, match=r"no export named 'nope' \(known: orders\)"):
        cfg.export("nope")


# ---------------------------------------------------------------------------------------------------------
# Tuning profiles
# ---------------------------------------------------------------------------------------------------------


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
        },
        "balanced": {
            "batch_size": 10000,
            "throttle_ms": 50,
            "statement_timeout_s": 300,
            "lock_timeout_s": 30,
            "max_retries": 3,
            "retry_backoff_ms": 2000,
            "memory_threshold_mb": 4096,
        },
        "safe": {
            "batch_size": 2000,
            "throttle_ms": 500,
            "statement_timeout_s": 120,
            "lock_timeout_s": 10,
            "max_retries": 5,
            "retry_backoff_ms": 5000,
            "memory_threshold_mb": 2048,
        },
    }


@pytest.mark.parametrize("profile", ["fast", "balanced", "safe"])
def test_explicit_profile_gives_its_numbers(tmp_path: Path, profile: str) -> None:
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
        max_batch_memory_mb=64,
        on_batch_memory_exceeded="warn",
    )
    second = cfg.tuning_for(cfg.export("other"))
    assert second.profile == "fast"  # the export's profile wins
    assert second.batch_size == 1234  # source numbers still override the export's profile
    assert second.throttle_ms == 99
    assert second.statement_timeout_s == 0


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


# ---------------------------------------------------------------------------------------------------------
# Errors name the path
# ---------------------------------------------------------------------------------------------------------


def test_error_message_first_line_names_the_file(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(format="xml"))
    first, *rest = message.splitlines()
    assert first == f"invalid config {tmp_path / 'rivet.yaml'}:"
    assert rest == ["  exports[0].format: Input should be 'parquet' or 'csv'"]


def test_unknown_top_level_key(tmp_path: Path) -> None:
    data = minimal()
    data["exprots"] = []
    message = error_of(tmp_path, data)
    assert "  exprots: unknown key (did you mean 'exports'?)" in message


def test_unknown_key_lists_allowed_keys_when_nothing_is_close(tmp_path: Path) -> None:
    data = minimal()
    data["zzz"] = 1
    message = error_of(tmp_path, data)
    assert "zzz: unknown key (allowed: source, exports, notifications, parallel_exports, dagster)" in message


def test_unknown_source_key(tmp_path: Path) -> None:
    data = minimal()
    data["source"]["hostname"] = "x"
    assert "  source.hostname: unknown key" in error_of(tmp_path, data)


def test_unknown_export_key(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(cursor="id"))
    assert "  exports[0].cursor: unknown key" in message


def test_unknown_destination_key_drops_the_union_tag(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(destination={"type": "s3", "bucket": "b", "prefx": "x"}))
    assert "  exports[0].destination.prefx: unknown key (did you mean 'prefix'?)" in message


def test_missing_required_fields(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(format=None, destination={"type": "s3"}))
    assert "  exports[0].format: required" in message
    assert "  exports[0].destination.bucket: required" in message


def test_bad_enum_lists_allowed_values(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(format="xml", mode="stream"))
    assert "exports[0].format: Input should be 'parquet' or 'csv'" in message
    assert "exports[0].mode: Input should be 'full', 'incremental', 'chunked' or 'time_window'" in message


def test_bad_tls_mode_names_nested_path(tmp_path: Path) -> None:
    data = minimal()
    data["source"]["tls"] = {"mode": "prefer"}
    message = error_of(tmp_path, data)
    assert "source.tls.mode: Input should be 'disable', 'require', 'verify-ca' or 'verify-full'" in message


def test_url_and_url_env(tmp_path: Path) -> None:
    data = minimal()
    data["source"]["url_env"] = "PG_URL"
    message = error_of(tmp_path, data)
    assert "  source: use exactly one of url / url_env / url_file (found: url, url_env)" in message


def test_url_and_host(tmp_path: Path) -> None:
    data = minimal()
    data["source"]["host"] = "db"
    message = error_of(tmp_path, data)
    assert "  source: url cannot be mixed with structured connection fields (host)" in message


def test_password_and_password_env(tmp_path: Path) -> None:
    data = minimal()
    data["source"] = {
        "type": "postgres",
        "host": "db",
        "user": "u",
        "database": "d",
        "password": "pw-literal",
        "password_env": "PGPW",
    }
    message = error_of(tmp_path, data)
    assert "  source: use either password or password_env, not both" in message
    assert "pw-literal" not in message


def test_structured_source_needs_user_and_database(tmp_path: Path) -> None:
    data = minimal()
    data["source"] = {"type": "mysql", "host": "db"}
    message = error_of(tmp_path, data)
    assert "  source.user: required with host:" in message
    assert "  source.database: required with host:" in message


def test_source_without_any_connection(tmp_path: Path) -> None:
    data = minimal()
    data["source"] = {"type": "postgres"}
    assert "source: no connection given" in error_of(tmp_path, data)


def test_query_and_table(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(query="SELECT 1"))
    assert "  exports[0]: set exactly one of table / query / query_file (found: table, query)" in message


def test_none_of_table_query_query_file(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(table=None))
    assert "  exports[0]: set exactly one of table / query / query_file" in message


def test_incremental_without_cursor_column(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(mode="incremental"))
    assert "  exports[0].cursor_column: required for mode: incremental" in message


def test_coalesce_without_fallback_column(tmp_path: Path) -> None:
    data = minimal(mode="incremental", cursor_column="updated_at", incremental_cursor_mode="coalesce")
    message = error_of(tmp_path, data)
    assert "  exports[0].cursor_fallback_column: required with incremental_cursor_mode: coalesce" in message


def test_time_window_without_time_column(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(mode="time_window"))
    assert "  exports[0].time_column: required for mode: time_window" in message


def test_chunked_without_chunk_column_on_mysql(tmp_path: Path) -> None:
    data = minimal(mode="chunked")
    data["source"] = {"type": "mysql", "url": "mysql://u@localhost/shop"}
    message = error_of(tmp_path, data)
    assert "  exports[0].chunk_column: required for mode: chunked" in message


def test_chunked_without_chunk_column_on_postgres_query(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(mode="chunked", table=None, query="SELECT * FROM t"))
    assert "  exports[0].chunk_column: required for mode: chunked" in message


def test_chunked_postgres_table_may_omit_chunk_column(tmp_path: Path) -> None:
    cfg = load_dict(tmp_path, minimal(mode="chunked"))
    assert cfg.exports[0].mode == "chunked"
    assert cfg.exports[0].chunk_column is None


def test_more_than_one_chunking(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(mode="chunked", chunk_column="id", chunk_size=10, chunk_count=4))
    assert "exports[0]: set at most one of chunk_size / chunk_count / chunk_by_days" in message


def test_mode_fields_for_another_mode_are_allowed(tmp_path: Path) -> None:
    cfg = load_dict(tmp_path, minimal(cursor_column="id", chunk_column="id", time_column="ts"))
    assert cfg.exports[0].mode == "full"
    assert cfg.exports[0].cursor_column == "id"


def test_duplicate_export_names(tmp_path: Path) -> None:
    data = minimal()
    data["exports"].append(copy.deepcopy(data["exports"][0]))
    message = error_of(tmp_path, data)
    assert "  exports[1].name: duplicate export name 'orders' (also exports[0])" in message


def test_empty_exports(tmp_path: Path) -> None:
    data = minimal()
    data["exports"] = []
    assert "  exports: List should have at least 1 item" in error_of(tmp_path, data)


@pytest.mark.parametrize("name", ["", "a/b", "../x", "-x", "a b"])
def test_export_name_must_be_file_safe(tmp_path: Path, name: str) -> None:
    message = error_of(tmp_path, minimal(name=name))
    assert "exports[0].name: must start with a letter, digit or _" in message


def test_table_must_be_an_identifier(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(table="orders; DROP TABLE x"))
    assert "exports[0].table: use `table` or `schema.table`" in message


@pytest.mark.parametrize("kind", ["azure", "stdout"])
def test_unsupported_destination(tmp_path: Path, kind: str) -> None:
    message = error_of(tmp_path, minimal(destination={"type": kind, "path": "x"}))
    assert (
        f"  exports[0].destination: destination type '{kind}' is not supported (supported: local, s3, gcs)" in message
    )


def test_destination_without_type(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(destination={"path": "x"}))
    assert "  exports[0].destination.type: required (one of: local, s3, gcs)" in message


def test_s3_keys_come_in_pairs(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(destination={"type": "s3", "bucket": "b", "access_key_env": "K"}))
    assert "exports[0].destination: set both access_key_env and secret_key_env, or neither" in message


def test_compression_level_checked_against_codec(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(compression="snappy", compression_level=3))
    assert "exports[0].compression_level: compression snappy has no levels" in message
    message = error_of(tmp_path, minimal(compression="gzip", compression_level=12))
    assert "exports[0].compression_level: must be 1..9 for compression gzip" in message


def test_slack_needs_exactly_one_webhook(tmp_path: Path) -> None:
    data = minimal()
    data["notifications"] = {"slack": {"on": ["failure"]}}
    message = error_of(tmp_path, data)
    assert "  notifications.slack: set exactly one of webhook_url / webhook_url_env" in message


def test_slack_on_key_is_not_a_yaml_boolean(tmp_path: Path) -> None:
    text = """\
        source: {type: postgres, url: "postgresql://u@h/d"}
        exports:
          - {name: a, table: a, format: csv, destination: {type: local, path: out}}
        notifications:
          slack:
            webhook_url_env: HOOK
            on: [failure, success]
    """
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.notifications is not None and cfg.notifications.slack is not None
    assert cfg.notifications.slack.on == ["failure", "success"]
    assert cfg.notifications.slack.resolve_webhook_url({"HOOK": "https://hooks.example/x"}) == (
        "https://hooks.example/x"
    )


# ---------------------------------------------------------------------------------------------------------
# YAML, env vars, files
# ---------------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_malformed_yaml_reports_the_line(tmp_path: Path) -> None:
    text = """\
        source:
          type: postgres
          url: "postgresql://u:TopSecretPw@h/d"
        exports:
          - name: a
            table: a
            format: parquet: csv
    """
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert message.startswith(f"{path} line 7: mapping values are not allowed here")
    assert "TopSecretPw" not in message


def test_duplicate_yaml_key_reports_the_line(tmp_path: Path) -> None:
    text = """\
        source:
          type: postgres
          type: mysql
    """
    message = error_of(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'rivet.yaml'} line 3: duplicate key 'type'")


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str")])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    message = error_of(tmp_path, text)
    assert message.endswith(f"the top level must be a mapping with source: and exports:, not a {kind}")


def test_empty_file(tmp_path: Path) -> None:
    assert "is empty" in error_of(tmp_path, "# nothing\n")


def test_env_var_expansion_and_dollar_escape(tmp_path: Path) -> None:
    data = minimal(
        table=None,
        query="SELECT * FROM ${SCHEMA}.t WHERE note = 'costs $$5' AND tag = '$${LITERAL}'",
        destination={"type": "local", "path": "${OUT_DIR}/x"},
    )
    cfg = load_dict(tmp_path, data, env={"SCHEMA": "sales", "OUT_DIR": "/data"})
    export = cfg.exports[0]
    assert export.query == "SELECT * FROM sales.t WHERE note = 'costs $5' AND tag = '${LITERAL}'"
    assert export.destination.type == "local" and export.destination.path == "/data/x"


def test_missing_env_var_names_variable_and_path(tmp_path: Path) -> None:
    data = minimal()
    data["source"]["url"] = "${PG_URL}"
    message = error_of(tmp_path, data, env={"OTHER": "postgresql://u:SetButIrrelevant@h/d"})
    assert "  source.url: environment variable PG_URL is not set" in message
    assert "SetButIrrelevant" not in message


def test_secret_that_is_set_never_appears_in_errors(tmp_path: Path) -> None:
    secret = "Sup3r-S3cret-Value"
    data = minimal(format="xml", max_file_size="${PG_PASSWORD}")
    data["source"] = {
        "type": "postgres",
        "url": "postgresql://u:${PG_PASSWORD}@h/d",
        "url_env": "PG_URL",
    }
    data["notifications"] = {"slack": {"webhook_url": "https://hooks.example/${PG_PASSWORD}", "on": ["x"]}}
    env = {"PG_PASSWORD": secret, "PG_URL": f"postgresql://u:{secret}@h/d"}
    message = error_of(tmp_path, data, env=env)
    assert "source: use exactly one of url / url_env / url_file" in message
    assert "exports[0].format" in message
    assert "exports[0].max_file_size" in message
    assert "notifications.slack.on[0]" in message
    assert secret not in message


def test_query_file_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "q.sql").write_text("SELECT 1;;\n", encoding="utf-8")
    cfg = load_dict(tmp_path, minimal(table=None, query_file="q.sql"))
    assert cfg.exports[0].resolved_query(cfg.base_dir) == "SELECT 1"


@pytest.mark.parametrize("query_file", ["../outside.sql", "sql/../../outside.sql"])
def test_query_file_with_dotdot_is_rejected(tmp_path: Path, query_file: str) -> None:
    config_dir = tmp_path / "cfg"
    config_dir.mkdir()
    (tmp_path / "outside.sql").write_text("SELECT 1", encoding="utf-8")
    message = error_of(config_dir, minimal(table=None, query_file=query_file))
    assert "  exports[0].query_file: must stay inside the config folder (no '..')" in message


def test_absolute_query_file_is_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "outside.sql"
    outside.write_text("SELECT 1", encoding="utf-8")
    message = error_of(tmp_path, minimal(table=None, query_file=str(outside)))
    assert "  exports[0].query_file: must be a path relative to the config folder" in message


def test_query_file_symlink_out_of_the_folder_is_rejected(tmp_path: Path) -> None:
    config_dir = tmp_path / "cfg"
    config_dir.mkdir()
    (tmp_path / "outside.sql").write_text("SELECT 1", encoding="utf-8")
    (config_dir / "link.sql").symlink_to(tmp_path / "outside.sql")
    message = error_of(config_dir, minimal(table=None, query_file="link.sql"))
    assert "  exports[0].query_file: must stay inside the config folder (it resolves outside" in message


def test_missing_query_file(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(table=None, query_file="missing.sql"))
    assert "  exports[0].query_file: file not found:" in message


# ---------------------------------------------------------------------------------------------------------
# max_file_size, type overrides, quality, dagster
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("256MB", 268435456),
        ("1.5GB", 1610612736),
        ("512kb", 524288),
        ("10B", 10),
        ("2 GiB", 2 * 1024**3),
        ("4096", 4096),
        (1024, 1024),
    ],
)
def test_parse_file_size(value: str | int, expected: int) -> None:
    assert parse_file_size(value) == expected


def test_max_file_size_bytes_on_export(tmp_path: Path) -> None:
    cfg = load_dict(tmp_path, minimal(max_file_size="1.5GB"))
    assert cfg.exports[0].max_file_size_bytes == 1610612736
    cfg = load_dict(tmp_path, minimal(max_file_size=1024))
    assert cfg.exports[0].max_file_size_bytes == 1024


@pytest.mark.parametrize("value", ["lots", "12XB", "MB", "-5MB", 0, 1.5, True])
def test_bad_max_file_size(tmp_path: Path, value: Any) -> None:
    message = error_of(tmp_path, minimal(max_file_size=value))
    assert "exports[0].max_file_size:" in message
    assert "e.g. 10B, 512KB, 256MB, 1.5GB" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("decimal(18,2)", pa.decimal128(18, 2)),
        ("NUMERIC(40, 4)", pa.decimal256(40, 4)),
        ("int64", pa.int64()),
        ("uint8", pa.uint8()),
        ("string", pa.string()),
        ("float64", pa.float64()),
        ("timestamp", pa.timestamp("us")),
        ("timestamptz", pa.timestamp("us", tz="UTC")),
        ("date", pa.date32()),
        ("bool", pa.bool_()),
    ],
)
def test_parse_type_override(text: str, expected: pa.DataType) -> None:
    assert parse_type_override(text) == expected


def test_bad_type_override_names_the_column(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(columns={"amount": "money", "qty": "int64", "x": "decimal(10,12)"}))
    assert "  exports[0].columns.amount: unknown type 'money' (valid: decimal(p,s), int8/16/32/64" in message
    assert "  exports[0].columns.x: 'decimal(10,12)': decimal scale must not exceed the precision" in message
    assert "columns.qty" not in message


def test_quality_rule_errors_name_the_path(tmp_path: Path) -> None:
    data = minimal(quality={"row_count_min": {"value": 1, "severity": "fatal"}, "null_ratio_max": {"email": 1.5}})
    message = error_of(tmp_path, data)
    assert "exports[0].quality.row_count_min.severity: Input should be 'error' or 'warn'" in message
    assert "exports[0].quality.null_ratio_max.value.email: Input should be less than or equal to 1" in message


def test_quality_min_above_max(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(quality={"row_count_min": 10, "row_count_max": 5}))
    assert "exports[0].quality.row_count_min: is greater than row_count_max" in message


def test_quality_default_severity_is_error(tmp_path: Path) -> None:
    cfg = load_dict(tmp_path, minimal(quality={"row_count_max": 5, "unique_columns": ["id"]}))
    quality = cfg.exports[0].quality
    assert quality is not None
    assert {name: (rule.value, rule.severity) for name, rule in quality.rules().items()} == {
        "row_count_max": (5, "error"),
        "unique_columns": (["id"], "error"),
    }


def test_dagster_defaults_merge_with_export_block(tmp_path: Path) -> None:
    data = minimal(dagster={"group": "orders_grp", "tags": {"tier": "gold"}, "partition_start": "2024-02-01"})
    data["dagster"] = {"group": "shop", "key_prefix": "raw/shop", "tags": {"team": "data"}, "window": "hour"}
    data["exports"].append({**minimal()["exports"][0], "name": "plain"})
    cfg = load_dict(tmp_path, data)

    merged = cfg.dagster_for(cfg.export("orders"))
    assert merged.group == "orders_grp"
    assert merged.key_prefix == ["raw", "shop"]
    assert merged.tags == {"team": "data", "tier": "gold"}
    assert merged.window == "hour"
    assert merged.partition_start == date(2024, 2, 1)

    plain = cfg.dagster_for(cfg.export("plain"))
    assert (plain.group, plain.key_prefix, plain.tags) == ("shop", ["raw", "shop"], {"team": "data"})


def test_dagster_bad_schedule_and_start(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(dagster={"schedule": "0 3 * *", "partition_start": "2024-13-01"}))
    assert "exports[0].dagster.schedule: '0 3 * *' is not a 5-field cron string" in message
    assert "exports[0].dagster.partition_start: use a date YYYY-MM-DD" in message


# ---------------------------------------------------------------------------------------------------------
# Connection URLs and redaction
# ---------------------------------------------------------------------------------------------------------


def test_resolve_url_from_structured_fields_percent_encodes(tmp_path: Path) -> None:
    password = "p@ss:w/rd%#?"
    data = minimal()
    data["source"] = {"type": "postgres", "host": "db.internal", "user": "ex porter", "database": "shop",
                      "password_env": "PGPW"}  # fmt: skip
    cfg = load_dict(tmp_path, data)
    url = cfg.source.resolve_url(cfg.base_dir, env={"PGPW": password})
    assert url == "postgresql://ex%20porter:p%40ss%3Aw%2Frd%25%23%3F@db.internal:5432/shop"
    assert cfg.source.display_url() == "ex porter@db.internal:5432/shop"
    assert password not in cfg.source.display_url()


def test_resolve_url_mysql_default_port_and_plain_password(tmp_path: Path) -> None:
    data = minimal()
    data["source"] = {"type": "mysql", "host": "db", "user": "u", "database": "d", "password": "a b"}
    cfg = load_dict(tmp_path, data)
    assert cfg.source.default_port == 3306
    assert cfg.source.resolve_url(cfg.base_dir, env={}) == "mysql://u:a%20b@db:3306/d"
    assert "a b" not in repr(cfg.source)


def test_resolve_url_env_missing_names_variable(tmp_path: Path) -> None:
    data = minimal()
    data["source"] = {"type": "postgres", "url_env": "PG_URL"}
    cfg = load_dict(tmp_path, data)
    assert cfg.source.display_url() == "$PG_URL"
    with pytest.raises(ConfigError, match=r"^source\.url_env: environment variable PG_URL is not set$"):
        cfg.source.resolve_url(cfg.base_dir, env={})
    assert cfg.source.resolve_url(cfg.base_dir, env={"PG_URL": "postgresql://x@h/d"}) == "postgresql://x@h/d"


def test_resolve_url_file_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "secret.url").write_text("postgresql://u:filepw@h/d\n", encoding="utf-8")
    data = minimal()
    data["source"] = {"type": "postgres", "url_file": "secret.url"}
    cfg = load_dict(tmp_path, data)
    assert cfg.source.resolve_url(cfg.base_dir) == "postgresql://u:filepw@h/d"
    assert cfg.source.display_url() == "file:secret.url"


def test_display_url_redacts_inline_url(tmp_path: Path) -> None:
    data = minimal()
    data["source"]["url"] = "postgresql://exporter:hunter22@db:5432/shop?sslmode=require"
    cfg = load_dict(tmp_path, data)
    assert cfg.source.display_url() == "postgresql://exporter:***@db:5432/shop?sslmode=require"
    stripped = cfg.source.without_secrets()
    assert stripped.url == "postgresql://exporter:***@db:5432/shop?sslmode=require"


def test_redact() -> None:
    text = "connect postgresql://u:p@ss@h:5432/d failed; dsn host=h password='a b' user=u; token XYZ123"
    assert redact(text, ["XYZ123", "ab"]) == (
        "connect postgresql://u:***@h:5432/d failed; dsn host=h password=*** user=u; token ***"
    )
    assert redact("pw p%40ss and p@ss", ["p@ss"]) == "pw *** and ***"
    assert redact_url("mysql://root@localhost/db") == "mysql://root@localhost/db"
    assert redact_url("https://h/x?user=a&password=b&x=1") == "https://h/x?user=a&password=***&x=1"


# ---------------------------------------------------------------------------------------------------------
# Schema and fingerprint
# ---------------------------------------------------------------------------------------------------------


def test_json_schema() -> None:
    schema = config_json_schema()
    assert isinstance(schema, dict)
    assert set(schema["properties"]) == {"source", "exports", "notifications", "parallel_exports", "dagster"}
    assert schema["required"] == ["source", "exports"]
    assert schema["additionalProperties"] is False


def test_export_fingerprint_changes_with_the_export(tmp_path: Path) -> None:
    first = load_dict(tmp_path, minimal())
    same = load_dict(tmp_path, minimal())
    other = load_dict(tmp_path, minimal(format="csv"))
    fp = export_fingerprint(first, first.exports[0])
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert fp == export_fingerprint(same, same.exports[0])
    assert fp != export_fingerprint(other, other.exports[0])


def test_export_fingerprint_follows_query_file_text(tmp_path: Path) -> None:
    (tmp_path / "q.sql").write_text("SELECT 1", encoding="utf-8")
    cfg = load_dict(tmp_path, minimal(table=None, query_file="q.sql"))
    before = export_fingerprint(cfg, cfg.exports[0])
    (tmp_path / "q.sql").write_text("SELECT 2", encoding="utf-8")
    assert export_fingerprint(cfg, cfg.exports[0]) != before
