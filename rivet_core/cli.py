"""The `rivet` command (design §7). Exit codes: 0 ok · 1 failed · 2 usage/config error · 3 degraded.

Dagster is never imported here: the CLI starts in the time of polars + pyarrow + a driver.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from rivet_core import __version__
from rivet_core.errors import EXIT_DEGRADED, EXIT_FAILED, EXIT_OK, EXIT_USAGE, ConfigError, RivetError

log = logging.getLogger("rivet")


class _Ctx:
    json_errors = False


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s rivet %(levelname)s %(message)s", "%H:%M:%S"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


def _fail(message: str, code: int) -> None:
    if _Ctx.json_errors:
        click.echo(json.dumps({"error": message, "exit_code": code}), err=True)
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn every rivet error into one line and its exit code; never a traceback for a user mistake."""
    try:
        yield
    except RivetError as exc:
        _fail(str(exc), exc.exit_code)


def _load(config: str, params: tuple[str, ...] = ()) -> Any:
    from rivet_core.config import load_config

    env = dict(os.environ)
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param {item!r}: expected KEY=VALUE")
        env[key] = value
    return load_config(config, env)


config_option = click.option(
    "-c",
    "--config",
    "config",
    default="rivet.yaml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Path to rivet.yaml.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rivet")
@click.option("--json-errors", is_flag=True, help="Print errors as one JSON object on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def cli(json_errors: bool, verbose: bool) -> None:
    """Export PostgreSQL / MySQL tables to Parquet or CSV on local disk, S3 or GCS."""
    _Ctx.json_errors = json_errors
    _setup_logging(verbose)


def _progress() -> tuple[Callable[[str, int, int], None] | None, Callable[[], None]]:
    """A rich progress line (rows, rows/s) on a TTY; on other outputs the plain log lines suffice."""
    if not sys.stderr.isatty():
        return None, lambda: None
    from rich.progress import Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} rows"),
        TextColumn("{task.fields[rate]:,.0f} rows/s"),
        TimeElapsedColumn(),
        transient=True,
    )
    bar.start()
    tasks: dict[str, Any] = {}

    def update(export: str, rows: int, _bytes: int) -> None:
        if export not in tasks:
            tasks[export] = bar.add_task(export, total=None, rate=0)
        task = bar.tasks[tasks[export]]
        elapsed = task.elapsed or 0
        bar.update(tasks[export], completed=rows, rate=rows / elapsed if elapsed else 0)

    return update, bar.stop


