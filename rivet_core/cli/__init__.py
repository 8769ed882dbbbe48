"""The `rivet` command, one module per command group. Exit codes (docs/exit-codes.md): 0 ok · 1 failed ·
2 usage/config error · 3 degraded.

Dagster is never imported here: the CLI starts in the time of polars + pyarrow + a driver.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

import click

from rivet_core import __version__
from rivet_core.cli.common import Flags, fail, setup_logging
from rivet_core.cli.doctor import check, doctor
from rivet_core.cli.inspection import metrics, reconcile, validate
from rivet_core.cli.journal import journal
from rivet_core.cli.plan import plan
from rivet_core.cli.repair import repair
from rivet_core.cli.run import apply, run
from rivet_core.cli.setup import completions, init, schema
from rivet_core.cli.state import state
from rivet_core.errors import EXIT_FAILED, EXIT_USAGE


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rivet")
@click.option("--json-errors", is_flag=True, help="Print errors as one JSON object on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def cli(json_errors: bool, verbose: bool) -> None:
    """Export PostgreSQL / MySQL tables to Parquet or CSV on local disk, S3 or GCS."""
    Flags.json_errors = json_errors
    setup_logging(verbose)


for _command in (
    run,
    metrics,
    journal,
    validate,
    reconcile,
    repair,
    state,
    schema,
    init,
    doctor,
    check,
    plan,
    apply,
    completions,
):
    cli.add_command(_command)


class _WithoutPandas:
    """Import hook: pyarrow imports pandas on first use whenever it is installed (dagster-gcp brings it), ~45 MiB
    of RSS per run that the CLI never uses; refusing it makes pyarrow treat pandas as absent."""

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("the rivet CLI does not use pandas", name=name)
        return None


def main() -> None:
    """Console entry point: rivet errors → their exit code; a bug → one line (RIVET_DEBUG=1 for traceback)."""
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _WithoutPandas())
    try:
        cli.main(standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:
        if os.environ.get("RIVET_DEBUG"):
            raise
        from rivet_core.redact import redact

        fail(f"internal error: {redact(str(exc))} (set RIVET_DEBUG=1 for a traceback)", EXIT_FAILED)


__all__ = ["EXIT_USAGE", "cli", "main"]
