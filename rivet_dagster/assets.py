"""`build_definitions`: a rivet.yaml as Dagster `Definitions` — one asset per export, source tables, automation.

Each export is its own single-asset `multi_asset` (partitions differ per export) so that its checks can be
selected apart; its body is `yield from rivet.run(context)`. No `from __future__ import annotations` here:
Dagster reads the body's annotations (context type, resource) when the asset is defined.
"""

from collections.abc import Iterator
from pathlib import Path

from dagster import AssetCheckResult, AssetExecutionContext, AssetsDefinition, Definitions, MaterializeResult

from rivet_dagster._engine import Config, ExportConfig, load_config
from rivet_dagster.asset_decorator import build_rivet_source_specs, rivet_assets_for_config
from rivet_dagster.automation import partitioned_jobs, schedules, sensors
from rivet_dagster.constants import IO_MANAGER_KEY, IO_MANAGER_KEYS, RESOURCE_KEY
from rivet_dagster.io_managers import io_manager_for
from rivet_dagster.resource import RivetResource
from rivet_dagster.translator import RivetTranslator

__all__ = ["IO_MANAGER_KEY", "IO_MANAGER_KEYS", "build_definitions", "export_asset"]


def export_asset(
    config: Config, path: Path, export: ExportConfig, translator: RivetTranslator | None = None
) -> AssetsDefinition:
    """The asset of one export: partitions, checks, and a body that runs it through the `rivet` resource."""

    @rivet_assets_for_config(config, path, [export], translator or RivetTranslator(), None, None)
    def _export(context: AssetExecutionContext, rivet: RivetResource) -> Iterator[MaterializeResult | AssetCheckResult]:
        yield from rivet.run(context)

    return _export


def build_definitions(config_path: str | Path, *, translator: RivetTranslator | None = None) -> Definitions:
    """A rivet.yaml's Definitions: exports with checks and partitions, source tables, resources, automation."""
    path = Path(config_path).resolve()
    config = load_config(path)
    exports = {e.name: export_asset(config, path, e, translator) for e in config.exports}
    jobs = partitioned_jobs(exports)
    kinds = {"local"} | {e.destination.type for e in config.exports}
    return Definitions(
        assets=[*build_rivet_source_specs(config, translator), *exports.values()],
        resources={
            RESOURCE_KEY: RivetResource(),
            **{IO_MANAGER_KEYS[kind]: io_manager_for(kind, str(path)) for kind in sorted(kinds)},
        },
        jobs=list(jobs.values()),
        schedules=schedules(config, exports, jobs),
        sensors=sensors(config, jobs),
    )
