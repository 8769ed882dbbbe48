"""`rivet doctor` and `rivet check`: can rivet reach everything, and how will each export load the database."""

from __future__ import annotations

import json

import click

from rivet_core.cli.common import config_option, exit_failed_if, exports_option, load, param_option, user_errors


@click.command()
@config_option
@param_option
def doctor(config: str, params: tuple[str, ...]) -> None:
    """One [OK]/[WARN]/[FAIL] line per probe: source, read-only role, TLS, pooler, each destination writable."""
    from rivet_core.preflight import doctor as run_doctor

    with user_errors():
        probes = run_doctor(load(config, params))
    for probe in probes:
        click.echo(probe.line())
    exit_failed_if(any(p.status == "FAIL" for p in probes))


@click.command()
@config_option
@exports_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list with one object per export.")
@click.option("--strict", is_flag=True, help="Fail (exit 1) on lossy/unsupported type mappings and unsafe verdicts.")
@click.option("--type-report", is_flag=True, help="List every column with its source and Arrow type.")
@param_option
def check(
    config: str, exports: tuple[str, ...], as_json: bool, strict: bool, type_report: bool, params: tuple[str, ...]
) -> None:
    """Preflight each export without exporting: types, key index, row estimate, connections, verdict."""
    from rivet_core.preflight import check as run_check
    from rivet_core.preflight import render

    with user_errors():
        cfg = load(config, params)
        reports = run_check(cfg, list(exports) or [e.name for e in cfg.exports])
    if as_json:
        click.echo(json.dumps([r.to_json() for r in reports], indent=2, default=str))
    else:
        for r in reports:
            click.echo(render(r, type_report=type_report))
    failed = any(r.errors for r in reports)
    if strict:
        failed = failed or any(r.flagged or r.verdict == "unsafe" for r in reports)
    exit_failed_if(failed)
