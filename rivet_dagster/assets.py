"""The per-export asset factory: one asset per export of a rivet.yaml, plus its source table as an external asset.

Building assets reads only the config: no database is contacted until an asset runs (design §11). Each export is
its own single-asset `multi_asset` (partitions differ per export) so that its checks can be selected apart.

The asset body runs the export through rivet_core, then yields its gate verdicts as check results. A failed run
records its check results (with their numbers) and then fails the step: nothing was committed and no
materialization is recorded. Otherwise the body hands the finished run to the IO manager (which records the
materialization and its metadata) and then yields the check results, so they attach to this materialization.
"""

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetOut,
    AssetsDefinition,
    AssetSpec,
    BetaWarning,
    Definitions,
    Failure,
    MetadataValue,
    Output,
    RetryPolicy,
    multi_asset,
)

from rivet_core.config import Config, ExportConfig, export_fingerprint, load_config
from rivet_core.engine import ExportResult
from rivet_dagster.automation import NOTIFIED_METADATA_KEY, automation_condition, partitioned_jobs, schedules, sensors
from rivet_dagster.checks import check_results, check_specs, gate_failed
from rivet_dagster.io_managers import EXPORT_METADATA_KEY, ExportRun, io_manager_for, result_metadata, rivet_step
from rivet_dagster.partitions import backfill_policy, partition_of, partitions_def, run_options

OUTPUT = "export"
IO_MANAGER_KEY = "rivet_io_manager"  # local; S3 and GCS exports use the keys below
IO_MANAGER_KEYS = {"local": IO_MANAGER_KEY, "s3": "rivet_s3_io_manager", "gcs": "rivet_gcs_io_manager"}
_TAG_TEXT = re.compile(r"[^A-Za-z0-9_.-]")


def _tag_part(text: str) -> str:
    """A tag key section or value in Dagster's alphabet (letters, digits, `_-.`, ≤ 63 characters)."""
    return _TAG_TEXT.sub("_", text)[:63]


def sanitize_tags(tags: dict[str, str]) -> dict[str, str]:
    """Tags Dagster accepts at load: invalid characters become `_`, sections cut at 63; one `ns/` kept in keys."""
    out = {}
    for key, value in tags.items():
        namespace, _, name = key.rpartition("/")
        safe_key = "/".join(_tag_part(p) or "_" for p in ([namespace, name] if namespace else [name]))
        out[safe_key] = _tag_part(str(value))
    return out


def owners(values: list[str]) -> list[str]:
    """Dagster owners are e-mail addresses or `team:` names; a bare name is taken as a team."""
    return [v if "@" in v or v.startswith("team:") else f"team:{v}" for v in values]


def source_key(config: Config, export: ExportConfig) -> AssetKey | None:
    """`[source type, schema?, table]` of a `table:` export; None for a query (its tables are not known)."""
    if export.source_table is None:
        return None
    schema, table = export.source_table
    return AssetKey([config.source.type, *([schema] if schema else []), table])


def source_specs(config: Config) -> list[AssetSpec]:
    """The source tables the exports read, as external assets (one per table)."""
    keys = {key for e in config.exports if (key := source_key(config, e)) is not None}
    return [
        AssetSpec(key, kinds={config.source.type}, description=f"{config.source.type} table read by rivet")
        for key in sorted(keys, key=lambda k: k.path)
    ]


def partition_metadata(export: ExportConfig, result: ExportResult, keys: list[str]) -> dict[str, dict[str, Any]]:
    """Per partition of the run: its own rows, bytes, files and bounds (0 rows when nothing was committed)."""
    out: dict[str, dict[str, Any]] = {k: {"dagster/row_count": 0, "bytes": 0} for k in keys}
    for unit in result.units if keys else []:
        slc = unit.slice.to_json()
        bounds: dict[str, Any] = {k: slc[k] for k in ("column", "lo", "hi") if k in slc}
        out[partition_of(export, unit.slice)] = {
            "dagster/row_count": unit.rows,
            "bytes": unit.bytes,
            "files": MetadataValue.json(unit.files),
            "bounds": MetadataValue.json(bounds),
        }
    return out


