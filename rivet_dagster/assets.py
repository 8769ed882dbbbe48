"""The per-export asset factory: one `@asset` per export of a rivet.yaml, plus its source table as an external asset.

Building assets reads only the config: no database is contacted until an asset runs (design §11).
"""

from __future__ import annotations

import re
from pathlib import Path

from dagster import AssetKey, AssetsDefinition, AssetSpec, Definitions, Output, RetryPolicy, asset

from rivet_core.config import Config, ExportConfig, export_fingerprint, load_config
from rivet_dagster.io_managers import EXPORT_METADATA_KEY, ExportRun, RivetLocalIOManager

IO_MANAGER_KEY = "rivet_io_manager"
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


def export_asset(config: Config, export: ExportConfig) -> AssetsDefinition:
    """The asset of one export: the body hands the export to the IO manager, which runs it through rivet_core."""
    settings = config.dagster_for(export)
    tuning = config.tuning_for(export)
    source = source_key(config, export)
    what = export.table or "a query"
    retry = (
        RetryPolicy(max_retries=tuning.max_retries, delay=tuning.retry_backoff_ms / 1000)
        if tuning.max_retries
        else None
    )

    @asset(
        key=AssetKey([*settings.key_prefix, export.name]),
        group_name=settings.group,
        tags=sanitize_tags(settings.tags),
        owners=owners(settings.owners),
        description=settings.description or f"rivet {export.mode} export of {what} to {export.format}",
        kinds={config.source.type, export.format, export.destination.type},
        code_version=export_fingerprint(config, export),
        deps=[source] if source else None,
        pool=f"rivet_{config.source.type}",
        retry_policy=retry,
        io_manager_key=IO_MANAGER_KEY,
        metadata={EXPORT_METADATA_KEY: export.name, "rivet/mode": export.mode},
    )
    def _export() -> Output:  # type: ignore[type-arg]
        return Output(value=ExportRun(config, export))

    return _export


def build_definitions(config_path: str | Path) -> Definitions:
    """Definitions for a rivet.yaml: every export's asset, the source tables, and rivet's local IO manager."""
    path = Path(config_path).resolve()
    config = load_config(path)
    return Definitions(
        assets=[*source_specs(config), *(export_asset(config, e) for e in config.exports)],
        resources={IO_MANAGER_KEY: RivetLocalIOManager(config_path=str(path))},
    )
