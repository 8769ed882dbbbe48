"""Destination blocks (`exports[].destination`), chosen by `type`: a local folder, an S3 or GCS bucket, an Azure
Blob container, or the process's stdout.

These are the config models; the implementations that write there live in `rivet_core.destinations`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from rivet_core.config.base import ConfigModel, StrictBool, rule_error

_PLACEHOLDERS = "placeholders {export} {table} {date} {run_id} allowed"


class LocalDestinationConfig(ConfigModel):
    """A folder on the local file system (placeholders {date} {export} {table} {run_id} allowed)."""

    type: Literal["local"] = Field(description="Selects a local folder.")
    path: str = Field(min_length=1, description=f"Folder, relative to the config folder; {_PLACEHOLDERS}.")


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


class AzureDestinationConfig(ConfigModel):
    """An existing Azure Blob container (`bucket`, as in rivet-cli 0.7.7); a shared key or a SAS, or anonymous."""

    type: Literal["azure"] = Field(description="Selects an Azure Blob Storage container.")
    bucket: str = Field(min_length=1, description="Existing container name (rivet never creates containers).")
    prefix: str = Field(default="", description=f"Blob name prefix inside the container; {_PLACEHOLDERS}.")
    endpoint: str | None = Field(
        default=None,
        description="Blob service URL; unset = https://<account_name>.blob.core.windows.net (Azurite: "
        "http://127.0.0.1:10000/devstoreaccount1).",
    )
    account_name: str | None = Field(default=None, description="Storage account name (required unless anonymous).")
    account_key_env: str | None = Field(
        default=None, description="Environment variable holding the account's shared key."
    )
    sas_token_env: str | None = Field(
        default=None, description="Environment variable holding a SAS token (a leading '?' is trimmed)."
    )
    allow_anonymous: StrictBool = Field(default=False, description="Send unauthenticated requests (no credentials).")

    @model_validator(mode="after")
    def _credentials(self) -> AzureDestinationConfig:
        """Anonymous: no account, key or SAS; else account_name and exactly one of account_key_env / sas_token_env."""
        given = [k for k in ("account_name", "account_key_env", "sas_token_env") if getattr(self, k) is not None]
        if self.allow_anonymous:
            if given:
                raise rule_error([((), f"allow_anonymous: true excludes {', '.join(given)}")])
            return self
        if self.account_name is None:
            raise rule_error([(("account_name",), "required unless allow_anonymous: true")])
        if (self.account_key_env is None) == (self.sas_token_env is None):
            raise rule_error([((), "set exactly one of account_key_env / sas_token_env")])
        return self


class StdoutDestinationConfig(ConfigModel):
    """The process's standard output: one export's bytes, for piping; no manifest or _SUCCESS is written."""

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