def export_asset(config: Config, export: ExportConfig) -> AssetsDefinition:
    """The asset of one export: partitions, checks, and a body that runs the export and reports its gates."""
    settings = config.dagster_for(export)
    key = AssetKey([*settings.key_prefix, export.name])
    io_manager_key = IO_MANAGER_KEYS[export.destination.type]
    partitions = partitions_def(config, export)
    tuning = config.tuning_for(export)
    source = source_key(config, export)
    what = export.table or "a query"
    retry = (
        RetryPolicy(max_retries=tuning.max_retries, delay=tuning.retry_backoff_ms / 1000)
        if tuning.max_retries
        else None
    )

    def _export(context: AssetExecutionContext) -> Iterator[Output[ExportRun] | AssetCheckResult]:
        if key not in context.selected_asset_keys:
            raise Failure(
                description=f"{key.to_user_string()}: rivet decides its checks while the export runs; select the "
                "asset with them",
                allow_retries=False,
            )
        keys = list(context.partition_keys) if partitions is not None else []
        checks = context.selected_asset_check_keys
        options = run_options(export, keys)
        options.validate = AssetCheckKey(key, "validate") in checks
        options.reconcile = AssetCheckKey(key, "reconcile") in checks
        options.store_client = getattr(context.resources, io_manager_key).store_client()  # its S3/GCS resource's
        run = ExportRun(config, export, options)
        with rivet_step(context.log):
            result = run.run()
        verdicts = check_results(export, key, result, checks)
        if result.status == "failed":
            yield from verdicts  # recorded with their numbers; the step then fails without a materialization
            raise Failure(
                description=result.error,
                metadata={**result_metadata(result), NOTIFIED_METADATA_KEY: True},
                allow_retries=not gate_failed(result),
            )
        for partition, metadata in partition_metadata(export, result, keys).items():
            context.add_asset_metadata(metadata, partition_key=partition)
        yield Output(value=run, output_name=OUTPUT)
        yield from verdicts

    with warnings.catch_warnings():  # backfill_policy is a beta parameter, used deliberately (partitions.py)
        warnings.filterwarnings("ignore", "Parameter `backfill_policy`", BetaWarning)
        return multi_asset(  # one asset; a multi_asset so that its checks can be selected (can_subset)
            name=key.to_python_identifier(),
            outs={
                OUTPUT: AssetOut(
                    key=key,
                    group_name=settings.group,
                    tags=sanitize_tags(settings.tags),
                    owners=owners(settings.owners),
                    description=settings.description or f"rivet {export.mode} export of {what} to {export.format}",
                    kinds={config.source.type, export.format, export.destination.type},
                    code_version=export_fingerprint(config, export),
                    io_manager_key=io_manager_key,
                    metadata={EXPORT_METADATA_KEY: export.name, "rivet/mode": export.mode},
                    automation_condition=automation_condition(config, export),
                )
            },
            deps=[source] if source else None,
            pool=f"rivet_{config.source.type}",
            retry_policy=retry,
            partitions_def=partitions,
            backfill_policy=backfill_policy(partitions),
            check_specs=check_specs(export, key),
            required_resource_keys={io_manager_key},  # the export writes through the IO manager's client
            can_subset=True,
        )(_export)


def build_definitions(config_path: str | Path) -> Definitions:
    """A rivet.yaml's Definitions: exports with checks and partitions, source tables, IO managers, automation."""
    path = Path(config_path).resolve()
    config = load_config(path)
    exports = {e.name: export_asset(config, e) for e in config.exports}
    jobs = partitioned_jobs(exports)
    kinds = {"local"} | {e.destination.type for e in config.exports}
    return Definitions(
        assets=[*source_specs(config), *exports.values()],
        resources={IO_MANAGER_KEYS[kind]: io_manager_for(kind, str(path)) for kind in sorted(kinds)},
        jobs=list(jobs.values()),
        schedules=schedules(config, exports, jobs),
        sensors=sensors(config, jobs),
    )
