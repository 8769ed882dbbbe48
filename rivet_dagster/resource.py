"""`RivetResource`: runs the exports of the current asset selection and yields their materializations and checks.

Inside a `@rivet_assets` body: `yield from rivet.run(context)`. It runs each selected export (the partitions of
the step, when partitioned) through rivet_core, then yields a `MaterializeResult` carrying the run's metadata
with the export's check results. A failed export records its check results (with their numbers) and no
materialization; the step then fails. An export whose checks are selected without it is not run: its checks
are evaluated on its latest committed run (rivet_core/recheck.py). The object-store client comes from the
resource's `s3` / `gcs` resources when given, else rivet builds one from the export's rivet.yaml destination.
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
    RivetError,
    dataset_total,
    execute,
    load_config,
    recheck,
    rivet_step,
)
from rivet_dagster.checks import check_results, gate_failed
from rivet_dagster.constants import CONFIG_METADATA_KEY, EXPORT_METADATA_KEY, NOTIFIED_METADATA_KEY
from rivet_dagster.extras import store_client
from rivet_dagster.metadata import as_uri, committed_units, result_metadata, unit_metadata
from rivet_dagster.partitions import chunk_key_problem, partitioned_by_chunks
from rivet_dagster.translator import table_name


@dataclass(frozen=True)
class _Selected:
    key: AssetKey
    path: Path
    config: Config
    export: ExportConfig


def partition_metadata(export: ExportConfig, result: ExportResult, keys: list[str]) -> dict[str, dict[str, Any]]:
    """Per partition of the run: its own rows, bytes, files, bounds and seconds (zeros when nothing was committed)."""
    empty = {"dagster/row_count": 0, "dagster/partition_row_count": 0, "bytes": 0, "rivet/file_count": 0}
    out: dict[str, dict[str, Any]] = {k: {n: MetadataValue.int(v) for n, v in empty.items()} for k in keys}
    for unit in committed_units(export, result) if keys else []:
        out[unit.partition] = unit_metadata(unit)
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
            selected, alone = _selection(context)
        for item in alone:
            yield from self._checks_alone(context, item)
        for item in selected:
            result = self._run_one(context, item)
            checks = check_results(item.export, item.key, result, context.selected_asset_check_keys)
            if result.status == "failed":
                failed.append(result)
                yield from checks  # recorded with their numbers; no materialization
                continue
            metadata = result_metadata(result, table_name(item.key), self._total(context, item, result))
            yield MaterializeResult(asset_key=item.key, metadata=metadata, check_results=checks)
        if failed:
            raise _failure(failed)

    def _checks_alone(self, context: AssetExecutionContext, item: _Selected) -> list[AssetCheckResult]:
        """The export's selected checks on its latest committed run, without exporting (rivet_core/recheck.py)."""
        selected = [k for k in context.selected_asset_check_keys if k.asset_key == item.key]
        with rivet_step(context.log):
            try:
                result = recheck(item.config, item.export, {k.name for k in selected},
                                 self.store_client(item.export.destination.type))  # fmt: skip
            except RivetError as exc:  # the source or destination could not answer: no verdict, one clear line
                raise Failure(description=f"{item.export.name}: checks not evaluated: {exc}") from None
        if not result.run_id:  # nothing committed: no verdict on data that does not exist yet
            raise Failure(description=result.error, allow_retries=False)
        context.log.info(
            f"{item.export.name}: checks {', '.join(sorted(k.name for k in selected))} on run {result.run_id}'s "
            f"{len(result.units)} committed unit(s), {result.rows:,} rows at {as_uri(result.destination)}"
        )
        return check_results(item.export, item.key, result, selected)

    def _total(self, context: AssetExecutionContext, item: _Selected, result: ExportResult) -> int | None:
        """The rows the export's dataset holds after the run (None when its manifests cannot be read)."""
        if item.export.mode == "full":
            return result.rows  # the run's one unit replaced everything
        try:
            return dataset_total(item.config, item.export, self.store_client(item.export.destination.type))
        except (RivetError, OSError) as exc:  # the data is committed: a failed count costs only this number
            context.log.warning(f"{item.export.name}: dataset total not known ({exc})")
            return None

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
        f"{result.export}: {result.rows:,} rows, {len(result.files)} file(s), {result.bytes:,} bytes in "
        f"{result.duration_s:.1f} s{rate} → {as_uri(result.destination)} ({result.status})"
    )


def _selection(context: AssetExecutionContext) -> tuple[list[_Selected], list[_Selected]]:
    """The rivet exports among the step's selected assets, and those whose checks are selected without them."""
    alone = {c.asset_key for c in context.selected_asset_check_keys} - set(context.selected_asset_keys)
    configs: dict[str, Config] = {}
    out: tuple[list[_Selected], list[_Selected]] = ([], [])
    for key in sorted(set(context.selected_asset_keys) | alone, key=lambda k: list(k.path)):
        metadata = context.assets_def.metadata_by_key[key]
        if EXPORT_METADATA_KEY not in metadata:
            continue
        path = str(metadata[CONFIG_METADATA_KEY])
        if path not in configs:
            configs[path] = load_config(path)
        config = configs[path]
        export = config.export(str(metadata[EXPORT_METADATA_KEY]))
        out[key in alone].append(_Selected(key, Path(path), config, export))
    return out


def _failure(failed: list[ExportResult]) -> Failure:
    """The step's failure: the export's error (all of them when several failed); no retry after a gate verdict."""
    first = failed[0]
    return Failure(
        description="; ".join(str(r.error) for r in failed),
        metadata={**result_metadata(first, first.export), NOTIFIED_METADATA_KEY: True},
        allow_retries=not any(gate_failed(r) for r in failed),
    )
