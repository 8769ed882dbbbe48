"""rivet_core.config: Errors name the path: unknown keys, enums, cross-field rules, connection forms."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from rivet_core.config import (
    load_config,
)

from .config_cases import error_of, load_dict, minimal, write


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
    allowed = "source, exports, notifications, parallel_exports, parallel_export_processes, dagster"
    assert f"zzz: unknown key (allowed: {allowed})" in message


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


def test_chunked_mysql_table_may_omit_chunk_column(tmp_path: Path) -> None:
    data = minimal(mode="chunked")
    data["source"] = {"type": "mysql", "url": "mysql://u@localhost/shop"}
    assert load_dict(tmp_path, data).exports[0].chunk_column is None  # the primary key, as 0.7.7


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


@pytest.mark.parametrize("kind", ["ftp", "hdfs"])
def test_unsupported_destination(tmp_path: Path, kind: str) -> None:
    message = error_of(tmp_path, minimal(destination={"type": kind, "path": "x"}))
    supported = "local, s3, gcs, azure, stdout"
    assert f"  exports[0].destination: destination type '{kind}' is not supported (supported: {supported})" in message


def test_destination_without_type(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(destination={"path": "x"}))
    assert "  exports[0].destination.type: required (one of: local, s3, gcs, azure, stdout)" in message


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
