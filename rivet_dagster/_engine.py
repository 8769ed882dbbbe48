"""rivet_dagster's one boundary to rivet_core: every rivet_core name the adapter uses is imported here.

The rest of the package reads rivet_core's results only through the helpers below (typed views of units and
gates, Dagster metadata of a run, reads and writes of committed files), so a change in rivet_core's types
touches this module alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import logging
import os
import pickle
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import polars as pl
from dagster import DagsterLogManager, Failure

from rivet_core.config import (
    DEFAULT_CHUNK_SIZE,
    Config,
    DagsterConfig,
    DestinationConfig,
    ExportConfig,
    GcsDestinationConfig,
    LocalDestinationConfig,
    S3DestinationConfig,
    export_fingerprint,
    load_config,
    parse_file_size,
)
from rivet_core.destinations import open_destination
from rivet_core.engine import ExportResult, RunOptions, write_frames
from rivet_core.engine import execute as execute_run
from rivet_core.errors import ConfigError, RivetError
from rivet_core.gates import GateResult
from rivet_core.notify import notify
from rivet_core.observe import SourceVersion, observe
from rivet_core.pipeline.run import Run
from rivet_core.planning import WINDOW_FORMATS, Slice, chunk_key, chunk_keys
from rivet_core.progress import ProgressLog
from rivet_core.recheck import recheck as recheck_committed
from rivet_core.scaffold import InitDestination, InitSource, scaffold
from rivet_core.scan import current_units, scan
from rivet_core.state import StateStore
from rivet_core.writers import FormatOptions

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "WINDOW_FORMATS",
    "Committed",
    "Config",
    "ConfigError",
    "DagsterConfig",
    "DestinationConfig",
    "ExportConfig",
    "ExportRequest",
    "ExportResult",
    "GateResult",
    "InitDestination",
    "InitSource",
    "RivetError",
    "SourceVersion",
    "StateStore",
    "chunk_key",
    "chunk_keys",
    "current_manifests",
    "dataset_total",
    "execute",
    "export_fingerprint",
    "gate_results",
    "gcs_destination",
    "load_committed",
    "load_config",
    "local_destination",
    "notify_failure",
    "observe_source",
    "partition_of",
    "recheck",
    "rivet_step",
    "s3_destination",
    "scaffold",
    "source_database",
    "state_store",
    "write_asset_frames",
]


def partition_of(export: ExportConfig, slc: Slice) -> str:
    """The partition key of a committed slice: its window, or its chunk's key."""
    return slc.key if export.mode == "time_window" else chunk_key(slc.lo)


def gate_results(result: ExportResult) -> list[GateResult]:
    """The run's gate verdicts (quality rules, reconcile, schema drift) in the order the engine decided them."""
    return result.gates


@dataclass(frozen=True)
class ExportRequest:
    """One export run as Dagster asks for it; picklable, so a worker process can run it (rivet_dagster/_worker.py)."""

    config: Config
    export: str
    partition_keys: tuple[str, ...]
    validate: bool
    reconcile: bool
    config_path: Path
    state_url: str | None


def run_request(request: ExportRequest, store_client: Any = None) -> ExportResult:
    """Run the request's export in this process."""
    export = request.config.export(request.export)
    options = RunOptions(
        validate=request.validate, reconcile=request.reconcile, store_client=store_client, progress=ProgressLog()
    )
    if request.partition_keys and export.mode == "time_window":
        options.windows = list(request.partition_keys)
    elif request.partition_keys:
        options.chunks = list(request.partition_keys)
    state = state_store(request.config_path, request.state_url)
    return execute_run(Run(request.config, export, options, state))


def mysql_driver_loads() -> bool:
    """Whether mysql-connector's C extension is, or can still be, loaded in this process."""
    try:
        importlib.import_module("_mysql_connector")
    except ImportError:
        return False
    return True


T = TypeVar("T")

# The worker's first import is rivet_core, which loads the MySQL C extension before anything imports pyarrow.
BOOTSTRAP = "import rivet_core; from rivet_dagster._worker import main; main()"


