"""`rivet validate`, `rivet reconcile` and `rivet metrics`: look at what runs committed, without exporting."""

from __future__ import annotations

import click

from rivet_core.cli.common import config_option, destination_of, echo_json, exit_failed_if, load, user_errors
from rivet_core.errors import RivetError

_METRIC_COLUMNS = (
    "run_id",
    "export",
    "started_at",
    "duration_s",
    "rows",
    "bytes",
    "files",
    "peak_rss_mb",
    "status",
    "retries",
    "validated",
    "reconciled",
)


@click.command()
@config_option
@click.option("-e", "--export", "export", default=None, help="Only this export.")
@click.option("--last", default=20, show_default=True, type=click.IntRange(min=1), help="How many runs.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def metrics(config: str, export: str | None, last: int, fmt: str) -> None:
    """Run history from the state store."""
    from rivet_core.state import StateStore

    with user_errors():
        cfg = load(config)
        if export:
            cfg.export(export)
        runs = StateStore.open(cfg.base_dir).runs(export, last)
    if fmt == "json":
        echo_json(runs)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*(c.removesuffix("_at") for c in _METRIC_COLUMNS))  # `started_at` is headed `started`
    for r in runs:
        table.add_row(*(str(r[k]) if r[k] is not None else "" for k in _METRIC_COLUMNS))
    Console(width=200).print(table)


@click.command()
@config_option
@click.option("-e", "--export", "export", required=True)
@click.option("--run-id", default=None, help="Units of this run (default: the latest run).")
@click.option("--date", default=None, metavar="YYYY-MM-DD", help="Units committed on this UTC day.")
@click.option("--prefix", default=None, help="Units whose files lie under this key prefix.")
def validate(config: str, export: str, run_id: str | None, date: str | None, prefix: str | None) -> None:
    """Re-check committed units at the destination (manifest, _SUCCESS, sizes, fingerprints, rows); no source."""
    from rivet_core import commit
    from rivet_core.gates import validate_unit

    with user_errors():
        cfg = load(config)
        dest = destination_of(cfg, export)
        units = commit.manifests(dest, export)
        if run_id:
            units = [m for m in units if m.run_id == run_id]
        elif date:
            units = [m for m in units if m.unit_id.startswith(date.replace("-", ""))]
        elif prefix:
            units = [m for m in units if any(p.key.startswith(prefix) for p in m.parts)]
        elif units:
            units = [m for m in units if m.run_id == units[-1].run_id]
        if not units:
            raise RivetError(f"validate: no committed unit of {export} matches")
        failed = 0
        for m in units:
            problems = validate_unit(dest, export, m.unit_id)
            failed += bool(problems)
            click.echo(f"[{'FAIL' if problems else 'OK'}] {m.unit_id}: {m.row_count} rows, {len(m.parts)} part(s)")
            for problem in problems:
                click.echo(f"       {problem}")
    exit_failed_if(bool(failed))


@click.command()
@config_option
@click.option("-e", "--export", "export", required=True)
def reconcile(config: str, export: str) -> None:
    """Checkpointed chunked runs: each chunk's source COUNT(*) now vs the rows recorded (match/mismatch/unknown)."""
    from rivet_core.planning import chunk_reconcile

    with user_errors():
        cfg = load(config)
        rows = chunk_reconcile(cfg, cfg.export(export))
    for r in rows:
        click.echo(
            f"[{r.status.upper()}] chunk {r.index} ({r.key}): source {r.source}, recorded {r.recorded}"
            + (f", difference {r.difference}" if r.status == "mismatch" else "")
        )
    exit_failed_if(any(r.status != "match" for r in rows))
