"""`rivet run` and `rivet apply`: export now, or exactly as a sealed plan says."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from rivet_core.cli.common import (
    config_option,
    exports_option,
    json_summary_option,
    load,
    log,
    log_result,
    param_env,
    param_option,
    progress,
    reconcile_option,
    report_results,
    selected_exports,
    user_errors,
    validate_option,
)
from rivet_core.cli.isolation import run_isolated, write_summary
from rivet_core.cli.parallel import Launch, parallel_mode
from rivet_core.errors import ConfigError


@click.command()
@config_option
@exports_option
@validate_option
@reconcile_option
@click.option("--resume", is_flag=True, help="Continue the in-progress checkpointed chunk run (unfinished chunks).")
@click.option("--force", is_flag=True, help="Only meaningful with --resume (accepted for rivet-cli 0.7.7).")
@click.option(
    "--window",
    "windows",
    multiple=True,
    metavar="KEY",
    help="time_window: export this window (2026-11-01), repeatable.",
)
@click.option("--parallel-exports", is_flag=True, help="Run the exports at once, on threads (not with --export).")
@click.option(
    "--parallel-export-processes", is_flag=True, help="Run the exports at once, one process each (not with --export)."
)
@click.option(
    "--summary-output", default=None, type=click.Path(dir_okay=False), help="Write the run summary JSON here."
)
@param_option
@json_summary_option
def run(
    config: str,
    exports: tuple[str, ...],
    validate: bool,
    reconcile: bool,
    resume: bool,
    force: bool,
    windows: tuple[str, ...],
    parallel_exports: bool,
    parallel_export_processes: bool,
    summary_output: str | None,
    params: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run exports; one export's failure (config, preflight, source, destination) fails that export only."""
    from rivet_core.destinations.stdout import conflicts
    from rivet_core.engine import RunOptions

    with user_errors():
        if parallel_exports and parallel_export_processes:
            raise ConfigError("--parallel-exports and --parallel-export-processes: use at most one")
        cfg = load(config, params)
        names = selected_exports(cfg, exports)
        kinds = {name: cfg.export(name).destination.type for name in names}
        if clash := conflicts(kinds, as_json=as_json, validate=validate):
            raise ConfigError(clash)
        if force and not resume:
            log.warning("--force only matters with --resume; ignored")
        mode = parallel_mode(cfg, names, bool(exports), parallel_exports, parallel_export_processes)
        launch = Launch(config, param_env(params), log.getEffectiveLevel() <= logging.DEBUG)
        with progress() as update:
            options = RunOptions(
                validate=validate, reconcile=reconcile, resume=resume, windows=list(windows) or None, progress=update
            )
            outcome = run_isolated(cfg, config, names, options, mode, launch)
        write_summary(outcome, summary_output)
    report_results(outcome.results, as_json, outcome.summary, outcome.usage_failed)


@click.command()
@click.argument("plan_file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Apply a plan older than 24 h, or after its incremental cursor moved.")
@validate_option
@reconcile_option
@json_summary_option
def apply(plan_file: str, force: bool, validate: bool, reconcile: bool, as_json: bool) -> None:
    """Run a plan exactly as written: no config re-read, no MIN/MAX (refused when expired or stale)."""
    from rivet_core.engine import RunOptions
    from rivet_core.plan import apply_plan

    with user_errors(), progress() as update:
        options = RunOptions(validate=validate, reconcile=reconcile, progress=update)
        results = apply_plan(Path(plan_file), force, options)
    for r in results:
        log_result(r)
    report_results(results, as_json)
