"""rivet on Dagster: exports of a rivet.yaml as assets run by `RivetResource`, described by `RivetTranslator`."""

import rivet_dagster._requires_dagster  # noqa: F401  (first: a CLI-only install gets the `pip install` line)
from rivet_dagster.asset_decorator import build_rivet_asset_specs, build_rivet_source_specs, rivet_assets
from rivet_dagster.assets import build_definitions
from rivet_dagster.component import RivetComponent
from rivet_dagster.io_managers import RivetGcsIOManager, RivetIOManager, RivetLocalIOManager, RivetS3IOManager
from rivet_dagster.observation import SourceAssets, build_rivet_source_assets
from rivet_dagster.partitions import chunk_partitions_name, partitioned_by_chunks, partitions_def, register_chunks
from rivet_dagster.resource import RivetResource
from rivet_dagster.translator import RivetExportData, RivetTranslator

__all__ = [
    "RivetComponent",
    "RivetExportData",
    "RivetGcsIOManager",
    "RivetIOManager",
    "RivetLocalIOManager",
    "RivetResource",
    "RivetS3IOManager",
    "RivetTranslator",
    "SourceAssets",
    "build_definitions",
    "build_rivet_asset_specs",
    "build_rivet_source_assets",
    "build_rivet_source_specs",
    "chunk_partitions_name",
    "partitioned_by_chunks",
    "partitions_def",
    "register_chunks",
    "rivet_assets",
]
