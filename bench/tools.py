"""The tools bench/compare.py measures: how each is run as a process, where its Parquet lands, whether it is here."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from mixed_table import CLIENTS, Server
from peers import DLT_DATASET

BENCH = Path(__file__).resolve().parent
TOOLS = ("dump", "rivet", "rivet-p1", "rivet-p2", "connectorx", "dlt", "polars")
# rivet-p1 / rivet-p2: the same export in chunked mode on `id`, CHUNKS chunks, `parallel: 1` and `parallel: 2`.
PARALLEL = {"rivet-p1": 1, "rivet-p2": 2}
CHUNKS = 8
NOT_INSTALLED = "not installed (pip install -e '.[bench]')"
URL_ENV = "RIVET_BENCH_URL"
# Python modules each tool imports, per engine (the dump needs only the database's client).
_NEEDS: dict[str, dict[str, tuple[str, ...]]] = {
    "dump": {"pg": (), "mysql": ()},
    "rivet": {"pg": ("rivet_core",), "mysql": ("rivet_core",)},
    "rivet-p1": {"pg": ("rivet_core",), "mysql": ("rivet_core",)},
    "rivet-p2": {"pg": ("rivet_core",), "mysql": ("rivet_core",)},
    "connectorx": {"pg": ("connectorx",), "mysql": ("connectorx",)},
    "polars": {"pg": ("polars", "connectorx"), "mysql": ("polars", "connectorx")},
    "dlt": {"pg": ("dlt", "sqlalchemy", "psycopg"), "mysql": ("dlt", "sqlalchemy", "pymysql")},
}


@dataclass(frozen=True)
class Job:
    """One tool exporting one table: its command, environment, working folder and where its Parquet goes."""

    tool: str
    server: Server
    table: str
    work: Path

    def missing(self) -> str | None:
        """Why this tool cannot run here, or None."""
        if self.tool == "dump":
            return None if self.server.client() else f"no {'/'.join(CLIENTS[self.server.engine])} client on the PATH"
        absent = [m for m in _NEEDS[self.tool][self.server.engine] if importlib.util.find_spec(m) is None]
        return NOT_INSTALLED if absent else None

    def command(self) -> list[str]:
        if self.tool == "dump":
            return self.server.dump_cmd(self.table)
        if self.tool.startswith("rivet"):
            self.write_rivet_config()
            return [
                sys.executable,
                "-m",
                "rivet_core.cli",
                "run",
                "-c",
                str(self.work / "rivet.yaml"),
                "-e",
                self.table,
            ]
        return [sys.executable, str(BENCH / "peers.py"), self.tool, self.server.engine, self.table, str(self.out)]

    def env(self) -> dict[str, str]:
        return {**self.server.env(), URL_ENV: self.server.url}

    @property
    def out(self) -> Path:
        """The folder the tool writes into (created empty by the caller)."""
        return self.work / "out"

    @property
    def data(self) -> Path:
        """The folder holding the table's Parquet files (dlt nests it under its dataset and table names)."""
        return self.out / DLT_DATASET / self.table if self.tool == "dlt" else self.out

    def write_rivet_config(self) -> None:
        """A rivet.yaml with one Parquet zstd export of the table (`environment: local`: the fast profile); full, or
        chunked on `id` for rivet-p1 / rivet-p2."""
        workers = PARALLEL.get(self.tool)
        mode = {"mode": "chunked", "chunk_column": "id", "chunk_count": CHUNKS, "parallel": workers} if workers else {}
        export = {"name": self.table, "table": self.table, "mode": "full", **mode, "format": "parquet"}
        config = {
            "source": {
                "type": "postgres" if self.server.engine == "pg" else "mysql",
                "url_env": URL_ENV,
                "environment": "local",
            },
            "exports": [{**export, "compression": "zstd", "destination": {"type": "local", "path": str(self.out)}}],
        }
        (self.work / "rivet.yaml").write_text(json.dumps(config, indent=2))  # JSON is YAML