def run_in_worker(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a fresh interpreter (rivet_dagster/_worker.py), re-logging its lines here.

    `fn` is a module-level function (pickled by name); a RivetError there is raised here with its message.
    """
    log = logging.getLogger("rivet")
    with tempfile.TemporaryDirectory(prefix="rivet-worker-") as tmp:
        request_file, result_file = Path(tmp, "request.pickle"), Path(tmp, "result.pickle")
        with request_file.open("wb") as f:
            pickle.dump((fn, args), f)
        cmd = [sys.executable, "-c", BOOTSTRAP, str(request_file), str(result_file)]
        with subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) as proc:
            assert proc.stderr is not None
            for line in proc.stderr:
                level, sep, message = line.rstrip("\n").partition("\t")
                if sep and level.isdigit():
                    log.log(int(level), message)
                else:
                    log.warning(line.rstrip("\n"))
        if proc.returncode != 0 or not result_file.exists():
            raise RivetError(
                f"{getattr(fn, '__name__', 'rivet')}: the MySQL worker process exited with {proc.returncode}"
            )
        with result_file.open("rb") as f:
            ok, value = pickle.load(f)
    if not ok:
        raise RivetError(value)
    return value


def needs_worker(config: Config) -> bool:
    """Whether this process must hand MySQL work to a worker (README "Dagster": import order)."""
    return config.source.type == "mysql" and not mysql_driver_loads()


def execute(request: ExportRequest, *, store_client: Any) -> ExportResult:
    """Run one export: all of it, or the windows / chunks of a partitioned step.

    A MySQL export runs in a worker process when this process can no longer load the MySQL C extension
    (README "Dagster": import order); a given object-store client stays in this process, so the worker builds
    its own from the rivet.yaml destination.
    """
    if needs_worker(request.config):
        if store_client is not None:
            logging.getLogger("rivet").warning(
                "%s: runs in a worker process (MySQL driver); it uses the rivet.yaml destination's credentials, "
                "not the Dagster resource's client",
                request.export,
            )
        return run_in_worker(run_request, request)
    return run_request(request, store_client)


def recheck(config: Config, export: ExportConfig, gates: set[str], client: Any) -> ExportResult:
    """The gates on the latest committed run (rivet_core/recheck.py); a MySQL one may run in a worker process."""
    if needs_worker(config):
        return run_in_worker(recheck_committed, config, export, gates)
    return recheck_committed(config, export, gates, client)


def observe_source(config: Config, export: ExportConfig) -> SourceVersion:
    """The export's source version signal (rivet_core/observe.py), in a worker process when MySQL needs one."""
    return run_in_worker(observe, config, export) if needs_worker(config) else observe(config, export)


def default_state_dir(config_path: Path) -> Path:
    """`$DAGSTER_HOME/rivet/<config id>/`, else `$XDG_STATE_HOME` (`~/.local/state`)`/rivet/<config id>/`.

    One folder per rivet.yaml (its folder and file name plus a hash of its absolute path), so two configs with
    exports of the same name keep apart, and none is written into the code location's package.
    """
    digest = hashlib.sha256(str(config_path.resolve()).encode()).hexdigest()[:10]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{config_path.parent.name}-{config_path.stem}-{digest}")
    home = os.environ.get("DAGSTER_HOME")
    if home:
        return Path(home) / "rivet" / name
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "rivet" / name


def state_store(config_path: Path, state_url: str | None) -> StateStore:
    """The state store of a Dagster run (docs/state.md): $RIVET_STATE_URL, else `state_url` (a postgres URL
    or a folder), else `default_state_dir`."""
    if os.environ.get("RIVET_STATE_URL"):
        return StateStore.open(config_path.parent)
    if state_url and state_url.startswith(("postgres://", "postgresql://")):
        return StateStore.open(config_path.parent, env={"RIVET_STATE_URL": state_url})
    folder = Path(state_url.removeprefix("file://")) if state_url else default_state_dir(config_path)
    if not folder.is_absolute():
        folder = config_path.parent / folder
    folder.mkdir(parents=True, exist_ok=True)
    return StateStore.open(folder)


def source_database(config: Config) -> str | None:
    """The source's database name when the config says it without a connection (None: not known at load)."""
    if config.source.database:
        return config.source.database
    try:
        url = config.source.resolve_url(config.base_dir)
    except ConfigError:
        return None  # url_env unset where definitions load (CI listing assets): the key omits it
    return unquote(urlsplit(url).path.lstrip("/")).split("/")[0] or None


def dataset_total(config: Config, export: ExportConfig, client: Any) -> int:
    """Rows the export's dataset holds at its destination now (every current unit's manifest)."""
    units = current_manifests(config, export, client)
    return sum(m.row_count for m in units)


def current_manifests(config: Config, export: ExportConfig, client: Any) -> list[Any]:
    """The manifests of the units the export holds at its destination now, oldest first."""
    table = export.source_table[1] if export.source_table else export.name
    dest = open_destination(
        export.destination, export.name, table, "", dt.datetime.now(dt.UTC), config.base_dir, client
    ).destination
    return current_units(dest, export.name, export.mode == "incremental")


def local_destination(path: str) -> DestinationConfig:
    """A local folder as a rivet destination."""
    return LocalDestinationConfig(type="local", path=path)


def s3_destination(**fields: Any) -> DestinationConfig:
    """An S3 prefix as a rivet destination (the rivet.yaml `destination:` fields of `type: s3`)."""
    return S3DestinationConfig(type="s3", **fields)


def gcs_destination(**fields: Any) -> DestinationConfig:
    """A GCS prefix as a rivet destination (the rivet.yaml `destination:` fields of `type: gcs`)."""
    return GcsDestinationConfig(type="gcs", **fields)


@dataclass(frozen=True)
class Committed:
    """What `load_committed` found: a LazyFrame over the files, where they are, and how many units."""

    frame: pl.LazyFrame
    uri: str
    units: int


def load_committed(
    base_dir: Path,
    target: DestinationConfig,
    name: str,
    *,
    table: str,
    fmt: str,
    export: ExportConfig | None,
    partitions: Iterable[str] | None,
    client: Any,
) -> Committed:
    """A LazyFrame over an export's or asset's committed files (of the given partitions of an export)."""
    dest = open_destination(target, name, table, "", dt.datetime.now(dt.UTC), base_dir, client).destination
    units = current_units(dest, name, export is not None and export.mode == "incremental")
    if export is not None and partitions is not None:
        wanted = set(partitions)
        units = [m for m in units if partition_of(export, m.slice) in wanted]
    return Committed(scan(dest, units, fmt), dest.uri(), len(units))


def write_asset_frames(
    frames: Iterable[pl.DataFrame],
    target: DestinationConfig,
    name: str,
    *,
    base_dir: Path,
    fmt: str,
    compression: str,
    max_file_size: str | None,
    client: Any,
    state: StateStore,
) -> ExportResult:
    """Commit another asset's frames as one unit through rivet's writer and commit protocol."""
    size = parse_file_size(max_file_size) if max_file_size else None
    options = FormatOptions(fmt, compression if fmt == "parquet" else "none", max_file_size=size)
    return write_frames(frames, target, name, options, base_dir, state, client)


def notify_failure(config: Config, steps: str, run_id: str, error: str) -> None:
    """rivet's failure notification (Slack) for a Dagster run that failed outside rivet's engine."""
    notify(config, ExportResult(steps, run_id, "", status="failed", error=error))


@contextmanager
def rivet_step(dagster_log: DagsterLogManager) -> Iterator[None]:
    """rivet's log lines into the run log while rivet works; a config error fails the step with just its text."""
    logger = logging.getLogger("rivet")

    class _Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            dagster_log.log(record.levelno, record.getMessage())

    handler, level = _Forward(), logger.level
    logger.addHandler(handler)
    if level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    try:
        yield
    except ConfigError as exc:
        raise Failure(description=str(exc), allow_retries=False) from None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
