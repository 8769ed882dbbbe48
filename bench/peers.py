"""The peers' side of bench/compare.py: one export of a table to Parquet zstd, run as its own process.

Usage (compare.py runs it): `python bench/peers.py {connectorx,polars,dlt} {pg,mysql} TABLE OUT_DIR`, with the
database URL in $RIVET_BENCH_URL. Each peer is used the way its documentation shows for "a table to Parquet":
  connectorx  `read_sql(..., return_type="arrow")`, 2 partitions on id, then pyarrow's `write_table` (zstd);
  polars      `read_database_uri` (its ConnectorX engine), then `write_parquet` (zstd);
  dlt         `sql_table(backend="pyarrow")` into the filesystem destination as Parquet (zstd via its config),
              over SQLAlchemy with psycopg 3 (Postgres) or PyMySQL (MariaDB).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DLT_DATASET = "bench"
_SQLALCHEMY_SCHEMES = {"pg": "postgresql+psycopg", "mysql": "mysql+pymysql"}


def _connectorx(engine: str, url: str, table: str, out: Path) -> None:
    import connectorx as cx
    import pyarrow.parquet as pq

    data = cx.read_sql(url, f"SELECT * FROM {table}", return_type="arrow", partition_on="id", partition_num=2)
    pq.write_table(data, out / "part-0.parquet", compression="zstd")


def _polars(engine: str, url: str, table: str, out: Path) -> None:
    import polars as pl

    pl.read_database_uri(f"SELECT * FROM {table}", url).write_parquet(out / "part-0.parquet", compression="zstd")


def _dlt(engine: str, url: str, table: str, out: Path) -> None:
    for section in ("DATA_WRITER", "EXTRACT__DATA_WRITER", "NORMALIZE__DATA_WRITER"):
        os.environ[f"{section}__COMPRESSION"] = "zstd"
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    import dlt
    from dlt.sources.sql_database import sql_table

    credentials = urlunsplit(urlsplit(url)._replace(scheme=_SQLALCHEMY_SCHEMES[engine]))
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{table}",
        destination=dlt.destinations.filesystem(bucket_url=out.as_uri()),
        dataset_name=DLT_DATASET,
        pipelines_dir=str(out.parent / "dlt-pipelines"),
    )
    pipeline.run(sql_table(credentials=credentials, table=table, backend="pyarrow"), loader_file_format="parquet")


PEERS: dict[str, Callable[[str, str, str, Path], None]] = {
    "connectorx": _connectorx,
    "polars": _polars,
    "dlt": _dlt,
}


def main() -> None:
    tool, engine, table, out = sys.argv[1:5]
    PEERS[tool](engine, os.environ["RIVET_BENCH_URL"], table, Path(out))


if __name__ == "__main__":
    main()
