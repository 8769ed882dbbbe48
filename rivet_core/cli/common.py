"""What every command shares: options, config loading, errors → exit codes (docs/exit-codes.md), progress, results.

Heavy modules (config's pydantic, the engine's polars/pyarrow/drivers) are imported inside the commands so that
`rivet --help` and `rivet schema` start at once.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from rivet_core.errors import EXIT_DEGRADED, EXIT_FAILED, EXIT_OK, EXIT_USAGE, ConfigError, RivetError

if TYPE_CHECKING:
    from rivet_core.config import Config
    from rivet_core.destinations.base import Destination
    from rivet_core.results import ExportResult

log = logging.getLogger("rivet")

Progress = Callable[[str, int, int], None]


class Flags:
    """Process-wide flags of the `rivet` group."""

    json_errors = False


def setup_logging(verbose: bool) -> None:
    """Log lines on stderr (`-v`: debug)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s rivet %(levelname)s %(message)s", "%H:%M:%S"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


def fail(message: str, code: int) -> NoReturn:
    """One error line on stderr (a JSON object with `--json-errors`), then exit with `code`."""
    if Flags.json_errors:
        click.echo(json.dumps({"error": message, "exit_code": code}), err=True)
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn every rivet error into one line and its exit code; never a traceback for a user mistake."""
    try:
        yield
    except RivetError as exc:
        fail(str(exc), exc.exit_code)


def param_env(params: tuple[str, ...]) -> dict[str, str]:
    """The environment with each `--param KEY=VALUE` over it (what `${KEY}` expands from)."""
    env = dict(os.environ)
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param {item!r}: expected KEY=VALUE")
        env[key] = value
    return env


def load(config: str, params: tuple[str, ...] = ()) -> Config:
    """The config at `config`, with `--param KEY=VALUE` values over the environment for `${KEY}`.

    A `--param` the config never references (`${KEY}`) is warned about, as 0.7.7 does: it is most likely a typo.
    """
    from rivet_core.config import load_config

    cfg = load_config(config, params=params)
    for key in cfg.unused_params:
        log.warning("--param %s is not used: no value of %s reads ${%s}", key, config, key)
    return cfg


def selected_exports(cfg: Config, exports: tuple[str, ...]) -> list[str]:
    """The `-e` names (each checked to exist), or every export."""
    names = list(exports) or [e.name for e in cfg.exports]
    for name in names:
        cfg.export(name)
    return names


def destination_of(cfg: Config, name: str) -> Destination:
    """The destination root of an export, for reading its committed units and state."""
    from rivet_core.preflight.common import export_destination

    return export_destination(cfg, cfg.export(name), "state")


config_option = click.option(
    "-c",
    "--config",
    "config",
    default="rivet.yaml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Path to rivet.yaml.",
)
param_option = click.option(
    "-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="Value for ${KEY} in the config."
)
exports_option = click.option(
    "-e", "--export", "exports", multiple=True, help="Export name (repeatable); default: all."
)
validate_option = click.option("--validate", is_flag=True, help="Re-read what was committed (size, fingerprint, rows).")
reconcile_option = click.option(
    "--reconcile", is_flag=True, help="Compare a source COUNT(*) in the same snapshot with rows written."
)
json_summary_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON run summary on stdout.")


@contextmanager
def progress() -> Iterator[Progress | None]:
    """A rich progress line (rows, rows/s) on a TTY; elsewhere (CI, a file) a log line every few seconds."""
    if not sys.stderr.isatty():
        from rivet_core.progress import ProgressLog

        yield ProgressLog()
        return
    from rich.progress import Progress as Bar
    from rich.progress import TaskID, TextColumn, TimeElapsedColumn

    bar = Bar(
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} rows"),
        TextColumn("{task.fields[rate]:,.0f} rows/s"),
        TimeElapsedColumn(),
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(export: str, rows: int, _bytes: int) -> None:
        if export not in tasks:
            tasks[export] = bar.add_task(export, total=None, rate=0)
        elapsed = bar.tasks[tasks[export]].elapsed or 0
        bar.update(tasks[export], completed=rows, rate=rows / elapsed if elapsed else 0)

    bar.start()
    try:
        yield update
    finally:
        bar.stop()


def log_result(r: ExportResult) -> None:
    """Log one export's outcome (at error level when it failed): rows, files, time, memory, destination."""
    log.log(
        logging.ERROR if r.status == "failed" else logging.INFO,
        "%s: %s, %d rows, %d file(s), %.2fs, peak RSS %.0f MiB → %s",
        r.export,
        r.status,
        r.rows,
        len(r.files),
        r.duration_s,
        r.peak_rss_mb,
        r.destination or "-",
    )


def report_results(
    results: list[ExportResult],
    as_json: bool,
    summary: dict[str, Any] | None = None,
    usage_failed: Collection[str] = (),
) -> NoReturn:
    """Print the JSON summary when asked and the --json-errors objects, then exit (docs/exit-codes.md).

    1 on a failure, 3 when degraded; 2 when every export failed on a config error (`usage_failed`), as a config
    error of a single export always did.
    """
    if as_json:
        click.echo(json.dumps(summary or {"exports": [r.to_json() for r in results]}, indent=2, default=str))
    failed = [r for r in results if r.status == "failed"]
    usage = bool(failed) and len(failed) == len(results) and all(r.export in usage_failed for r in failed)
    for r in failed:  # a failed export is an error too: one JSON object (or error line) per failed export
        code = EXIT_USAGE if r.export in usage_failed else EXIT_FAILED
        if Flags.json_errors:
            click.echo(json.dumps({"error": r.error, "export": r.export, "exit_code": code}), err=True)
        elif usage:
            click.echo(f"error: {r.error}", err=True)
    statuses = {r.status for r in results}
    if usage:
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_FAILED if "failed" in statuses else EXIT_DEGRADED if "degraded" in statuses else EXIT_OK)


format_option = click.option(
    "--format", "fmt", type=click.Choice(["pretty", "json"]), default="pretty", show_default=True, help="Output format."
)
output_option = click.option(
    "-o", "--output", default=None, type=click.Path(dir_okay=False), help="Write the JSON here (--format json only)."
)


def check_output(fmt: str, output: str | None) -> None:
    """`--output` writes JSON: with `--format pretty` it is a usage error."""
    if output and fmt != "json":
        raise ConfigError("--output/-o: needs --format json (--format pretty prints to the terminal)")


def emit_json(value: Any, output: str | None) -> None:
    """Pretty JSON on stdout, or into `output` (and a `wrote <path>` line on stderr)."""
    if not output:
        echo_json(value)
        return
    try:
        Path(output).write_text(json.dumps(value, indent=2, default=str) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--output: cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {output}", err=True)


def exit_failed_if(failed: bool) -> NoReturn:
    """Exit 1 when `failed`, else 0."""
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


def echo_json(value: Any) -> None:
    """Pretty JSON on stdout (dates and other values as their str)."""
    click.echo(json.dumps(value, indent=2, default=str))
