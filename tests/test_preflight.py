"""`rivet doctor` and `rivet check` against the real servers: probes, verdicts, type report, JSON."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import run_cli
from e2e import export_config
from pgbouncer import PgBouncer, pgbouncer_fixture  # noqa: F401 - the `pgbouncer` fixture
from servers import OFFLINE_ENV, S3_KEY_ENV, free_port
from servers import moto_s3 as moto_s3_fixture  # noqa: F401 - the `moto_s3` fixture


def _lines(proc: Any) -> dict[str, str]:
    """doctor's stdout as {probe name: status}."""
    out = {}
    for line in proc.stdout.splitlines():
        status, _, rest = line.partition("] ")
        out[rest.split(":", 1)[0]] = status.lstrip("[")
    return out


@pytest.fixture
def events(pg: Any, table_name: str) -> Iterator[str]:
    pg.execute(
        f"CREATE TABLE {table_name} (id bigint PRIMARY KEY, seq int NOT NULL, amount numeric,"
        " price numeric(10,2), tags money, created_at timestamptz NOT NULL)"
    )
    pg.execute(
        f"INSERT INTO {table_name} SELECT g, g, g, g, g, timestamptz '2026-01-01' + g * interval '1 minute'"
        " FROM generate_series(1, 3000) g"
    )
    pg.execute(f"ANALYZE {table_name}")
    yield table_name
    pg.execute(f"DROP TABLE {table_name}")


@pytest.fixture
def reader_role(pg: Any, events: str) -> Iterator[str]:
    """A login role that can only SELECT the events table (trust auth: no password)."""
    role = f"rivet_ro_{uuid.uuid4().hex[:8]}"
    pg.execute(f"CREATE ROLE {role} LOGIN")
    pg.execute(f"GRANT SELECT ON {events} TO {role}")
    yield role
    pg.execute(f"REVOKE ALL ON {events} FROM {role}")
    pg.execute(f"DROP ROLE {role}")


# -- doctor ------------------------------------------------------------------------------------------------


