"""The whole rivet.yaml (`Config`): source, exports, notifications, Dagster defaults; the export fingerprint."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from pydantic import Field, PrivateAttr, model_validator

from rivet_core.config.aliases import ParallelMode
from rivet_core.config.base import ConfigModel, Problem, StrictBool, rule_error
from rivet_core.config.dagster import DagsterConfig
from rivet_core.config.export import ExportConfig
from rivet_core.config.notifications import NotificationsConfig
from rivet_core.config.source import SourceConfig
from rivet_core.config.tuning import Tuning, TuningConfig, resolve_tuning
from rivet_core.errors import ConfigError


class Config(ConfigModel):
    """A whole rivet.yaml; `load_config` also records its path and folder (relative paths start there)."""

    source: SourceConfig = Field(description="The database every export reads from.")
    exports: list[ExportConfig] = Field(min_length=1, description="The exports; names must be unique.")
    notifications: NotificationsConfig | None = Field(
        default=None, description="Where failures and warnings are posted."
    )
    parallel_exports: StrictBool = Field(
        default=False,
        description="Run the exports at once on threads of one process (as --parallel-exports); not with --export.",
    )
    parallel_export_processes: StrictBool = Field(
        default=False,
        description=(
            "Run each export in its own process, all at once (as --parallel-export-processes); wins over "
            "parallel_exports; not with --export."
        ),
    )
    dagster: DagsterConfig | None = Field(default=None, description="Dagster defaults for every export.")

    _path: Path | None = PrivateAttr(default=None)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _unused_params: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _across_exports(self) -> Config:
        """Unique export names; chunked exports need chunk_column unless the source takes it from the PK; one
        batch sizing across source.tuning and exports[].tuning."""
        problems: list[Problem] = []
        seen: dict[str, int] = {}
        for i, export in enumerate(self.exports):
            if export.name in seen:
                problems.append(
                    (
                        ("exports", i, "name"),
                        f"duplicate export name '{export.name}' (also exports[{seen[export.name]}])",
                    )
                )
            seen.setdefault(export.name, i)
            if export.mode == "chunked" and not export.chunk_column and export.table is None:
                problems.append(
                    (
                        ("exports", i, "chunk_column"),
                        "required for mode: chunked with query / query_file (a `table:` export takes it from the "
                        "single-column primary key)",
                    )
                )
            problems += _batch_sizing_clash(self.source.tuning, export.tuning, i)
            if export.dagster is not None and export.dagster.pool_limit is not None:
                message = f"set it in the top-level dagster block: it caps the source's pool rivet_{self.source.type}"
                problems.append((("exports", i, "dagster", "pool_limit"), message))
        if problems:
            raise rule_error(problems)
        return self

    @property
    def parallel_mode(self) -> ParallelMode:
        """How the root keys ask `rivet run` to spread exports: processes wins over threads (the CLI flags OR in)."""
        if self.parallel_export_processes:
            return "processes"
        return "threads" if self.parallel_exports else "sequential"

    @property
    def unused_params(self) -> tuple[str, ...]:
        """`--param` names no `${NAME}` of the file referred to (rivet-cli 0.7.7 warns about each)."""
        return self._unused_params

    @property
    def path(self) -> Path | None:
        """The loaded file (absolute), None when built from a dict."""
        return self._path

    @property
    def base_dir(self) -> Path:
        """The folder relative paths (query_file, url_file) are resolved against."""
        return self._base_dir

    def export(self, name: str) -> ExportConfig:
        """The export called `name`; ConfigError listing the known names otherwise."""
        for export in self.exports:
            if export.name == name:
                return export
        known = ", ".join(e.name for e in self.exports)
        raise ConfigError(f"no export named '{name}' (known: {known})")

    def tuning_for(self, export: ExportConfig) -> Tuning:
        """Resolved tuning: profile (export, source, else environment), then source.tuning, export.tuning."""
        return resolve_tuning([self.source.tuning, export.tuning], self.source.environment)

    def dagster_for(self, export: ExportConfig) -> DagsterConfig:
        """The export's Dagster settings over the top-level defaults (export wins per field; tags merge)."""
        if export.dagster is None:
            return self.dagster or DagsterConfig()
        return export.dagster.merged_over(self.dagster)


def _batch_sizing_clash(source: TuningConfig | None, export: TuningConfig | None, index: int) -> list[Problem]:
    """batch_size at one level and batch_size_memory_mb at the other: the merged tuning would have both."""
    if source is None or export is None:
        return []
    for here, there in (("batch_size", "batch_size_memory_mb"), ("batch_size_memory_mb", "batch_size")):
        if getattr(export, here) is not None and getattr(source, there) is not None:
            message = f"cannot be combined with source.tuning.{there} (set one way of sizing batches)"
            return [(("exports", index, "tuning", here), message)]
    return []


def export_fingerprint(cfg: Config, export: ExportConfig) -> str:
    """Short sha256 of the export's settings (plus its query_file text): the Dagster code_version."""
    payload = export.model_dump_json()
    if export.query_file is not None:
        with contextlib.suppress(ConfigError, OSError):  # a missing file is reported when the export runs
            payload += "\n" + (export.resolved_query(cfg.base_dir) or "")
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
