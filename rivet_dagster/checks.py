"""Asset checks of an export: one per gate, declared on the asset so they show before any run.

Checks: `validate` (read back after commit), `reconcile` (source COUNT(*) in the export's snapshot), one per
configured quality rule (`row_count_min`, `row_count_max`, `null_ratio_max`, `unique_columns`) and
`schema_drift`. Error severity → blocking (a failure stops downstream assets); warn → WARN results.

With its asset, the engine decides every gate while it runs; the results come from the run's gate verdicts and
`validated`. `validate` and `reconcile` cost extra reads, so the engine runs them only when their check is
selected (it is by default: a check is selected with its asset). A gate the run did not evaluate (no slice to
count, nothing committed to read back, a failure before the gate) yields no result. Selected without its asset,
a check is evaluated on the latest committed run at the destination (rivet_core/recheck.py), no export.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from dagster import AssetCheckKey, AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from rivet_dagster._engine import ExportConfig, ExportResult, GateResult, gate_results

_DESCRIPTIONS = {
    "validate": "Read back after commit: manifest, _SUCCESS, every part's size, content hash and row count.",
    "reconcile": "Source COUNT(*) of each exported slice, in the export's own snapshot, equals the rows written.",
    "row_count_min": "At least {value} rows exported (quality.row_count_min).",
    "row_count_max": "At most {value} rows exported (quality.row_count_max).",
    "null_ratio_max": "Share of NULLs per column within its limit (quality.null_ratio_max: {value}).",
    "unique_columns": "No repeated values in {value} (quality.unique_columns).",
    "schema_drift": "Written schema equals the last one written (on_schema_drift: {value}).",
}


def gate_severities(export: ExportConfig) -> dict[str, tuple[str, Any]]:
    """Every gate of the export: name → (severity error|warn, configured value for the description)."""
    gates: dict[str, tuple[str, Any]] = {"validate": ("error", None), "reconcile": ("error", None)}
    for name, rule in (export.quality.rules() if export.quality else {}).items():
        gates[name] = (rule.severity, rule.value)
    drift = export.on_schema_drift
    gates["schema_drift"] = ("error" if drift == "fail" else "warn", drift)
    return gates


def check_specs(export: ExportConfig, key: AssetKey) -> list[AssetCheckSpec]:
    """The export's checks; error-severity gates block downstream assets."""
    return [
        AssetCheckSpec(
            name,
            asset=key,
            description=_DESCRIPTIONS[name].format(value=value),
            blocking=severity == "error",
            metadata={"rivet/severity": severity},
        )
        for name, (severity, value) in gate_severities(export).items()
    ]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _metadata(details: dict[str, Any]) -> dict[str, Any]:
    """Gate details as check metadata: scalars as they are, structures as JSON plus `key/column` numbers."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, bool | int | float | str):
            out[key] = value
            continue
        out[key] = MetadataValue.json(value)
        if isinstance(value, dict) and value and all(_number(v) for v in value.values()):
            out |= {f"{key}/{column}": number for column, number in value.items()}  # plottable per column
    return out


def _gate_result(key: AssetKey, name: str, severity: str, found: Sequence[GateResult]) -> AssetCheckResult:
    """One check result from the gate's verdicts (one per slice for per-slice gates: all must pass)."""
    failing = [g for g in found if not g.passed]
    shown = failing[0] if failing else found[-1]
    metadata = _metadata(shown.details)
    if shown.message:
        metadata["message"] = shown.message
    if len(found) > 1:
        metadata["slices"] = MetadataValue.json([{**g.details, "passed": g.passed} for g in found])
        metadata["failing_slices"] = len(failing)
    return AssetCheckResult(
        asset_key=key,
        check_name=name,
        passed=not failing,
        severity=AssetCheckSeverity.ERROR if severity == "error" else AssetCheckSeverity.WARN,
        metadata=metadata,
    )


def _validate_result(key: AssetKey, result: ExportResult) -> AssetCheckResult:
    passed = result.validated == "passed"
    metadata: dict[str, Any] = {"files": len(result.files), "units": len(result.units)}
    if not passed and result.error:
        metadata["message"] = result.error
    return AssetCheckResult(asset_key=key, check_name="validate", passed=passed, metadata=metadata)


def check_results(
    export: ExportConfig, key: AssetKey, result: ExportResult, selected: Iterable[AssetCheckKey]
) -> list[AssetCheckResult]:
    """Results of the selected checks that this run evaluated."""
    wanted = {k.name for k in selected if k.asset_key == key}
    verdicts = gate_results(result)
    out = []
    for name, (severity, _) in gate_severities(export).items():
        if name not in wanted:
            continue
        if name == "validate":
            if result.validated is not None:
                out.append(_validate_result(key, result))
            continue
        found = [g for g in verdicts if g.gate == name]
        if name == "schema_drift" and export.on_schema_drift == "warn":  # the engine lets warned drift pass
            found = [replace(g, passed=not g.details) for g in found]
        if found:
            out.append(_gate_result(key, name, severity, found))
    return out


def gate_failed(result: ExportResult) -> bool:
    """Whether the run failed on a gate (a verdict on the data: retrying the step would repeat it)."""
    return result.validated == "failed" or any(not g.passed and g.severity == "error" for g in gate_results(result))
