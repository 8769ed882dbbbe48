"""Scale-out through Dagster's run queue: a multi_run backfill of chunk and window partitions, one run each.

Runs tests/scale_scenario.py's scenario (a Postgres-backed instance, `dagster-daemon run`, a source pool limit, one
chunk run killed mid-way and retried, a double-clicked window) at a size of your choice and prints partitions,
runs, wall time and the most concurrent source sessions seen, after checking every row was committed once.
Usage: `.venv/bin/python bench/scale_out.py [--chunks 24] [--windows 12] [--pool-limit 2] [--throttle-ms 100]`
(needs the PostgreSQL of tests/README: 127.0.0.1:5432, user postgres, trust).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from scale_scenario import CHUNK_ROWS, WINDOW_ROWS, Shape, run_scenario  # type: ignore[import-not-found]  # noqa: E402


def main() -> int:
    """Run the scenario once; exit 1 when a partition or a row is missing or doubled, or the pool was exceeded."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=24)
    parser.add_argument("--windows", type=int, default=12)
    parser.add_argument("--pool-limit", type=int, default=2)
    parser.add_argument("--throttle-ms", type=int, default=100)
    parser.add_argument("--timeout-s", type=float, default=1800)
    args = parser.parse_args()
    shape = Shape(args.chunks, args.windows, args.pool_limit, args.throttle_ms)
    with tempfile.TemporaryDirectory(prefix="rivet-scale-") as folder:
        seen = run_scenario(Path(folder), shape, timeout_s=args.timeout_s)
    partitions = shape.chunks + shape.windows
    print(
        f"partitions     {partitions} ({shape.chunks} chunks + {shape.windows} windows), pool limit {shape.pool_limit}"
    )
    print(f"runs           {seen.runs} (incl. {len(seen.retried)} retry, 2 double-click runs, 2 side-by-side runs)")
    print(f"backfill wall  {seen.backfill_s:.1f} s ({seen.backfill_s / partitions:.2f} s per partition)")
    print(f"total wall     {seen.total_s:.1f} s")
    print(f"max backends   {seen.max_backends} on the source (pool limit {shape.pool_limit})")
    print(f"partition runs {seen.max_partition_runs} holding a lease at once; per export {seen.max_leases}")
    ok = (
        set(seen.chunks.values()) == {1}
        and len(seen.chunks) == shape.chunks
        and set(seen.windows.values()) == {1}
        and seen.chunk_ids == list(range(shape.chunks * CHUNK_ROWS))
        and seen.window_ids == list(range(shape.exported_windows * WINDOW_ROWS))
        and seen.double_exits == [0, 1]
        and seen.side_by_side_exits == [0, 0]
        and seen.max_partition_runs <= shape.pool_limit
        and seen.max_backends <= 2 * shape.pool_limit  # a control and a data connection per step
    )
    print("verdict        " + ("ok: every partition and row once, pool respected" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
