"""`rivet init`: a starting rivet.yaml (or a JSON discovery artifact) from live tables.

Per table: its columns, primary key and an obvious cursor column (incremental when one exists, else full). A
column that can never be exported as found (an unbounded `numeric`) is warned about with the `columns:` override
that fixes it, never scaffolded silently.
"""

from __future__ import annotations

import os
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import yaml

from rivet_core import __version__
from rivet_core.config import PROFILES, SourceConfig, Tuning
from rivet_core.errors import ConfigError
from rivet_core.sources import open_source

Engine = Literal["postgres", "mysql"]
UrlForm = Literal["url", "url_env", "url_file"]

_CURSOR_NAMES = ("updated_at", "modified_at", "last_modified", "updated", "changed_at")
_CURRENT_SCHEMA = {"postgres": "current_schema()", "mysql": "DATABASE()"}
_SCHEMES: dict[str, Engine] = {"postgres": "postgres", "postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}
PASSWORD_VAR = "RIVET_SOURCE_PASSWORD"


@dataclass(frozen=True)
class InitSource:
    """Where `rivet init` reads the source URL from (`--source`, `--source-env`, `--source-file`)."""

    form: UrlForm
    value: str  # the URL, the env var name or the file path

    def url(self) -> str:
        """The URL to connect with now (errors name the flag)."""
        if self.form == "url":
            return self.value
        if self.form == "url_env":
            url = os.environ.get(self.value)
            if not url:
                raise ConfigError(f"--source-env: environment variable {self.value} is not set")
            return url
        try:
            text = Path(self.value).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"--source-file: cannot read {self.value}: {exc.strerror or exc}") from None
        if not text:
            raise ConfigError(f"--source-file: {self.value} is empty")
        return text.splitlines()[0].strip()

    def engine(self, url: str) -> Engine:
        scheme = urlsplit(url).scheme.split("+", 1)[0]
        if scheme not in _SCHEMES:
            raise ConfigError(f"--source: unsupported URL scheme {scheme!r} (postgresql:// or mysql://)")
        return _SCHEMES[scheme]

    def yaml_source(self, engine: Engine) -> tuple[dict[str, Any], list[str]]:
        """The `source:` block, and notes: an inline URL is written without its password."""
        if self.form != "url":
            return {"type": engine, self.form: self.value}, []
        parts = urlsplit(self.value)
        if parts.password is None:
            return {"type": engine, "url": self.value}, []
        netloc = f"{parts.username or ''}:${{{PASSWORD_VAR}}}@{parts.hostname}" + (
            f":{parts.port}" if parts.port else ""
        )
        note = f"the password is not written into the config: export {PASSWORD_VAR} before `rivet run`"
        return {"type": engine, "url": urlunsplit(parts._replace(netloc=netloc))}, [note]


@dataclass(frozen=True)
class InitDestination:
    """Where the scaffolded exports write: a local path, or an S3 / GCS bucket under `exports/<table>/`."""

    path: str = "./out/{export}"
    s3_bucket: str | None = None
    s3_region: str | None = None
    gcs_bucket: str | None = None
    gcs_credentials_file: str | None = None

    def block(self, table: str) -> dict[str, Any]:
        if self.s3_bucket:
            s3 = {"type": "s3", "bucket": self.s3_bucket, "prefix": f"exports/{table}/"}
            return s3 | ({"region": self.s3_region} if self.s3_region else {})
        if self.gcs_bucket:
            gcs = {"type": "gcs", "bucket": self.gcs_bucket, "prefix": f"exports/{table}/"}
            return gcs | ({"credentials_file": self.gcs_credentials_file} if self.gcs_credentials_file else {})
        return {"type": "local", "path": self.path}


@dataclass
class TableInfo:
    """What discovery found about one table or view."""

    schema: str | None
    table: str
    columns: list[dict[str, Any]]
    primary_key: list[str]
    mode: str = "full"
    cursor_column: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table


