"""`RivetComponent`: a rivet.yaml as a `dg` component (`type: rivet_dagster.RivetComponent` in a defs.yaml).

    type: rivet_dagster.RivetComponent
    attributes:
      config: rivet.yaml              # relative to this defs folder
      exports: [orders, "cust*"]      # names or glob patterns; default every export
      state_url: "{{ env.RIVET_STATE }}"   # a postgres URL or a folder; default $DAGSTER_HOME/rivet/<config>/
      translation:                    # AssetSpec attributes per export; templates see `export` and `data`
        group_name: "{{ export.name }}_group"
        key_prefix: [warehouse]

Strings accept dg templating (`{{ env.VAR }}`, `{{ project_root }}`). Several components (several rivet.yaml)
live side by side in one defs folder: their resources are shared objects and their source keys carry the
database name. `dg scaffold defs rivet_dagster.RivetComponent <path>` writes defs.yaml and a rivet.yaml.
No `from __future__ import annotations`: dg resolves the field annotations at runtime.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from dagster import AssetSpec, Definitions
from dagster.components import Component, ComponentLoadContext, Resolvable, scaffold_with
from dagster.components.utils.translation import TranslationFn, TranslationFnResolver

from rivet_dagster.assets import build_definitions
from rivet_dagster.scaffolder import RivetScaffolder
from rivet_dagster.translator import RivetExportData, RivetTranslator


def _template_vars(data: RivetExportData) -> dict[str, Any]:
    """What `translation:` templates see: `{{ export.name }}`, `{{ data.config.source.type }}`, …"""
    return {"data": data, "export": data.export}


class _TranslatedRivetTranslator(RivetTranslator):
    """The component's translator: the YAML `translation:` applied over `RivetTranslator`'s spec."""

    def __init__(self, translation: TranslationFn[RivetExportData]) -> None:
        self._translation = translation

    def get_asset_spec(self, data: RivetExportData) -> AssetSpec:
        return self._translation(super().get_asset_spec(data), data)


@scaffold_with(RivetScaffolder)
@dataclass
class RivetComponent(Component, Resolvable):
    """Exports of a rivet.yaml (PostgreSQL / MySQL tables to Parquet or CSV files) as Dagster assets with checks.

    `dg scaffold defs rivet_dagster.RivetComponent <path>` writes defs.yaml and a starting rivet.yaml.
    """

    config: str = "rivet.yaml"
    exports: Sequence[str] | None = None
    state_url: str | None = None
    translation: (
        Annotated[TranslationFn[RivetExportData], TranslationFnResolver[RivetExportData](_template_vars)] | None
    ) = None

    def config_path(self, context: ComponentLoadContext) -> Path:
        """The rivet.yaml, relative to the component's defs folder."""
        return context.path / self.config

    def translator(self) -> RivetTranslator:
        """`RivetTranslator`, with `translation:` applied when given; override for Python-level changes."""
        return _TranslatedRivetTranslator(self.translation) if self.translation else RivetTranslator()

    def build_defs(self, context: ComponentLoadContext) -> Definitions:
        return build_definitions(
            self.config_path(context),
            translator=self.translator(),
            exports=list(self.exports) if self.exports is not None else None,
            state_url=self.state_url,
        )
