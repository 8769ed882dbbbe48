"""`RivetTranslator`: how an export of a rivet.yaml appears in Dagster — subclass it to change keys, groups, tags.

Every attribute of an export's `AssetSpec` comes from one `get_*` method taking a `RivetExportData` (the loaded
config and the export); `get_asset_spec` assembles them. The defaults follow the rivet.yaml `dagster:` block.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagster import AssetKey, AssetSpec, AutomationCondition, FreshnessPolicy

from rivet_dagster._engine import Config, ConfigError, DagsterConfig, ExportConfig, export_fingerprint, source_database

_TAG_TEXT = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class RivetExportData:
    """What a translator sees of one export: the loaded rivet.yaml and the export in it."""

    config: Config
    export: ExportConfig

    @property
    def settings(self) -> DagsterConfig:
        """The export's `dagster:` settings over the top-level ones."""
        return self.config.dagster_for(self.export)


def _tag_part(text: str) -> str:
    """A tag key section or value in Dagster's alphabet (letters, digits, `_-.`, ≤ 63 characters)."""
    return _TAG_TEXT.sub("_", text)[:63]


def sanitize_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Tags Dagster accepts at load: invalid characters become `_`, sections cut at 63; one `ns/` kept in keys."""
    out = {}
    for key, value in tags.items():
        namespace, _, name = key.rpartition("/")
        safe_key = "/".join(_tag_part(p) or "_" for p in ([namespace, name] if namespace else [name]))
        out[safe_key] = _tag_part(str(value))
    return out


def table_name(key: AssetKey) -> str:
    """An export asset's `dagster/table_name`: its key's parts joined by dots (`raw.orders`)."""
    return ".".join(key.path)


def owners(values: Sequence[str]) -> list[str]:
    """Dagster owners are e-mail addresses or `team:` names; a bare name is taken as a team."""
    return [v if "@" in v or v.startswith("team:") else f"team:{v}" for v in values]


class RivetTranslator:
    """Maps rivet exports to Dagster asset specs; override any `get_*` method in a subclass."""

    def get_asset_spec(self, data: RivetExportData) -> AssetSpec:
        """The export's asset spec, assembled from the `get_*` methods."""
        source = self.get_source_asset_key(data)
        return AssetSpec(
            key=self.get_asset_key(data),
            deps=[source] if source else [],
            group_name=self.get_group_name(data),
            tags=self.get_tags(data),
            owners=self.get_owners(data),
            description=self.get_description(data),
            metadata=self.get_metadata(data),
            kinds=self.get_kinds(data),
            code_version=self.get_code_version(data),
            automation_condition=self.get_automation_condition(data),
            freshness_policy=self.get_freshness_policy(data),
        )

    def get_asset_key(self, data: RivetExportData) -> AssetKey:
        """`[dagster.key_prefix…, export name]`."""
        return AssetKey([*data.settings.key_prefix, data.export.name])

    def get_source_asset_key(self, data: RivetExportData) -> AssetKey | None:
        """`[source type, database?, schema?, table]` of a `table:` export; None for a query (tables not known).

        The database comes from `source.database` or the URL's path (omitted when only a connection would say).
        """
        if data.export.source_table is None:
            return None
        schema, table = data.export.source_table
        database = source_database(data.config)
        return AssetKey([data.config.source.type, *[p for p in (database, schema) if p], table])

    def get_source_asset_spec(self, data: RivetExportData) -> AssetSpec | None:
        """The source table the export reads, as an external asset (None for a query)."""
        key = self.get_source_asset_key(data)
        if key is None or data.export.source_table is None:
            return None
        kind = data.config.source.type
        database = source_database(data.config)
        name = ".".join(p for p in (database, *data.export.source_table) if p)
        metadata = {"dagster/table_name": name, "dagster/storage_kind": kind}
        return AssetSpec(key, kinds={kind}, description=f"{kind} table read by rivet", metadata=metadata)

    def get_group_name(self, data: RivetExportData) -> str | None:
        """`dagster.group`."""
        return data.settings.group

    def get_tags(self, data: RivetExportData) -> Mapping[str, str]:
        """`dagster.tags`, made valid Dagster tags."""
        return sanitize_tags(data.settings.tags)

    def get_owners(self, data: RivetExportData) -> Sequence[str]:
        """`dagster.owners`; bare names become `team:<name>`."""
        return owners(data.settings.owners)

    def get_description(self, data: RivetExportData) -> str:
        """`dagster.description`, else what the export does."""
        export = data.export
        return (
            data.settings.description or f"rivet {export.mode} export of {export.table or 'a query'} to {export.format}"
        )

    def get_metadata(self, data: RivetExportData) -> Mapping[str, Any]:
        """Definition metadata shown in the UI: mode, table name, storage kind (rivet adds the keys it needs itself)."""
        return {
            "rivet/mode": data.export.mode,
            "dagster/table_name": table_name(self.get_asset_key(data)),
            "dagster/storage_kind": data.export.destination.type,
        }

    def get_kinds(self, data: RivetExportData) -> set[str]:
        """The source engine, the file format and the destination type."""
        return {data.config.source.type, data.export.format, data.export.destination.type}

    def get_code_version(self, data: RivetExportData) -> str:
        """A hash of the export's config: a changed export shows as a new code version."""
        return export_fingerprint(data.config, data.export)

    def get_freshness_policy(self, data: RivetExportData) -> FreshnessPolicy | None:
        """`dagster.freshness`: a time window (fail / warn minutes) or a deadline cron with its lower bound."""
        fresh = data.settings.freshness
        if fresh is None:
            return None
        if fresh.deadline_cron is not None:
            assert fresh.lower_bound_minutes is not None  # the config requires it
            return FreshnessPolicy.cron(fresh.deadline_cron, dt.timedelta(minutes=fresh.lower_bound_minutes))
        assert fresh.fail_window_minutes is not None
        warn = dt.timedelta(minutes=fresh.warn_window_minutes) if fresh.warn_window_minutes else None
        return FreshnessPolicy.time_window(dt.timedelta(minutes=fresh.fail_window_minutes), warn)

    def get_automation_condition(self, data: RivetExportData) -> AutomationCondition[Any] | None:
        """`dagster.automation`: eager → `eager()`, on_cron → `on_cron(dagster.schedule)` in UTC."""
        settings = data.settings
        if settings.automation == "eager":
            return AutomationCondition.eager()
        if settings.automation == "on_cron":
            if not settings.schedule:
                raise ConfigError(
                    f"exports[{data.export.name}].dagster.automation: on_cron needs dagster.schedule (a cron)"
                )
            return AutomationCondition.on_cron(settings.schedule, "UTC")
        return None
