"""Slack notifications through `rivet run` (issue 7), posted to a local HTTP server that records each request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import run_cli
from e2e import export_config
from servers import Recorder, free_port

pytestmark = pytest.mark.pg

SECRET = "Sup3rSecretPw"
URL = f"postgresql://postgres:{SECRET}@127.0.0.1:5432/test"  # trust auth: the password is never checked
FAST = {"profile": "fast"}


@pytest.fixture
def items(pg: Any, table_name: str) -> Iterator[str]:
    pg.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, name text)")
    pg.execute(f"INSERT INTO {table_name} VALUES (1, 'a'), (2, 'b'), (3, NULL)")
    yield table_name
    pg.execute(f"DROP TABLE {table_name}")


def notify_config(folder: Path, export: dict[str, Any], on: list[str], url: str = URL) -> Path:
    """A config whose Slack webhook URL is read from $RIVET_TEST_SLACK."""
    path = export_config(folder, {"name": "n", "tuning": FAST, **export}, url=url)
    doc = yaml.safe_load(path.read_text())
    doc["notifications"] = {"slack": {"webhook_url_env": "RIVET_TEST_SLACK", "on": on}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run(config: Path, webhook: str) -> tuple[int, str]:
    proc = run_cli("run", "-c", str(config), env={"RIVET_TEST_SLACK": webhook})
    assert SECRET not in proc.stderr
    return proc.returncode, proc.stderr


ALERTS = ["failure", "degraded", "schema_change"]


def test_failure_degraded_and_schema_change_post_and_success_does_not(
    pg: Any, items: str, tmp_path: Path, slack: Recorder
) -> None:
    assert run(notify_config(tmp_path, {"table": items}, ALERTS), slack.url)[0] == 0
    assert slack.posts == []

    warn = {"table": items, "quality": {"null_ratio_max": {"value": {"name": 0.3}, "severity": "warn"}}}
    assert run(notify_config(tmp_path, warn, ALERTS), slack.url)[0] == 3
    (degraded,) = slack.posts
    assert "*n* degraded" in degraded["text"] and "null_ratio_max: name 0.3333 > 0.3" in degraded["text"]

    error = {"table": items, "quality": {"row_count_min": 10}}
    assert run(notify_config(tmp_path, error, ALERTS), slack.url)[0] == 1
    failed = slack.posts[1]
    assert "*n* failed" in failed["text"] and "row_count_min: 3 rows, minimum 10" in failed["text"]

    pg.execute(f"ALTER TABLE {items} ADD COLUMN extra int")
    assert run(notify_config(tmp_path, {"table": items}, ALERTS), slack.url)[0] == 0
    (change,) = slack.posts[2:]
    assert "*n* schema changed" in change["text"] and '"added": ["extra"]' in change["text"]
    assert all(SECRET not in json.dumps(p) for p in slack.posts)


def test_success_posts_only_when_asked(items: str, tmp_path: Path, slack: Recorder) -> None:
    assert run(notify_config(tmp_path, {"table": items}, ["success"]), slack.url)[0] == 0
    (post,) = slack.posts
    assert post["text"].startswith("rivet: export *n* succeeded") and "3 rows, 1 file(s)" in post["text"]


def test_failure_payload_carries_the_error_without_the_password(tmp_path: Path, slack: Recorder) -> None:
    unreachable = f"postgresql://postgres:{SECRET}@127.0.0.1:1/test"
    config = notify_config(tmp_path, {"query": "SELECT 1 AS id"}, ALERTS, url=unreachable)
    assert run(config, slack.url)[0] == 1
    (post,) = slack.posts
    assert "*n* failed" in post["text"] and "127.0.0.1" in post["text"]
    assert SECRET not in json.dumps(post)


def test_an_unreachable_webhook_changes_no_exit_code(items: str, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"
    code, stderr = run(notify_config(tmp_path, {"table": items}, ["success", "failure"]), dead)
    assert code == 0 and "slack notification (success) not sent" in stderr
    code, stderr = run(notify_config(tmp_path, {"table": items, "quality": {"row_count_min": 9}}, ["failure"]), dead)
    assert code == 1 and "slack notification (failure) not sent" in stderr
