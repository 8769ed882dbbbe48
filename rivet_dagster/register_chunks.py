"""`python -m rivet_dagster.register_chunks [-c rivet.yaml] [-e NAME…]`: add chunk partitions to the Dagster instance.

Chunk partitions are dynamic: their keys live in the instance ($DAGSTER_HOME), where the chunk sensor adds them
while the daemon runs. In CI (no daemon) run this first, with the same persistent DAGSTER_HOME, then
`dagster asset materialize --partition <key>` (or `--partition-range first...last`). It computes the aligned
chunk keys from the source's MIN/MAX — the sensor's own function — and prints one line per export.
"""

from __future__ import annotations

import os
import sys

import click
from dagster import DagsterInstance

from rivet_dagster._engine import RivetError, load_config
from rivet_dagster.partitions import chunk_partitions_name, partitioned_by_chunks, register_chunks


@click.command()
@click.option(
    "-c",
    "--config",
    "config_path",
    default=lambda: os.environ.get("RIVET_CONFIG", "rivet.yaml"),
    show_default="$RIVET_CONFIG or rivet.yaml",
    help="The rivet.yaml of the code location.",
)
@click.option("-e", "--export", "names", multiple=True, help="Export name (repeatable; default: every chunked one).")
def main(config_path: str, names: tuple[str, ...]) -> None:
    """Register the current chunk partitions of chunked exports in the Dagster instance ($DAGSTER_HOME)."""
    if not os.environ.get("DAGSTER_HOME"):
        raise click.UsageError("DAGSTER_HOME is not set: point it at the instance the runs will use")
    try:
        config = load_config(config_path)
        chunked = [e for e in config.exports if partitioned_by_chunks(e)]
        exports = [config.export(n) for n in names] if names else chunked
        unpartitioned = [e.name for e in exports if e not in chunked]
        if unpartitioned:
            raise click.UsageError(
                f"{', '.join(unpartitioned)}: no chunk partitions (only chunked exports with aligned chunk_size "
                "ranges are partitioned by chunk)"
            )
        with DagsterInstance.get() as instance:
            for export in exports:
                keys, new = register_chunks(instance, config, export)
                name = chunk_partitions_name(export)
                click.echo(f"{export.name}: {len(keys)} chunk partition(s) in {name}, {len(new)} new")
    except RivetError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
