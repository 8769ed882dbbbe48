"""MySQL work (an export, a check, an observation) in a fresh interpreter, where the parent cannot load the driver.

Once pyarrow (or pandas) has used the libstdc++ that the extension links against, glibc keeps that library's
thread-local storage dynamic and refuses to load the extension ("cannot allocate memory in static TLS block";
no GLIBC_TUNABLES setting helps after the fact). A new interpreter that imports rivet_core first loads the
extension before pyarrow, so the export runs there (started by `_engine.run_in_worker` with `BOOTSTRAP`,
whose first import is rivet_core); the parent forwards its log lines and gets the result back.
"""

from __future__ import annotations

import logging
import pickle
import sys
from pathlib import Path

from rivet_core.errors import RivetError


class _ToParent(logging.Handler):
    """rivet's log records as `<level>\\t<message>` lines on stderr, which the parent re-logs."""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().replace("\n", " ")
        sys.stderr.write(f"{record.levelno}\t{text}\n")
        sys.stderr.flush()


def main() -> None:
    """`<request pickle> <result pickle>`: call the pickled `(function, args)`; write `(True, value)`, or
    `(False, message)` for a RivetError."""
    request_path, result_path = Path(sys.argv[1]), Path(sys.argv[2])
    logger = logging.getLogger("rivet")
    logger.addHandler(_ToParent())
    logger.setLevel(logging.INFO)
    logger.propagate = False
    with request_path.open("rb") as f:
        fn, args = pickle.load(f)
    try:
        outcome = (True, fn(*args))
    except RivetError as exc:
        outcome = (False, str(exc))
    with result_path.open("wb") as f:
        pickle.dump(outcome, f)
