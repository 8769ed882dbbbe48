"""The source pool limits of rivet.yaml files, applied to a Dagster instance (its code cannot set them itself).

Every export's step runs in the pool `rivet_<source.type>`; the top-level `dagster.pool_limit` caps how many such
steps run at once across all runs. Dagster keeps pool limits in the instance's storage, so a deploy applies them:

    python -m rivet_dagster.pools rivet.yaml            # prints the `dagster instance concurrency set` commands
    python -m rivet_dagster.pools rivet.yaml --apply    # sets them on $DAGSTER_HOME's instance

Two files with the same source type share the pool; their limits must agree.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dagster import DagsterInstance

from rivet_dagster._engine import Config, ConfigError, load_config


def source_pool(config: Config) -> str:
    """The pool every export of the config runs in."""
    return f"rivet_{config.source.type}"


def pool_limits(paths: Sequence[str | Path]) -> dict[str, int]:
    """The pool limit of each source pool the configs set (configs without `dagster.pool_limit` add none)."""
    limits: dict[str, tuple[int, str]] = {}
    for path in paths:
        config = load_config(path)
        limit = config.dagster.pool_limit if config.dagster is not None else None
        if limit is None:
            continue
        pool = source_pool(config)
        if pool in limits and limits[pool][0] != limit:
            raise ConfigError(
                f"{path}: dagster.pool_limit: {limit} differs from {limits[pool][0]} in {limits[pool][1]}, "
                f"which shares the pool {pool}"
            )
        limits[pool] = (limit, str(path))
    return {pool: limit for pool, (limit, _) in sorted(limits.items())}


class PoolsUnsupported(ValueError):
    """The instance's storage keeps no pool slots (SQLite), so a limit would be silently ignored."""


def apply_pool_limits(instance: DagsterInstance, limits: dict[str, int]) -> None:
    """Set each pool's limit on the instance; PoolsUnsupported when its storage has no pools (not Postgres/MySQL)."""
    storage = instance.event_log_storage
    if limits and not storage.supports_global_concurrency_limits:
        raise PoolsUnsupported(
            f"the instance's event log storage ({type(storage).__name__}) keeps no pool limits: use Postgres "
            "(dagster-postgres, deploy/dagster.yaml) or MySQL storage"
        )
    for pool, limit in limits.items():
        instance.event_log_storage.set_concurrency_slots(pool, limit)


def main(argv: Sequence[str] | None = None) -> int:
    """Print (or `--apply`) the pool limits of the given rivet.yaml files; exit 2 on a config or storage error."""
    parser = argparse.ArgumentParser(prog="python -m rivet_dagster.pools", description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", help="rivet.yaml files of the code location")
    parser.add_argument("--apply", action="store_true", help="set the limits on the instance of $DAGSTER_HOME")
    args = parser.parse_args(argv)
    try:
        limits = pool_limits(args.configs)
        if args.apply:
            with DagsterInstance.get() as instance:
                apply_pool_limits(instance, limits)
    except (ConfigError, PoolsUnsupported) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for pool, limit in limits.items():
        print(f"{'set' if args.apply else 'dagster instance concurrency set'} {pool} {limit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
