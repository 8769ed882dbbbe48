"""Slack notifications (docs/architecture.md): sent after state is written; a failed send is logged, never fatal."""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from rivet_core.config import Config
from rivet_core.errors import ConfigError
from rivet_core.redact import redact
from rivet_core.results import ExportResult

log = logging.getLogger("rivet")


def events_of(result: ExportResult) -> list[str]:
    """The notification events one export result raises: failure, degraded, schema_change, success."""
    events = {"failed": ["failure"], "degraded": ["degraded"], "success": ["success"]}.get(result.status, [])
    return [*events, "schema_change"] if result.schema_change else events


def message(result: ExportResult, event: str) -> str:
    """One readable Slack line (no URL with credentials, no query values: the result is already redacted)."""
    head = {"failure": "failed", "degraded": "degraded", "schema_change": "schema changed", "success": "succeeded"}
    text = f"rivet: export *{result.export}* {head[event]} (run {result.run_id}): {result.rows} rows"
    text += f", {len(result.files)} file(s)"
    if event == "failure" and result.error:
        text += f"\n> {result.error}"
    if event == "degraded":
        text += "\n> " + "; ".join(result.warnings)
    if event == "schema_change":
        text += f"\n> {json.dumps(result.schema_change)}"
    return text


def notify(config: Config, result: ExportResult, env: Any = None) -> int:
    """Post the result's events that `notifications.slack.on` asks for; returns how many were sent."""
    slack = config.notifications.slack if config.notifications else None
    if slack is None:
        return 0
    sent = 0
    for event in events_of(result):
        if event not in slack.on:
            continue
        try:
            url = slack.resolve_webhook_url(env)
            body = json.dumps({"text": message(result, event)}).encode()
            request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
            sent += 1
        except (OSError, ConfigError) as exc:
            log.warning("slack notification (%s) not sent: %s", event, redact(str(exc)))
    return sent
