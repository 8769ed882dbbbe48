"""`rivet validate`, `rivet reconcile` and `rivet metrics`: look at what runs committed, without exporting."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import click

from rivet_core import __version__
from rivet_core.cli.common import (
    check_output,
    config_option,
    destination_of,
    echo_json,
    emit_json,
    exit_failed_if,
    exports_option,
    format_option,
    load,
    output_option,
    param_option,
    selected_exports,
    user_errors,
)
from rivet_core.errors import ConfigError, RivetError

if TYPE_CHECKING:
    from rivet_core.commit.manifest import Manifest
    from rivet_core.config import Config
    from rivet_core.destinations.base import Destination

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
@click.option("-l", "--last", default=20, show_default=True, type=click.IntRange(min=1), help="How many runs.")
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


def _units(
    cfg: Config, export: str, run_id: str | None, date: str | None, prefix: str | None
) -> tuple[Destination, list[Manifest]]:
    """The committed units `validate` looks at: of `--run-id`, `--date` or `--prefix`, else of the latest run."""
    from rivet_core import commit

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
    return dest, units


def _check_validate_flags(date: str | None, run_id: str | None, prefix: str | None, names: list[str]) -> None:
    if prefix and (date or run_id):
        raise ConfigError("--prefix: cannot be combined with --date or --run-id")
    if prefix and len(names) != 1:
        raise ConfigError("--prefix: needs exactly one -e/--export")
    if date:
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            raise ConfigError(f"--date: {date!r} is not a date (YYYY-MM-DD)") from None


@click.command()
@config_option
@exports_option
@click.option("--run-id", default=None, help="Units of this run (default: the latest run).")
@click.option("--date", default=None, metavar="YYYY-MM-DD", help="Units committed on this UTC day.")
@click.option("--prefix", default=None, help="Units whose files lie under this key prefix (one export).")
@format_option
@output_option
def validate(
    config: str,
    exports: tuple[str, ...],
    run_id: str | None,
    date: str | None,
    prefix: str | None,
    fmt: str,
    output: str | None,
) -> None:
    """Re-check committed units at the destination (manifest, _SUCCESS, sizes, fingerprints, rows); no source."""
    from rivet_core.gates import validate_unit

    with user_errors():
        check_output(fmt, output)
        cfg = load(config)
        names = selected_exports(cfg, exports)
        _check_validate_flags(date, run_id, prefix, names)
        checked: list[dict[str, Any]] = []
        for name in names:
            try:
                dest, units = _units(cfg, name, run_id, date, prefix)
            except RivetError as exc:  # one unreadable destination fails its export, the others are checked
                if exports:
                    raise
                checked.append({"export": name, "units": [], "note": str(exc), "passed": False})
                continue
            if not units and exports:
                raise RivetError(f"validate: no committed unit of {name} matches")
            entry: dict[str, Any] = {"export": name, "units": [], "note": None if units else "no committed unit"}
            for m in units:
                problems = validate_unit(dest, name, m.unit_id)
                entry["units"].append(
                    {
                        "unit_id": m.unit_id,
                        "run_id": m.run_id,
                        "rows": m.row_count,
                        "parts": len(m.parts),
                        "passed": not problems,
                        "problems": problems,
                    }
                )
            entry["passed"] = all(u["passed"] for u in entry["units"])
            checked.append(entry)
        if not any(e["units"] or not e["passed"] for e in checked):
            raise RivetError("validate: no committed unit of any export matches")
    failed = not all(e["passed"] for e in checked)
    if fmt == "json":
        emit_json({"rivet_version": __version__, "passed": not failed, "exports": checked}, output)
    else:
        for e in checked:
            if e["note"]:
                click.echo(f"[{'SKIP' if e['passed'] else 'FAIL'}] {e['export']}: {e['note']}")
            for u in e["units"]:
                unit = u["unit_id"] if exports else f"{e['export']} {u['unit_id']}"
                click.echo(f"[{'OK' if u['passed'] else 'FAIL'}] {unit}: {u['rows']} rows, {u['parts']} part(s)")
                for problem in u["problems"]:
                    click.echo(f"       {problem}")
    exit_failed_if(failed)


@click.command()
@config_option
@click.option("-e", "--export", "export", required=True)
@format_option
@output_option
@param_option
def reconcile(config: str, export: str, fmt: str, output: str | None, params: tuple[str, ...]) -> None:
    """Checkpointed chunked runs: each chunk's source COUNT(*) now vs the rows recorded (match/mismatch/unknown)."""
    from rivet_core.repair import reconcile_report, render_reconcile, require_checkpointed

    with user_errors():
        check_output(fmt, output)
        cfg = load(config, params)
        require_checkpointed(cfg.export(export), "reconcile")
        doc = reconcile_report(cfg, cfg.export(export))
    if fmt == "json":
        emit_json(doc, output)
    else:
        click.echo(render_reconcile(doc))
    exit_failed_if(doc["summary"]["matches"] != doc["summary"]["total_partitions"])
