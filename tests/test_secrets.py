"""No piece of a password reaches a user or a file: passwords holding `/ ? @ # % :`, right and wrong, both engines.

Real users are created with each password (PostgreSQL trusts 127.0.0.1, so its password check is pgBouncer's, as
in tests/pgbouncer.py). `rivet run`, `check`, `doctor` and `plan -o` run as processes, `dagster asset materialize`
too; then stdout, stderr and every file under the test folder (plan.json, `.rivet_state.db*`, manifests, output,
DAGSTER_HOME) are searched for each `FRAGMENT`-character piece of the password, raw and percent-encoded.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from conftest import run_cli, run_dagster
from pgbouncer import BINARY as PGBOUNCER
from pgbouncer import PgBouncer
from psycopg import sql

from rivet_core.redact import FRAGMENT

# One password per special character, each piece between them long enough to be a fragment on its own; the
# last is the case (an unencoded `/` then `?`: libpq quotes everything after the `?`).
CASES = {
    "slash": "/",
    "question": "?",
    "at": "@",
    "hash": "#",
    "percent": "%",
    "colon": ":",
    "slash-question": "/?",
}
URL_VAR = "RIVET_SECRET_TEST_URL"
PW_VAR = "RIVET_SECRET_TEST_PW"


def password(case: str, right: bool) -> str:
    """A password holding the case's characters (both of them for `slash-question`), distinct when wrong."""
    if case == "all":
        return "Kx7q/Zr4w?Pm9v@Tg5h#Yc6j%Nd3s:Fe8b" if right else "Wq3n/Ht8y?Lb2d@Rv5k#Jm6x%Qs3t:Gu8c"
    chars = CASES[case]
    return f"Kx7q{chars[0]}Zr4w{chars[-1]}Pm9v" if right else f"Wq3n{chars[0]}Ht8y{chars[-1]}Lb2d"


def fragments(secret: str) -> set[str]:
    """Every `FRAGMENT`-character piece of the secret, raw and percent-encoded (longer pieces contain one)."""
    forms = {secret, quote(secret, safe="")}
    return {form[i : i + FRAGMENT] for form in forms for i in range(len(form) - FRAGMENT + 1)}


def leaks(secret: str, texts: dict[str, str]) -> list[str]:
    """`where: fragment` for each fragment of `secret` found in one of `texts`."""
    pieces = fragments(secret)
    return sorted(f"{where}: {piece!r}" for where, text in texts.items() for piece in pieces if piece in text)


def folder_texts(folder: Path) -> dict[str, str]:
    """Every file under `folder` (state DB, WAL, plan, manifests, output, Dagster storage) as text."""
    return {
        str(path.relative_to(folder)): path.read_bytes().decode("utf-8", "replace")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@dataclass
class Login:
    """A database user and how to reach the server: the real one for the right password, else a checking one."""

    engine: str
    user: str
    table: str
    port: int
    checking_port: int

    def source(self, form: str, right: bool) -> dict[str, Any]:
        """The `source:` block: the URL (unencoded password) in an env var, or structured with password_env."""
        port = self.port if right else self.checking_port
        if form == "url_env":
            return {"type": self.engine, "url_env": URL_VAR}
        return {"type": self.engine, "host": "127.0.0.1", "port": port, "user": self.user, "database": "test",
                "password_env": PW_VAR}  # fmt: skip

    def env(self, form: str, secret: str, right: bool) -> dict[str, str]:
        port = self.port if right else self.checking_port
        scheme = "postgresql" if self.engine == "postgres" else "mysql"
        if form == "url_env":
            return {URL_VAR: f"{scheme}://{self.user}:{secret}@127.0.0.1:{port}/test"}
        return {PW_VAR: secret}


@contextmanager
def pg_login(pg: Any, case: str) -> Iterator[Login]:
    """A Postgres role with the case's right password, a table it may read, and a pgBouncer that checks it."""
    if not Path(PGBOUNCER).exists():
        pytest.skip("pgbouncer is not installed (apt-get install -y --no-install-recommends pgbouncer)")
    name = f"rivet_sec_{uuid.uuid4().hex[:8]}"
    secret = password(case, right=True)
    pg.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(secret)))
    pg.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, v text)").format(sql.Identifier(name)))
    pg.execute(sql.SQL("INSERT INTO {} VALUES (1, 'a'), (2, 'b')").format(sql.Identifier(name)))
    pg.execute(sql.SQL("GRANT SELECT ON {0} TO {0}").format(sql.Identifier(name)))
    bouncer = PgBouncer({name: secret})
    try:
        yield Login("postgres", name, name, 5432, bouncer.port)
    finally:
        bouncer.stop()
        pg.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
        pg.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@contextmanager
def mysql_login(mysql: Any, case: str) -> Iterator[Login]:
    """A MariaDB user with the case's right password and a table it may read (MariaDB checks passwords)."""
    name = f"rivet_sec_{uuid.uuid4().hex[:8]}"
    cur = mysql.cursor()
    cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (name, password(case, right=True)))
    cur.execute(f"CREATE TABLE test.`{name}` (id int PRIMARY KEY, v text)")
    cur.execute(f"INSERT INTO test.`{name}` VALUES (1, 'a'), (2, 'b')")
    cur.execute(f"GRANT SELECT ON test.`{name}` TO %s@'%%'", (name,))
    try:
        yield Login("mysql", name, name, 3306, 3306)
    finally:
        cur.execute(f"DROP TABLE test.`{name}`")
        cur.execute("DROP USER %s@'%%'", (name,))


