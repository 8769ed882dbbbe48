"""The late-commit fence's bound on a run's slices and its timeout message (docs/cursor.md)."""

from __future__ import annotations

from rivet_core.planning.fence import Fence, timeout_message
from rivet_core.slices import chunk_slice, cursor_slice
from rivet_core.sources.base import OpenTransaction


def test_the_fence_caps_incremental_slices_inclusively_and_leaves_others() -> None:
    chunk = chunk_slice("id", 0, 1, 10)
    (capped, kept) = Fence(41, 0.0, 0).bound([cursor_slice("id", 7, "fallback"), chunk])
    assert (capped.after, capped.hi, capped.hi_inclusive, capped.fallback) == (7, 41, True, "fallback")
    assert kept == chunk
    assert capped.to_json()["hi"] == 41  # the manifest records the bound


def test_a_fence_over_no_row_reads_nothing() -> None:
    assert Fence(None, 0.0, 0).bound([cursor_slice("id", None)]) == []


def test_the_timeout_names_the_field_and_three_transactions() -> None:
    still = [OpenTransaction(f"{n}@t", f"2026-12-02 05:0{n}", f"pid {n} (idle in transaction)") for n in range(5)]
    text = timeout_message("orders", 30, still)
    assert text.startswith("exports[orders].tuning.late_commit_wait_s: 5 transaction(s) still open after 30s")
    assert "pid 2 (idle in transaction) since 2026-12-02 05:02" in text and "pid 3" not in text
    assert "and 2 more" in text and "nothing exported, the cursor did not move" in text
