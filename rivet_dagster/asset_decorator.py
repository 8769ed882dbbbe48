"""`@rivet_assets`: a `multi_asset` over exports of a rivet.yaml, with their checks, partitions and source deps.

    @rivet_assets(config="rivet.yaml", exports=["orders"], translator=MyTranslator())
    def orders(context: AssetExecutionContext, rivet: RivetResource):
        yield from rivet.run(context)

(Dagster reads the body's annotations: its module must not use `from __future__ import annotations`.)
Building it reads only the config: no database is contacted until an asset runs. Exports in one decorator share
one op, so they must share partitions and retry policy (`build_definitions` makes one per export).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import AssetsDefinition, AssetSpec, BetaWarning, PartitionsDefinition, RetryPolicy, multi_asset

from rivet_dagster._engine import Config, ExportConfig, load_config
from rivet_dagster.checks import check_specs
from rivet_dagster.constants import CONFIG_METADATA_KEY, EXPORT_METADATA_KEY, IO_MANAGER_KEYS
from rivet_dagster.partitions import backfill_policy, partitions_def
from rivet_dagster.translator import RivetExportData, RivetTranslator


def build_rivet_asset_specs(
    config: Config, path: Path, exports: Sequence[ExportConfig], translator: RivetTranslator
) -> list[AssetSpec]:
    """The exports' asset specs from the translator, with the metadata and IO manager rivet relies on."""
    return [
        translator.get_asset_spec(RivetExportData(config, e))
        .merge_attributes(metadata={EXPORT_METADATA_KEY: e.name, CONFIG_METADATA_KEY: str(path)})
        .with_io_manager_key(IO_MANAGER_KEYS[e.destination.type])
        for e in exports
    ]


def build_rivet_source_specs(
    config: Config, translator: RivetTranslator | None = None, exports: Sequence[ExportConfig] | None = None
) -> list[AssetSpec]:
    """The source tables the exports (default: all of the config's) read, as external assets (one per table)."""
    translator = translator or RivetTranslator()
    chosen = config.exports if exports is None else exports
    specs = [translator.get_source_asset_spec(RivetExportData(config, e)) for e in chosen]
    unique = {s.key: s for s in specs if s is not None}
    return [unique[k] for k in sorted(unique, key=lambda k: list(k.path))]


def retry_policy(config: Config, export: ExportConfig) -> RetryPolicy | None:
    """The step's retries from the export's `tuning` (none when max_retries is 0)."""
    tuning = config.tuning_for(export)
    return (
        RetryPolicy(max_retries=tuning.max_retries, delay=tuning.retry_backoff_ms / 1000)
        if tuning.max_retries
        else None
    )


def _shared(what: str, values: Mapping[str, Any]) -> Any:
    """The one value every export of an op agrees on; a clear error when they differ."""
    distinct = list({repr(v): v for v in values.values()}.values())
    if len(distinct) > 1:
        raise ValueError(
            f"rivet_assets: exports {', '.join(values)} differ in {what}; give each its own rivet_assets "
            "(build_definitions does)"
        )
    return distinct[0]


def _op_name(path: Path, exports: Sequence[ExportConfig], specs: Sequence[AssetSpec]) -> str:
    """One export: its key as an identifier; several: `rivet_<folder>_<config stem>`."""
    if len(exports) == 1:
        return specs[0].key.to_python_identifier()
    return re.sub(r"\W", "_", f"rivet_{path.parent.name}_{path.stem}")


def rivet_assets_for_config(
    config: Config,
    path: Path,
    exports: Sequence[ExportConfig],
    translator: RivetTranslator,
    name: str | None,
    op_tags: Mapping[str, Any] | None,
    required_resource_keys: set[str] | None = None,
) -> Callable[[Callable[..., Any]], AssetsDefinition]:
    """The `multi_asset` decorator of already loaded exports (shared by `rivet_assets` and `build_definitions`)."""
    if not exports:
        raise ValueError(f"rivet_assets: no export selected from {path}")
    specs = build_rivet_asset_specs(config, path, exports, translator)
    partitions: PartitionsDefinition | None = _shared(
        "partitions", {e.name: partitions_def(config, e) for e in exports}
    )
    backfill = _shared("backfill (dagster.backfill)", {e.name: backfill_policy(config, e) for e in exports})
    retry = _shared("retries (tuning.max_retries)", {e.name: retry_policy(config, e) for e in exports})
    checks = [c for e, s in zip(exports, specs, strict=True) for c in check_specs(e, s.key)]

    def decorate(fn: Callable[..., Any]) -> AssetsDefinition:
        with warnings.catch_warnings():  # backfill_policy is a beta parameter, used deliberately (partitions.py)
            warnings.filterwarnings("ignore", "Parameter `backfill_policy`", BetaWarning)
            return multi_asset(
                name=name or _op_name(path, exports, specs),
                specs=specs,
                check_specs=checks,
                pool=f"rivet_{config.source.type}",
                retry_policy=retry,
                partitions_def=partitions,
                backfill_policy=backfill,
                op_tags=op_tags,
                can_subset=True,
                required_resource_keys=required_resource_keys,
            )(fn)

    return decorate


def rivet_assets(
    *,
    config: str | Path,
    exports: Sequence[str] | None = None,
    translator: RivetTranslator | None = None,
    name: str | None = None,
    op_tags: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], AssetsDefinition]:
    """Assets of the named exports of a rivet.yaml (default: all), described by `translator`; the body runs them."""
    path = Path(config).resolve()
    loaded = load_config(path)
    chosen = [loaded.export(n) for n in exports] if exports is not None else list(loaded.exports)
    return rivet_assets_for_config(loaded, path, chosen, translator or RivetTranslator(), name, op_tags)
