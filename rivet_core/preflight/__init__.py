"""Preflight: `rivet doctor` (can rivet reach the source and write each destination?), `rivet check` (how will
each export load the database?) and the pooler/proxy warning every run starts with.

Nothing here exports data or prints a secret: errors come through the sources' and destinations' redacted
messages, and only `display_url()` forms of a connection are shown.
"""

from rivet_core.preflight.check import check, check_export
from rivet_core.preflight.doctor import doctor
from rivet_core.preflight.pooler import detect_pooler
from rivet_core.preflight.render import render
from rivet_core.preflight.report import CheckReport, ProbeResult

__all__ = ["CheckReport", "ProbeResult", "check", "check_export", "detect_pooler", "doctor", "render"]