def _query(conn: Any, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """A catalog query (information_schema rows: small, bounded by the number of tables/columns)."""
    with closing(conn.cursor()) as cur:
        cur.execute(sql, params)
        return [tuple(r) for r in cur.fetchall()]


def _tables(conn: Any, engine: Engine, schema: str | None) -> list[str]:
    rows = _query(
        conn,
        "SELECT table_name FROM information_schema.tables"
        f" WHERE table_schema = COALESCE(%s, {_CURRENT_SCHEMA[engine]})"
        " AND table_type IN ('BASE TABLE', 'VIEW') ORDER BY table_name",
        (schema,),
    )
    return [str(r[0]) for r in rows]


def _inspect(conn: Any, engine: Engine, schema: str | None, table: str, export: str) -> TableInfo:
    where = f" WHERE table_schema = COALESCE(%s, {_CURRENT_SCHEMA[engine]}) AND table_name = %s"
    rows = _query(
        conn,
        "SELECT column_name, data_type, is_nullable, numeric_precision FROM information_schema.columns"
        + where
        + " ORDER BY ordinal_position",
        (schema, table),
    )
    if not rows:
        shown = f"{schema}.{table}" if schema else table
        raise ConfigError(f"--table {shown}: no such table (or no columns visible to this user)")
    pk = _query(
        conn,
        "SELECT kcu.column_name FROM information_schema.table_constraints tc"
        " JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name"
        " AND kcu.table_schema = tc.table_schema AND kcu.table_name = tc.table_name"
        f" WHERE tc.table_schema = COALESCE(%s, {_CURRENT_SCHEMA[engine]}) AND tc.table_name = %s"
        " AND tc.constraint_type = 'PRIMARY KEY' ORDER BY kcu.ordinal_position",
        (schema, table),
    )
    columns: list[dict[str, Any]] = [
        {"name": str(r[0]), "type": str(r[1]), "nullable": str(r[2]).upper() == "YES"} for r in rows
    ]
    info = TableInfo(schema, table, columns, [str(r[0]) for r in pk])
    cursor = next((c["name"] for c in columns if c["name"] in _CURSOR_NAMES and "time" in c["type"].lower()), None)
    if cursor:
        info.mode, info.cursor_column = "incremental", cursor
    for name, data_type, _nullable, precision in rows:
        if engine == "postgres" and str(data_type) == "numeric" and precision is None:
            info.warnings.append(
                f"exports[{export}]: column {name} is an unbounded numeric (no precision); the export fails until "
                f'it has an override, e.g. columns: {{{name}: "decimal(38,9)"}} (the precision and scale its data '
                "needs)"
            )
    return info


def discover(source: InitSource, tables: list[str], schema: str | None) -> tuple[Engine, list[TableInfo]]:
    """Connect and describe `tables` (or every table and view of the schema)."""
    url = source.url()
    engine = source.engine(url)
    live = open_source(SourceConfig(type=engine, url=url), url, _default_tuning())
    with closing(live.connect()) as conn:
        refs = [(t.rpartition(".")[0] or schema, t.rpartition(".")[2]) for t in tables]
        if not refs:
            refs = [(schema, t) for t in _tables(conn, engine, schema)]
            if not refs:
                raise ConfigError(f"--schema: no tables or views visible in {schema or 'the default schema'}")
        return engine, [_inspect(conn, engine, s, t, _export_name(s, t, schema)) for s, t in refs]


def _export_name(schema: str | None, table: str, default_schema: str | None) -> str:
    return table if schema is None or schema == default_schema else f"{schema}_{table}"


def scaffold(
    source: InitSource, tables: list[str], *, schema: str | None, fmt: str, destination: InitDestination
) -> tuple[str, list[str]]:
    """YAML text for the tables, and the warnings to show (also written as comments at the top)."""
    engine, infos = discover(source, tables, schema)
    source_block, notes = source.yaml_source(engine)
    exports = []
    for info in infos:
        export: dict[str, Any] = {"name": _export_name(info.schema, info.table, schema), "table": info.ref}
        if info.cursor_column:
            export.update(mode="incremental", cursor_column=info.cursor_column)
        export.update(format=fmt, destination=destination.block(info.table))
        exports.append(export)
        notes += info.warnings
    body = {"source": {**source_block, "environment": "production"}, "exports": exports}
    header = "# Generated by `rivet init`; see README.md for every field.\n"
    header += "".join(f"# WARNING: {n}\n" for n in notes)
    return header + yaml.safe_dump(body, sort_keys=False), notes


def discovery(source: InitSource, tables: list[str], *, schema: str | None) -> dict[str, Any]:
    """The `--discover` artifact: every table with columns, primary key and the suggested mode."""
    engine, infos = discover(source, tables, schema)
    return {"rivet_version": __version__, "engine": engine, "schema": schema, "tables": [asdict(i) for i in infos]}


def _default_tuning() -> Tuning:
    values: dict[str, Any] = dict(PROFILES["balanced"])
    return Tuning(profile="balanced", **values)