@cli.command()
@config_option
@click.option("-e", "--export", "exports", multiple=True, help="Export name (repeatable); default: all.")
@click.option("--validate", is_flag=True, help="Re-read what was committed (size, fingerprint, rows).")
@click.option("--reconcile", is_flag=True, help="Compare a source COUNT(*) in the same snapshot with rows written.")
@click.option("--resume", is_flag=True, help="Continue the in-progress checkpointed chunk run (unfinished chunks).")
@click.option(
    "--window",
    "windows",
    multiple=True,
    metavar="KEY",
    help="time_window: export this window (2026-11-01), repeatable.",
)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Value for ${KEY} in the config.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON run summary on stdout.")
def run(
    config: str,
    exports: tuple[str, ...],
    validate: bool,
    reconcile: bool,
    resume: bool,
    windows: tuple[str, ...],
    params: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run exports."""
    from rivet_core.engine import RunOptions, run_export

    with _user_errors():
        cfg = _load(config, params)
        names = list(exports) or [e.name for e in cfg.exports]
        for name in names:
            cfg.export(name)
        update, stop = _progress()
        results = []
        try:
            for name in names:
                log.info("%s: starting (%s)", name, cfg.export(name).mode)
                options = RunOptions(
                    validate=validate,
                    reconcile=reconcile,
                    resume=resume,
                    windows=list(windows) or None,
                    progress=update,
                )
                results.append(run_export(cfg, name, options))
                _log_result(results[-1])
        finally:
            stop()
    _report_results(results, as_json)


@cli.command()
@config_option
@click.option("-e", "--export", "export", default=None, help="Only this export.")
@click.option("--last", default=20, show_default=True, type=click.IntRange(min=1), help="How many runs.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def metrics(config: str, export: str | None, last: int, fmt: str) -> None:
    """Run history from the state store."""
    from rivet_core.state import StateStore

    with _user_errors():
        cfg = _load(config)
        if export:
            cfg.export(export)
        runs = StateStore.open(cfg.base_dir).runs(export, last)
    if fmt == "json":
        click.echo(json.dumps(runs, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    columns = (
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
    table = Table(*(c.removesuffix("_at") for c in columns))  # `started_at` is headed `started`
    for r in runs:
        table.add_row(*(str(r[k]) if r[k] is not None else "" for k in columns))
    Console(width=200).print(table)


@cli.command()
@config_option
@click.option("-e", "--export", "export", required=True)
@click.option("--run-id", default=None, help="Units of this run (default: the latest run).")
@click.option("--date", default=None, metavar="YYYY-MM-DD", help="Units committed on this UTC day.")
@click.option("--prefix", default=None, help="Units whose files lie under this key prefix.")
def validate(config: str, export: str, run_id: str | None, date: str | None, prefix: str | None) -> None:
    """Re-check committed units at the destination (manifest, _SUCCESS, sizes, fingerprints, rows); no source."""
    from rivet_core import commit
    from rivet_core.gates import validate_unit

    with _user_errors():
        cfg = _load(config)
        cfg.export(export)
        dest = _destination_of(cfg, export)
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
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


@cli.command()
@config_option
@click.option("-e", "--export", "export", required=True)
def reconcile(config: str, export: str) -> None:
    """Checkpointed chunked runs: each chunk's source COUNT(*) now vs the rows recorded (match/mismatch/unknown)."""
    from rivet_core.planning import chunk_reconcile

    with _user_errors():
        cfg = _load(config)
        rows = chunk_reconcile(cfg, cfg.export(export))
    for r in rows:
        click.echo(
            f"[{r.status.upper()}] chunk {r.index} ({r.key}): source {r.source}, recorded {r.recorded}"
            + (f", difference {r.difference}" if r.status == "mismatch" else "")
        )
    sys.exit(EXIT_FAILED if any(r.status != "match" for r in rows) else EXIT_OK)


@cli.group()
def state() -> None:
    """Inspect or reset the state store."""


def _destination_of(cfg: Any, name: str) -> Any:
    import datetime as dt

    from rivet_core.destinations import open_destination

    export = cfg.export(name)
    table = export.source_table[1] if export.table else export.name
    return open_destination(export.destination, name, table, "state", dt.datetime.now(dt.UTC), cfg.base_dir).destination


@state.command("show")
@config_option
@click.option("-e", "--export", "export", default=None)
def state_show(config: str, export: str | None) -> None:
    """Cursor (recovered from the destination when it is ahead of the store) per export."""
    from rivet_core import commit
    from rivet_core.planning import committed_cursor
    from rivet_core.state import StateStore

    with _user_errors():
        cfg = _load(config)
        store = StateStore.open(cfg.base_dir)
        out = []
        for e in [cfg.export(export)] if export else cfg.exports:
            dest = _destination_of(cfg, e.name)
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
    click.echo(json.dumps(out, indent=2, default=str))


@state.command("reset")
@config_option
@click.option("-e", "--export", "export", required=True, help="Export to reset.")
def state_reset(config: str, export: str) -> None:
    """Forget an export's cursor: the next run starts from the beginning (files already written stay)."""
    from rivet_core import commit
    from rivet_core.state import StateStore

    with _user_errors():
        cfg = _load(config)
        cfg.export(export)
        dest = _destination_of(cfg, export)
        committed = commit.manifests(dest, export)
        if committed:
            commit.write_reset(dest, export, committed[-1].unit_id)
        StateStore.open(cfg.base_dir).reset(export)
    click.echo(f"state of {export} reset")


def _store(config: str, export: str) -> Any:
    """The state store next to `config`, after checking that `export` exists."""
    from rivet_core.state import StateStore

    cfg = _load(config)
    cfg.export(export)
    return StateStore.open(cfg.base_dir)


@state.command("files")
@config_option
@click.option("-e", "--export", "export", required=True)
def state_files(config: str, export: str) -> None:
    """Files recorded for an export."""
    with _user_errors():
        files = _store(config, export).files(export)
    click.echo(json.dumps(files, indent=2, default=str))


@state.command("chunks")
@config_option
@click.option("-e", "--export", "export", required=True)
def state_chunks(config: str, export: str) -> None:
    """Checkpointed chunk runs of an export and their tasks (status, attempts, rows, files)."""
    with _user_errors():
        store = _store(config, export)
        runs = [{**r, "tasks": store.chunk_tasks(r["run_id"])} for r in store.chunk_runs(export)]
    click.echo(json.dumps(runs, indent=2, default=str))


@state.command("reset-chunks")
@config_option
@click.option("-e", "--export", "export", required=True)
def state_reset_chunks(config: str, export: str) -> None:
    """Abandon the in-progress checkpointed run (committed chunks stay); the next run plans afresh."""
    with _user_errors():
        count = _store(config, export).reset_chunks(export)
    click.echo(f"abandoned {count} in-progress chunk run(s) of {export}")


@cli.group()
def schema() -> None:
    """Print schemas."""


@schema.command("config")
def schema_config() -> None:
    """JSON Schema of rivet.yaml."""
    from rivet_core.config import config_json_schema

    click.echo(json.dumps(config_json_schema(), indent=2))


@cli.command()
@click.option("--type", "source_type", type=click.Choice(["postgres", "mysql"]), default="postgres", show_default=True)
@click.option("--url-env", required=True, help="Env var holding the source URL (the URL itself is never written).")
@click.option("--table", "tables", required=True, multiple=True, help="Table (t or schema.t), repeatable.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--path", default="./out/{export}", show_default=True, help="Local destination path.")
@click.option("-o", "--output", default="rivet.yaml", show_default=True, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def init(
    source_type: str, url_env: str, tables: tuple[str, ...], fmt: str, path: str, output: str, force: bool
) -> None:
    """Scaffold a rivet.yaml from live tables (incremental where a timestamp/updated column exists)."""
    from rivet_core.scaffold import scaffold

    with _user_errors():
        if Path(output).exists() and not force:
            raise ConfigError(f"--output: {output} exists; pass --force to overwrite it")
        text = scaffold(source_type, url_env, list(tables), fmt, path)
        Path(output).write_text(text)
    click.echo(f"wrote {output}")


@cli.command()
@config_option
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Value for ${KEY} in the config.")
def doctor(config: str, params: tuple[str, ...]) -> None:
    """One [OK]/[WARN]/[FAIL] line per probe: source, read-only role, TLS, pooler, each destination writable."""
    from rivet_core.preflight import doctor as run_doctor

    with _user_errors():
        probes = run_doctor(_load(config, params))
    for probe in probes:
        click.echo(probe.line())
    sys.exit(EXIT_FAILED if any(p.status == "FAIL" for p in probes) else EXIT_OK)


@cli.command()
@config_option
@click.option("-e", "--export", "exports", multiple=True, help="Export name (repeatable); default: all.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list with one object per export.")
@click.option("--strict", is_flag=True, help="Fail (exit 1) on lossy/unsupported type mappings and unsafe verdicts.")
@click.option("--type-report", is_flag=True, help="List every column with its source and Arrow type.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Value for ${KEY} in the config.")
def check(
    config: str, exports: tuple[str, ...], as_json: bool, strict: bool, type_report: bool, params: tuple[str, ...]
) -> None:
    """Preflight each export without exporting: types, key index, row estimate, connections, verdict."""
    from rivet_core.preflight import check as run_check
    from rivet_core.preflight import render

    with _user_errors():
        cfg = _load(config, params)
        reports = run_check(cfg, list(exports) or [e.name for e in cfg.exports])
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in reports], indent=2, default=str))
    else:
        for r in reports:
            text = render(r)
            if not type_report:  # flagged columns are always listed
                text = "\n".join(line for line in text.splitlines() if not line.startswith("  column ") or "[" in line)
            click.echo(text)
    failed = any(r.errors for r in reports)
    if strict:
        failed = failed or any(r.flagged or r.verdict == "unsafe" for r in reports)
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


