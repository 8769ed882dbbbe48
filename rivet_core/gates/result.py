"""`GateResult`: one gate's verdict with its numbers (CLI summary, state, Dagster check results)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warn"]


@dataclass(frozen=True)
class GateResult:
    """A gate's name, verdict, severity, numbers (`details`) and one readable line."""

    gate: str
    passed: bool
    severity: Severity = "error"
    details: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> GateResult:
        return cls(
            doc["gate"], doc["passed"], doc.get("severity", "error"), doc.get("details", {}), doc.get("message", "")
        )
