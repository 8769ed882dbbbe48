"""The `azure` and `stdout` destination keys (rivet-cli 0.7.7 names) load, their rules name the field, and the
Azure blob service URL is derived as documented in rivet_core/destinations/azure.py; no server needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rivet_core.config import AzureDestinationConfig, StdoutDestinationConfig, parse_config
from rivet_core.destinations.azure import account_url
from rivet_core.destinations.stdout import StdoutDestination, conflicts
from rivet_core.errors import ConfigError


def config_with(destination: dict[str, Any], **export: Any) -> Any:
    data = {
        "source": {"type": "postgres", "url": "postgresql://u@h/db"},
        "exports": [{"name": "e", "table": "t", "format": "csv", "destination": destination, **export}],
    }
    return parse_config(data, base_dir=Path(), env={})


def test_azure_keys_load_as_in_rivet_cli_0_7_7() -> None:
    key = {"type": "azure", "bucket": "c", "prefix": "p/{export}", "account_name": "acct", "account_key_env": "K"}
    assert isinstance(config_with(key).exports[0].destination, AzureDestinationConfig)
    sas = {**key, "account_key_env": None, "sas_token_env": "S", "endpoint": "http://127.0.0.1:10000/acct"}
    assert config_with(sas).exports[0].destination.sas_token_env == "S"
    anonymous = {"type": "azure", "bucket": "c", "allow_anonymous": True, "endpoint": "http://h:1/acct"}
    assert config_with(anonymous).exports[0].destination.allow_anonymous is True


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ({"account_key_env": "K"}, "destination.account_name: required unless allow_anonymous: true"),
        ({"account_name": "a"}, "set exactly one of account_key_env / sas_token_env"),
        ({"account_name": "a", "account_key_env": "K", "sas_token_env": "S"}, "set exactly one of"),
        ({"allow_anonymous": True, "account_name": "a"}, "allow_anonymous: true cannot be combined with account_name"),
        ({"container": "c", "account_name": "a", "account_key_env": "K"}, "container: unknown key"),
    ],
)
def test_azure_rules_name_the_field(destination: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_with({"type": "azure", "bucket": "c", **destination})


def test_stdout_refuses_parts_and_chunks() -> None:
    assert isinstance(config_with({"type": "stdout"}).exports[0].destination, StdoutDestinationConfig)
    with pytest.raises(ConfigError, match=r"max_file_size: cannot split output written to destination type stdout"):
        config_with({"type": "stdout"}, max_file_size="1MB")
    with pytest.raises(ConfigError, match=r"mode: chunked cannot write to destination type stdout"):
        config_with({"type": "stdout"}, mode="chunked", chunk_column="id")
    with pytest.raises(ConfigError, match=r"destination.*path"):
        config_with({"type": "stdout", "path": "x"})


def test_account_url_defaults_and_path_style_emulators() -> None:
    def url(**keys: Any) -> str:
        return account_url(AzureDestinationConfig(type="azure", bucket="c", account_key_env="K", **keys))

    assert url(account_name="acct") == "https://acct.blob.core.windows.net"
    assert url(account_name="acct", endpoint="http://127.0.0.1:10000") == "http://127.0.0.1:10000/acct"
    assert url(account_name="acct", endpoint="http://127.0.0.1:10000/acct/") == "http://127.0.0.1:10000/acct"
    assert url(account_name="acct", endpoint="https://acct.blob.example.net") == "https://acct.blob.example.net"
    with pytest.raises(ConfigError, match=r"endpoint: required with allow_anonymous"):
        config_with({"type": "azure", "bucket": "c", "allow_anonymous": True})


def test_stdout_destination_streams_data_and_keeps_records_in_memory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with open(out, "wb") as stream:
        dest = StdoutDestination(stream)
        sink = dest.open_write("_rivet/e/_tmp/u/e_1.csv")
        sink.write(b"id\n1\n")
        sink.close()
        dest.promote("_rivet/e/_tmp/u/e_1.csv", "e_1.csv")
        dest.write_bytes("_rivet/e/units/u/manifest.json", b"{}")
        assert dest.size("e_1.csv") == 5 and dest.uri("e_1.csv") == "stdout:e_1.csv"
        assert dest.list("_rivet/e/units/") == ["_rivet/e/units/u/manifest.json"]
        assert dest.clear("_rivet/e/") == 1 and dest.list("") == []
    assert out.read_bytes() == b"id\n1\n"
    assert conflicts({"a": "local", "b": "stdout"}, as_json=True, validate=False) is not None
    assert conflicts({"a": "local"}, as_json=True, validate=True) is None
