"""Destination blocks (`exports[].destination`), chosen by `type`: a local folder, an S3 / GCS bucket, an Azure
Blob container, or standard output.

These are the config models; the implementations that write there live in `rivet_core.destinations`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from rivet_core.config.base import ConfigModel, Problem, StrictBool, rule_error
from rivet_core.config.source import require_env

_PLACEHOLDERS = "placeholders {export} {table} {date} {run_id} allowed"


class LocalDestinationConfig(ConfigModel):
    """A folder on the local file system (placeholders {date} {export} {table} {run_id} allowed)."""

    type: Literal["local"] = Field(description="Selects a local folder.")
    path: str = Field(
        min_length=1, description=f"Folder, relative to the config folder; {_PLACEHOLDERS}. Default: prefix, else ."
    )
    prefix: str | None = Field(default=None, description="The folder when path is not set (rivet-cli 0.7.7).")

    @model_validator(mode="before")
    @classmethod
    def _path_from_prefix(cls, data: Any) -> Any:
        """No `path`: the folder is `prefix`, else the config folder itself (as rivet-cli 0.7.7 does)."""
        if isinstance(data, Mapping) and data.get("path") is None:
            return {**data, "path": data.get("prefix") or "."}
        return data


class S3DestinationConfig(ConfigModel):
    """An existing S3 (or S3-compatible) bucket; no credentials configured = the default provider chain."""

    type: Literal["s3"] = Field(description="Selects an S3 bucket.")
    bucket: str = Field(min_length=1, description="Existing bucket name (rivet never creates buckets).")
    prefix: str = Field(default="", description=f"Key prefix inside the bucket; {_PLACEHOLDERS}.")
    region: str | None = Field(default=None, description="AWS region, e.g. eu-west-1; unset = the SDK's default.")
    endpoint: str | None = Field(default=None, description="Endpoint URL of an S3-compatible store (MinIO, moto, …).")
    access_key_env: str | None = Field(default=None, description="Environment variable holding the access key id.")
    secret_key_env: str | None = Field(default=None, description="Environment variable holding the secret access key.")
    session_token_env: str | None = Field(
        default=None, description="Environment variable holding an STS session token."
    )
    aws_profile: str | None = Field(default=None, description="Profile of the shared AWS config/credentials files.")
    allow_anonymous: StrictBool = Field(
        default=False, description="Send unsigned requests when no credentials are set."
    )

    @model_validator(mode="after")
    def _key_pair(self) -> S3DestinationConfig:
        """Static keys come as a pair; a session token needs them."""
        if (self.access_key_env is None) != (self.secret_key_env is None):
            raise rule_error([((), "set both access_key_env and secret_key_env, or neither")])
        if self.session_token_env is not None and self.access_key_env is None:
            raise rule_error([(("session_token_env",), "needs access_key_env and secret_key_env")])
        return self


class GcsDestinationConfig(ConfigModel):
    """An existing GCS bucket; no credentials_file = application-default credentials."""

    type: Literal["gcs"] = Field(description="Selects a GCS bucket.")
    bucket: str = Field(min_length=1, description="Existing bucket name (rivet never creates buckets).")
    prefix: str = Field(default="", description=f"Object name prefix inside the bucket; {_PLACEHOLDERS}.")
    credentials_file: str | None = Field(
        default=None, description="Service-account JSON key file (relative to the config folder)."
    )
    endpoint: str | None = Field(default=None, description="Endpoint URL of a GCS emulator.")
    allow_anonymous: StrictBool = Field(
        default=False, description="Send unsigned requests when no credentials are set."
    )

    @model_validator(mode="after")
    def _anonymous_without_key(self) -> GcsDestinationConfig:
        """Unsigned requests and a key file contradict each other."""
        if self.allow_anonymous and self.credentials_file is not None:
            raise rule_error([(("credentials_file",), "cannot be combined with allow_anonymous: true")])
        return self


@dataclass(frozen=True)
class AzureCredential:
    """How to sign Azure requests: an account key, a SAS token (no leading `?`), or nothing (anonymous)."""

    kind: Literal["account_key", "sas_token", "anonymous"]
    secret: str | None


class AzureDestinationConfig(ConfigModel):
    """An existing Azure Blob Storage container; signed with an account key or a SAS token from env vars."""

    type: Literal["azure"] = Field(description="Selects an Azure Blob Storage container.")
    bucket: str = Field(min_length=1, description="Existing container name (rivet never creates containers).")
    prefix: str = Field(default="", description=f"Blob name prefix inside the container; {_PLACEHOLDERS}.")
    endpoint: str | None = Field(
        default=None,
        description="Blob service URL (Azurite, sovereign clouds); default https://<account_name>.blob.core.windows.net.",
    )
    account_name: str | None = Field(
        default=None, min_length=1, description="Storage account name (required unless allow_anonymous)."
    )
    account_key_env: str | None = Field(
        default=None, min_length=1, description="Environment variable holding the account key (not with sas_token_env)."
    )
    sas_token_env: str | None = Field(
        default=None, min_length=1, description="Environment variable holding a SAS token (a leading ? is dropped)."
    )
    allow_anonymous: StrictBool = Field(
        default=False, description="Unsigned requests (a public container); then no account or key may be set."
    )

    @model_validator(mode="after")
    def _one_credential(self) -> AzureDestinationConfig:
        """Anonymous: no account, key or SAS, and an endpoint. Otherwise account_name and one of key / SAS."""
        if self.allow_anonymous:
            given = [k for k in ("account_name", "account_key_env", "sas_token_env") if getattr(self, k) is not None]
            if given:
                raise rule_error([((), f"allow_anonymous: true cannot be combined with {', '.join(given)}")])
            if self.endpoint is None:
                raise rule_error([(("endpoint",), "required with allow_anonymous: true (there is no account name)")])
            return self
        problems: list[Problem] = []
        if self.account_name is None:
            problems.append((("account_name",), "required unless allow_anonymous: true"))
        if (self.account_key_env is None) == (self.sas_token_env is None):
            problems.append(((), "set exactly one of account_key_env / sas_token_env (or allow_anonymous: true)"))
        if problems:
            raise rule_error(problems)
        return self

    @property
    def account_url(self) -> str:
        """The Blob service URL: `endpoint`, else https://<account_name>.blob.core.windows.net."""
        return self.endpoint or f"https://{self.account_name}.blob.core.windows.net"

    def resolve_credential(self, env: Mapping[str, str] | None = None) -> AzureCredential:
        """The credential, reading its env var now (ConfigError naming the field and variable if unset)."""
        env = os.environ if env is None else env
        if self.account_key_env is not None:
            key = require_env(env, self.account_key_env, "destination.account_key_env")
            return AzureCredential("account_key", key)
        if self.sas_token_env is not None:
            token = require_env(env, self.sas_token_env, "destination.sas_token_env").removeprefix("?")
            return AzureCredential("sas_token", token)
        return AzureCredential("anonymous", None)


class StdoutDestinationConfig(ConfigModel):
    """Standard output, for piping: one file's bytes, no manifest (not with chunked or max_file_size)."""

    type: Literal["stdout"] = Field(description="Selects standard output (rivet run -e NAME … | consumer).")


DestinationConfig = Annotated[
    LocalDestinationConfig
    | S3DestinationConfig
    | GcsDestinationConfig
    | AzureDestinationConfig
    | StdoutDestinationConfig,
    Field(discriminator="type"),
]
DESTINATIONS: dict[str, type[BaseModel]] = {
    "local": LocalDestinationConfig,
    "s3": S3DestinationConfig,
    "gcs": GcsDestinationConfig,
    "azure": AzureDestinationConfig,
    "stdout": StdoutDestinationConfig,
}
