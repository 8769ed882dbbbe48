"""Scale-out on Dagster's own engine (docs/deploy.md): a Postgres-backed instance from deploy/dagster.yaml, the
daemon as a subprocess, multi_run backfills of chunk and window partitions as separate runs through the queue,
capped by the source pool; a run killed mid-way is retried; a double-clicked partition commits once; runs of two
partitions of one export at once both commit. The scenario
is in scale_scenario.py; bench/scale_out.py runs a bigger one."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterRunStatus
from scale_scenario import CHUNK_ROWS, WINDOW_ROWS, Shape, run_scenario

pytestmark = [pytest.mark.dagster, pytest.mark.pg, pytest.mark.slow]

SMALL = Shape(chunks=3, windows=2, pool_limit=2, throttle_ms=300)  # a partition: 4-5 batches, ~1.5 s


def test_multi_run_backfills_through_the_queue_stay_capped_exactly_once_and_survive_a_kill(tmp_path: Path) -> None:
    seen = run_scenario(tmp_path, SMALL)
    print(f"{seen.runs} runs, backfill {seen.backfill_s:.1f} s, total {seen.total_s:.1f} s, max backends "
          f"{seen.max_backends}, partition leases at once {seen.max_partition_runs} ({seen.max_leases}), "
          f"retries Dagster's daemon missed {seen.missed_retries}")  # fmt: skip
    assert seen.chunks == dict.fromkeys(SMALL.chunk_keys, 1)  # every partition materialized once
    assert seen.windows == dict.fromkeys([*SMALL.window_keys, SMALL.double, *SMALL.side_by_side], 1)
    assert seen.failed == sorted([SMALL.killed, SMALL.double])  # the killed run and the double click's loser only
    assert seen.retried == [(SMALL.killed, DagsterRunStatus.SUCCESS)]  # ... and it was retried as a new run
    assert seen.chunk_ids == list(range(SMALL.chunks * CHUNK_ROWS))  # every source row once, by primary key
    assert seen.window_ids == list(range(SMALL.exported_windows * WINDOW_ROWS))
    assert seen.double_exits == [0, 1], seen.double_log  # of two runs of one partition at once, one commits
    assert f"export windows (window={SMALL.double}) is being written by run" in seen.double_log
    assert seen.side_by_side_exits == [0, 0]  # two partitions of one export at once: both commit ...
    assert seen.max_leases["windows"] == 2  # ... while both held their leases
    assert seen.max_partition_runs <= SMALL.pool_limit  # export runs at once: never more than the pool allows
    # A step holds a control and a data connection (parallel: 1): never more sessions than the pool allows.
    assert 2 <= seen.max_backends <= 2 * SMALL.pool_limit
