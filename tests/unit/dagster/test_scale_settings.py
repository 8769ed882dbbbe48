"""The scale-out settings of the `dagster:` block: backfill policy per export, the source pool limit and its
helper (`python -m rivet_dagster.pools`); loaded from rivet.yaml, no instance or database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster import BackfillPolicy, DagsterInstance

from rivet_dagster.partitions import backfill_policy
from rivet_dagster.pools import PoolsUnsupported, apply_pool_limits, main, pool_limits

from ..config.config_cases import error_of, load_dict, minimal

WINDOWS = {"mode": "time_window", "time_column": "ts"}


def with_dagster(top: dict[str, Any] | None, **export: Any) -> dict[str, Any]:
    data = minimal(**export)
    if top is not None:
        data["dagster"] = top
    return data


@pytest.mark.parametrize(
    ("top", "own", "policy"),
    [
        (None, None, BackfillPolicy.single_run()),
        ({"backfill": "multi_run"}, None, BackfillPolicy.multi_run(1)),
        ({"backfill": "multi_run", "max_partitions_per_run": 4}, None, BackfillPolicy.multi_run(4)),
        # the export's own choice wins, and a run size set with the other choice does not follow it
        (
            {"backfill": "multi_run", "max_partitions_per_run": 4},
            {"backfill": "single_run"},
            BackfillPolicy.single_run(),
        ),
        (None, {"backfill": "multi_run", "max_partitions_per_run": 2}, BackfillPolicy.multi_run(2)),
    ],
)
def test_backfill_policy_per_export(tmp_path: Path, top: Any, own: Any, policy: BackfillPolicy) -> None:
    fields = {**WINDOWS, **({"dagster": own} if own else {})}
    config = load_dict(tmp_path, with_dagster(top, **fields))
    assert backfill_policy(config, config.exports[0]) == policy


def test_unpartitioned_exports_have_no_backfill_policy(tmp_path: Path) -> None:
    config = load_dict(tmp_path, with_dagster({"backfill": "multi_run"}))
    assert backfill_policy(config, config.exports[0]) is None


def test_a_run_size_needs_multi_run_and_a_pool_limit_belongs_to_the_source(tmp_path: Path) -> None:
    size_alone = with_dagster({"max_partitions_per_run": 3})
    assert "needs backfill: multi_run in the same dagster block" in error_of(tmp_path, size_alone)
    per_export = minimal(dagster={"pool_limit": 2})
    message = error_of(tmp_path, per_export)
    assert "exports[0].dagster.pool_limit" in message
    assert "top-level dagster block" in message and "rivet_postgres" in message
    assert "pool_limit" in error_of(tmp_path, with_dagster({"pool_limit": 0}))


def test_pool_limits_are_printed_applied_and_must_agree_across_configs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = load_dict(tmp_path / "a", with_dagster({"pool_limit": 3})).path
    unset = load_dict(tmp_path / "b", minimal()).path
    assert first is not None and unset is not None
    assert pool_limits([first, unset]) == {"rivet_postgres": 3}
    assert main([str(first)]) == 0
    assert capsys.readouterr().out == "dagster instance concurrency set rivet_postgres 3\n"

    other = load_dict(tmp_path / "b", with_dagster({"pool_limit": 5})).path
    assert main([str(first), str(other)]) == 2
    assert "differs from 3" in capsys.readouterr().err

    with DagsterInstance.ephemeral() as instance:
        # an ephemeral (in-memory SQLite) instance has no pool slots: the limits need Postgres or MySQL storage
        assert not instance.event_log_storage.supports_global_concurrency_limits
        with pytest.raises(PoolsUnsupported, match="keeps no pool limits"):
            apply_pool_limits(instance, {"rivet_postgres": 3})
