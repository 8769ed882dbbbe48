"""The JSON Schema of rivet.yaml (`rivet schema config`, and the README's generated reference)."""

from __future__ import annotations

from typing import Any

from rivet_core.config.root import Config


def config_json_schema() -> dict[str, Any]:
    """JSON Schema of rivet.yaml (`rivet schema config`)."""
    schema = Config.model_json_schema(mode="validation")
    schema["title"] = "rivet.yaml"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
