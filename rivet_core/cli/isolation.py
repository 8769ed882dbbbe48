"""The `rivet run` loop: each export isolated from the others' failures, a run report per export, one summary."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rivet_core.cli.common import log, log_result
from rivet_core.errors import ConfigError, RivetError
from rivet_core.redact import redact
from rivet_core.results import named

if TYPE_CHECKING:
    from rivet_core.cli.parallel import Launch
    from rivet_core.config import Config
    from rivet_core.config.aliases import ParallelMode
    from rivet_core.engine import ExportResult, RunOptions


AGGREGATE_MODE = {"sequential": "sequential", "threads": "parallel-threads", "processes": "parallel-processes"}


@dataclass
class Outcome:
    """Every export's result, which of them failed on a config error, and the aggregate summary."""

    results: list[ExportResult] = field(default_factory=list)
    usage_failed: set[str] = field(default_factory=set)
    summary: dict[str, Any] = field(default_factory=dict)


def failed_result(name: str, message: str) -> ExportResult:
    """A failed result for an export that raised before (or instead of) producing its own."""
    from rivet_core.engine import ExportResult

    now = dt.datetime.now(dt.UTC)
    run_id = f"{name}_{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}"  # synthetic: failed before planning
    return ExportResult(name, run_id, now.isoformat(), status="failed", error=message)


def run_one(cfg: Config, name: str, options: RunOptions) -> tuple[ExportResult, bool]:
    """Run one export; any failure becomes its failed result. Returns (result, failed on a config error)."""
    from rivet_core.engine import run_export

    try:
        return run_export(cfg, name, options), False
    except ConfigError as exc:
        message = named(name, str(exc))
        log.error("%s", message)
        return failed_result(name, message), True
    except RivetError as exc:
        message = named(name, str(exc))
    except Exception as exc:  # a driver or client library failing while the export is set up
        message = named(name, redact((str(exc) or type(exc).__name__).splitlines()[0], []))
    log.error("%s", message)
    return failed_result(name, message), False


def run_isolated(
    cfg: Config,
    config_path: str,
    names: list[str],
    options: RunOptions,
    mode: ParallelMode = "sequential",
    launch: Launch | None = None,
) -> Outcome:
    """Run `names` one after another, or all at once (`threads` / `processes`, started as `launch` says); each
    gets a run report as it ends, the outcome holds them all in `names` order."""
    from rivet_core.cli.parallel import run_parallel
    from rivet_core.reports import RunContext, aggregate, resume_command, write_report

    ctx = RunContext(cfg, config_path)
    started = dt.datetime.now(dt.UTC).isoformat()
    outcome = Outcome()
    done: dict[str, ExportResult] = {}

    def finished(name: str, result: ExportResult, usage: bool) -> None:
        done[name] = result
        if usage:
            outcome.usage_failed.add(name)
        log_result(result)
        report = write_report(ctx, result)
        if report:
            click.echo(f"report:    {report}", err=True)
        resume = resume_command(ctx, cfg.export(name), result)
        if resume:
            click.echo(f"resume:    {resume}", err=True)

    if mode == "sequential":
        for name in names:
            log.info("%s: starting (%s)", name, cfg.export(name).mode)
            finished(name, *run_one(cfg, name, options))
    else:
        assert launch is not None
        run_parallel(cfg, names, options, mode, launch, finished)
    outcome.results = [done[name] for name in names]
    outcome.summary = aggregate(ctx, outcome.results, started, AGGREGATE_MODE[mode])
    return outcome


def write_summary(outcome: Outcome, path: str | None) -> None:
    """`--summary-output`: the aggregate JSON in a file (after the exports ran, so a write failure is logged)."""
    if not path:
        return
    try:
        Path(path).write_text(json.dumps(outcome.summary, indent=2, default=str) + "\n", encoding="utf-8")
    except OSError as exc:
        log.error("--summary-output: cannot write %s: %s", path, exc.strerror or exc)