@cli.command()
@config_option
@click.option("-e", "--export", "exports", multiple=True, help="Export name (repeatable); default: all.")
@click.option("--format", "fmt", type=click.Choice(["pretty", "json"]), default="pretty", show_default=True)
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False), help="Write the plan artifact here.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Value for ${KEY} in the config.")
def plan(config: str, exports: tuple[str, ...], fmt: str, output: str | None, params: tuple[str, ...]) -> None:
    """Fix what a run would read (chunk ranges, windows, cursor) in a sealed artifact for `rivet apply`."""
    from rivet_core.plan import make_plan, render

    with _user_errors():
        cfg = _load(config, params)
        names = list(exports) or [e.name for e in cfg.exports]
        for name in names:
            cfg.export(name)
        artifact = make_plan(cfg, names)
        text = json.dumps(artifact, indent=2)
        if output:
            try:
                Path(output).write_text(text + "\n")
            except OSError as exc:
                raise ConfigError(f"--output: cannot write {output}: {exc.strerror}") from None
    click.echo(text if fmt == "json" else render(artifact))
    if output:
        click.echo(f"wrote {output}", err=True)


@cli.command()
@click.argument("plan_file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Apply a plan older than 24 h, or after its incremental cursor moved.")
@click.option("--validate", is_flag=True, help="Re-read what was committed (size, fingerprint, rows).")
@click.option("--reconcile", is_flag=True, help="Compare a source COUNT(*) in the same snapshot with rows written.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON run summary on stdout.")
def apply(plan_file: str, force: bool, validate: bool, reconcile: bool, as_json: bool) -> None:
    """Run a plan exactly as written: no config re-read, no MIN/MAX (refused when expired or stale)."""
    from rivet_core.engine import RunOptions
    from rivet_core.plan import apply_plan

    with _user_errors():
        update, stop = _progress()
        try:
            results = apply_plan(
                Path(plan_file), force, RunOptions(validate=validate, reconcile=reconcile, progress=update)
            )
        finally:
            stop()
    for r in results:
        _log_result(r)
    _report_results(results, as_json)


