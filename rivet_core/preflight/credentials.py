"""Whether an export's destination credentials resolve (env vars set, files present), without a request."""

from __future__ import annotations

from rivet_core.config import (
    AzureDestinationConfig,
    Config,
    ExportConfig,
    LocalDestinationConfig,
    S3DestinationConfig,
    StdoutDestinationConfig,
)
from rivet_core.errors import RivetError
from rivet_core.preflight.common import export_destination, one_line
from rivet_core.preflight.report import DestinationReport


def destination_credentials(config: Config, export: ExportConfig) -> DestinationReport:
    """Where the export's destination takes its credentials from, or the error resolving them."""
    d = export.destination
    if isinstance(d, LocalDestinationConfig | StdoutDestinationConfig):
        return DestinationReport(d.type, credentials="none needed")
    try:
        export_destination(config, export, "check")
    except RivetError as exc:
        return DestinationReport(d.type, d.bucket, error=str(exc))
    except Exception as exc:
        return DestinationReport(d.type, d.bucket, error=one_line(exc))
    if isinstance(d, S3DestinationConfig):
        if d.access_key_env:
            credentials = f"keys from ${d.access_key_env} / ${d.secret_key_env}"
        elif d.aws_profile:
            credentials = f"aws_profile {d.aws_profile}"
        elif d.allow_anonymous:
            credentials = "anonymous (unsigned requests)"
        else:
            return _default_aws_chain(d.bucket)
    elif isinstance(d, AzureDestinationConfig):
        if d.account_key_env:
            credentials = f"shared key of account {d.account_name} from ${d.account_key_env}"
        elif d.sas_token_env:
            credentials = f"SAS token for account {d.account_name} from ${d.sas_token_env}"
        else:
            credentials = "anonymous (no credentials)"
    elif d.credentials_file:
        credentials = f"credentials_file {d.credentials_file}"
    else:
        credentials = "anonymous" if d.allow_anonymous else "application-default credentials"
    return DestinationReport(d.type, d.bucket, credentials=credentials)


def _default_aws_chain(bucket: str) -> DestinationReport:
    """Whether the default AWS chain (environment, shared files, role) finds credentials."""
    import boto3  # only for S3 exports

    if boto3.session.Session().get_credentials() is None:
        return DestinationReport(
            "s3", bucket, error="no AWS credentials in the default chain (environment, shared files, role)"
        )
    return DestinationReport("s3", bucket, credentials="default AWS credential chain")
