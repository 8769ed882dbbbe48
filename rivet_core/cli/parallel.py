"""`rivet run` with several exports at once: threads of this process, or one child process per export.

rivet-cli 0.7.7's `parallel_exports` / `parallel_export_processes`. Each export stays isolated: it opens its own
source, destination and state connections, and its failure (a child process dying included) is its own failed
result. Results are handed to `finished` in this thread as the exports end.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rivet_core.cli.common import log, setup_logging
from rivet_core.redact import redact
from rivet_core.results import named

if TYPE_CHECKING:
    from rivet_core.config import Config
    from rivet_core.config.aliases import ParallelMode
    from rivet_core.engine import ExportResult, RunOptions

Finished = Callable[[str, "ExportResult", bool], None]  # (export, result, failed on a config error)


@dataclass(frozen=True)
class Launch:
    """What a child process needs to load the same config: the file, the environment with --param values, -v."""

    config_path: str
    env: dict[str, str]
    verbose: bool


def parallel_mode(cfg: Config, names: list[str], narrowed: bool, threads: bool, processes: bool) -> ParallelMode:
    """As 0.7.7: the flags OR the root keys, processes first; only with no --export and at least two exports.

    Exports writing to stdout run one after another (their bytes would interleave).
    """
    if processes or cfg.parallel_mode == "processes":
        mode: ParallelMode = "processes"
    elif threads or cfg.parallel_mode == "threads":
        mode = "threads"
    else:
        return "sequential"
    if narrowed or len(names) < 2:
        log.info("parallel exports (%s) are not used with --export or a single export", mode)
        return "sequential"
    if any(cfg.export(name).destination.type == "stdout" for name in names):
        log.warning("exports run one after another: a stdout export's bytes would interleave with the others'")
        return "sequential"
    return mode


def run_parallel(
    cfg: Config, names: list[str], options: RunOptions, mode: ParallelMode, launch: Launch, finished: Finished
) -> None:
    """Run every export of `names` at once (`threads` or `processes`); `finished` is called as each ends."""
    from rivet_core.cli.isolation import run_one
    from rivet_core.state import StateStore

    StateStore.open(cfg.base_dir)  # the shared state is created / migrated once, before the exports start
    pools: list[Executor] = []
    futures: dict[Future[tuple[ExportResult, bool]], str] = {}
    if mode == "threads":
        pools.append(ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="rivet-export"))
        futures = {pools[0].submit(run_one, cfg, name, options): name for name in names}
    else:
        child = dataclasses.replace(options, progress=None)  # a callback of this process cannot cross over
        context = _child_context()
        for name in names:
            pools.append(ProcessPoolExecutor(max_workers=1, mp_context=context))
            futures[pools[-1].submit(run_in_child, launch, name, child)] = name
    log.info("running %d exports at once (%s)", len(names), mode)
    try:
        for future in as_completed(futures):
            name = futures[future]
            finished(name, *_outcome(future, name))
    finally:
        for pool in pools:
            pool.shutdown(wait=True)


def _child_context() -> multiprocessing.context.BaseContext:
    """Children forked from one server that imported the engine once (spawn where there is no forkserver):
    never a fork of this process with its threads."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["rivet_core.engine", "rivet_core.cli.parallel"])
    return context


def _outcome(future: Future[tuple[ExportResult, bool]], name: str) -> tuple[ExportResult, bool]:
    """The export's (result, config error); a child that died or could not hand its result back failed."""
    from rivet_core.cli.isolation import failed_result

    try:
        return future.result()
    except BrokenProcessPool:  # killed, crashed
        message = f"{name}: its process ended without a result"
    except Exception as exc:  # e.g. the child could not load the config or hand its result back
        message = named(name, redact((str(exc) or type(exc).__name__).splitlines()[0], []))
    log.error("%s", message)
    return failed_result(name, message), False


def run_in_child(launch: Launch, name: str, options: RunOptions) -> tuple[ExportResult, bool]:
    """One export in a child process: the config loaded again (as the parent did), then `run_one`."""
    from rivet_core.cli.isolation import run_one
    from rivet_core.config import load_config

    setup_logging(launch.verbose)
    logging.getLogger("rivet").debug("child process for export %s", name)
    return run_one(load_config(launch.config_path, launch.env), name, options)
