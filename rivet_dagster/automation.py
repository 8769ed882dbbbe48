"""Schedules and sensors of rivet exports (automation conditions come from the translator).

- `dagster.schedule` (cron, UTC) → a schedule per export. Unpartitioned exports: one run per tick. time_window:
  each tick requests the last `days_window` complete windows (one run each), so late rows land like `rivet run`'s
  rolling re-export. Aligned chunks: each tick registers new chunk partitions and requests the chunks whose rows
  may have changed — the newest chunk known before the tick and every new one.
- `rivet_<export>_chunk_sensor` per chunk-partitioned export: registers chunk partitions as MAX(chunk_column)
  grows and requests runs for the new ones and for the chunk that was the newest (it has filled since).
- `rivet_slack_on_run_failure`, when `notifications.slack.on` has `failure`: a run-failure sensor posting through
  `rivet_core.notify` — for failures rivet's engine did not report itself (a failed export step already sent
  its message from the engine).
- `dagster.automation: on_cron` replaces the schedule (`RivetTranslator.get_automation_condition`). Sensors and
  schedules start stopped, as Dagster's are by default.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetsDefinition,
    DagsterEvent,
    DagsterInstance,
    RunFailureSensorContext,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    TimeWindowPartitionsDefinition,
    define_asset_job,
    run_failure_sensor,
    schedule,
    sensor,
)

from rivet_dagster._engine import Config, ExportConfig, notify_failure
from rivet_dagster.constants import NOTIFIED_METADATA_KEY
from rivet_dagster.partitions import partitioned_by_chunks, register_chunks

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

CHUNK_SENSOR_INTERVAL_S = 300


def _ident(name: str) -> str:
    """A Dagster job/schedule/sensor name from an export name (letters, digits, `_`)."""
    return re.sub(r"\W", "_", name)


def refreshed_chunks(keys: list[str], new: list[str]) -> list[str]:
    """Chunk partitions whose rows may have changed: the newest one known before, then every new one.

    None when no chunk was known before: the first export of a table is a backfill someone launches (one run).
    """
    known = [k for k in keys if k not in set(new)]
    return known[-1:] + new if known else []


def partitioned_jobs(assets: dict[str, AssetsDefinition]) -> dict[str, UnresolvedAssetJobDefinition]:
    """A job per partitioned export, the target of its schedule and sensor."""
    return {
        name: define_asset_job(f"rivet_{_ident(name)}_job", selection=[asset.key])
        for name, asset in assets.items()
        if asset.partitions_def is not None
    }


def _schedule_args(export: ExportConfig, cron: str, what: str) -> dict[str, Any]:
    """What every export's schedule shares: the name `rivet_<export>_schedule`, its cron in UTC, a description."""
    return {
        "name": f"rivet_{_ident(export.name)}_schedule",
        "cron_schedule": cron,
        "execution_timezone": "UTC",
        "description": f"{export.name}: {what}",
    }


