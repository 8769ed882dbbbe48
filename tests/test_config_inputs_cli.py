"""`rivet run -c bad.yaml` for each class of hostile config input: exit 2, the field named, no traceback/secret.

Server-free (every case fails before a connection is attempted) but not unit tier: it runs the CLI as a process.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import run_cli, write_config
from unit.config.config_cases import BILLION_LAUGHS

SECRET = "CliS3cret0815"
DEST = "destination: {type: local, path: ./out}"


def config(source: str = "url: postgresql://u@127.0.0.1:1/d", export: str = "table: t") -> str:
    return f"source: {{type: postgres, {source}}}\nexports:\n  - {{name: x, {export}, format: parquet, {DEST}}}\n"


CASES = [
    ("url not a string", config("url: 123"), "source.url: Input should be a valid string"),
    ("url scheme", config(f"url: 'mysql://u:{SECRET}@h/d?pw={SECRET}'"), "source.url: scheme mysql:// does not"),
    ("url IPv6", config(f"url: 'postgresql://u:{SECRET}@[::1/d'"), "source.url: malformed IPv6 host"),
    ("url database", config(f"url: 'postgresql://u:{SECRET}@h/my db'"), "source.url: the database name"),
    ("huge number", config(export="table: t, tuning: {retry_backoff_ms: 1000000000000000}"),
     "exports[0].tuning.retry_backoff_ms: Input should be less than or equal to 300000"),
    ("strict int", config(export="table: t, mode: chunked, parallel: '2'"),
     "exports[0].parallel: Input should be a valid integer"),
    ("strict bool", config(export="table: t, mode: chunked, parallel: true"),
     "exports[0].parallel: Input should be a valid integer"),
    ("billion laughs", BILLION_LAUGHS + "\n", "values once aliases are expanded"),
    ("deep nesting", "source: " + "[" * 500 + "]" * 500 + "\n", "nested deeper than"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2_naming_the_field(tmp_path: Path, case: str, text: str, expected: str) -> None:
    path = write_config(tmp_path, text)
    start = time.monotonic()
    proc = run_cli("run", "-c", str(path), timeout=60)
    assert time.monotonic() - start < 30
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and expected in proc.stderr, proc.stderr
    shown = proc.stdout + proc.stderr
    assert "Traceback" not in shown and "internal error" not in shown and SECRET not in shown


@pytest.mark.parametrize(
    ("source", "content", "expected"),
    [
        ("url_file: passwd", f"root:x:0:0:{SECRET}:/root:/bin/bash\nbin:x:2:2\n", "source.url_file: "),
        ("url_env: RIVET_TEST_BAD_URL", None, "source.url_env: the URL in RIVET_TEST_BAD_URL is invalid"),
    ],
)
def test_bad_url_source_exits_2_without_the_content(
    tmp_path: Path, source: str, content: str | None, expected: str
) -> None:
    if content is not None:
        (tmp_path / "passwd").write_text(content)
    path = write_config(tmp_path, config(source))
    proc = run_cli("run", "-c", str(path), env={"RIVET_TEST_BAD_URL": f"mysql://u:{SECRET}@h/d"}, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr, proc.stderr
    shown = proc.stdout + proc.stderr
    assert "Traceback" not in shown and SECRET not in shown and "root:x" not in shown
