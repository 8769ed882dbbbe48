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
@click.option("--json", "as_json", is_flag=True, help="Newline-delimited JSON: one object per export.")
@click.option(
    "--strict", is_flag=True, help="Exit 1 on lossy/unsupported type mappings, target failures and unsafe verdicts."
)
@click.option("--type-report", is_flag=True, help="Table of every column: source, Rivet and Arrow type, fidelity.")
@click.option("--target", metavar="TARGET", default=None, help="Check each column loads into: bigquery (or bq).")
@param_option
def check(
    config: str,
    exports: tuple[str, ...],
    as_json: bool,
    strict: bool,
    type_report: bool,
    target: str | None,
    params: tuple[str, ...],
) -> None:
    """Preflight each export without exporting: types, key index, row estimate, connections, verdict."""
    from rivet_core.preflight import check as run_check
    from rivet_core.preflight import render
    from rivet_core.preflight.target import parse_target

    with user_errors():
        warehouse = parse_target(target) if target is not None else None
        cfg = load(config, params)
        reports = run_check(cfg, list(exports) or [e.name for e in cfg.exports], warehouse)
    for r in reports:
        if as_json:
            click.echo(json.dumps(r.to_json(strict), default=str))
        else:
            click.echo(render(r, type_report=type_report or strict or warehouse is not None, strict=strict))
    failed = any(r.errors for r in reports)
    if strict:
        failed = failed or any(r.flagged or r.target_failures or r.verdict == "unsafe" for r in reports)
    exit_failed_if(failed)