def _window_schedule(
    export: ExportConfig, asset: AssetsDefinition, job: UnresolvedAssetJobDefinition, cron: str
) -> ScheduleDefinition:
    partitions = asset.partitions_def
    assert isinstance(partitions, TimeWindowPartitionsDefinition)

    @schedule(
        job=job, **_schedule_args(export, cron, f"the last {export.window_count} complete window(s) on each tick")
    )
    def _windows(context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
        now = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        keys = partitions.get_partition_keys(current_time=now)[-export.window_count :]
        if not keys:
            return SkipReason(f"no complete window of {export.name} yet")
        return [RunRequest(run_key=f"{k}@{now.isoformat()}", partition_key=k) for k in keys]

    return _windows


def _chunk_requests(
    instance: DagsterInstance, config: Config, export: ExportConfig, tick: str | None
) -> tuple[list[RunRequest], str]:
    """Register the export's chunk partitions; run requests for the chunks to refresh, and a summary line."""
    keys, new = register_chunks(instance, config, export)
    targets = refreshed_chunks(keys, new) if new or tick else []  # a sensor acts on growth, a schedule each tick
    stamp = tick or (keys[-1] if keys else "")
    requests = [RunRequest(run_key=f"{k}@{stamp}", partition_key=k) for k in targets]
    return requests, f"{export.name}: {len(keys)} chunk(s), {len(new)} new"


def _chunk_schedule(
    config: Config, export: ExportConfig, job: UnresolvedAssetJobDefinition, cron: str
) -> ScheduleDefinition:
    @schedule(
        job=job,
        **_schedule_args(export, cron, "register new chunk partitions, export them and the previously newest chunk"),
    )
    def _chunks(context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
        tick = (context.scheduled_execution_time or dt.datetime.now(dt.UTC)).isoformat()
        requests, summary = _chunk_requests(context.instance, config, export, tick)
        return requests or SkipReason(summary)

    return _chunks


def chunk_sensor(config: Config, export: ExportConfig, job: UnresolvedAssetJobDefinition) -> SensorDefinition:
    """Adds chunk partitions as the table grows and requests their runs (plus the previously newest chunk)."""

    @sensor(
        name=f"rivet_{_ident(export.name)}_chunk_sensor",
        job=job,
        minimum_interval_seconds=CHUNK_SENSOR_INTERVAL_S,
        description=f"{export.name}: new chunk partitions as MAX(chunk_column) grows",
    )
    def _grow(context: SensorEvaluationContext) -> SensorResult:
        requests, summary = _chunk_requests(context.instance, config, export, None)
        return SensorResult(run_requests=requests, skip_reason=None if requests else summary)

    return _grow


def schedules(
    config: Config, assets: dict[str, AssetsDefinition], jobs: dict[str, UnresolvedAssetJobDefinition]
) -> list[ScheduleDefinition]:
    """One schedule per export with `dagster.schedule` (unless its automation is on_cron)."""
    out = []
    for export in (e for e in config.exports if e.name in assets):
        settings = config.dagster_for(export)
        cron, asset = settings.schedule, assets[export.name]
        if not cron or settings.automation == "on_cron":
            continue
        if export.mode == "time_window":
            out.append(_window_schedule(export, asset, jobs[export.name], cron))
        elif partitioned_by_chunks(export):
            out.append(_chunk_schedule(config, export, jobs[export.name], cron))
        else:
            out.append(ScheduleDefinition(target=asset, **_schedule_args(export, cron, "one export run per tick")))
    return out


def _reason(event: DagsterEvent) -> str:
    """What made a step fail: its `Failure` description, else the innermost exception's message."""
    data = event.step_failure_data
    if data is None:
        return event.message or "failed"
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    error = data.error
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message.strip() if error is not None else "failed"


def slack_failure_sensor(config: Config) -> SensorDefinition:
    """Posts a Dagster run's failure to Slack unless every failed step was an export that already reported."""

    @run_failure_sensor(name="rivet_slack_on_run_failure", description="Slack message for failed runs")
    def _post(context: RunFailureSensorContext) -> None:
        failures = context.get_step_failure_events()
        data = [e.step_failure_data.user_failure_data if e.step_failure_data else None for e in failures]
        if failures and all(d is not None and NOTIFIED_METADATA_KEY in d.metadata for d in data):
            return
        run = context.dagster_run
        steps = ", ".join(sorted({e.step_key for e in failures if e.step_key})) or run.job_name
        error = "; ".join(_reason(e) for e in failures) or context.failure_event.message or "the run failed"
        notify_failure(config, steps, run.run_id, error)

    return _post


def sensors(config: Config, jobs: dict[str, UnresolvedAssetJobDefinition]) -> list[SensorDefinition]:
    """Chunk sensors for chunk-partitioned exports, and the Slack run-failure sensor when configured."""
    out = [chunk_sensor(config, e, jobs[e.name]) for e in config.exports if partitioned_by_chunks(e) and e.name in jobs]
    slack = config.notifications.slack if config.notifications else None
    if slack is not None and "failure" in slack.on:
        out.append(slack_failure_sensor(config))
    return out
