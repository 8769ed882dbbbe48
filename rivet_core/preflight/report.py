"""The typed results of `rivet doctor` and `rivet check`, each with its one JSON encoding."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rivet_core.config import Tuning

ProbeStatus = Literal["OK", "WARN", "FAIL"]
Verdict = Literal["efficient", "acceptable", "degraded", "unsafe"]
VERDICTS: tuple[Verdict, ...] = ("efficient", "acceptable", "degraded", "unsafe")  # mildest first


@dataclass(frozen=True)
class ProbeResult:
    """One doctor line: OK, WARN (advice; the exit code stays 0) or FAIL."""

    name: str
    status: ProbeStatus
    detail: str

    def line(self) -> str:
        return f"[{self.status}] {self.name}: {self.detail}"


@dataclass(frozen=True)
class ColumnReport:
    """A column's source and Arrow type; `flag` says why its mapping is lossy or unsupported."""

    name: str
    source_type: str
    arrow_type: str
    flag: str | None = None

    @property
    def status(self) -> Literal["ok", "lossy", "unsupported"]:
        """`ok`, or the kind of flag (its text starts with `lossy:` or `unsupported:`)."""
        if not self.flag:
            return "ok"
        return "unsupported" if self.flag.startswith("unsupported") else "lossy"

    def violation(self) -> dict[str, str]:
        """The `violations` entry of a flagged column in `rivet check --json`."""
        return {
            "column": self.name,
            "source_type": self.source_type,
            "arrow_type": self.arrow_type,
            "severity": self.status,
            "message": self.flag or "",
        }


@dataclass(frozen=True)
class KeyReport:
    """The column an export ranges over (cursor, chunk or time column) and whether an index serves it."""

    field: str
    column: str
    indexed: bool | Literal["unknown"]


@dataclass(frozen=True)
class ChunkEstimate:
    """How many chunks a run would plan; `bounds` (MIN, MAX) only when they were computed."""

    estimate: int | None
    bounds: tuple[Any, Any] | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.bounds is None else {"min": self.bounds[0], "max": self.bounds[1]}
        out["estimate"] = self.estimate
        if self.note is not None:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class ConnectionReport:
    """Connections a run needs against the server's budget."""

    needed: int
    max_connections: int
    in_use: int
    free: int


@dataclass(frozen=True)
class DestinationReport:
    """Whether a destination's credentials resolve; `error` when they do not."""

    type: str
    bucket: str | None = None
    credentials: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class CheckReport:
    """`rivet check` of one export (also the verdict and warnings a plan records)."""

    export: str
    mode: str
    source: str
    environment: str
    tuning: Tuning
    destination: DestinationReport
    query: str = "ok"
    columns: list[ColumnReport] = field(default_factory=list)
    key: KeyReport | None = None
    row_estimate: int | None = None
    row_estimate_from: str | None = None
    chunks: ChunkEstimate | None = None
    windows: int | None = None
    connections: ConnectionReport | None = None
    verdict: Verdict = "efficient"
    reasons: list[str] = field(default_factory=list)
    recommended_profile: str = "balanced"
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[ColumnReport]:
        """Columns whose mapping is lossy or unsupported (`--strict` fails on them)."""
        return [c for c in self.columns if c.flag]

    def to_json(self) -> dict[str, Any]:
        """The object `rivet check --json` prints for this export."""
        return {
            "export": self.export,
            "mode": self.mode,
            "source": self.source,
            "environment": self.environment,
            "query": self.query,
            "columns": [asdict(c) for c in self.columns],
            "violations": [c.violation() for c in self.flagged],
            "key": asdict(self.key) if self.key else None,
            "row_estimate": self.row_estimate,
            "row_estimate_from": self.row_estimate_from,
            "chunks": self.chunks.to_json() if self.chunks else None,
            "windows": self.windows,
            "connections": asdict(self.connections) if self.connections else None,
            "verdict": self.verdict,
            "reasons": self.reasons,
            "recommended_profile": self.recommended_profile,
            "tuning": asdict(self.tuning),
            "destination": self.destination.to_json(),
            "warnings": self.warnings,
            "errors": self.errors,
        }
