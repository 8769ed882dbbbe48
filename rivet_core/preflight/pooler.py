"""The pooler/proxy warning every run starts with and `rivet doctor` reports."""

from __future__ import annotations

import logging

from rivet_core.errors import RivetError
from rivet_core.sources.base import Source

log = logging.getLogger("rivet")


def detect_pooler(source: Source) -> str | None:
    """The source's `pooler_warning()`, None when there is none or the source cannot tell.

    A connection failure here is left to the export itself (it is retried there when transient).
    """
    try:
        warning = source.pooler_warning()
    except RivetError as exc:
        log.debug("pooler detection skipped: %s", exc)
        return None
    return warning
