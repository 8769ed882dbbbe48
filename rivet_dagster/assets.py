"""`build_definitions`: a rivet.yaml as Dagster `Definitions` — one asset per export, source tables, automation.

Each export is its own single-asset `multi_asset` (partitions differ per export) so that its checks can be
selected apart; its body runs it through the `RivetResource` under `resource_key`. Resources are shared
objects (one per setting), so the Definitions of several rivet.yaml merge into one code location. No
`from __future__ import annotations` here: Dagster reads the body's annotations when the asset is defined.
"""

import fnmatch
import hashlib
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetsDefinition,
    Definitions,
    MaterializeResult,
)

from rivet_dagster._engine import Config, ConfigError, ExportConfig, load_config
from rivet_dagster.asset_decorator import rivet_assets_for_config
from rivet_dagster.automation import partitioned_jobs, schedules, sensors
from rivet_dagster.constants import IO_MANAGER_KEY, IO_MANAGER_KEYS, RESOURCE_KEY
from rivet_dagster.io_managers import RivetIOManager, io_manager_for
from rivet_dagster.observation import build_rivet_source_assets
from rivet_dagster.resource import RivetResource
from rivet_dagster.translator import RivetTranslator

__all__ = ["IO_MANAGER_KEY", "IO_MANAGER_KEYS", "build_definitions", "export_asset", "select_exports"]


def export_asset(
    config: Config,
    path: Path,
    export: ExportConfig,
    translator: RivetTranslator | None = None,
    resource_key: str = RESOURCE_KEY,
) -> AssetsDefinition:
    """The asset of one export: partitions, checks, and a body that runs it through the resource."""

    @rivet_assets_for_config(
        config, path, [export], translator or RivetTranslator(), None, None, required_resource_keys={resource_key}
    )
    def _export(context: AssetExecutionContext) -> Iterator[MaterializeResult | AssetCheckResult]:
        rivet: RivetResource = getattr(context.resources, resource_key)
        yield from rivet.run(context)

    return _export


def select_exports(config: Config, patterns: Sequence[str] | None, field: str = "exports") -> list[ExportConfig]:
    """The exports matching any of the names / glob patterns (all when None); a pattern matching none is an error."""
    if patterns is None:
        return list(config.exports)
    names = [e.name for e in config.exports]
    for pattern in patterns:
        if not fnmatch.filter(names, pattern):
            raise ConfigError(f"{field}: {pattern!r} matches no export (exports: {', '.join(names)})")
    return [e for e in config.exports if any(fnmatch.fnmatchcase(e.name, p) for p in patterns)]


@cache
def shared_resource(kind: str, state_url: str | None = None) -> RivetResource | RivetIOManager:
    """One object per resource setting: `Definitions.merge` accepts a key twice only for the very same object."""
    if kind == "rivet":
        return RivetResource(state_url=state_url)
    return io_manager_for(kind)


def resource_key_for(state_url: str | None) -> str:
    """`rivet`, or `rivet_<hash>` for a resource with its own state location (its URL is not shown)."""
    return f"{RESOURCE_KEY}_{hashlib.sha256(state_url.encode()).hexdigest()[:8]}" if state_url else RESOURCE_KEY


def build_definitions(
    config_path: str | Path,
    *,
    translator: RivetTranslator | None = None,
    exports: Sequence[str] | None = None,
    state_url: str | None = None,
) -> Definitions:
    """A rivet.yaml's Definitions: exports (all, or the named / matching ones) with checks and partitions,
    source tables (observable where automation needs them), shared resources, automation."""
    path = Path(config_path).resolve()
    config = load_config(path)
    key = resource_key_for(state_url)
    chosen = select_exports(config, exports)
    assets = {e.name: export_asset(config, path, e, translator, key) for e in chosen}
    jobs = partitioned_jobs(assets)
    kinds = {"local"} | {e.destination.type for e in chosen}
    sources = build_rivet_source_assets(config, translator, chosen)
    return Definitions(
        assets=[*sources.assets, *assets.values()],
        resources={
            key: shared_resource("rivet", state_url),
            **{IO_MANAGER_KEYS[kind]: shared_resource(kind) for kind in sorted(kinds)},
        },
        jobs=list(jobs.values()),
        schedules=[*schedules(config, assets, jobs), *sources.schedules],
        sensors=sensors(config, jobs),
    )
