"""Source tables as observable source assets, so `eager` and `on_cron` automation act on real source changes.

A table is observable when an export reading it sets `dagster.automation` or `dagster.observe_schedule`; the
others stay plain external assets. An observation records the table's version signal (rivet_core/observe.py:
MAX of the export's ordering column, else a row count) as its data version, so an export downstream sees its
source updated only when that value moved. `rivet_observe_<table>_schedule` observes it on
`dagster.observe_schedule` (default every 5 minutes when automation is set); it starts stopped, as Dagster's
schedules do. No `from __future__ import annotations`: Dagster reads the observation's annotations.
"""

import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    BetaWarning,
    DataVersion,
    MetadataValue,
    ObserveResult,
    ScheduleDefinition,
    define_asset_job,
    multi_observable_source_asset,
)

from rivet_dagster._engine import Config, ExportConfig, SourceVersion, observe_source, rivet_step
from rivet_dagster.translator import RivetExportData, RivetTranslator

DEFAULT_OBSERVE_CRON = "*/5 * * * *"


@dataclass
class SourceAssets:
    """The source tables of some exports: plain specs, observable assets, and the schedules observing them."""

    assets: list[AssetSpec | AssetsDefinition] = field(default_factory=list)
    schedules: list[ScheduleDefinition] = field(default_factory=list)


def observe_cron(config: Config, exports: Sequence[ExportConfig]) -> str | None:
    """The observation cron of a table: the first `observe_schedule` of its exports, the default when any of
    them sets automation, else None (not observed)."""
    settings = [config.dagster_for(e) for e in exports]
    crons = [s.observe_schedule for s in settings if s.observe_schedule]
    if crons:
        return crons[0]
    return DEFAULT_OBSERVE_CRON if any(s.automation for s in settings) else None


def version_metadata(signal: SourceVersion) -> dict[str, Any]:
    """What an observation shows: the column and its maximum, or the row count."""
    if signal.column is None:
        return {"dagster/row_count": MetadataValue.int(signal.rows or 0)}
    return {"rivet/signal_column": signal.column, "rivet/max_value": str(signal.max_value)}


def observable(config: Config, export: ExportConfig, spec: AssetSpec) -> AssetsDefinition:
    """The table of `spec` as an observable source asset whose observation reads `export`'s signal."""
    name = re.sub(r"\W", "_", f"rivet_observe_{spec.key.to_python_identifier()}")
    with warnings.catch_warnings():  # beta, used deliberately: the only observable taking the translator's spec
        warnings.filterwarnings("ignore", "Function `multi_observable_source_asset`", BetaWarning)
        decorator = multi_observable_source_asset(specs=[spec], name=name)

    @decorator
    def _observe(context: AssetExecutionContext) -> Iterator[ObserveResult]:
        with rivet_step(context.log):
            signal = observe_source(config, export)
        context.log.info(f"{spec.key.to_user_string()}: version {signal.version} ({version_metadata(signal)})")
        yield ObserveResult(
            asset_key=spec.key, data_version=DataVersion(signal.version), metadata=version_metadata(signal)
        )

    return _observe


def build_rivet_source_assets(
    config: Config, translator: RivetTranslator | None = None, exports: Sequence[ExportConfig] | None = None
) -> SourceAssets:
    """One asset per source table the exports (default: all of the config's) read — observable where automation
    needs it, with its observation schedule."""
    translator = translator or RivetTranslator()
    readers: dict[Any, tuple[AssetSpec, list[ExportConfig]]] = {}
    for export in config.exports if exports is None else exports:
        spec = translator.get_source_asset_spec(RivetExportData(config, export))
        if spec is not None:
            readers.setdefault(spec.key, (spec, []))[1].append(export)
    out = SourceAssets()
    for key in sorted(readers, key=lambda k: list(k.path)):
        spec, users = readers[key]
        cron = observe_cron(config, users)
        if cron is None:
            out.assets.append(spec)
            continue
        asset = observable(config, users[0], spec)
        out.assets.append(asset)
        ident = re.sub(r"\W", "_", key.to_python_identifier())
        job = define_asset_job(f"rivet_observe_{ident}_job", selection=[key])
        out.schedules.append(
            ScheduleDefinition(
                name=f"rivet_observe_{ident}_schedule",
                job=job,
                cron_schedule=cron,
                execution_timezone="UTC",
                description=f"observe {key.to_user_string()} (the version signal eager / on_cron exports act on)",
            )
        )
    return out
