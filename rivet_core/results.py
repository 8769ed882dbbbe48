"""`ExportResult`: the outcome of one export run, what `--json` prints, the state records and Dagster shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rivet_core.gates.result import GateResult
from rivet_core.slices import Slice

Status = Literal["success", "failed", "degraded", "skipped"]


@dataclass(frozen=True)
class CommittedUnit:
    """One unit this run committed: its slice, rows, bytes, data-file URIs and the seconds it took to write."""

    slice: Slice
    rows: int
    bytes: int
    files: list[str]
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            **self.slice.to_json(),
            "rows": self.rows,
            "bytes": self.bytes,
            "files": self.files,
            "duration_s": round(self.duration_s, 3),
        }


@dataclass
class ExportResult:
    """Counts, files, timings, gates and the error (one redacted line) of one export run."""

    export: str
    run_id: str
    started_at: str
    status: Status = "success"
    rows: int = 0
    bytes: int = 0
    files: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    peak_rss_mb: float = 0.0
    cursor: dict[str, Any] | None = None  # {"column", "value"}: the cursor this run reached (incremental)
    slices: list[Slice] = field(default_factory=list)
    schema: list[dict[str, str]] = field(default_factory=list)  # {"name", "type", "source"} per output column
    validated: str | None = None
    reconciled: str | None = None
    warnings: list[str] = field(default_factory=list)
    retries: int = 0
    gates: list[GateResult] = field(default_factory=list)
    units: list[CommittedUnit] = field(default_factory=list)
    schema_change: dict[str, Any] | None = None
    error: str | None = None
    destination: str = ""
    query: str = ""

    def fail(self, message: str) -> None:
        """Mark the run failed with `message`, prefixed with the export's name unless it names it already."""
        self.status, self.error = "failed", named(self.export, message)

    def to_json(self) -> dict[str, Any]:
        """The run summary (`rivet run --json`, the state's run record)."""
        doc = dict(self.__dict__)
        doc["slices"] = [s.to_json() for s in self.slices]
        doc["gates"] = [g.to_json() for g in self.gates]
        doc["units"] = [u.to_json() for u in self.units]
        return doc


def named(export: str, message: str) -> str:
    """An error's text that names its export: `<export>: <message>` unless the message names it already."""
    return message if f"exports[{export}]" in message or message.startswith(f"{export}:") else f"{export}: {message}"
