"""The `notifications:` block: a Slack incoming webhook and the events that post to it."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import Field, model_validator

from rivet_core.config.aliases import SlackEvent
from rivet_core.config.base import ConfigModel, rule_error
from rivet_core.config.source import require_env


def _failure_only() -> list[SlackEvent]:
    """The default of `on`: post on failures only."""
    return ["failure"]


class SlackConfig(ConfigModel):
    """Slack incoming webhook and the events that post to it."""

    webhook_url: str | None = Field(
        default=None, min_length=1, repr=False, description="Incoming webhook URL (a secret)."
    )
    webhook_url_env: str | None = Field(
        default=None, min_length=1, description="Environment variable holding the webhook URL."
    )
    on: list[SlackEvent] = Field(
        default_factory=_failure_only, description="Events that post a message (default [failure])."
    )

    @model_validator(mode="after")
    def _one_webhook(self) -> SlackConfig:
        """Exactly one of webhook_url / webhook_url_env."""
        if (self.webhook_url is None) == (self.webhook_url_env is None):
            raise rule_error([((), "set exactly one of webhook_url / webhook_url_env")])
        return self

    def resolve_webhook_url(self, env: Mapping[str, str] | None = None) -> str:
        """The webhook URL, reading `webhook_url_env` now (ConfigError naming the variable if unset)."""
        if self.webhook_url is not None:
            return self.webhook_url
        assert self.webhook_url_env is not None
        return require_env(os.environ if env is None else env, self.webhook_url_env, "webhook_url_env")


class NotificationsConfig(ConfigModel):
    """Where rivet reports failures, schema changes and degraded runs."""

    slack: SlackConfig | None = Field(default=None, description="Post to a Slack incoming webhook.")
