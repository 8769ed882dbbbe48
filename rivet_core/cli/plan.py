"""`rivet plan`: fix what a run would read in a sealed artifact for `rivet apply`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rivet_core.cli.common import config_option, exports_option, load, param_option, selected_exports, user_errors
from rivet_core.errors import ConfigError


@click.command()
@config_option
@exports_option
@click.option("--format", "fmt", type=click.Choice(["pretty", "json"]), default="pretty", show_default=True)
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False), help="Write the plan artifact here.")
@param_option
def plan(config: str, exports: tuple[str, ...], fmt: str, output: str | None, params: tuple[str, ...]) -> None:
    """Fix what a run would read (chunk ranges, windows, cursor) in a sealed artifact for `rivet apply`."""
    from rivet_core.plan import make_plan, render

    with user_errors():
        cfg = load(config, params)
        artifact = make_plan(cfg, selected_exports(cfg, exports))
        text = json.dumps(artifact, indent=2)
        if output:
            try:
                Path(output).write_text(text + "\n")
            except OSError as exc:
                raise ConfigError(f"--output: cannot write {output}: {exc.strerror}") from None
    click.echo(text if fmt == "json" else render(artifact))
    if output:
        click.echo(f"wrote {output}", err=True)
