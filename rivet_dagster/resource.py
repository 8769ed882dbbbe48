"""`RivetResource`: runs the exports of the current asset selection and yields their materializations and checks.

Inside a `@rivet_assets` body: `yield from rivet.run(context)`. It runs each selected export (the partitions of
the step, when partitioned) through rivet_core, then yields a `MaterializeResult` carrying the run's metadata
with the export's check results. A failed export records its check results (with their numbers) and no
materialization; the step then fails. The object-store client comes from the resource's `s3` / `gcs`
resources when given, else rivet builds one from the export's rivet.yaml destination.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    ConfigurableResource,
    Failure,
    MaterializeResult,
    MetadataValue,
)
from pydantic import Field

from rivet_dagster._engine import (
    Config,
    ExportConfig,
    ExportRequest,
    ExportResult,
    committed_units,
    execute,
    load_config,
    result_metadata,
    rivet_step,
)
from rivet_dagster.checks import check_results, gate_failed
from rivet_dagster.constants import CONFIG_METADATA_KEY, EXPORT_METADATA_KEY, NOTIFIED_METADATA_KEY
from rivet_dagster.extras import store_client
from rivet_dagster.partitions import chunk_key_problem, partitioned_by_chunks


@dataclass(frozen=True)
class _Selected:
    key: AssetKey
    path: Path
    config: Config
    export: ExportConfig


def partition_metadata(export: ExportConfig, result: ExportResult, keys: list[str]) -> dict[str, dict[str, Any]]:
    """Per partition of the run: its own rows, bytes, files and bounds (0 rows when nothing was committed)."""
    out: dict[str, dict[str, Any]] = {k: {"dagster/row_count": 0, "bytes": 0} for k in keys}
    for unit in committed_units(export, result) if keys else []:
        out[unit.partition] = {
            "dagster/row_count": unit.rows,
            "bytes": unit.bytes,
            "files": MetadataValue.json(unit.files),
            "bounds": MetadataValue.json(unit.bounds),
        }
    return out


class RivetResource(ConfigurableResource):
    """Runs rivet exports for Dagster assets; a given S3Resource / GCSResource does all their object-store calls."""

    # Typed as any resource so that dagster-aws / dagster-gcp stay optional (the `s3` / `gcs` extras).
    s3: ConfigurableResource | None = Field(
        default=None, description="dagster-aws S3Resource whose client exports use."
    )
    gcs: ConfigurableResource | None = Field(
        default=None, description="dagster-gcp GCSResource whose client exports use."
    )

    state_url: str | None = Field(
        default=None,
        description="Where rivet keeps its state: a postgres URL or a folder (default $DAGSTER_HOME/rivet/<config>/;"
        " $RIVET_STATE_URL wins).",
    )

    def store_client(self, kind: str) -> Any:
        """The client of the resource given for a destination kind; None: rivet builds its own."""
        if kind == "s3":
            return store_client(self.s3, "RivetResource.s3", "s3")
        if kind == "gcs":
            return store_client(self.gcs, "RivetResource.gcs", "gcs")
        return None

    def run(self, context: AssetExecutionContext) -> Iterator[MaterializeResult | AssetCheckResult]:
        """Run the selected exports of this step; yields a materialization with its checks per succeeded export."""
        failed: list[ExportResult] = []
        with rivet_step(context.log):
            selected = _selection(context)
        for item in selected:
            result = self._run_one(context, item)
            checks = check_results(item.export, item.key, result, context.selected_asset_check_keys)
            if result.status == "failed":
                failed.append(result)
                yield from checks  # recorded with their numbers; no materialization
                continue
            yield MaterializeResult(asset_key=item.key, metadata=result_metadata(result), check_results=checks)
        if failed:
            raise _failure(failed)

    def _run_one(self, context: AssetExecutionContext, item: _Selected) -> ExportResult:
        """One export run with the step's partitions, the selected validate/reconcile and the resource's client."""
        keys = list(context.partition_keys) if context.assets_def.partitions_def is not None else []
        problems = (
            [m for m in (chunk_key_problem(item.export, k) for k in keys) if m]
            if partitioned_by_chunks(item.export)
            else []
        )
        if problems:
            raise Failure(description="; ".join(problems), allow_retries=False)
        checks = {k.name for k in context.selected_asset_check_keys if k.asset_key == item.key}
        request = ExportRequest(
            item.config, item.export.name, tuple(keys), validate="validate" in checks,
            reconcile="reconcile" in checks, config_path=item.path, state_url=self.state_url,
        )  # fmt: skip
        with rivet_step(context.log):
            result = execute(request, store_client=self.store_client(item.export.destination.type))
        if result.status != "failed":
            context.log.info(summary_line(result))
            for partition, metadata in partition_metadata(item.export, result, keys).items():
                context.add_asset_metadata(metadata, asset_key=item.key, partition_key=partition)
        return result


def summary_line(result: ExportResult) -> str:
    """The run log's line per export: rows, files, bytes, rate, destination."""
    rate = f", {result.rows / result.duration_s:,.0f} rows/s" if result.duration_s > 0 else ""
    return (
        f"{result.export}: {result.rows} rows, {len(result.files)} file(s), {result.bytes} bytes in "
        f"{result.duration_s:.1f} s{rate} → {result.destination} ({result.status})"
    )


def _selection(context: AssetExecutionContext) -> list[_Selected]:
    """The rivet exports among the step's selected assets; a check selected without its export fails the step."""
    alone = {c.asset_key for c in context.selected_asset_check_keys} - set(context.selected_asset_keys)
    if alone:
        names = ", ".join(sorted(k.to_user_string() for k in alone))
        raise Failure(
            description=f"{names}: rivet decides its checks while the export runs; select the asset with them",
            allow_retries=False,
        )
    configs: dict[str, Config] = {}
    out = []
    for key in sorted(context.selected_asset_keys, key=lambda k: list(k.path)):
        metadata = context.assets_def.metadata_by_key[key]
        if EXPORT_METADATA_KEY not in metadata:
            continue
        path = str(metadata[CONFIG_METADATA_KEY])
        if path not in configs:
            configs[path] = load_config(path)
        config = configs[path]
        out.append(_Selected(key, Path(path), config, config.export(str(metadata[EXPORT_METADATA_KEY]))))
    return out


def _failure(failed: list[ExportResult]) -> Failure:
    """The step's failure: the export's error (all of them when several failed); no retry after a gate verdict."""
    (first, *rest) = failed
    return Failure(
        description="; ".join(f"{r.export}: {r.error}" for r in failed) if rest else first.error,
        metadata={**result_metadata(first), NOTIFIED_METADATA_KEY: True},
        allow_retries=not any(gate_failed(r) for r in failed),
    )
