"""rivet_core.config: YAML, `${VAR}` expansion, relative files (query_file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rivet_core.config import (
    load_config,
)
from rivet_core.errors import ConfigError

from .config_cases import error_of, load_dict, minimal, write


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
        query="SELECT * FROM sales.t WHERE note = 'costs $$5' AND tag = '$${LITERAL}' AND region = ${REGION}",
        destination={"type": "local", "path": "${OUT_DIR}/x"},
    )
    cfg = load_dict(tmp_path, data, env={"REGION": "eu", "OUT_DIR": "/data"})
    export = cfg.exports[0]
    # in SQL text a variable is a value, shown quoted (tests/unit/config/test_sqltext.py: names are refused)
    assert export.query == "SELECT * FROM sales.t WHERE note = 'costs $5' AND tag = '${LITERAL}' AND region = 'eu'"
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
