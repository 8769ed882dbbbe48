"""`rivet init` and `rivet schema config`: start a rivet.yaml, or print the schema it follows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rivet_core.cli.common import echo_json, log, user_errors
from rivet_core.errors import ConfigError

if TYPE_CHECKING:
    from rivet_core.scaffold import InitSource, UrlForm


_CLOUD_FLAGS = ("s3_bucket", "s3_region", "gcs_bucket", "gcs_credentials_file")


def _init_source(source: str | None, source_env: str | None, source_file: str | None) -> InitSource:
    """Exactly one of --source / --source-env (alias --url-env) / --source-file."""
    from rivet_core.scaffold import InitSource

    forms: list[tuple[UrlForm, str | None]] = [("url", source), ("url_env", source_env), ("url_file", source_file)]
    given = [InitSource(form, value) for form, value in forms if value]
    if len(given) != 1:
        raise ConfigError("rivet init: give exactly one of --source URL, --source-env VAR or --source-file PATH")
    return given[0]


def _check_init_flags(discover: bool, cloud: dict[str, str | None]) -> None:
    if discover and any(cloud.values()):
        raise ConfigError(
            "--discover: cannot be combined with --s3-bucket/--s3-region/--gcs-bucket/--gcs-credentials-file"
        )
    if cloud["s3_bucket"] and cloud["gcs_bucket"]:
        raise ConfigError("--s3-bucket and --gcs-bucket: use at most one")
    if cloud["s3_region"] and not cloud["s3_bucket"]:
        raise ConfigError("--s3-region: needs --s3-bucket")
    if cloud["gcs_credentials_file"] and not cloud["gcs_bucket"]:
        raise ConfigError("--gcs-credentials-file: needs --gcs-bucket")


@click.command()
@click.option("--source", default=None, metavar="URL", help="Source URL (postgresql:// or mysql://).")
@click.option(
    "--source-env", "--url-env", "source_env", default=None, metavar="VAR", help="Env var holding the source URL."
)
@click.option("--source-file", default=None, metavar="PATH", help="File whose first line is the source URL.")
@click.option("--table", "tables", multiple=True, help="Table (t or schema.t), repeatable; default: all tables/views.")
@click.option("--schema", default=None, help="Postgres schema (default: current) / MySQL database.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--path", default="./out/{export}", show_default=True, help="Local destination path.")
@click.option("--s3-bucket", default=None, help="Scaffold S3 destinations (prefix exports/<table>/).")
@click.option("--s3-region", default=None, help="Region of --s3-bucket.")
@click.option("--gcs-bucket", default=None, help="Scaffold GCS destinations (prefix exports/<table>/).")
@click.option("--gcs-credentials-file", default=None, help="Service-account JSON for --gcs-bucket.")
@click.option("--discover", is_flag=True, help="Print a JSON discovery artifact instead of YAML.")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False), help="Write here (default: stdout).")
@click.option("--force", is_flag=True, help="Overwrite an existing --output file.")
def init(
    source: str | None,
    source_env: str | None,
    source_file: str | None,
    tables: tuple[str, ...],
    schema: str | None,
    fmt: str,
    path: str,
    s3_bucket: str | None,
    s3_region: str | None,
    gcs_bucket: str | None,
    gcs_credentials_file: str | None,
    discover: bool,
    output: str | None,
    force: bool,
) -> None:
    """Scaffold a rivet.yaml from live tables (incremental where a timestamp/updated column exists)."""
    from rivet_core.scaffold import InitDestination, discovery, scaffold

    cloud = {"s3_bucket": s3_bucket, "s3_region": s3_region, "gcs_bucket": gcs_bucket}
    cloud["gcs_credentials_file"] = gcs_credentials_file
    with user_errors():
        init_source = _init_source(source, source_env, source_file)
        _check_init_flags(discover, cloud)
        if output and Path(output).exists() and not force:
            raise ConfigError(f"--output: {output} exists; pass --force to overwrite it")
        if discover:
            text = json.dumps(discovery(init_source, list(tables), schema=schema), indent=2) + "\n"
        else:
            destination = InitDestination(path=path, **cloud)
            text, warnings = scaffold(init_source, list(tables), schema=schema, fmt=fmt, destination=destination)
            for warning in warnings:
                log.warning("%s", warning)
        if output:
            try:
                Path(output).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"--output: cannot write {output}: {exc.strerror}") from None
    if output:
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@click.group()
def schema() -> None:
    """Print schemas."""


@schema.command("config")
def schema_config() -> None:
    """JSON Schema of rivet.yaml."""
    from rivet_core.config import config_json_schema

    echo_json(config_json_schema())


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completions(shell: str) -> None:
    """Print the shell completion script (e.g. `eval "$(rivet completions bash)"`)."""
    from click.shell_completion import get_completion_class

    root = click.get_current_context().find_root().command
    completion_class = get_completion_class(shell)
    assert completion_class is not None  # every choice is one of click's shells
    click.echo(completion_class(root, {}, "rivet", "_RIVET_COMPLETE").source())
