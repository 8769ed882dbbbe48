"""Batches shaped by memory and pressure against the real servers (rivet-cli 0.7.7 tuning keys).

`batch_size_memory_mb` (a probe, then rows from the Arrow bytes per row), `adaptive` (write pressure every 10
batches), `max_batch_memory_mb` with each `on_batch_memory_exceeded` policy, and `chunk_size_memory_mb`. Batch
sizes are read from the engine's progress callback, which is called once per written batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import MYSQL_URL, PG_URL, run_cli
from e2e import data_files, export_config, manifests, read_parquet

from rivet_core.config import load_config
from rivet_core.engine import ExportResult, RunOptions, run_export
from rivet_core.preflight.check import check_export
from rivet_core.sources import open_source

PAD = 400  # characters of text per row: about 412 Arrow bytes with the bigint id and the offset


@pytest.fixture
def pg_rows(pg: Any, table_name: str) -> Iterator[Callable[..., str]]:
    """`make(n)`: a Postgres table of n rows (id 1..n, a `pad`-character text), analyzed; dropped afterwards."""

    def make(n: int, pad: int = PAD) -> str:
        pg.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, pad text NOT NULL)")
        pg.execute(f"INSERT INTO {table_name} SELECT g, repeat('x', {pad}) FROM generate_series(1, %s) g", (n,))
        pg.execute(f"ANALYZE {table_name}")
        return table_name

    yield make
    pg.execute(f"DROP TABLE IF EXISTS {table_name}")


@pytest.fixture
def maria_rows(mysql: Any, table_name: str) -> Iterator[Callable[[int], str]]:
    """`make(n)`: the same table on MariaDB, analyzed; dropped afterwards."""

    def make(n: int) -> str:
        cur = mysql.cursor()
        cur.execute(f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, pad varchar(500) NOT NULL)")
        cur.execute(
            f"INSERT INTO {table_name} SELECT seq, REPEAT('x', {PAD}) FROM seq_1_to_{n}"  # MariaDB's Sequence engine
        )
        cur.execute(f"ANALYZE TABLE {table_name}")
        cur.fetchall()
        return table_name

    yield make
    mysql.cursor().execute(f"DROP TABLE IF EXISTS {table_name}")


def config(folder: Path, doc: dict[str, Any], url: str = PG_URL) -> Path:
    """A rivet.yaml with one export `doc` over Postgres or MariaDB (by `url`), Parquet to ./out."""
    path = export_config(folder, doc, url=url)
    if url == MYSQL_URL:
        path.write_text(path.read_text().replace("type: postgres", "type: mysql", 1))
    return path


def run_sized(
    folder: Path, table: str, tuning: dict[str, Any], url: str = PG_URL, each: Callable[[int], None] | None = None
) -> tuple[ExportResult, list[int]]:
    """Run a full export of `table` in-process; its result and the rows of each written batch, in order."""
    doc = {"name": "m", "table": table, "mode": "full", "tuning": tuning}
    cfg = load_config(config(folder, doc, url))
    sizes: list[int] = []

    def progress(_export: str, rows: int, _bytes: int) -> None:
        sizes.append(rows - sum(sizes))
        if each:
            each(len(sizes))

    return run_export(cfg, "m", RunOptions(progress=progress)), sizes


@pytest.mark.parametrize("url", [PG_URL, MYSQL_URL], ids=["postgres", "mariadb"])
def test_batch_size_memory_mb_probes_then_aims_at_the_target(
    url: str, pg_rows: Callable[[int], str], maria_rows: Callable[[int], str], tmp_path: Path
) -> None:
    table = (pg_rows if url == PG_URL else maria_rows)(12_000)
    result, sizes = run_sized(tmp_path, table, {"batch_size_memory_mb": 1}, url)
    assert result.status == "success", result.error
    assert sum(sizes) == result.rows == 12_000
    aimed = sizes[1:-1]
    assert sizes[0] == 1000  # the probe
    assert aimed and all(2300 <= n <= 2700 for n in aimed), sizes  # 1 MiB / ~412 bytes per row
    assert len(set(aimed)) == 1, sizes


def test_batch_size_memory_mb_above_the_drivers_copy_chunk_on_postgres(
    pg_rows: Callable[..., str], tmp_path: Path
) -> None:
    table = pg_rows(12_000, pad=4000)  # ~4 KB a row: 16 MiB (the driver's default read chunk) is ~4200 rows
    result, sizes = run_sized(tmp_path, table, {"batch_size_memory_mb": 20})
    assert result.status == "success", result.error
    assert sizes[0] == 1000 and sum(sizes) == 12_000
    assert 5000 <= max(sizes) <= 5400, sizes  # 20 MiB / ~4 KB (a batch is never cut across read chunks)


def test_adaptive_shrinks_batches_while_checkpoints_are_requested(
    pg_rows: Callable[[int], str], tmp_path: Path
) -> None:
    table = pg_rows(30_000)
    with psycopg.connect(PG_URL, autocommit=True) as other:

        def pressure(batches: int) -> None:  # a requested checkpoint per written batch, for 25 batches
            if batches <= 25:
                other.execute("CHECKPOINT")

        result, sizes = run_sized(tmp_path, table, {"batch_size": 1000, "adaptive": True}, each=pressure)
    assert result.status == "success", result.error
    assert sum(sizes) == 30_000
    assert sizes[:10] == [1000] * 10
    assert sizes[10:20] == [750] * 10  # pressure rose over batches 1..10: 75 %
    assert sizes[20] == 562  # and again over 11..20


def test_adaptive_keeps_the_batch_size_when_pressure_is_flat_on_mariadb(
    maria_rows: Callable[[int], str], tmp_path: Path
) -> None:
    table = maria_rows(8000)
    cfg = load_config(config(tmp_path, {"name": "m", "table": table}, MYSQL_URL))
    source = open_source(cfg.source, cfg.source.resolve_url(cfg.base_dir), cfg.tuning_for(cfg.exports[0]))
    assert isinstance(source.write_pressure(), int)  # Innodb_log_waits is read
    result, sizes = run_sized(tmp_path, table, {"batch_size": 500, "adaptive": True}, MYSQL_URL)
    assert result.status == "success", result.error
    assert sizes == [500] * 16  # never above the starting size


def test_max_batch_memory_warn_writes_the_batch_and_suggests_a_batch_size(
    pg_rows: Callable[[int], str], tmp_path: Path
) -> None:
    table = pg_rows(6000)
    result, sizes = run_sized(tmp_path, table, {"batch_size": 6000, "max_batch_memory_mb": 1})
    assert result.status == "success" and sizes == [6000]
    (warning,) = [w for w in result.warnings if "max_batch_memory_mb" in w]
    assert "a batch of 6000 rows holds 2.4 MiB of Arrow data, over tuning.max_batch_memory_mb (1.0 MiB)" in warning
    suggested = int(warning.split("a batch_size of ")[1].split()[0])
    assert 2300 <= suggested <= 2600
    assert read_parquet(tmp_path / "out").num_rows == 6000


def test_max_batch_memory_auto_shrink_halves_until_each_piece_fits(
    pg_rows: Callable[[int], str], tmp_path: Path
) -> None:
    table = pg_rows(6000)
    result, sizes = run_sized(
        tmp_path, table, {"batch_size": 6000, "max_batch_memory_mb": 1, "on_batch_memory_exceeded": "auto_shrink"}
    )
    assert result.status == "success", result.error
    assert sizes == [1500, 1500, 1500, 1500]  # 2.4 MiB → halves of 1.2 MiB → quarters of 0.6 MiB
    assert not result.warnings
    assert sorted(read_parquet(tmp_path / "out").column("id").to_pylist()) == list(range(1, 6001))


def test_max_batch_memory_fail_fails_the_export_naming_the_key(pg_rows: Callable[[int], str], tmp_path: Path) -> None:
    table = pg_rows(6000)
    doc = {"name": "m", "table": table, "tuning": {"batch_size": 6000, "max_batch_memory_mb": 1}}
    doc["tuning"]["on_batch_memory_exceeded"] = "fail"
    proc = run_cli("run", "-c", str(export_config(tmp_path, doc)))
    assert proc.returncode == 1, proc.stderr
    assert "over tuning.max_batch_memory_mb (1.0 MiB) (on_batch_memory_exceeded: fail)" in proc.stderr
    assert not data_files(tmp_path / "out")


@pytest.mark.parametrize("url", [PG_URL, MYSQL_URL], ids=["postgres", "mariadb"])
def test_chunk_size_memory_mb_derives_chunk_size_from_the_table_stats(
    url: str, pg_rows: Callable[[int], str], maria_rows: Callable[[int], str], tmp_path: Path
) -> None:
    table = (pg_rows if url == PG_URL else maria_rows)(30_000)
    cfg = load_config(config(tmp_path, {"name": "m", "table": table}, url))
    source = open_source(cfg.source, cfg.source.resolve_url(cfg.base_dir), cfg.tuning_for(cfg.exports[0]))
    row_bytes = source.average_row_bytes((None, table))
    assert row_bytes is not None and 400 < row_bytes < 1000
    expected = max(10_000, int((5 << 20) / row_bytes))
    doc = {"name": "m", "table": table, "mode": "chunked", "chunk_column": "id", "chunk_size_memory_mb": 5}
    result = run_export(load_config(config(tmp_path, doc, url)), "m")
    assert result.status == "success", result.error
    spans = sorted((m["slice"]["lo"], m["slice"]["hi"]) for m in manifests(tmp_path / "out", "m"))
    assert [lo for lo, _ in spans] == list(range(0, 30_001, expected)), (expected, spans)  # aligned chunks
    assert spans[0][1] == expected - 1
    cfg = load_config(config(tmp_path, doc, url))
    estimate = check_export(cfg, cfg.exports[0]).chunks  # `rivet check` plans with the same size
    assert estimate is not None and estimate.estimate == len(spans) > 1
    assert read_parquet(tmp_path / "out").num_rows == 30_000


def test_memory_threshold_holds_chunks_back_with_one_warning(pg_rows: Callable[[int], str], tmp_path: Path) -> None:
    table = pg_rows(3000)
    doc = {"name": "m", "table": table, "mode": "chunked", "chunk_column": "id", "chunk_size": 1000, "parallel": 2}
    doc["tuning"] = {"memory_threshold_mb": 1}  # this process is always over 1 MiB
    result = run_export(load_config(config(tmp_path, doc)), "m")
    assert result.status == "success", result.error
    (warning,) = [w for w in result.warnings if "memory_threshold_mb" in w]
    assert "is over tuning.memory_threshold_mb (1 MiB) before chunk" in warning
    assert "chunks start one at a time while it is" in warning
    assert sorted(read_parquet(tmp_path / "out").column("id").to_pylist()) == list(range(1, 3001))
