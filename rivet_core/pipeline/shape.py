"""Shape drift (`shape_drift_warn_factor`, as rivet-cli 0.7.7): each text/binary column's longest value of a run
is compared with the longest one stored for the export; growth past the factor is a warning, never a failure.

Only single-file modes (full, incremental, time_window) track it, as 0.7.7. Lengths are bytes. The stored value
is the longest ever committed, so one spike warns once.
"""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.compute as pc


def _measured(field: pa.Field) -> bool:
    t = field.type
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)


class ShapeTracker:
    """The longest value, in bytes, of each text/binary column seen in a run (max is idempotent: retries are safe)."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.longest: dict[str, int] = {}
        self._lock = threading.Lock()

    def observe(self, batch: pa.RecordBatch) -> None:
        """Fold one batch's longest text/binary values in."""
        for field, column in zip(batch.schema, batch.columns, strict=True):
            if not _measured(field) or column.null_count == len(column):
                continue
            length = pc.max(pc.binary_length(column)).as_py()
            with self._lock:
                self.longest[field.name] = max(self.longest.get(field.name, 0), length)

    def drifted(self, stored: dict[str, int]) -> list[str]:
        """A warning per column whose longest value grew past `factor` times the stored longest."""
        return [
            f"shape drift: column {name}'s longest value is {now} bytes, over {self.factor:g}x the stored longest "
            f"({stored[name]} bytes)"
            for name, now in self.longest.items()
            if stored.get(name) and now > stored[name] * self.factor
        ]
