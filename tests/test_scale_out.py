"""Scale-out on Dagster's own engine (docs/deploy.md): a Postgres-backed instance from deploy/dagster.yaml, the
daemon as a subprocess, multi_run backfills of chunk and window partitions as separate runs through the queue,
capped by the source pool; a run killed mid-way is retried; a double-clicked partition commits once. The scenario
is in scale_scenario.py; bench/scale_out.py runs a bigger one."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterRunStatus
from scale_scenario import CHUNK_ROWS, WINDOW_ROWS, Shape, run_scenario

pytestmark = [pytest.mark.dagster, pytest.mark.pg, pytest.mark.slow]

SMALL = Shape(chunks=6, windows=4, pool_limit=2, throttle_ms=300)  # a partition: 4-5 batches, ~1.5 s


def test_multi_run_backfills_through_the_queue_stay_capped_exactly_once_and_survive_a_kill(tmp_path: Path) -> None:
    seen = run_scenario(tmp_path, SMALL)
    print(f"{seen.runs} runs, backfill {seen.backfill_s:.1f} s, total {seen.total_s:.1f} s, max backends "
          f"{seen.max_backends}, partition leases at once {seen.max_partition_runs} ({seen.max_leases})")  # fmt: skip
    assert seen.chunks == dict.fromkeys(SMALL.chunk_keys, 1)  # every partition materialized once
    assert seen.windows == {**dict.fromkeys(SMALL.window_keys, 1), SMALL.double: 1}
    assert seen.failed == [SMALL.killed]  # only the killed run failed (the double click's loser ran outside the queue)
    assert seen.retried == [(SMALL.killed, DagsterRunStatus.SUCCESS)]  # ... and it was retried as a new run
    assert seen.chunk_ids == list(range(SMALL.chunks * CHUNK_ROWS))  # every source row once, by primary key
    assert seen.window_ids == list(range((SMALL.windows + 1) * WINDOW_ROWS))
    assert seen.double_exits == [0, 1], seen.double_log  # of two runs of one partition at once, one commits
    assert f"export windows (window={SMALL.double}) is being written by run" in seen.double_log
    assert seen.max_backends == SMALL.pool_limit  # reached, never exceeded: sessions on the source at once
    assert seen.max_partition_runs == SMALL.pool_limit  # partition runs side by side, none disturbing another