def _log_result(r: Any) -> None:
    """Log one export's outcome (at error level when it failed)."""
    log.log(
        logging.ERROR if r.status == "failed" else logging.INFO,
        "%s: %s, %d rows, %d file(s), %.2fs, peak RSS %.0f MiB",
        r.export,
        r.status,
        r.rows,
        len(r.files),
        r.duration_s,
        r.peak_rss_mb,
    )


def _report_results(results: list[Any], as_json: bool) -> NoReturn:
    """Print the JSON summary when asked and the --json-errors objects; exit 1 on a failure, 3 when degraded."""
    if as_json:
        click.echo(json.dumps({"exports": [r.to_json() for r in results]}, indent=2, default=str))
    if _Ctx.json_errors:  # a failed export is an error too: one JSON object per failed export, last on stderr
        for r in results:
            if r.status == "failed":
                click.echo(json.dumps({"error": r.error, "export": r.export, "exit_code": EXIT_FAILED}), err=True)
    statuses = {r.status for r in results}
    sys.exit(EXIT_FAILED if "failed" in statuses else EXIT_DEGRADED if "degraded" in statuses else EXIT_OK)


class _WithoutPandas:
    """Import hook: pyarrow imports pandas on first use whenever it is installed (dagster-gcp brings it), ~45 MiB
    of RSS per run that the CLI never uses; refusing it makes pyarrow treat pandas as absent."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("the rivet CLI does not use pandas", name=name)


def main() -> None:
    """Console entry point: rivet errors → their exit code; a bug → one line (RIVET_DEBUG=1 for traceback)."""
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _WithoutPandas())  # type: ignore[arg-type]
    try:
        cli.main(standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:
        if os.environ.get("RIVET_DEBUG"):
            raise
        from rivet_core.redact import redact

        _fail(f"internal error: {redact(str(exc))} (set RIVET_DEBUG=1 for a traceback)", EXIT_FAILED)


if __name__ == "__main__":
    main()

__all__ = ["EXIT_USAGE", "main"]
