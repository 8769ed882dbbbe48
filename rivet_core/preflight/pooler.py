"""The pooler/proxy warning every run starts with and `rivet doctor` reports."""

from __future__ import annotations

import logging
from typing import Any

from rivet_core.errors import RivetError

log = logging.getLogger("rivet")


def detect_pooler(source: Any) -> str | None:
    """The source's `pooler_warning()`, None when there is none or the source cannot tell.

    A connection failure here is left to the export itself (it is retried there when transient).
    """
    # source.pooler_warning() directly once the Source base class declares it (sources merge)
    detect = getattr(source, "pooler_warning", None)
    if detect is None:
        return None
    try:
        warning: str | None = detect()
    except RivetError as exc:
        log.debug("pooler detection skipped: %s", exc)
        return None
    return warning
