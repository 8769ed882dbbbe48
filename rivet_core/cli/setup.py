"""`rivet init` and `rivet schema config`: start a rivet.yaml, or print the schema it follows."""

from __future__ import annotations

from pathlib import Path

import click

from rivet_core.cli.common import echo_json, user_errors
from rivet_core.errors import ConfigError


@click.command()
@click.option("--type", "source_type", type=click.Choice(["postgres", "mysql"]), default="postgres", show_default=True)
@click.option("--url-env", required=True, help="Env var holding the source URL (the URL itself is never written).")
@click.option("--table", "tables", required=True, multiple=True, help="Table (t or schema.t), repeatable.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--path", default="./out/{export}", show_default=True, help="Local destination path.")
@click.option("-o", "--output", default="rivet.yaml", show_default=True, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def init(
    source_type: str, url_env: str, tables: tuple[str, ...], fmt: str, path: str, output: str, force: bool
) -> None:
    """Scaffold a rivet.yaml from live tables (incremental where a timestamp/updated column exists)."""
    from rivet_core.scaffold import scaffold

    with user_errors():
        if Path(output).exists() and not force:
            raise ConfigError(f"--output: {output} exists; pass --force to overwrite it")
        text = scaffold(source_type, url_env, list(tables), fmt, path)
        Path(output).write_text(text)
    click.echo(f"wrote {output}")


@click.group()
def schema() -> None:
    """Print schemas."""


@schema.command("config")
def schema_config() -> None:
    """JSON Schema of rivet.yaml."""
    from rivet_core.config import config_json_schema

    echo_json(config_json_schema())
