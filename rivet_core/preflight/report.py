"""The typed results of `rivet doctor` and `rivet check`, each with its one JSON encoding."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rivet_core.config import Tuning
from rivet_core.preflight.fidelity import Fidelity
from rivet_core.preflight.target import TargetCompat

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
    """A column's source, Rivet and Arrow type with its fidelity; `flag` says why its mapping is lossy or
    unsupported; `target` how it loads into the `--target` warehouse."""

    name: str
    source_type: str
    rivet_type: str
    arrow_type: str
    fidelity: Fidelity
    flag: str | None = None
    target: TargetCompat | None = None

    def to_json(self) -> dict[str, Any]:
        """The `columns` entry: 0.7.7's keys (`column` … `fidelity`, `target_*` with a target) and ours."""
        out: dict[str, Any] = {
            "column": self.name,
            "source_type": self.source_type,
            "rivet_type": self.rivet_type,
            "arrow_type": self.arrow_type,
            "fidelity": self.fidelity,
        }
        if self.target is not None:
            out["target_type"] = self.target.target_type
            out["target_status"] = self.target.status
            if self.target.note is not None:
                out["target_note"] = self.target.note
        return {**out, "name": self.name, "flag": self.flag}

    def violation(self, strict: bool) -> dict[str, Any]:
        """The `violations` entry of a flagged column: 0.7.7's keys (`fatal` under `--strict`) and ours."""
        reason = (self.flag or "").removeprefix(f"{self.fidelity}: ")
        return {
            "column_name": self.name,
            "fidelity": self.fidelity,
            "message": f"column '{self.name}' (source type '{self.source_type}'): fidelity={self.fidelity}: {reason}",
            "fatal": strict,
            "column": self.name,
            "source_type": self.source_type,
            "arrow_type": self.arrow_type,
            "severity": self.fidelity,
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
    target: str | None = None
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

    @property
    def target_failures(self) -> bool:
        """Whether a column does not load into the `--target` warehouse."""
        return any(c.target is not None and c.target.status == "fail" for c in self.columns)

    def to_json(self, strict: bool = False) -> dict[str, Any]:
        """The object `rivet check --json` prints for this export (`strict`: its violations are fatal)."""
        out = {
            "export": self.export,
            "mode": self.mode,
            "source": self.source,
            "environment": self.environment,
            "query": self.query,
            "columns": [c.to_json() for c in self.columns],
            "violations": [c.violation(strict) for c in self.flagged],
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
        if self.target_failures:  # 0.7.7's key, present only when true
            out["target_failures"] = True
        return out
