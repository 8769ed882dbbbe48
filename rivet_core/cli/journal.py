"""`rivet journal`: per run of an export, what it did (history, units, files, chunk tasks, run report)."""

from __future__ import annotations

import click

from rivet_core.cli.common import config_option, emit_json, load, user_errors
from rivet_core.errors import RivetError


@click.command()
@config_option
@click.option("-e", "--export", "export", required=True, help="Export name.")
@click.option("-l", "--last", default=5, show_default=True, type=click.IntRange(min=1), help="How many runs.")
@click.option("--run-id", default=None, help="Only this run.")
@click.option("--format", "fmt", type=click.Choice(["pretty", "json"]), default="pretty", show_default=True)
def journal(config: str, export: str, last: int, run_id: str | None, fmt: str) -> None:
    """The newest runs of an export, newest first: status, rows, units and files committed, chunk tasks, report."""
    from rivet_core.journal import journal as read_journal
    from rivet_core.journal import render_journal

    with user_errors():
        cfg = load(config)
        entries = read_journal(cfg, cfg.export(export), last=last, run_id=run_id)
        if run_id and not entries:
            raise RivetError(f"--run-id: no run {run_id} of {export} is recorded")
    if fmt == "json":
        emit_json([e.to_json() for e in entries], None)
    else:
        click.echo(render_journal(entries))
