"""`rivet repair`: re-export the chunks a reconcile found missing or mismatched (dry run unless --execute)."""

from __future__ import annotations

import click

from rivet_core.cli.common import (
    check_output,
    config_option,
    emit_json,
    exit_failed_if,
    format_option,
    load,
    output_option,
    param_option,
    user_errors,
)


@click.command()
@config_option
@click.option("-e", "--export", "export", required=True, help="A checkpointed chunked export.")
@click.option("--report", "report_path", default=None, help="A reconcile JSON (default: reconcile now).")
@click.option("--execute", is_flag=True, help="Re-export the planned chunks (default: print the plan only).")
@format_option
@output_option
@param_option
def repair(
    config: str,
    export: str,
    report_path: str | None,
    execute: bool,
    fmt: str,
    output: str | None,
    params: tuple[str, ...],
) -> None:
    """Plan (and with --execute, run) re-exports of MISMATCH / missing chunks as new files.

    A re-exported chunk supersedes the older unit of the same chunk at the destination (docs/commit-protocol.md).
    """
    from rivet_core.repair import (
        execute_repair,
        plan_repair,
        read_report,
        reconcile_report,
        render_repair,
        require_checkpointed,
    )

    with user_errors():
        check_output(fmt, output)
        cfg = load(config, params)
        require_checkpointed(cfg.export(export), "repair")
        doc = read_report(report_path, export) if report_path else reconcile_report(cfg, cfg.export(export))
        plan = plan_repair(doc)
        report = execute_repair(cfg, plan) if execute and plan.actions else None
    if fmt == "json":
        emit_json(report if report is not None else plan.to_json(), output)
    else:
        click.echo(render_repair(plan, report))
    exit_failed_if(report is not None and report["status"] == "failed")
