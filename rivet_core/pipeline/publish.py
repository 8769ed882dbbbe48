"""Publishing a written unit: commit (manifest last), replace older versions of its slice, validate, then state."""

from __future__ import annotations

import datetime as dt
import logging

from rivet_core import commit
from rivet_core.commit import Manifest
from rivet_core.errors import RivetError
from rivet_core.gates import validate_unit
from rivet_core.pipeline.run import Run
from rivet_core.pipeline.unit import Written
from rivet_core.results import CommittedUnit
from rivet_core.slices import encode_value

log = logging.getLogger("rivet")


def publish(run: Run, written: Written, earlier: list[Manifest] | None = None) -> None:
    """Make a written unit visible; state is written only after the data is durable (docs/commit-protocol.md).

    `earlier`: the committed units it may replace, when the caller read them under this run's lease.
    """
    manifest = commit.commit(run.dest, written.unit, written.parts, written.manifest, check=run.check_lease)
    if manifest.replaces_slice:
        replaced = commit.supersede(run.dest, manifest, earlier)
        if replaced:
            log.info("%s: %s replaced %d older version(s)", run.export.name, manifest.slice.key, replaced)
    uris = [run.dest.uri(p.final_key) for p in written.parts]
    validate = run.options.validate
    problems = validate_unit(run.dest, manifest.export, manifest.unit_id) if validate else []
    r = run.result
    with run.lock:
        r.files += uris
        r.rows += manifest.row_count
        r.bytes += manifest.bytes
        r.reconciled = written.reconciled or r.reconciled
        r.units.append(CommittedUnit(manifest.slice, manifest.row_count, manifest.bytes, uris, written.duration_s))
        if validate:
            r.validated = "failed" if problems or r.validated == "failed" else "passed"
    if problems:
        raise RivetError("validate failed: " + "; ".join(problems))
    now = dt.datetime.now(dt.UTC).isoformat()
    run.state.record_files(run.run_id, run.export.name, manifest.unit_id, uris, written.parts, now)
    if manifest.cursor is not None:
        value = encode_value(manifest.cursor.value)
        run.state.save_cursor(run.export.name, manifest.cursor.column, value, manifest.unit_id, now)
        r.cursor = {"column": manifest.cursor.column, "value": value["value"] if value else None}
