"""`rivet state show|reset|files|chunks|reset-chunks`: the state store and what the destination recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from rivet_core.cli.common import config_option, destination_of, echo_json, load, user_errors

if TYPE_CHECKING:
    from rivet_core.state import StateStore


@click.group()
def state() -> None:
    """Inspect or reset the state store."""


@state.command("show")
@config_option
@click.option("-e", "--export", "export", default=None)
def state_show(config: str, export: str | None) -> None:
    """Cursor (recovered from the destination when it is ahead of the store) per export."""
    from rivet_core import commit
    from rivet_core.planning import committed_cursor
    from rivet_core.state import StateStore

    with user_errors():
        cfg = load(config)
        store = StateStore.open(cfg.base_dir)
        out: list[dict[str, Any]] = []
        for e in [cfg.export(export)] if export else cfg.exports:
            dest = destination_of(cfg, e.name)
            committed = commit.manifests(dest, e.name)
            latest = committed_cursor(dest, e.name, committed)
            cached = store.cursor(e.name)
            out.append(
                {
                    "export": e.name,
                    "mode": e.mode,
                    "cursor": latest.cursor.to_json() if latest and latest.cursor else None,
                    "cached_cursor": {"column": cached[0], "value": cached[1]} if cached else None,
                    "committed_units": len(committed),
                }
            )
    echo_json(out)


@state.command("reset")
@config_option
@click.option("-e", "--export", "export", required=True, help="Export to reset.")
def state_reset(config: str, export: str) -> None:
    """Forget an export's cursor: the next run starts from the beginning (files already written stay)."""
    from rivet_core import commit
    from rivet_core.state import StateStore

    with user_errors():
        cfg = load(config)
        dest = destination_of(cfg, export)
        committed = commit.manifests(dest, export)
        if committed:
            commit.write_reset(dest, export, committed[-1].unit_id)
        StateStore.open(cfg.base_dir).reset(export)
    click.echo(f"state of {export} reset")


def _store(config: str, export: str) -> StateStore:
    """The state store next to `config`, after checking that `export` exists."""
    from rivet_core.state import StateStore

    cfg = load(config)
    cfg.export(export)
    return StateStore.open(cfg.base_dir)


@state.command("files")
@config_option
@click.option("-e", "--export", "export", required=True)
def state_files(config: str, export: str) -> None:
    """Files recorded for an export."""
    with user_errors():
        files = _store(config, export).files(export)
    echo_json(files)


@state.command("chunks")
@config_option
@click.option("-e", "--export", "export", required=True)
def state_chunks(config: str, export: str) -> None:
    """Checkpointed chunk runs of an export and their tasks (status, attempts, rows, files)."""
    with user_errors():
        store = _store(config, export)
        runs = [{**r, "tasks": store.chunk_tasks(r["run_id"])} for r in store.chunk_runs(export)]
    echo_json(runs)


@state.command("reset-chunks")
@config_option
@click.option("-e", "--export", "export", required=True)
def state_reset_chunks(config: str, export: str) -> None:
    """Abandon the in-progress checkpointed run (committed chunks stay); the next run plans afresh."""
    with user_errors():
        count = _store(config, export).reset_chunks(export)
    click.echo(f"abandoned {count} in-progress chunk run(s) of {export}")
