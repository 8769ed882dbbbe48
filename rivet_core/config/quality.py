"""Quality rules checked on the stream before commit (docs/commit-protocol.md): bare or `{value, severity}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, Strict, WithJsonSchema, model_validator

from rivet_core.config.aliases import SEVERITIES, Severity
from rivet_core.config.base import ConfigModel, StrictInt, rule_error

_MAX_ROWS = 2**63 - 1


class QualityRule(ConfigModel):
    """One quality rule after loading: its threshold and what a miss does (error fails, warn degrades)."""

    value: Any = Field(description="The rule's threshold.")
    severity: Severity = Field(default="error", description="error = the run fails; warn = it commits and exits 3.")


class RowCountRule(QualityRule):
    """row_count_min / row_count_max (inclusive)."""

    value: StrictInt = Field(ge=0, le=_MAX_ROWS, description="A row count (inclusive bound).")


class NullRatioRule(QualityRule):
    """null_ratio_max: column → largest allowed share of NULLs (0..1)."""

    value: dict[str, Annotated[float, Strict(), Field(ge=0, le=1)]] = Field(
        description="Column → largest allowed share of NULLs (0..1)."
    )


class UniqueColumnsRule(QualityRule):
    """unique_columns: columns whose values must not repeat."""

    value: list[str] = Field(min_length=1, description="Columns whose values must not repeat (each on its own).")


def _rule_schema(value_schema: dict[str, Any]) -> WithJsonSchema:
    """JSON Schema of a rule written bare (`5`) or wrapped (`{value: 5, severity: warn}`)."""
    wrapped = {
        "type": "object",
        "properties": {"value": value_schema, "severity": {"enum": list(SEVERITIES)}},
        "required": ["value"],
        "additionalProperties": False,
    }
    return WithJsonSchema({"anyOf": [value_schema, wrapped, {"type": "null"}]})


_RULE_KEYS = ("row_count_min", "row_count_max", "null_ratio_max", "unique_columns")
_COUNT_SCHEMA = _rule_schema({"type": "integer", "minimum": 0})


class QualityConfig(ConfigModel):
    """Quality rules checked on the stream before commit; `severity` is every rule's default."""

    row_count_min: Annotated[RowCountRule | None, _COUNT_SCHEMA] = Field(
        default=None, description="Fewest rows the export may have (checked even on 0 rows)."
    )
    row_count_max: Annotated[RowCountRule | None, _COUNT_SCHEMA] = Field(
        default=None, description="Most rows the export may have."
    )
    null_ratio_max: Annotated[
        NullRatioRule | None,
        _rule_schema({"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}}),
    ] = Field(default=None, description="Column → largest allowed share of NULLs; a ratio exactly at the limit passes.")
    unique_columns: Annotated[
        UniqueColumnsRule | None, _rule_schema({"type": "array", "items": {"type": "string"}})
    ] = Field(default=None, description="Columns whose values must not repeat (64-bit hashes of the values seen).")
    unique_max_entries: StrictInt = Field(
        default=1_000_000,
        gt=0,
        le=100_000_000,
        description="Values tracked per unique column; past that it warns and stops (1..100000000).",
    )
    severity: Severity = Field(default="error", description="Default severity of every rule in this block.")

    @model_validator(mode="before")
    @classmethod
    def _wrap_rules(cls, data: Any) -> Any:
        """Turn bare rule values into `{value, severity}` with the block's default severity."""
        if not isinstance(data, Mapping):
            return data
        default = data.get("severity", "error")
        default = default if default in SEVERITIES else "error"
        out = dict(data)
        for key in _RULE_KEYS:
            rule = out.get(key)
            if rule is None:
                continue
            # null_ratio_max's bare form is itself a mapping: it is wrapped only when `value` holds one.
            wrapped = isinstance(rule, Mapping) and (
                key != "null_ratio_max" or ("value" in rule and isinstance(rule["value"], Mapping))
            )
            out[key] = {"severity": default, **rule} if wrapped else {"value": rule, "severity": default}
        return out

    @model_validator(mode="after")
    def _min_le_max(self) -> QualityConfig:
        """row_count_min cannot exceed row_count_max."""
        low, high = self.row_count_min, self.row_count_max
        if low is not None and high is not None and low.value > high.value:
            raise rule_error([(("row_count_min",), "is greater than row_count_max")])
        return self

    def rules(self) -> dict[str, QualityRule]:
        """The configured rules by name."""
        return {k: rule for k in _RULE_KEYS if (rule := getattr(self, k)) is not None}
