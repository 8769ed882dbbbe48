"""A MySQL export in a fresh interpreter, for processes where mysql-connector's C extension cannot load.

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

from rivet_dagster._engine import run_request


class _ToParent(logging.Handler):
    """rivet's log records as `<level>\\t<message>` lines on stderr, which the parent re-logs."""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().replace("\n", " ")
        sys.stderr.write(f"{record.levelno}\t{text}\n")
        sys.stderr.flush()


def main() -> None:
    """`<request pickle> <result pickle>`: run the request's export, write its ExportResult."""
    request_path, result_path = Path(sys.argv[1]), Path(sys.argv[2])
    logger = logging.getLogger("rivet")
    logger.addHandler(_ToParent())
    logger.setLevel(logging.INFO)
    logger.propagate = False
    with request_path.open("rb") as f:
        request = pickle.load(f)
    result = run_request(request)
    with result_path.open("wb") as f:
        pickle.dump(result, f)
