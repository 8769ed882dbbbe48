"""Our extension: how an export appears in Dagster (an export-level block, or top-level defaults)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field, PositiveInt, WithJsonSchema, field_validator, model_validator

from rivet_core.config.aliases import Automation, Backfill, DagsterWindow
from rivet_core.config.base import ConfigModel, StrictInt, rule_error

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?#]+$")
_CRON_MACROS = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually")


def cron_text(value: str) -> str:
    """A 5-field cron string (or @daily-style macro), normalised; else a ValueError saying the form."""
    fields = value.split()
    if value.strip() in _CRON_MACROS or (len(fields) == 5 and all(_CRON_FIELD.match(f) for f in fields)):
        return " ".join(fields) if len(fields) == 5 else value.strip()
    raise ValueError(
        f"'{value}' is not a 5-field cron string (minute hour day-of-month month day-of-week), "
        "e.g. '0 3 * * *' or '@daily'"
    )


class FreshnessConfig(ConfigModel):
    """A Dagster freshness policy: a time window (`fail_window_minutes`, optional `warn_window_minutes`), or a
    deadline (`deadline_cron` with `lower_bound_minutes`: materialized within that long before each deadline)."""

    fail_window_minutes: PositiveInt | None = Field(
        default=None, description="Fail when the last materialization is older than this."
    )
    warn_window_minutes: PositiveInt | None = Field(
        default=None, description="Warn when older than this (less than fail_window_minutes)."
    )
    deadline_cron: str | None = Field(default=None, description="Cron (UTC) of the deadlines to be fresh by.")
    lower_bound_minutes: PositiveInt | None = Field(
        default=None, description="With deadline_cron: how long before a deadline a materialization counts."
    )

    @field_validator("deadline_cron")
    @classmethod
    def _deadline(cls, value: str | None) -> str | None:
        return None if value is None else cron_text(value)

    @model_validator(mode="after")
    def _one_kind(self) -> FreshnessConfig:
        """Exactly one of the two policies, with the fields it needs."""
        if (self.fail_window_minutes is None) == (self.deadline_cron is None):
            raise ValueError("set fail_window_minutes (a time window) or deadline_cron (a deadline), not both")
        if self.deadline_cron is not None and (self.lower_bound_minutes is None or self.warn_window_minutes):
            raise ValueError("deadline_cron needs lower_bound_minutes and takes no warn_window_minutes")
        if self.fail_window_minutes is not None and self.lower_bound_minutes is not None:
            raise ValueError("lower_bound_minutes goes with deadline_cron, not fail_window_minutes")
        fail, warn = self.fail_window_minutes, self.warn_window_minutes
        if fail is not None and warn is not None and warn >= fail:
            raise ValueError("warn_window_minutes must be less than fail_window_minutes")
        return self


class DagsterConfig(ConfigModel):
    """How an export appears in Dagster (an export-level block, or top-level defaults)."""

    group: str | None = Field(default=None, description="Asset group name (letters, digits, _).")
    key_prefix: Annotated[
        list[str],
        WithJsonSchema(
            {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        ),
    ] = Field(default_factory=list, description='Asset key prefix: a list, or one string split on "/".')
    tags: dict[str, str] = Field(
        default_factory=dict, description="Asset tags; an export's tags merge over the defaults."
    )
    owners: list[str] = Field(default_factory=list, description="Asset owners, e.g. team:data or a mail address.")
    description: str | None = Field(default=None, description="Asset description shown in the Dagster UI.")
    schedule: str | None = Field(default=None, description="5-field cron string or @daily-style macro.")
    partition_start: datetime | date | None = Field(
        default=None, description="First partition of a time_window export (YYYY-MM-DD or ISO datetime)."
    )
    window: DagsterWindow | None = Field(
        default=None, description="Partition width of a time_window export (default day)."
    )
    automation: Automation | None = Field(
        default=None, description="eager = on upstream change; on_cron = on schedule; none = manual only."
    )
    observe_schedule: str | None = Field(
        default=None,
        description="Cron (UTC) of observing the source table's version (MAX of the ordering column); with "
        "automation set, default every 5 minutes.",
    )
    freshness: FreshnessConfig | None = Field(default=None, description="The asset's Dagster freshness policy.")
    backfill: Backfill | None = Field(
        default=None,
        description="How a backfill of a partitioned export is split: single_run (default: one run, one snapshot) "
        "or multi_run (runs of at most max_partitions_per_run partitions, spread over the run queue).",
    )
    max_partitions_per_run: StrictInt | None = Field(
        default=None, ge=1, le=10_000, description="Partitions per run of a multi_run backfill (default 1)."
    )
    pool_limit: StrictInt | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Top-level only: at most this many steps of the source's pool rivet_<source.type> at once; "
        "applied to the instance with `python -m rivet_dagster.pools --apply` (docs/deploy.md).",
    )

    @field_validator("group")
    @classmethod
    def _group_name(cls, value: str | None) -> str | None:
        """Dagster group names are letters, digits and underscores."""
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_]+", value):
            raise ValueError("use letters, digits and _ only (a Dagster group name)")
        return value

    @field_validator("key_prefix", mode="before")
    @classmethod
    def _split_prefix(cls, value: Any) -> Any:
        """Accept `"a/b"` as well as `[a, b]`."""
        if isinstance(value, str):
            value = [part for part in value.split("/") if part]
        if isinstance(value, list) and any(isinstance(p, str) and not p for p in value):
            raise ValueError("key_prefix parts must not be empty")
        return value

    @field_validator("schedule", "observe_schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        """A 5-field cron string (or @daily-style macro)."""
        return None if value is None else cron_text(value)

    @field_validator("partition_start", mode="before")
    @classmethod
    def _start(cls, value: Any) -> Any:
        """A date `YYYY-MM-DD` or an ISO datetime."""
        if value is None or isinstance(value, date):
            return value
        if isinstance(value, str):
            for parse in (date.fromisoformat, datetime.fromisoformat):
                try:
                    return parse(value.strip())
                except ValueError:
                    pass
        raise ValueError("use a date YYYY-MM-DD or an ISO datetime (YYYY-MM-DDTHH:MM:SS)")

    @model_validator(mode="after")
    def _multi_run_size(self) -> DagsterConfig:
        """A run size belongs to a multi_run backfill set in the same block."""
        if self.max_partitions_per_run is not None and self.backfill != "multi_run":
            raise rule_error([(("max_partitions_per_run",), "needs backfill: multi_run in the same dagster block")])
        return self

    def merged_over(self, defaults: DagsterConfig | None) -> DagsterConfig:
        """This block over `defaults`: fields set here win, tags are merged (keys set here win)."""
        if defaults is None:
            return self
        values = {k: getattr(defaults, k) for k in defaults.model_fields_set}
        values.update({k: getattr(self, k) for k in self.model_fields_set})
        if "backfill" in self.model_fields_set and "max_partitions_per_run" not in self.model_fields_set:
            values.pop("max_partitions_per_run", None)  # the run size goes with the backfill choice that set it
        if "tags" in self.model_fields_set and "tags" in defaults.model_fields_set:
            values["tags"] = {**defaults.tags, **self.tags}
        return DagsterConfig.model_validate(values)
