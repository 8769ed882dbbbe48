"""Gates: verdicts on the data before (quality, drift, reconcile) and after (validate) it is committed."""

from rivet_core.gates.drift import drift, drift_gate
from rivet_core.gates.quality import QualityTracker, check_columns
from rivet_core.gates.reconcile import reconcile_gate
from rivet_core.gates.result import GateResult, Severity
from rivet_core.gates.validate import validate_unit

__all__ = [
    "GateResult",
    "QualityTracker",
    "Severity",
    "check_columns",
    "drift",
    "drift_gate",
    "reconcile_gate",
    "validate_unit",
]