@pytest.mark.pg
def test_doctor_all_ok_with_a_read_only_role(reader_role: str, events: str, tmp_path: Path) -> None:
    url = f"postgresql://{reader_role}@127.0.0.1:5432/test"
    config = export_config(tmp_path, {"name": "ev", "table": events}, {"name": "ev2", "table": events}, url=url)
    proc = run_cli("doctor", "-c", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _lines(proc) == {"source": "OK", "read-only": "OK", "tls": "OK", "pooler": "OK", "destination ev, ev2": "OK"}
    assert "PostgreSQL 1" in proc.stdout and f"user {reader_role} cannot write" in proc.stdout
    assert list((tmp_path / "out").iterdir()) == []  # the probe object was deleted


@pytest.mark.pg
def test_doctor_advises_a_read_only_role_for_a_superuser(events: str, tmp_path: Path) -> None:
    proc = run_cli("doctor", "-c", str(export_config(tmp_path, {"name": "ev", "table": events})), cwd=tmp_path)
    assert proc.returncode == 0
    assert _lines(proc)["read-only"] == "WARN"
    assert "user postgres can write (superuser" in proc.stdout and "SELECT only" in proc.stdout


@pytest.mark.pg
def test_doctor_source_down(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    proc = run_cli("doctor", "-c", str(export_config(tmp_path, {"name": "ev", "table": "t"}, url=url)), cwd=tmp_path)
    assert proc.returncode == 1
    assert _lines(proc) == {"source": "FAIL", "destination ev": "OK"}
    assert "Connection refused" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.mysql
def test_doctor_wrong_password_mariadb(mysql: Any, tmp_path: Path) -> None:
    """PostgreSQL here trusts 127.0.0.1 (any password is accepted), so a real password check is MariaDB's."""
    user = f"rivet_pw_{uuid.uuid4().hex[:8]}"
    cur = mysql.cursor()
    cur.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'Right-Pass-123'")
    try:
        config = write_source(tmp_path, {"type": "mysql", "url_env": "RIVET_TEST_DOCTOR_URL"})
        env = {"RIVET_TEST_DOCTOR_URL": f"mysql://{user}:Wrong-Secret-987@127.0.0.1:3306/test"}
        proc = run_cli("doctor", "-c", str(config), cwd=tmp_path, env=env)
        assert proc.returncode == 1
        assert _lines(proc)["source"] == "FAIL"
        assert "Access denied" in proc.stdout and "$RIVET_TEST_DOCTOR_URL" in proc.stdout
        assert "Wrong-Secret-987" not in proc.stdout + proc.stderr
    finally:
        cur.execute(f"DROP USER '{user}'@'127.0.0.1'")


@pytest.mark.pg
def test_doctor_wrong_password_postgres_protocol_via_pgbouncer(pgbouncer: PgBouncer, tmp_path: Path) -> None:
    """pgBouncer checks the password itself (auth_file), so the Postgres path sees a real rejection too."""
    config = export_config(tmp_path, {"name": "ev", "table": "t"}, url=pgbouncer.url("rivet_pw", "Wrong-Secret-987"))
    proc = run_cli("doctor", "-c", str(config), cwd=tmp_path)
    assert proc.returncode == 1
    assert _lines(proc)["source"] == "FAIL" and "password authentication failed" in proc.stdout
    assert "Wrong-Secret-987" not in proc.stdout + proc.stderr


@pytest.mark.pg
def test_doctor_local_path_not_writable(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file where the folder should be")
    proc = run_cli("doctor", "-c", str(export_config(tmp_path, {"name": "ev", "table": "t"})), cwd=tmp_path)
    assert proc.returncode == 1
    assert _lines(proc)["destination ev"] == "FAIL"
    assert f"{tmp_path / 'out'}" in proc.stdout and "cannot write" in proc.stdout


@pytest.mark.pg
def test_doctor_s3_bucket_missing_and_credentials_missing(moto_s3: Any, tmp_path: Path) -> None:
    base = {
        "type": "s3",
        "endpoint": moto_s3.endpoint,
        "region": "us-east-1",
        "access_key_env": "RIVET_TEST_S3_KEY",
        "secret_key_env": "RIVET_TEST_S3_SECRET",
    }
    missing = f"rivet-missing-{uuid.uuid4().hex[:8]}"
    config = export_config(
        tmp_path,
        {"name": "gone", "table": "t", "destination": {**base, "bucket": missing}},
        {"name": "ok", "table": "t", "destination": {**base, "bucket": moto_s3.new_bucket()}},
        {
            "name": "nokey",
            "table": "t",
            "destination": {**base, "bucket": missing, "access_key_env": "RIVET_TEST_UNSET_KEY"},
        },
    )
    proc = run_cli("doctor", "-c", str(config), cwd=tmp_path, env={**OFFLINE_ENV, **S3_KEY_ENV})
    assert proc.returncode == 1
    lines = _lines(proc)
    assert (lines["destination gone"], lines["destination ok"], lines["destination nokey"]) == ("FAIL", "OK", "FAIL")
    assert f"s3 bucket '{missing}' does not exist" in proc.stdout
    assert "access_key_env: environment variable RIVET_TEST_UNSET_KEY is not set" in proc.stdout
    assert S3_KEY_ENV["RIVET_TEST_S3_SECRET"] not in proc.stdout + proc.stderr


def write_source(folder: Path, source: dict[str, Any], **export: Any) -> Path:
    doc = {
        "source": source,
        "exports": [
            {
                "name": "ev",
                "table": "t",
                "format": "parquet",
                "destination": {"type": "local", "path": "./out"},
                **export,
            }
        ],
    }
    path = folder / "rivet.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


# -- check -------------------------------------------------------------------------------------------------


def check_json(config: Path, *args: str, code: int = 0) -> list[dict[str, Any]]:
    """`rivet check --json`: one JSON object per line, one line per export."""
    proc = run_cli("check", "-c", str(config), "--json", *args, cwd=config.parent)
    assert proc.returncode == code, proc.stdout + proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def incremental(events: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "ev",
        "table": events,
        "mode": "incremental",
        "cursor_column": "seq",
        "columns": {"amount": "decimal(20,2)"},
        **extra,
    }


@pytest.mark.pg
def test_check_verdict_follows_the_cursor_index(pg: Any, events: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, incremental(events))
    (before,) = check_json(config)
    assert before["key"] == {"field": "cursor_column", "column": "seq", "indexed": False}
    assert before["verdict"] == "degraded" and before["recommended_profile"] == "safe"
    assert before["row_estimate"] == 3000 and before["row_estimate_from"] == "statistics"
    pg.execute(f"CREATE INDEX ON {events} (seq)")
    (after,) = check_json(config)
    assert after["key"]["indexed"] is True
    assert after["verdict"] == "efficient" and after["recommended_profile"] == "balanced"


@pytest.mark.pg
def test_check_of_a_full_export_on_a_table_without_any_index_claims_no_index(pg: Any, table_name: str,
                                                                            tmp_path: Path) -> None:  # fmt: skip
    pg.execute(f"CREATE TABLE {table_name} (id int, name text)")
    try:
        pg.execute(f"ANALYZE {table_name}")
        (report,) = check_json(export_config(tmp_path, {"name": "plain", "table": table_name}))
        assert report["verdict"] == "efficient" and report["key"] is None
        assert report["reasons"] == ["no key column (one pass over the query), row estimate from statistics, "
                                     "connections to spare"]  # fmt: skip
        assert not any("indexed" in reason for reason in report["reasons"])
    finally:
        pg.execute(f"DROP TABLE {table_name}")


@pytest.mark.pg
@pytest.mark.parametrize(
    ("export", "field"),
    [
        ({"mode": "incremental", "cursor_column": "modified_at"}, "cursor_column"),
        (
            {
                "mode": "incremental",
                "cursor_column": "seq",
                "incremental_cursor_mode": "coalesce",
                "cursor_fallback_column": "modified_at",
            },
            "cursor_fallback_column",
        ),
        ({"mode": "chunked", "chunk_column": "modified_at"}, "chunk_column"),
        ({"mode": "time_window", "time_column": "modified_at"}, "time_column"),
    ],
)
def test_a_key_column_that_does_not_exist_fails_check_and_run_naming_the_field(
    events: str, tmp_path: Path, export: dict[str, Any], field: str
) -> None:
    config = export_config(tmp_path, {"name": "ev", "table": events, "columns": {"amount": "decimal(20,2)"}, **export})
    (report,) = check_json(config, code=1)
    expected = f"exports[ev].{field}: column 'modified_at' is not among the export's columns (id, seq, amount,"
    assert report["errors"][0].startswith(expected) and report["key"] is None
    proc = run_cli("run", "-c", str(config), cwd=tmp_path)
    assert proc.returncode == 2 and expected in proc.stderr, proc.stderr
    assert "_rivet_q" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.parquet"))


@pytest.mark.pg
def test_check_unsafe_when_a_large_production_table_has_no_index(pg: Any, events: str, tmp_path: Path) -> None:
    """The planner's statistics say 5M rows (set directly: the verdict reads pg_class, not the table)."""
    pg.execute(f"UPDATE pg_class SET reltuples = 5000000 WHERE oid = '{events}'::regclass")
    config = export_config(tmp_path, incremental(events))
    (report,) = check_json(config)
    assert report["verdict"] == "unsafe" and report["row_estimate"] == 5_000_000
    assert "in production" in report["reasons"][0]
    check_json(config, "--strict", code=1)
    doc = yaml.safe_load(config.read_text())
    doc["source"]["environment"] = "replica"
    config.write_text(yaml.safe_dump(doc))
    (replica,) = check_json(config)
    assert replica["verdict"] == "degraded" and replica["recommended_profile"] == "balanced"


@pytest.mark.pg
def test_check_flags_unbounded_numeric_and_strict_fails(events: str, tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "ev", "table": events})
    (report,) = check_json(config)
    columns = {c["name"]: c for c in report["columns"]}
    assert columns["amount"]["flag"].startswith("unsupported: ") and "unbounded numeric" in columns["amount"]["flag"]
    assert columns["amount"]["arrow_type"] == "(needs override)"
    assert columns["tags"]["flag"].startswith("lossy: money")
    assert columns["price"] == {
        "column": "price",
        "source_type": "numeric",
        "rivet_type": "decimal(10,2)",
        "arrow_type": "decimal128(10, 2)",
        "fidelity": "exact",
        "name": "price",
        "flag": None,
    }
    assert columns["created_at"]["arrow_type"] == "timestamp[us, tz=UTC]" and columns["created_at"]["flag"] is None
    check_json(config, "--strict", code=1)
    text = run_cli("check", "-c", str(config), cwd=tmp_path)
    assert text.returncode == 0
    assert "column amount: numeric -> (needs override)" in text.stdout
    assert "column price" not in text.stdout  # unflagged columns only with --type-report
    full = run_cli("check", "-c", str(config), "--type-report", cwd=tmp_path)
    assert "column price" not in full.stdout and "Export: ev" in full.stdout
    price = next(line.split() for line in full.stdout.splitlines() if line.startswith("  price "))
    assert price == ["price", "numeric", "decimal(10,2)", "decimal128(10,", "2)", "exact"]


@pytest.mark.pg
def test_check_json_reports_every_export_with_resolved_tuning(events: str, tmp_path: Path) -> None:
    config = export_config(
        tmp_path,
        incremental(events, tuning={"batch_size": 777}),
        {
            "name": "q",
            "query": f"SELECT id, seq FROM {events} WHERE id > 1000",
            "mode": "incremental",
            "cursor_column": "id",
        },
        {
            "name": "chunks",
            "table": events,
            "mode": "chunked",
            "chunk_size": 1000,
            "parallel": 3,
            "columns": {"amount": "decimal(20,2)"},
        },
    )
    reports = {r["export"]: r for r in check_json(config)}
    assert list(reports) == ["ev", "q", "chunks"]
    assert reports["ev"]["tuning"]["batch_size"] == 777 and reports["ev"]["tuning"]["profile"] == "balanced"
    assert reports["q"]["tuning"]["batch_size"] == 10000 and reports["q"]["tuning"]["throttle_ms"] == 50
    assert reports["q"]["key"]["indexed"] == "unknown" and reports["q"]["row_estimate_from"] == "EXPLAIN"
    assert 1500 <= reports["q"]["row_estimate"] <= 2500 and reports["q"]["verdict"] == "acceptable"
    chunks = reports["chunks"]
    assert chunks["key"] == {"field": "chunk_column", "column": "id", "indexed": True}  # the primary key
    assert chunks["chunks"]["estimate"] == 4 and chunks["connections"]["needed"] == 4
    assert chunks["destination"] == {"type": "local", "credentials": "none needed"}


@pytest.mark.pg
def test_check_sparse_chunk_key_warns(pg: Any, events: str, tmp_path: Path) -> None:
    pg.execute(f"INSERT INTO {events} VALUES (1000000000, 1, 1, 1, 1, now())")
    config = export_config(
        tmp_path,
        {"name": "ev", "table": events, "mode": "chunked", "chunk_size": 1000, "columns": {"amount": "decimal(20,2)"}},
    )
    (report,) = check_json(config)
    assert report["chunks"]["note"].startswith("sparse key id")
    assert report["verdict"] == "acceptable"


@pytest.mark.pg
def test_check_unresolvable_destination_credentials_fail(events: str, tmp_path: Path) -> None:
    destination = {
        "type": "s3",
        "bucket": "b",
        "access_key_env": "RIVET_TEST_UNSET_KEY",
        "secret_key_env": "RIVET_TEST_UNSET_SECRET",
    }
    config = export_config(tmp_path, incremental(events, destination=destination))
    (report,) = check_json(config, code=1)
    assert "RIVET_TEST_UNSET_KEY is not set" in report["destination"]["error"]


@pytest.mark.pg
def test_check_query_that_does_not_resolve(tmp_path: Path) -> None:
    config = export_config(tmp_path, {"name": "ev", "query": "SELECT * FROM rivet_no_such_table"})
    (report,) = check_json(config, code=1)
    assert report["query"].startswith("failed: ") and "rivet_no_such_table" in report["query"]


@pytest.mark.mysql
def test_check_mysql_index_and_estimate(mysql: Any, table_name: str, tmp_path: Path) -> None:
    cur = mysql.cursor()
    cur.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, seq int NOT NULL, note varchar(20))")
    try:
        cur.execute(f"INSERT INTO {table_name} (id, seq) SELECT seq, seq FROM seq_1_to_500")
        cur.execute(f"ANALYZE TABLE {table_name}")
        cur.fetchall()
        config = write_source(
            tmp_path,
            {"type": "mysql", "url": "mysql://root@127.0.0.1:3306/test"},
            table=table_name,
            mode="incremental",
            cursor_column="seq",
        )
        (before,) = check_json(config)
        assert before["key"]["indexed"] is False and before["verdict"] == "degraded"
        assert before["row_estimate"] == 500
        assert [c["name"] for c in before["columns"]] == ["id", "seq", "note"]
        cur.execute(f"CREATE INDEX seq_idx ON {table_name} (seq)")
        (after,) = check_json(config)
        assert after["key"]["indexed"] is True and after["verdict"] == "efficient"
        assert after["reasons"] == ["cursor_column seq indexed, row estimate from statistics, connections to spare"]
        doc = yaml.safe_load(config.read_text())
        doc["exports"][0]["cursor_column"] = "SEQ"  # MySQL names match in any case
        config.write_text(yaml.safe_dump(doc))
        assert check_json(config)[0]["errors"] == []
        doc["exports"][0]["cursor_column"] = "modified_at"
        config.write_text(yaml.safe_dump(doc))
        (missing,) = check_json(config, code=1)
        assert missing["errors"] == [
            "exports[ev].cursor_column: column 'modified_at' is not among the export's columns (id, seq, note)"
        ]
    finally:
        cur.execute(f"DROP TABLE {table_name}")
