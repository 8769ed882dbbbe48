"""rivet_core.config: Connection URLs (structured, env, file) and redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from rivet_core.errors import ConfigError
from rivet_core.redact import redact, redact_url

from .config_cases import load_dict, minimal


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