def write_config(folder: Path, source: dict[str, Any], table: str) -> Path:
    """rivet.yaml with one export `ev` of `table` to ./out (a Dagster asset raw/ev)."""
    folder.mkdir(parents=True, exist_ok=True)
    export = {"name": "ev", "table": table, "format": "parquet", "destination": {"type": "local", "path": "./out"},
              "dagster": {"key_prefix": ["raw"]}}  # fmt: skip
    path = folder / "rivet.yaml"
    path.write_text(yaml.safe_dump({"source": source, "exports": [export]}, sort_keys=False))
    return path


# Every command for the cases that hold every trap at once; `run` alone for one character (its URL parsing is
# what differs; the commands share the redaction path).
EVERY_COMMAND = {"slash-question", "all"}


def exercise(folder: Path, login: Login, form: str, case: str) -> tuple[dict[str, str], dict[bool, int]]:
    """Run the CLI with the right password (run, plan) and a wrong one (run, check, doctor, plan); what it left.

    Returns every output and file as text, and the exit code of `run` by right/wrong.
    """
    texts: dict[str, str] = {}
    run_codes: dict[bool, int] = {}
    for right in (True, False):
        where = folder / ("right" if right else "wrong")
        config = write_config(where, login.source(form, right), login.table)
        env = login.env(form, password(case, right), right)
        commands = [["run"], ["plan", "-o", "plan.json"]] if case in EVERY_COMMAND else [["run"]]
        if not right and case in EVERY_COMMAND:
            commands[1:1] = [["check"], ["doctor"]]
        for command in commands:
            proc = run_cli(*command, "-c", str(config), cwd=where, env=env, timeout=180)
            texts[f"{where.name} {command[0]} stdout"] = proc.stdout
            texts[f"{where.name} {command[0]} stderr"] = proc.stderr
            if command == ["run"]:
                run_codes[right] = proc.returncode
        texts.update({f"{where.name}/{name}": text for name, text in folder_texts(where).items()})
    return texts, run_codes


def assert_no_leak(case: str, texts: dict[str, str]) -> None:
    found = leaks(password(case, right=True), texts) + leaks(password(case, right=False), texts)
    assert found == [], "\n".join(found)


# Unencoded in a URL each character is its own parsing trap; the structured form encodes the password itself, so
# one password holding all of them (`all`) covers it.
FORMS_CASES = [("url_env", case) for case in CASES] + [("password_env", "all")]


@pytest.mark.pg
@pytest.mark.parametrize(("form", "case"), FORMS_CASES)
def test_postgres_password_never_leaks(pg: Any, tmp_path: Path, case: str, form: str) -> None:
    with pg_login(pg, case) as login:
        texts, codes = exercise(tmp_path, login, form, case)
    if form == "password_env":
        assert codes == {True: 0, False: 1}, texts
    assert_no_leak(case, texts)


@pytest.mark.mysql
@pytest.mark.parametrize(("form", "case"), FORMS_CASES)
def test_mariadb_password_never_leaks(mysql: Any, tmp_path: Path, case: str, form: str) -> None:
    with mysql_login(mysql, case) as login:
        texts, codes = exercise(tmp_path, login, form, case)
    if form == "password_env":
        assert codes == {True: 0, False: 1}, texts
    assert_no_leak(case, texts)


def materialize(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`dagster asset materialize --select raw/ev` in process, DAGSTER_HOME inside `folder`."""
    home = folder / "dagster_home"
    home.mkdir()
    config = '{"execution": {"config": {"in_process": {}}}}'
    args = ["asset", "materialize", "--select", "raw/ev", "--config-json", config, "-m", "rivet_dagster.definitions"]
    env = {**env, "RIVET_CONFIG": "rivet.yaml", "DAGSTER_HOME": str(home)}
    return run_dagster(*args, cwd=folder, env=env, timeout=180)


@pytest.mark.dagster
@pytest.mark.pg
@pytest.mark.parametrize("case", ["slash-question", "percent"])
def test_dagster_wrong_password_never_reaches_dagster_home(pg: Any, tmp_path: Path, case: str) -> None:
    with pg_login(pg, case) as login:
        write_config(tmp_path, login.source("url_env", right=False), login.table)
        proc = materialize(tmp_path, login.env("url_env", password(case, right=False), right=False))
    assert proc.returncode != 0, proc.stderr[-2000:]
    texts = {"stdout": proc.stdout, "stderr": proc.stderr, **folder_texts(tmp_path)}
    assert_no_leak(case, texts)


@pytest.mark.dagster
@pytest.mark.mysql
@pytest.mark.parametrize("case", ["percent"])
def test_dagster_wrong_mariadb_password_never_reaches_dagster_home(mysql: Any, tmp_path: Path, case: str) -> None:
    with mysql_login(mysql, case) as login:
        write_config(tmp_path, login.source("url_env", right=False), login.table)
        proc = materialize(tmp_path, login.env("url_env", password(case, right=False), right=False))
    assert proc.returncode != 0, proc.stderr[-2000:]
    texts = {"stdout": proc.stdout, "stderr": proc.stderr, **folder_texts(tmp_path)}
    assert_no_leak(case, texts)
