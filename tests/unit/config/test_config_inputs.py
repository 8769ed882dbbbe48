"""rivet_core.config: hostile or odd inputs end in one ConfigError naming the field — URLs, numbers, YAML."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from rivet_core.config import load_config, parse_config
from rivet_core.config.loading import MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_VALUES
from rivet_core.errors import ConfigError

from .config_cases import BILLION_LAUGHS, MINIMAL, error_of, load_dict, minimal, write

SECRET = "Pw-S3cret-4711"


def source_error(tmp_path: Path, source: dict[str, Any]) -> str:
    data = minimal()
    data["source"] = source
    return error_of(tmp_path, data)


# ---------------------------------------------------------------------------------------------------------
# URL shape (inline url: at load; url_env / url_file when resolved)
# ---------------------------------------------------------------------------------------------------------

BAD_URLS = [
    ("no scheme", "postgres", f"u:{SECRET}@localhost:5432/db", "not a URL: expected postgresql://"),
    ("mysql under postgres", "postgres", f"mysql://u:{SECRET}@h/d?x={SECRET}", "scheme mysql:// does not match"),
    ("postgres under mysql", "mysql", f"postgresql://u:{SECRET}@h/d", "scheme postgresql:// does not match"),
    ("unclosed IPv6", "postgres", f"postgresql://u:{SECRET}@[::1/d", "malformed IPv6 host"),
    ("not IPv6", "postgres", f"postgresql://u:{SECRET}@[zz::1]/d", "malformed IPv6 host"),
    ("bare IPv6", "postgres", "postgresql://u@::1/d", "write an IPv6 address in brackets"),
    ("port out of range", "postgres", f"postgresql://u:{SECRET}@h:99999/d", "the port must be a number 1..65535"),
    ("port not a number", "mysql", f"mysql://u:{SECRET}@h:abc/d", "the port must be a number 1..65535"),
    ("unencoded / and ? in password", "postgres", "postgresql://u:Pw/x?S3cret@h/d", "percent-encode"),
    ("database with a space", "postgres", f"postgresql://u:{SECRET}@h/my db", "database name contains a space"),
    ("host with a space", "postgres", "postgresql://u@my host/d", "malformed host"),
    ("too long", "postgres", f"postgresql://u:{SECRET}@h/" + "d" * 100_000, "longer than 8192 characters"),
]


@pytest.mark.parametrize(("case", "kind", "url", "expected"), BAD_URLS, ids=[c[0] for c in BAD_URLS])
def test_bad_inline_url_names_the_field(tmp_path: Path, case: str, kind: str, url: str, expected: str) -> None:
    message = source_error(tmp_path, {"type": kind, "url": url})
    assert [line for line in message.splitlines() if line.startswith("  source.url: ") and expected in line]
    assert SECRET not in message and "S3cret" not in message


@pytest.mark.parametrize(("case", "kind", "url", "expected"), BAD_URLS, ids=[c[0] for c in BAD_URLS])
def test_bad_url_in_env_names_the_variable(tmp_path: Path, case: str, kind: str, url: str, expected: str) -> None:
    cfg = load_dict(tmp_path, {**MINIMAL, "source": {"type": kind, "url_env": "DB_URL"}})
    with pytest.raises(ConfigError) as info:
        cfg.source.resolve_url(cfg.base_dir, env={"DB_URL": url})
    message = str(info.value)
    assert message.startswith("source.url_env: the URL in DB_URL is ") and expected in message
    assert SECRET not in message and "S3cret" not in message


@pytest.mark.parametrize("value", [123, 1.5, True, ["postgresql://u@h/d"]])
def test_url_must_be_a_string(tmp_path: Path, value: Any) -> None:
    assert "  source.url: Input should be a valid string" in source_error(tmp_path, {"type": "postgres", "url": value})


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("postgres", "postgres://u@h/d"),
        ("postgres", "postgresql://u:p@ss@h:5432/d?sslmode=require"),
        ("postgres", "postgresql:///test?host=/var/run/postgresql"),
        ("postgres", "postgresql://u@h1:5432,h2:5433/d"),
        ("postgres", "postgresql://u@[::1]:5432/d"),
        ("postgres", "postgresql://u@[fe80::1%25eth0]/d"),
        ("postgres", "postgresql://u@h/my%20db"),
        ("mysql", "mysql://root@127.0.0.1:3306/test"),
        ("mysql", "mariadb://root@localhost/test?ssl-mode=REQUIRED"),
    ],
)
def test_good_urls_load(tmp_path: Path, kind: str, url: str) -> None:
    cfg = load_dict(tmp_path, {**MINIMAL, "source": {"type": kind, "url": url}})
    assert cfg.source.resolve_url(cfg.base_dir, env={}) == url


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (f"root:x:0:0:{SECRET}:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin\n", "does not hold a URL"),
        (f"just-a-token-{SECRET}\n", "does not hold a URL"),
        (b"\xff\xfe\x00binary" + SECRET.encode(), "does not hold a URL (not UTF-8 text)"),
        ("postgresql://u@h/" + "d" * 20_000 + SECRET, "does not hold a URL (longer than 8192 characters)"),
        (f"mysql://u:{SECRET}@h/d\n", "is invalid: scheme mysql:// does not match"),
    ],
)
def test_url_file_errors_never_quote_the_file(tmp_path: Path, content: str | bytes, expected: str) -> None:
    file = tmp_path / "db.url"
    file.write_bytes(content if isinstance(content, bytes) else content.encode())
    cfg = load_dict(tmp_path, {**MINIMAL, "source": {"type": "postgres", "url_file": "db.url"}})
    with pytest.raises(ConfigError) as info:
        cfg.source.resolve_url(cfg.base_dir)
    message = str(info.value)
    assert message.startswith("source.url_file: ") and expected in message
    assert SECRET not in message and "root:x" not in message and "just-a-token" not in message


# ---------------------------------------------------------------------------------------------------------
# Numbers: documented ranges, strict ints and booleans
# ---------------------------------------------------------------------------------------------------------

# (key, where, lowest allowed, highest allowed); where = "tuning" (exports[0].tuning) or "export".
RANGES = [
    ("batch_size", "tuning", 1, 1_000_000),
    ("throttle_ms", "tuning", 0, 60_000),
    ("statement_timeout_s", "tuning", 0, 604_800),
    ("lock_timeout_s", "tuning", 0, 86_400),
    ("max_retries", "tuning", 0, 20),
    ("retry_backoff_ms", "tuning", 0, 300_000),
    ("memory_threshold_mb", "tuning", 0, 1_048_576),
    ("max_batch_memory_mb", "tuning", 1, 1_048_576),
    ("batch_size_memory_mb", "tuning", 1, 1_048_576),
    ("parallel", "export", 1, 64),
    ("chunk_size", "export", 1, 10**18),
    ("chunk_count", "export", 1, 100_000),
    ("chunk_by_days", "export", 1, 36_600),
    ("chunk_max_attempts", "export", 1, 100),
    ("chunk_size_memory_mb", "export", 1, 1_048_576),
    ("days_window", "export", 1, 3660),
]
_CHUNKED_ONLY = {"chunk_by_days"}  # keys refused outside mode: chunked


def with_value(key: str, where: str, value: Any) -> dict[str, Any]:
    if where == "tuning":
        return minimal(tuning={key: value})
    return minimal(**{key: value}, **({"mode": "chunked"} if key in _CHUNKED_ONLY else {}))


def path_of(key: str, where: str) -> str:
    return f"exports[0].tuning.{key}" if where == "tuning" else f"exports[0].{key}"


@pytest.mark.parametrize(("key", "where", "low", "high"), RANGES, ids=[r[0] for r in RANGES])
def test_number_ranges(tmp_path: Path, key: str, where: str, low: int, high: int) -> None:
    for ok in (low, high):
        load_dict(tmp_path, with_value(key, where, ok))
    assert f"{path_of(key, where)}: Input should be less than or equal to {high}" in error_of(
        tmp_path, with_value(key, where, high + 1)
    )
    below = "greater than 0" if low == 1 else "greater than or equal to 0"
    assert f"{path_of(key, where)}: Input should be {below}" in error_of(tmp_path, with_value(key, where, low - 1))


@pytest.mark.parametrize(("key", "where", "low", "high"), RANGES, ids=[r[0] for r in RANGES])
@pytest.mark.parametrize("value", ["2", True, 2.0, "1e3"])
def test_ints_are_strict(tmp_path: Path, key: str, where: str, low: int, high: int, value: Any) -> None:
    assert f"{path_of(key, where)}: Input should be a valid integer" in error_of(
        tmp_path, with_value(key, where, value)
    )


def test_huge_numbers_from_the_issue(tmp_path: Path) -> None:
    message = error_of(tmp_path, minimal(tuning={"retry_backoff_ms": 10**15, "batch_size": 10**15}))
    assert "exports[0].tuning.retry_backoff_ms: Input should be less than or equal to 300000" in message
    assert "exports[0].tuning.batch_size: Input should be less than or equal to 1000000" in message


@pytest.mark.parametrize("key", ["chunk_dense", "chunk_checkpoint", "skip_empty"])
@pytest.mark.parametrize("value", ["true", 1, "yes"])
def test_bools_are_strict(tmp_path: Path, key: str, value: Any) -> None:
    assert f"exports[0].{key}: Input should be a valid boolean" in error_of(tmp_path, minimal(**{key: value}))


def test_other_numbers_are_bounded(tmp_path: Path) -> None:
    data = minimal(
        max_file_size="2TB",
        parquet={"row_group_rows": 10**9, "target_row_group_mb": 5000},
        quality={"unique_max_entries": 10**9, "row_count_min": "5"},
    )
    data["source"] = {"type": "postgres", "host": "h", "user": "u", "database": "d", "port": "5432"}
    message = error_of(tmp_path, data)
    assert "exports[0].max_file_size: must be at most 1TB" in message
    assert "exports[0].parquet.row_group_rows: Input should be less than or equal to 100000000" in message
    assert "exports[0].parquet.target_row_group_mb: Input should be less than or equal to 4096" in message
    assert "exports[0].quality.unique_max_entries: Input should be less than or equal to 100000000" in message
    assert "exports[0].quality.row_count_min.value: Input should be a valid integer" in message
    assert "source.port: Input should be a valid integer" in message
    assert load_dict(tmp_path, minimal(max_file_size="1TB")).exports[0].max_file_size_bytes == 1024**4


def test_a_whole_var_reference_takes_the_fields_type(tmp_path: Path) -> None:
    """rivet-cli substitutes in the text before parsing, so `parallel: ${N}` is an int there too."""
    text = """\
        source:
          type: postgres
          host: h
          user: u
          database: d
          port: ${PORT}
          password: ${PW}
        exports:
          - name: a
            table: a
            mode: chunked
            parallel: ${N}
            chunk_dense: ${DENSE}
            max_file_size: ${SIZE}
            format: parquet
            tuning:
              batch_size: ${BATCH}
            quality:
              row_count_min: ${MIN}
            destination: {type: local, path: out}
    """
    env = {"PORT": "6432", "PW": "0123", "N": "4", "DENSE": "true", "SIZE": "1024", "BATCH": "500", "MIN": "7"}
    cfg = load_config(write(tmp_path, text), env=env)
    export = cfg.exports[0]
    assert (cfg.source.port, cfg.source.password) == (6432, "0123")
    assert (export.parallel, export.chunk_dense, export.max_file_size_bytes) == (4, True, 1024)
    assert cfg.tuning_for(export).batch_size == 500
    assert export.quality is not None and export.quality.row_count_min is not None
    assert export.quality.row_count_min.value == 7
    assert "exports[0].parallel: Input should be a valid integer" in error_of(tmp_path, text, {**env, "N": "four"})


# ---------------------------------------------------------------------------------------------------------
# YAML hardening: bounded before `${VAR}` expansion walks anything
# ---------------------------------------------------------------------------------------------------------


def test_billion_laughs_fails_fast(tmp_path: Path) -> None:
    start = time.monotonic()
    message = error_of(tmp_path, BILLION_LAUGHS + "\n")
    assert time.monotonic() - start < 1.0
    assert message == f"{tmp_path / 'rivet.yaml'}: more than {MAX_VALUES} values once aliases are expanded"


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    depth = MAX_DEPTH + 10
    message = error_of(tmp_path, "source: " + "[" * depth + "]" * depth + "\n")
    assert message.startswith(f"{tmp_path / 'rivet.yaml'} line 1: nested deeper than {MAX_DEPTH} levels")


def test_deep_nesting_through_aliases_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [[[[*a{i - 1}]]]]" for i in range(1, 30)]
    message = error_of(tmp_path, "\n".join(lines) + "\n")
    assert message.endswith(f"nested deeper than {MAX_DEPTH} levels once aliases are expanded")


@pytest.mark.parametrize("text", ["a: &a [*a]\n", 'source: &s {type: postgres, url: "postgresql://u@h/d", x: *s}\n'])
def test_recursive_alias_is_refused(tmp_path: Path, text: str) -> None:
    assert error_of(tmp_path, text).endswith("an alias refers to the node that contains it")


def test_oversized_document_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "rivet.yaml"
    path.write_text("# " + "x" * MAX_DOCUMENT_BYTES + "\n")
    with pytest.raises(ConfigError, match=r"larger than 2 MiB"):
        load_config(path, env={})


def test_ordinary_aliases_still_work(tmp_path: Path) -> None:
    text = """\
        defaults: &dest {type: local, path: out}
        source: {type: postgres, url: "postgresql://u@h/d"}
        exports:
          - {name: a, table: a, format: csv, destination: *dest}
          - {name: b, table: b, format: csv, destination: *dest}
    """
    message = error_of(tmp_path, text)  # the anchor's holder is an unknown key, the aliases are fine
    assert message.splitlines()[1:] == ["  defaults: unknown key (allowed: source, exports, notifications, "
                                        "parallel_exports, parallel_export_processes, dagster)"]  # fmt: skip


def test_params_override_the_environment(tmp_path: Path) -> None:
    data = minimal(destination={"type": "local", "path": "${OUT}"})
    path = write(tmp_path, "")
    path.unlink()
    cfg = parse_config(data, env={"OUT": "env"})
    assert cfg.exports[0].destination.type == "local" and cfg.exports[0].destination.path == "env"
    import yaml

    path.write_text(yaml.safe_dump(data))
    cfg = load_config(path, env={"OUT": "env"}, params=["OUT=param"])
    assert cfg.exports[0].destination.type == "local" and cfg.exports[0].destination.path == "param"
    with pytest.raises(ConfigError, match=r"--param 'OUT': expected KEY=VALUE"):
        load_config(path, env={}, params=["OUT"])


def test_the_cli_warns_about_a_param_used_only_in_a_comment(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`--param` use is what the expanded config reads: a `${NAME}` in a YAML comment is no use (warned, as 0.7.7)."""
    from rivet_core.cli.common import load

    path = tmp_path / "rivet.yaml"
    path.write_text(
        "# ${COMMENTED} is not read\n"
        "source: {type: postgres, url: 'postgresql://u@h/${DB}'}\n"
        "exports: [{name: e, table: t, format: csv, destination: {type: local, path: .}}]\n"
    )
    with caplog.at_level(logging.WARNING, logger="rivet"):
        cfg = load(str(path), ("DB=shop", "COMMENTED=1"))
    assert cfg.source.url == "postgresql://u@h/shop"
    assert [r.getMessage() for r in caplog.records] == [
        f"--param COMMENTED is not used: no value of {path} reads ${{COMMENTED}}"
    ]
