"""rivet-cli 0.7.7 compatibility of rivet.yaml (issue 13): every key and enum value of the reference loads.

The YAMLs under tests/compat/ are written from the key tables of rivet-cli 0.7.7's reference (§1): together they
use every key, at source and export level where it is allowed, and every enum value. This file checks that they
load, that the values land in the typed views the engine reads, and that `rivet schema config` lists every
reference key with a description. Server-free: running these exports for real is listed in the README
("Coming from rivet-cli 0.7.7") as the engine starts acting on the keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rivet_core.config import (
    AzureDestinationConfig,
    ChunkedView,
    CompressionChoice,
    Config,
    GcsDestinationConfig,
    IncrementalView,
    LocalDestinationConfig,
    MetaColumn,
    RowGroupSizing,
    S3DestinationConfig,
    StdoutDestinationConfig,
    TimeWindowView,
    config_json_schema,
    load_config,
    parse_type_override,
)
from rivet_core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
COMPAT = ROOT / "tests" / "compat"
YAMLS = sorted(COMPAT.glob("*.yaml"))
ENV = {"COMPAT_PG_HOST": "db.internal"}

# Reference §1.1 to §1.10: the keys of each object (destination keys: the types that use each).
REFERENCE_KEYS: dict[str, tuple[str, ...]] = {
    "Config": ("source", "exports", "notifications", "parallel_exports", "parallel_export_processes"),
    "SourceConfig": (
        "type", "url", "url_env", "url_file", "host", "port", "user", "password", "password_env", "database",
        "environment", "tuning", "tls",
    ),
    "TlsConfig": ("mode", "ca_file", "accept_invalid_certs", "accept_invalid_hostnames"),
    "TuningConfig": (
        "profile", "batch_size", "batch_size_memory_mb", "throttle_ms", "statement_timeout_s", "max_retries",
        "retry_backoff_ms", "lock_timeout_s", "memory_threshold_mb", "max_batch_memory_mb",
        "on_batch_memory_exceeded", "adaptive",
    ),
    "ExportConfig": (
        "name", "query", "query_file", "table", "mode", "cursor_column", "cursor_fallback_column",
        "incremental_cursor_mode", "chunk_column", "chunk_dense", "chunk_size", "chunk_size_memory_mb",
        "chunk_count", "chunk_by_days", "parallel", "time_column", "time_column_type", "days_window", "format",
        "compression", "compression_level", "compression_profile", "skip_empty", "destination", "meta_columns",
        "quality", "max_file_size", "chunk_checkpoint", "chunk_max_attempts", "tuning", "source_group",
        "reconcile_required", "columns", "on_schema_drift", "shape_drift_warn_factor", "parquet",
    ),
    "MetaColumns": ("exported_at", "row_hash"),
    "QualityConfig": ("row_count_min", "row_count_max", "null_ratio_max", "unique_columns", "unique_max_entries"),
    "ParquetOptions": ("row_group_strategy", "row_group_rows", "target_row_group_mb", "max_row_group_mb"),
    "NotificationsConfig": ("slack",),
    "SlackConfig": ("webhook_url", "webhook_url_env", "on"),
}  # fmt: skip
DESTINATION_MODELS = {
    "local": "LocalDestinationConfig",
    "s3": "S3DestinationConfig",
    "gcs": "GcsDestinationConfig",
    "azure": "AzureDestinationConfig",
    "stdout": "StdoutDestinationConfig",
}
DESTINATION_KEYS: dict[str, tuple[str, ...]] = {
    "type": tuple(DESTINATION_MODELS),
    "bucket": ("s3", "gcs", "azure"),
    "prefix": ("local", "s3", "gcs", "azure"),
    "path": ("local",),
    "region": ("s3",),
    "endpoint": ("s3", "gcs", "azure"),
    "credentials_file": ("gcs",),
    "access_key_env": ("s3",),
    "secret_key_env": ("s3",),
    "session_token_env": ("s3",),
    "aws_profile": ("s3",),
    "account_name": ("azure",),
    "account_key_env": ("azure",),
    "sas_token_env": ("azure",),
    "allow_anonymous": ("s3", "gcs", "azure"),
}
REFERENCE_ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("SourceConfig", "type"): ("postgres", "mysql"),
    ("SourceConfig", "environment"): ("local", "replica", "production"),
    ("TlsConfig", "mode"): ("disable", "require", "verify-ca", "verify-full"),
    ("TuningConfig", "profile"): ("fast", "balanced", "safe"),
    ("TuningConfig", "on_batch_memory_exceeded"): ("warn", "fail", "auto_shrink"),
    ("ExportConfig", "mode"): ("full", "incremental", "chunked", "time_window"),
    ("ExportConfig", "incremental_cursor_mode"): ("single_column", "coalesce"),
    ("ExportConfig", "time_column_type"): ("timestamp", "unix"),
    ("ExportConfig", "format"): ("parquet", "csv"),
    ("ExportConfig", "compression"): ("zstd", "snappy", "gzip", "lz4", "none"),
    ("ExportConfig", "compression_profile"): ("none", "fast", "balanced", "compact"),
    ("ExportConfig", "on_schema_drift"): ("warn", "continue", "fail"),
    ("ParquetOptions", "row_group_strategy"): ("auto", "fixed_rows", "fixed_memory"),
    ("Destination", "type"): tuple(DESTINATION_MODELS),
}
# Where each nested key's object lives (the rest of a parent's keys are scalars or lists).
CHILDREN = {
    ("Config", "source"): "SourceConfig",
    ("Config", "exports"): "ExportConfig",
    ("Config", "notifications"): "NotificationsConfig",
    ("SourceConfig", "tls"): "TlsConfig",
    ("SourceConfig", "tuning"): "TuningConfig",
    ("ExportConfig", "tuning"): "TuningConfig",
    ("ExportConfig", "destination"): "Destination",
    ("ExportConfig", "meta_columns"): "MetaColumns",
    ("ExportConfig", "quality"): "QualityConfig",
    ("ExportConfig", "parquet"): "ParquetOptions",
    ("NotificationsConfig", "slack"): "SlackConfig",
}


def _walk(model: str, node: Any, where: str, found: set[tuple[str, str, str]]) -> None:
    """Record (model, key, where) for every key of `node`, and (model, key, "=value") for scalar values."""
    for item in node if isinstance(node, list) else [node]:
        for key, value in item.items():
            found.add((model, key, where))
            if isinstance(value, str):
                found.add((model, key, f"={value}"))
            if isinstance(value, list):
                found.update((model, key, f"={v}") for v in value if isinstance(v, str))
            if (child := CHILDREN.get((model, key))) is not None:
                _walk(child, value, f"{where}.{key}", found)


def used_keys() -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    for path in YAMLS:
        # BaseLoader: every scalar stays text, so `on:` is a key (as rivet's loader reads it), not True.
        _walk("Config", yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader), "", found)
    return found


def loaded(name: str) -> Config:
    return load_config(COMPAT / name, env=ENV)


# ---------------------------------------------------------------------------------------------------------
# Coverage: the YAMLs use every reference key and value; the schema describes every key
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", YAMLS, ids=[p.name for p in YAMLS])
def test_every_example_loads(path: Path) -> None:
    assert load_config(path, env=ENV).exports


def test_examples_use_every_reference_key_and_value() -> None:
    found = used_keys()
    keys = {(model, key) for model, key, _ in found}
    missing = [f"{m}.{k}" for m, ks in REFERENCE_KEYS.items() for k in ks if (m, k) not in keys]
    missing += [f"destination.{k}" for k in DESTINATION_KEYS if ("Destination", k) not in keys]
    missing += [f"{m}.{k}: {v}" for (m, k), vs in REFERENCE_ENUMS.items() for v in vs if (m, k, f"={v}") not in found]
    assert not missing, f"tests/compat/*.yaml never use: {missing}"
    for key in REFERENCE_KEYS["TuningConfig"]:  # tuning is allowed at both levels: used at both
        assert {("TuningConfig", key, ".source.tuning"), ("TuningConfig", key, ".exports.tuning")} <= found, key


def _schema_defs() -> tuple[dict[str, Any], dict[str, Any]]:
    schema = config_json_schema()
    return schema, {"Config": schema, **schema["$defs"]}


def _enum_values(prop: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    """Every enum / const value under a property schema (through anyOf and $ref)."""
    values: set[str] = set(prop.get("enum", []))
    if "const" in prop:
        values.add(prop["const"])
    for option in prop.get("anyOf", []):
        values |= _enum_values(option, defs)
    if ref := prop.get("$ref"):
        values |= _enum_values(defs[ref.rsplit("/", 1)[-1]], defs)
    return values


def test_schema_lists_every_reference_key_with_a_description() -> None:
    _, models = _schema_defs()
    for model, keys in REFERENCE_KEYS.items():
        props = models[model]["properties"]
        for key in keys:
            assert key in props, f"{model}.{key} missing from rivet schema config"
            assert props[key].get("description"), f"{model}.{key} has no description"
    for key, kinds in DESTINATION_KEYS.items():
        for kind in kinds:
            props = models[DESTINATION_MODELS[kind]]["properties"]
            assert key in props and props[key].get("description"), f"destination {kind}: {key}"


def test_schema_allows_every_reference_enum_value() -> None:
    _, models = _schema_defs()
    for (model, key), values in REFERENCE_ENUMS.items():
        if model == "Destination":
            allowed = {models[m]["properties"]["type"]["const"] for m in DESTINATION_MODELS.values()}
        else:
            allowed = _enum_values(models[model]["properties"][key], models)
        assert set(values) <= allowed, f"{model}.{key}: {set(values) - allowed}"


# ---------------------------------------------------------------------------------------------------------
# The values land in the typed views
# ---------------------------------------------------------------------------------------------------------


def test_root_source_and_source_tuning() -> None:
    cfg = loaded("pg_structured.yaml")
    assert cfg.parallel_mode == "processes"  # both root keys set: processes wins
    assert cfg.source.port == 5433 and cfg.source.environment == "production"
    assert cfg.source.tls is not None and cfg.source.tls.effective_mode == "verify-full"
    tuning = cfg.tuning_for(cfg.exports[0])
    assert (tuning.profile, tuning.profile_origin) == ("safe", "explicit")
    assert (tuning.batch_size_memory_mb, tuning.max_batch_memory_mb) == (64, 512)
    assert (tuning.on_batch_memory_exceeded, tuning.adaptive) == ("auto_shrink", True)
    assert (tuning.throttle_ms, tuning.statement_timeout_s, tuning.lock_timeout_s) == (25, 600, 15)
    assert (tuning.max_retries, tuning.retry_backoff_ms, tuning.memory_threshold_mb) == (4, 1500, 3072)
    assert cfg.notifications is not None and cfg.notifications.slack is not None
    assert cfg.notifications.slack.on == ["failure", "schema_change", "degraded"]


@pytest.mark.parametrize(
    ("name", "profile", "origin", "tls"),
    [
        ("pg_url.yaml", "balanced", "environment", "require"),
        ("mysql_url_env.yaml", "fast", "environment", "verify-ca"),
        ("mysql_url_file.yaml", "balanced", "default", "disable"),
    ],
)
def test_env_derived_profile_is_reported(name: str, profile: str, origin: str, tls: str) -> None:
    cfg = loaded(name)
    tuning = cfg.tuning_for(cfg.exports[0])
    assert (tuning.profile, tuning.profile_origin) == (profile, origin)
    assert cfg.source.tls is not None and cfg.source.tls.effective_mode == tls
    assert cfg.parallel_mode == "sequential"


def test_source_url_forms_resolve() -> None:
    cfg = loaded("mysql_structured.yaml")
    assert cfg.source.resolve_url(cfg.base_dir) == "mysql://reader:s3cret@127.0.0.1:3306/shop"
    assert cfg.source.without_secrets().password is None
    assert loaded("pg_url.yaml").source.url == "postgresql://exporter@db.internal:5432/shop"
    cfg = loaded("mysql_url_file.yaml")
    assert cfg.source.resolve_url(cfg.base_dir) == "mysql://reader@127.0.0.1:3306/shop"
    cfg = loaded("mysql_url_env.yaml")
    assert cfg.source.resolve_url(cfg.base_dir, {"COMPAT_MYSQL_URL": "mysql://u@h/d"}) == "mysql://u@h/d"


def test_compression_profile_wins_over_compression() -> None:
    cfg = loaded("exports.yaml")
    choices = {e.name: e.compression_choice for e in cfg.exports}
    assert choices["orders_full"] == CompressionChoice("zstd", 9, "compression_profile")  # compact over level 15
    assert choices["orders_incremental"] == CompressionChoice("snappy", None, "compression_profile")  # fast
    assert choices["orders_coalesce"] == CompressionChoice("zstd", 3, "compression_profile")  # balanced over gzip 9
    assert choices["events_budget"] == CompressionChoice("none", None, "compression_profile")  # none over lz4
    assert choices["events_count"] == CompressionChoice("none", None, "compression")
    assert choices["audit_unix"] == CompressionChoice("zstd", 3, "compression")  # zstd defaults to level 3
    assert choices["events_days"] == CompressionChoice("none", None, "csv_default")  # CSV: never the profile


def test_row_groups_meta_columns_and_drift() -> None:
    cfg = loaded("exports.yaml")
    full, incremental, coalesce = (
        cfg.export("orders_full"),
        cfg.export("orders_incremental"),
        cfg.export("orders_coalesce"),
    )
    assert full.row_groups == RowGroupSizing("fixed_rows", 250_000, None)
    assert incremental.row_groups == RowGroupSizing("fixed_memory", None, 48 << 20)  # capped by max_row_group_mb
    assert coalesce.row_groups == RowGroupSizing("auto", None, 16 << 20)
    assert full.meta_column_list == (
        MetaColumn("_rivet_exported_at", "timestamp_us_utc"),
        MetaColumn("_rivet_row_hash", "int64"),
    )
    assert [str(c.arrow_type()) for c in full.meta_column_list] == ["timestamp[us, tz=UTC]", "int64"]
    assert incremental.meta_column_list == ()
    assert (full.shape_drift_factor, incremental.shape_drift_factor) == (3.5, 2.0)
    assert (full.source_group, full.reconcile_required) == ("oltp-primary", True)
    assert (incremental.source_group, incremental.reconcile_required) == (None, False)
    assert full.max_file_size_bytes == 1536 * 1024**2
    assert cfg.export("audit_unix").max_file_size_bytes == 512 * 1024**2


def test_column_type_strings() -> None:
    columns = loaded("exports.yaml").export("orders_full").columns or {}
    types = {name: str(parse_type_override(text)) for name, text in columns.items()}
    assert {types[c] for c in ("big", "big2", "big3")} == {"int64"}
    assert {types[c] for c in ("small", "small2", "small3")} == {"int16"}
    assert {types[c] for c in ("mid", "mid2", "mid3", "mid4")} == {"int32"}
    assert {types[c] for c in ("f4", "f4b", "f4c")} == {"float"}
    assert {types[c] for c in ("f8", "f8b", "f8c", "f8d")} == {"double"}
    assert {types[c] for c in ("t1", "t2", "t3", "t4", "t5", "t6", "j1", "j2", "u")} == {"string"}
    assert {types[c] for c in ("b1", "b2", "b3", "b4")} == {"binary"}
    assert {types[c] for c in ("ts1", "ts2")} == {"timestamp[us]"}
    assert {types[c] for c in ("tz1", "tz2", "tz3", "tz4")} == {"timestamp[us, tz=UTC]"}
    assert (types["amount"], types["total"], types["d"]) == ("decimal128(18, 2)", "decimal128(38, 4)", "date32[day]")


def test_mode_views_and_export_tuning() -> None:
    cfg = loaded("exports.yaml")
    assert cfg.export("orders_incremental").mode_view == IncrementalView("updated_at", None, "single_column")
    assert cfg.export("orders_coalesce").mode_view == IncrementalView("updated_at", "created_at", "coalesce")
    budget = cfg.export("events_budget").mode_view
    assert isinstance(budget, ChunkedView) and budget.column is None  # from the primary key
    assert (budget.size_memory_mb, budget.parallel, budget.checkpoint, budget.max_attempts) == (256, 4, True, 6)
    strategies = {e.name: e.mode_view.strategy for e in cfg.exports if isinstance(e.mode_view, ChunkedView)}
    assert strategies == {
        "events_budget": "size",
        "events_count": "count",
        "events_days": "by_days",
        "events_dense": "dense",
    }
    assert cfg.export("audit_unix").mode_view == TimeWindowView("at_epoch", "unix", 1)
    full = cfg.tuning_for(cfg.export("orders_full"))
    assert (full.profile, full.batch_size, full.on_batch_memory_exceeded, full.adaptive) == (
        "fast",
        20000,
        "fail",
        False,
    )
    incremental = cfg.tuning_for(cfg.export("orders_incremental"))
    assert (incremental.profile_origin, incremental.batch_size_memory_mb, incremental.adaptive) == ("default", 32, True)
    assert incremental.batch_size == 10_000  # the profile's, the ceiling of memory-sized batches


def test_destinations() -> None:
    cfg = loaded("exports.yaml")
    dest = {e.name: e.destination for e in cfg.exports}
    assert isinstance(dest["orders_full"], S3DestinationConfig) and dest["orders_full"].aws_profile == "exporter"
    assert isinstance(dest["orders_incremental"], GcsDestinationConfig)
    assert isinstance(dest["orders_coalesce"], GcsDestinationConfig) and dest["orders_coalesce"].allow_anonymous
    key, sas, anonymous = dest["events_budget"], dest["events_count"], dest["events_days"]
    assert isinstance(key, AzureDestinationConfig) and key.account_url == "https://shopdata.blob.core.windows.net"
    assert key.resolve_credential({"COMPAT_AZURE_KEY": "k=="}).kind == "account_key"
    assert isinstance(sas, AzureDestinationConfig) and sas.account_url == "http://127.0.0.1:10000/devstoreaccount1"
    credential = sas.resolve_credential({"COMPAT_AZURE_SAS": "?sv=2024&sig=x"})
    assert (credential.kind, credential.secret) == ("sas_token", "sv=2024&sig=x")  # the leading ? is trimmed
    with pytest.raises(ConfigError, match=r"destination\.sas_token_env: environment variable COMPAT_AZURE_SAS"):
        sas.resolve_credential({})
    assert isinstance(anonymous, AzureDestinationConfig) and anonymous.resolve_credential({}).kind == "anonymous"
    assert isinstance(dest["audit_ts"], StdoutDestinationConfig)
    assert isinstance(dest["events_dense"], LocalDestinationConfig) and dest["events_dense"].path == "out/dense"
    assert loaded("mysql_url_env.yaml").exports[0].destination == LocalDestinationConfig(
        type="local", path="out/{table}", prefix="out/{table}"
    )  # local falls back to prefix, then to the config folder
    local = loaded("mysql_url_file.yaml").exports[0].destination
    assert isinstance(local, LocalDestinationConfig) and local.path == "."


def test_unused_param_is_reported() -> None:
    cfg = load_config(COMPAT / "pg_url.yaml", env={}, params=["COMPAT_PG_HOST=db2", "UNUSED=1", "UNUSED=2"])
    assert cfg.source.url == "postgresql://exporter@db2:5432/shop"
    assert cfg.unused_params == ("UNUSED",)


def _readme_rows() -> dict[str, str]:
    """The "Coming from rivet-cli 0.7.7" table of README.md: first cell → status."""
    text = (ROOT / "README.md").read_text(encoding="utf-8").split("## Coming from rivet-cli 0.7.7", 1)[1]
    rows = [line.split(" | ") for line in text.split("\n## ", 1)[0].splitlines() if line.startswith("| `")]
    return {cells[0].removeprefix("| "): cells[1] for cells in rows}
