"""rivet.yaml (design §3): strict pydantic v2 models, loading, `${VAR}` expansion and path-naming errors.

Loading never reads a secret: `url_env`, `url_file` and `password_env` are resolved only when a source
connects (`SourceConfig.resolve_url`). Every problem becomes one `ConfigError` (exit code 2) whose lines read
`<path>: <what is wrong / what is allowed>`, e.g. `exports[1].chunk_column: required for mode: chunked ...`.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import re
import typing
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import quote, unquote, urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from rivet_core.errors import ConfigError
from rivet_core.redact import redact, redact_url

if TYPE_CHECKING:
    import pyarrow as pa

# --------------------------------------------------------------------------------------------------
# Tuning
# --------------------------------------------------------------------------------------------------

Profile = Literal["fast", "balanced", "safe"]

PROFILES: dict[str, dict[str, int]] = {
    "fast": {
        "batch_size": 50000,
        "throttle_ms": 0,
        "statement_timeout_s": 0,
        "lock_timeout_s": 0,
        "max_retries": 1,
        "retry_backoff_ms": 1000,
        "memory_threshold_mb": 0,
    },
    "balanced": {
        "batch_size": 10000,
        "throttle_ms": 50,
        "statement_timeout_s": 300,
        "lock_timeout_s": 30,
        "max_retries": 3,
        "retry_backoff_ms": 2000,
        "memory_threshold_mb": 4096,
    },
    "safe": {
        "batch_size": 2000,
        "throttle_ms": 500,
        "statement_timeout_s": 120,
        "lock_timeout_s": 10,
        "max_retries": 5,
        "retry_backoff_ms": 5000,
        "memory_threshold_mb": 2048,
    },
}

# Error types of our own, turned into path-naming lines by `_format_validation_error`.
_RULE_ERROR = "rivet_rule"
_MISPLACED_TUNING = "rivet_misplaced_tuning"

Problem = tuple[tuple[str | int, ...], str]


def _rule_error(problems: list[Problem]) -> PydanticCustomError:
    """One validation error carrying several `(sub-path, message)` problems found by a cross-field rule."""
    summary = "; ".join(f"{_format_loc(loc)}: {msg}" if loc else msg for loc, msg in problems)
    return PydanticCustomError(_RULE_ERROR, "{summary}", {"summary": summary, "problems": problems})


class _Model(BaseModel):
    """Base of every config model: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class TuningConfig(_Model):
    """Load-shaping knobs (source level, overridable per export field by field); unset = from the profile."""

    profile: Profile | None = None
    batch_size: PositiveInt | None = None
    throttle_ms: NonNegativeInt | None = None
    statement_timeout_s: NonNegativeInt | None = None
    lock_timeout_s: NonNegativeInt | None = None
    max_retries: NonNegativeInt | None = None
    retry_backoff_ms: NonNegativeInt | None = None
    memory_threshold_mb: NonNegativeInt | None = None
    max_batch_memory_mb: PositiveInt | None = None
    on_batch_memory_exceeded: Literal["warn", "fail", "auto_shrink"] | None = None


_TUNING_KEYS = tuple(TuningConfig.model_fields)


@dataclass(frozen=True)
class Tuning:
    """Tuning with every value resolved (profile → source.tuning → export.tuning); see `Config.tuning_for`."""

    profile: str
    batch_size: int
    throttle_ms: int
    statement_timeout_s: int
    lock_timeout_s: int
    max_retries: int
    retry_backoff_ms: int
    memory_threshold_mb: int
    max_batch_memory_mb: int | None = None
    on_batch_memory_exceeded: str = "warn"


def _reject_tuning_keys(data: Any) -> Any:
    """Before-validator: tuning keys written next to `table:` / `type:` get a "put it under tuning:" error."""
    if isinstance(data, Mapping):
        misplaced = [key for key in data if key in _TUNING_KEYS]
        if misplaced:
            raise PydanticCustomError(_MISPLACED_TUNING, "tuning keys go under 'tuning:' ({keys})", {"keys": misplaced})
    return data


# --------------------------------------------------------------------------------------------------
# Source
# --------------------------------------------------------------------------------------------------


class TlsConfig(_Model):
    """Transport security of the source connection (libpq sslmode semantics)."""

    mode: Literal["disable", "require", "verify-ca", "verify-full"] | None = None
    ca_file: str | None = None
    accept_invalid_certs: bool = False
    accept_invalid_hostnames: bool = False


_URL_FORMS = ("url", "url_env", "url_file")
_STRUCTURED = ("host", "port", "user", "database", "password", "password_env")


class SourceConfig(_Model):
    """The database to read: a URL (inline, from an env var or a file) or structured host/user/database."""

    type: Literal["postgres", "mysql"]
    url: str | None = Field(default=None, min_length=1, repr=False)
    url_env: str | None = Field(default=None, min_length=1)
    url_file: str | None = Field(default=None, min_length=1)
    host: str | None = Field(default=None, min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = Field(default=None, min_length=1)
    database: str | None = Field(default=None, min_length=1)
    password: str | None = Field(default=None, repr=False)
    password_env: str | None = Field(default=None, min_length=1)
    environment: Literal["production", "replica", "local"] | None = None
    tuning: TuningConfig | None = None
    tls: TlsConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_loose_tuning(cls, data: Any) -> Any:
        """Tuning keys belong under `tuning:`."""
        return _reject_tuning_keys(data)

    @model_validator(mode="after")
    def _one_connection_form(self) -> SourceConfig:
        """Exactly one of url / url_env / url_file, or structured fields; password xor password_env."""
        url_forms = [k for k in _URL_FORMS if getattr(self, k) is not None]
        structured = [k for k in _STRUCTURED if getattr(self, k) is not None]
        problems: list[Problem] = []
        if len(url_forms) > 1:
            problems.append(((), f"use exactly one of url / url_env / url_file (found: {', '.join(url_forms)})"))
        if url_forms and structured:
            problems.append(
                (
                    (),
                    f"{url_forms[0]} cannot be mixed with structured connection fields "
                    f"({', '.join(structured)}); use either url / url_env / url_file "
                    "or host + user + database",
                )
            )
        if not url_forms:
            if self.host is None:
                problems.append(
                    (
                        (),
                        "no connection given: set one of url / url_env / url_file, or host + user + database",
                    )
                )
            else:
                problems += [((k,), "required with host:") for k in ("user", "database") if getattr(self, k) is None]
        if self.password is not None and self.password_env is not None:
            problems.append(((), "use either password or password_env, not both"))
        if problems:
            raise _rule_error(problems)
        return self

    @property
    def default_port(self) -> int:
        """5432 for postgres, 3306 for mysql."""
        return 5432 if self.type == "postgres" else 3306

    @property
    def scheme(self) -> str:
        """URL scheme built for structured sources: `postgresql` or `mysql`."""
        return "postgresql" if self.type == "postgres" else "mysql"

    def resolve_url(self, base_dir: Path, env: Mapping[str, str] | None = None) -> str:
        """The connection URL, reading env vars / the url_file now (secrets are resolved only on connect).

        Errors name the env var or file, never a value. `url_file` is relative to `base_dir` (config folder).
        """
        env = os.environ if env is None else env
        if self.url is not None:
            return self.url
        if self.url_env is not None:
            return _require_env(env, self.url_env, "source.url_env")
        if self.url_file is not None:
            path = Path(self.url_file)
            path = path if path.is_absolute() else base_dir / path
            try:
                text = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"source.url_file: cannot read {path}: {exc.strerror or exc}") from None
            if not text:
                raise ConfigError(f"source.url_file: {path} is empty")
            return text
        password = self.password
        if self.password_env is not None:
            password = _require_env(env, self.password_env, "source.password_env")
        userinfo = quote(self.user or "", safe="")
        if password:
            userinfo += ":" + quote(password, safe="")
        return f"{self.scheme}://{userinfo}@{self._hostport()}/{quote(self.database or '', safe='')}"

    def display_url(self) -> str:
        """A printable form of the connection that never contains a password and reads no secret."""
        if self.url is not None:
            return redact_url(self.url)
        if self.url_env is not None:
            return f"${self.url_env}"
        if self.url_file is not None:
            return f"file:{self.url_file}"
        return f"{self.user}@{self._hostport()}/{self.database}"

    def without_secrets(self) -> SourceConfig:
        """A copy safe to persist (plan artifacts): no plaintext password, URL userinfo password masked."""
        update: dict[str, Any] = {"password": None}
        if self.url is not None:
            update["url"] = redact_url(self.url)
        return self.model_copy(update=update)

    def _hostport(self) -> str:
        host = self.host or ""
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # IPv6 literal
        return f"{host}:{self.port or self.default_port}"


def _require_env(env: Mapping[str, str], name: str, field: str) -> str:
    """The value of env var `name`; a ConfigError naming the variable (never a value) if unset or empty."""
    value = env.get(name)
    if not value:
        raise ConfigError(f"{field}: environment variable {name} is not set")
    return value


# --------------------------------------------------------------------------------------------------
# Destinations
# --------------------------------------------------------------------------------------------------


class LocalDestination(_Model):
    """A folder on the local file system (placeholders {date} {export} {table} {run_id} allowed)."""

    type: Literal["local"]
    path: str = Field(min_length=1)


class S3Destination(_Model):
    """An existing S3 (or S3-compatible) bucket; no credentials configured = the default provider chain."""

    type: Literal["s3"]
    bucket: str = Field(min_length=1)
    prefix: str = ""
    region: str | None = None
    endpoint: str | None = None
    access_key_env: str | None = None
    secret_key_env: str | None = None
    session_token_env: str | None = None
    aws_profile: str | None = None
    allow_anonymous: bool = False

    @model_validator(mode="after")
    def _key_pair(self) -> S3Destination:
        """Static keys come as a pair; a session token needs them."""
        if (self.access_key_env is None) != (self.secret_key_env is None):
            raise _rule_error([((), "set both access_key_env and secret_key_env, or neither")])
        if self.session_token_env is not None and self.access_key_env is None:
            raise _rule_error([(("session_token_env",), "needs access_key_env and secret_key_env")])
        return self


class GcsDestination(_Model):
    """An existing GCS bucket; no credentials_file = application-default credentials."""

    type: Literal["gcs"]
    bucket: str = Field(min_length=1)
    prefix: str = ""
    credentials_file: str | None = None
    endpoint: str | None = None
    allow_anonymous: bool = False


DestinationConfig = Annotated[
    LocalDestination | S3Destination | GcsDestination,
    Field(discriminator="type"),
]
_DESTINATIONS: dict[str, type[BaseModel]] = {
    "local": LocalDestination,
    "s3": S3Destination,
    "gcs": GcsDestination,
}


# --------------------------------------------------------------------------------------------------
# Output options, quality, Dagster
# --------------------------------------------------------------------------------------------------


class ParquetOptions(_Model):
    """Row-group sizing of Parquet output."""

    row_group_strategy: Literal["auto", "fixed_rows", "fixed_memory"] = "auto"
    row_group_rows: PositiveInt | None = None
    target_row_group_mb: PositiveInt | None = None
    max_row_group_mb: PositiveInt | None = None


class MetaColumns(_Model):
    """Extra columns rivet adds: `_rivet_exported_at`, `_rivet_row_hash`."""

    exported_at: bool = False
    row_hash: bool = False


Severity = Literal["error", "warn"]


class QualityRule(_Model):
    """One quality rule after loading: its threshold and what a miss does (error fails, warn degrades)."""

    value: Any
    severity: Severity = "error"


class RowCountRule(QualityRule):
    """row_count_min / row_count_max (inclusive)."""

    value: NonNegativeInt


class NullRatioRule(QualityRule):
    """null_ratio_max: column → largest allowed share of NULLs (0..1)."""

    value: dict[str, Annotated[float, Field(ge=0, le=1)]]


class UniqueColumnsRule(QualityRule):
    """unique_columns: columns whose values must not repeat."""

    value: list[str] = Field(min_length=1)


def _rule_schema(value_schema: dict[str, Any]) -> WithJsonSchema:
    """JSON Schema of a rule written bare (`5`) or wrapped (`{value: 5, severity: warn}`)."""
    wrapped = {
        "type": "object",
        "properties": {"value": value_schema, "severity": {"enum": ["error", "warn"]}},
        "required": ["value"],
        "additionalProperties": False,
    }
    return WithJsonSchema({"anyOf": [value_schema, wrapped, {"type": "null"}]})


_RULE_KEYS = ("row_count_min", "row_count_max", "null_ratio_max", "unique_columns")


class QualityConfig(_Model):
    """Quality rules checked on the stream before commit (design §6); `severity` is every rule's default."""

    row_count_min: Annotated[RowCountRule | None, _rule_schema({"type": "integer", "minimum": 0})] = None
    row_count_max: Annotated[RowCountRule | None, _rule_schema({"type": "integer", "minimum": 0})] = None
    null_ratio_max: Annotated[
        NullRatioRule | None,
        _rule_schema({"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}}),
    ] = None
    unique_columns: Annotated[
        UniqueColumnsRule | None, _rule_schema({"type": "array", "items": {"type": "string"}})
    ] = None
    unique_max_entries: PositiveInt = 1_000_000
    severity: Severity = "error"

    @model_validator(mode="before")
    @classmethod
    def _wrap_rules(cls, data: Any) -> Any:
        """Turn bare rule values into `{value, severity}` with the block's default severity."""
        if not isinstance(data, Mapping):
            return data
        default = data.get("severity", "error")
        default = default if default in ("error", "warn") else "error"
        out = dict(data)
        for key in _RULE_KEYS:
            rule = out.get(key)
            if rule is None:
                continue
            # null_ratio_max's bare form is itself a mapping: it is wrapped only when `value` holds one.
            wrapped = isinstance(rule, Mapping) and (
                key != "null_ratio_max" or ("value" in rule and isinstance(rule["value"], Mapping))
            )
            out[key] = {"severity": default, **rule} if wrapped else {"value": rule, "severity": default}
        return out

    @model_validator(mode="after")
    def _min_le_max(self) -> QualityConfig:
        """row_count_min cannot exceed row_count_max."""
        low, high = self.row_count_min, self.row_count_max
        if low is not None and high is not None and low.value > high.value:
            raise _rule_error([(("row_count_min",), "is greater than row_count_max")])
        return self

    def rules(self) -> dict[str, QualityRule]:
        """The configured rules by name."""
        return {k: rule for k in _RULE_KEYS if (rule := getattr(self, k)) is not None}


_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?#]+$")
_CRON_MACROS = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually")


class DagsterConfig(_Model):
    """Our extension: how an export appears in Dagster (export-level block, or top-level defaults)."""

    group: str | None = None
    key_prefix: Annotated[
        list[str],
        WithJsonSchema(
            {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        ),
    ] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    owners: list[str] = Field(default_factory=list)
    description: str | None = None
    schedule: str | None = None
    partition_start: datetime | date | None = None
    window: Literal["hour", "day", "week", "month"] | None = None
    automation: Literal["eager", "on_cron", "none"] | None = None

    @field_validator("group")
    @classmethod
    def _group_name(cls, value: str | None) -> str | None:
        """Dagster group names are letters, digits and underscores."""
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_]+", value):
            raise ValueError("use letters, digits and _ only (a Dagster group name)")
        return value

    @field_validator("key_prefix", mode="before")
    @classmethod
    def _split_prefix(cls, value: Any) -> Any:
        """Accept `"a/b"` as well as `[a, b]`."""
        if isinstance(value, str):
            value = [part for part in value.split("/") if part]
        if isinstance(value, list) and any(isinstance(p, str) and not p for p in value):
            raise ValueError("key_prefix parts must not be empty")
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        """A 5-field cron string (or @daily-style macro)."""
        if value is None:
            return value
        fields = value.split()
        if value.strip() in _CRON_MACROS or (len(fields) == 5 and all(_CRON_FIELD.match(f) for f in fields)):
            return " ".join(fields) if len(fields) == 5 else value.strip()
        raise ValueError(
            f"'{value}' is not a 5-field cron string (minute hour day-of-month month day-of-week), "
            "e.g. '0 3 * * *' or '@daily'"
        )

    @field_validator("partition_start", mode="before")
    @classmethod
    def _start(cls, value: Any) -> Any:
        """A date `YYYY-MM-DD` or an ISO datetime."""
        if value is None or isinstance(value, date):
            return value
        if isinstance(value, str):
            for parse in (date.fromisoformat, datetime.fromisoformat):
                try:
                    return parse(value.strip())
                except ValueError:
                    pass
        raise ValueError("use a date YYYY-MM-DD or an ISO datetime (YYYY-MM-DDTHH:MM:SS)")

    def merged_over(self, defaults: DagsterConfig | None) -> DagsterConfig:
        """This block over `defaults`: fields set here win, tags are merged (keys set here win)."""
        if defaults is None:
            return self
        values = {k: getattr(defaults, k) for k in defaults.model_fields_set}
        values.update({k: getattr(self, k) for k in self.model_fields_set})
        if "tags" in self.model_fields_set and "tags" in defaults.model_fields_set:
            values["tags"] = {**defaults.tags, **self.tags}
        return DagsterConfig.model_validate(values)


# --------------------------------------------------------------------------------------------------
# Sizes and type overrides
# --------------------------------------------------------------------------------------------------

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?I?B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_SIZE_EXAMPLES = "e.g. 10B, 512KB, 256MB, 1.5GB, or a plain number of bytes"


def parse_file_size(value: str | int) -> int:
    """Bytes of a size like "256MB", "1.5GB", "512KB", "10B" or 1024 (1024-based, case-insensitive)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"must be a size, {_SIZE_EXAMPLES}")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"'{value}' is not a size; use {_SIZE_EXAMPLES}")
        unit = (match[2] or "").upper().replace("IB", "B")
        try:
            size = int(Decimal(match[1]) * _SIZE_UNITS[unit])
        except (InvalidOperation, KeyError):
            raise ValueError(f"'{value}' is not a size; use {_SIZE_EXAMPLES}") from None
    if size <= 0:
        raise ValueError(f"must be greater than 0 bytes ({_SIZE_EXAMPLES})")
    return size


_INT_ALIASES = {
    "int8": "int8", "tinyint": "int8",
    "int16": "int16", "smallint": "int16",
    "int32": "int32", "int": "int32", "integer": "int32",
    "int64": "int64", "bigint": "int64",
    "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
}  # fmt: skip
_TYPE_ALIASES = {
    **_INT_ALIASES,
    "float32": "float32", "float": "float32", "real": "float32",
    "float64": "float64", "double": "float64",
    "string": "string", "text": "string", "utf8": "string",
    "binary": "binary", "bytes": "binary",
    "bool": "bool", "boolean": "bool",
    "date": "date",
    "time": "time",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
}  # fmt: skip
_DECIMAL = re.compile(r"^(?:decimal|numeric)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$", re.IGNORECASE)
_VALID_TYPES = (
    "decimal(p,s), int8/16/32/64, uint8/16/32/64, float32, float64, string, binary, bool, date, time, "
    "timestamp, timestamptz"
)


def _type_override_spec(text: str) -> tuple[str, tuple[int, ...]]:
    """Parse a `columns:` type override into (canonical name, args); ValueError lists the valid types."""
    cleaned = text.strip()
    if match := _DECIMAL.match(cleaned):
        precision, scale = int(match[1]), int(match[2] or 0)
        if not 1 <= precision <= 76:
            raise ValueError(f"'{text}': decimal precision must be 1..76")
        if scale > precision:
            raise ValueError(f"'{text}': decimal scale must not exceed the precision")
        return "decimal", (precision, scale)
    name = _TYPE_ALIASES.get(cleaned.lower())
    if name is None:
        raise ValueError(f"unknown type '{text}' (valid: {_VALID_TYPES})")
    return name, ()


def parse_type_override(text: str) -> pa.DataType:
    """The Arrow type of a `columns:` override such as "decimal(18,2)", "int64", "string" or "timestamptz"."""
    import pyarrow as pa  # imported here: loading a config must stay cheap

    from rivet_core.sources.types import decimal_type

    name, args = _type_override_spec(text)
    if name == "decimal":
        return decimal_type(*args)
    simple: dict[str, pa.DataType] = {
        "float32": pa.float32(),
        "float64": pa.float64(),
        "string": pa.string(),
        "binary": pa.binary(),
        "bool": pa.bool_(),
        "date": pa.date32(),
        "time": pa.time64("us"),
        "timestamp": pa.timestamp("us"),
        "timestamptz": pa.timestamp("us", tz="UTC"),
    }
    if name in simple:
        return simple[name]
    return getattr(pa, name)()  # int8 … uint64


# --------------------------------------------------------------------------------------------------
# Exports
# --------------------------------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_IDENT = r"[A-Za-z_][A-Za-z0-9_$]*"
_TABLE = re.compile(rf"^({_IDENT})(?:\.({_IDENT}))?$")
_LEVEL_RANGES = {"zstd": (-131072, 22), "gzip": (1, 9), "lz4": (1, 12)}


def _check_query_file(rel: str, base_dir: Path | None) -> Path | None:
    """The query file's path, which must stay inside the config folder (ValueError otherwise).

    Without `base_dir` only the lexical checks run (absolute path, `..` escaping); with it, symlinks pointing
    outside and a missing file are caught too.
    """
    path = Path(rel)
    if path.is_absolute():
        raise ValueError("must be a path relative to the config folder, not an absolute path")
    if Path(os.path.normpath(rel)).parts[:1] == ("..",):
        raise ValueError("must stay inside the config folder (no '..')")
    if base_dir is None:
        return None
    root = base_dir.resolve()
    full = (root / path).resolve()
    if not full.is_relative_to(root):
        raise ValueError("must stay inside the config folder (it resolves outside through a symlink)")
    if not full.is_file():
        raise ValueError(f"file not found: {root / path}")
    return full


def _strip_sql(text: str) -> str:
    """Query text without trailing whitespace and semicolons (rivet wraps it in its own statements)."""
    text = text.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


class ExportConfig(_Model):
    """One table/query → files at a destination (design §3, §4)."""

    name: str
    table: str | None = None
    query: str | None = Field(default=None, min_length=1)
    query_file: str | None = Field(default=None, min_length=1)
    mode: Literal["full", "incremental", "chunked", "time_window"] = "full"
    # incremental
    cursor_column: str | None = None
    cursor_fallback_column: str | None = None
    incremental_cursor_mode: Literal["single", "coalesce"] = "single"
    # chunked
    chunk_column: str | None = None
    chunk_size: PositiveInt | None = None
    chunk_count: PositiveInt | None = None
    chunk_by_days: PositiveInt | None = None
    chunk_dense: bool = False
    parallel: PositiveInt = 1
    chunk_checkpoint: bool = False
    chunk_max_attempts: PositiveInt = 3
    # time_window
    time_column: str | None = None
    time_column_type: Literal["timestamp", "unix"] = "timestamp"
    days_window: PositiveInt | None = None
    # output
    format: Literal["parquet", "csv"]
    compression: Literal["zstd", "snappy", "gzip", "lz4", "none"] = "zstd"
    compression_level: int | None = None
    compression_profile: Literal["none", "fast", "balanced", "compact"] | None = None
    parquet: ParquetOptions | None = None
    skip_empty: bool = False
    max_file_size: int | str | None = None
    destination: DestinationConfig
    meta_columns: MetaColumns | None = None
    quality: QualityConfig | None = None
    columns: dict[str, str] | None = None
    on_schema_drift: Literal["warn", "continue", "fail"] = "warn"
    tuning: TuningConfig | None = None
    dagster: DagsterConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_loose_tuning(cls, data: Any) -> Any:
        """Tuning keys belong under `tuning:`."""
        return _reject_tuning_keys(data)

    @field_validator("name")
    @classmethod
    def _file_safe_name(cls, value: str) -> str:
        """The name is used in file names and state keys."""
        if not _NAME.match(value):
            raise ValueError(
                "must start with a letter, digit or _ and contain only letters, digits, _ . - "
                "(it is used in file names)"
            )
        return value

    @field_validator("table")
    @classmethod
    def _table_ident(cls, value: str | None) -> str | None:
        """`t` or `schema.t`, plain identifiers (they are interpolated into SQL)."""
        if value is not None and not _TABLE.match(value):
            raise ValueError("use `table` or `schema.table` with plain identifiers (letters, digits, _, $)")
        return value

    @field_validator("query_file")
    @classmethod
    def _query_file_inside(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Relative to the config folder, never escaping it."""
        if value is not None:
            base_dir = (info.context or {}).get("base_dir")
            _check_query_file(value, Path(base_dir) if base_dir is not None else None)
        return value

    @field_validator("max_file_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        """ "256MB", "1.5GB", 1024 … checked now so a typo fails at load, not mid-export."""
        if value is not None:
            parse_file_size(value)
        return value

    @field_validator("columns")
    @classmethod
    def _type_overrides(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        """Each override must parse (see `parse_type_override`)."""
        problems: list[Problem] = []
        for column, type_text in (value or {}).items():
            try:
                _type_override_spec(type_text)
            except ValueError as exc:
                problems.append(((column,), str(exc)))
        if problems:
            raise _rule_error(problems)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ExportConfig:
        """Cross-field rules: one query form, the columns each mode needs, one chunking, a valid level."""
        problems: list[Problem] = []
        forms = [k for k in ("table", "query", "query_file") if getattr(self, k) is not None]
        if len(forms) != 1:
            found = f" (found: {', '.join(forms)})" if forms else ""
            problems.append(((), f"set exactly one of table / query / query_file{found}"))
        if self.mode == "incremental" and not self.cursor_column:
            problems.append((("cursor_column",), "required for mode: incremental"))
        if self.incremental_cursor_mode == "coalesce" and not self.cursor_fallback_column:
            problems.append((("cursor_fallback_column",), "required with incremental_cursor_mode: coalesce"))
        if self.mode == "time_window" and not self.time_column:
            problems.append((("time_column",), "required for mode: time_window"))
        chunking = [k for k in ("chunk_size", "chunk_count", "chunk_by_days") if getattr(self, k) is not None]
        if len(chunking) > 1:
            problems.append(
                (
                    (),
                    f"set at most one of chunk_size / chunk_count / chunk_by_days (found: {', '.join(chunking)})",
                )
            )
        if self.compression_level is not None:
            if self.compression in ("none", "snappy"):
                problems.append((("compression_level",), f"compression {self.compression} has no levels"))
            else:
                low, high = _LEVEL_RANGES[self.compression]
                if not low <= self.compression_level <= high:
                    problems.append(
                        (("compression_level",), f"must be {low}..{high} for compression {self.compression}")
                    )
        if problems:
            raise _rule_error(problems)
        return self

    @property
    def max_file_size_bytes(self) -> int | None:
        """`max_file_size` in bytes, or None (no rolling)."""
        return None if self.max_file_size is None else parse_file_size(self.max_file_size)

    @property
    def window_count(self) -> int:
        """How many windows `rivet run` exports for time_window (`days_window`, default 1)."""
        return self.days_window or 1

    @property
    def source_table(self) -> tuple[str | None, str] | None:
        """(schema or None, table) parsed from `table`; None for query / query_file exports."""
        if self.table is None:
            return None
        match = _TABLE.match(self.table)
        assert match is not None  # checked on load
        return (match[1], match[2]) if match[2] else (None, match[1])

    def resolved_query(self, base_dir: Path) -> str | None:
        """The SQL of a `query` / `query_file` export (trailing `;` removed), None for a `table:` export.

        `query:` text had `${VAR}` expanded at load like every config string; a query_file is read as is.
        """
        if self.query is not None:
            return _strip_sql(self.query)
        if self.query_file is None:
            return None
        try:
            path = _check_query_file(self.query_file, base_dir)
        except ValueError as exc:
            raise ConfigError(f"export '{self.name}': query_file {exc}") from None
        assert path is not None
        return _strip_sql(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------------
# Notifications and the whole file
# --------------------------------------------------------------------------------------------------


class SlackConfig(_Model):
    """Slack incoming webhook and the events that post to it."""

    webhook_url: str | None = Field(default=None, min_length=1, repr=False)
    webhook_url_env: str | None = Field(default=None, min_length=1)
    on: list[Literal["failure", "schema_change", "degraded", "success"]] = Field(default_factory=lambda: ["failure"])

    @model_validator(mode="after")
    def _one_webhook(self) -> SlackConfig:
        """Exactly one of webhook_url / webhook_url_env."""
        if (self.webhook_url is None) == (self.webhook_url_env is None):
            raise _rule_error([((), "set exactly one of webhook_url / webhook_url_env")])
        return self

    def resolve_webhook_url(self, env: Mapping[str, str] | None = None) -> str:
        """The webhook URL, reading `webhook_url_env` now (ConfigError naming the variable if unset)."""
        if self.webhook_url is not None:
            return self.webhook_url
        assert self.webhook_url_env is not None
        return _require_env(os.environ if env is None else env, self.webhook_url_env, "webhook_url_env")


class NotificationsConfig(_Model):
    """Where rivet reports failures, schema changes and degraded runs."""

    slack: SlackConfig | None = None


class Config(_Model):
    """A whole rivet.yaml; `load_config` also records its path and folder (relative paths start there)."""

    source: SourceConfig
    exports: list[ExportConfig] = Field(min_length=1)
    notifications: NotificationsConfig | None = None
    parallel_exports: bool = False
    dagster: DagsterConfig | None = None

    _path: Path | None = PrivateAttr(default=None)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @model_validator(mode="after")
    def _across_exports(self) -> Config:
        """Unique export names; chunked exports need chunk_column unless postgres takes it from the PK."""
        problems: list[Problem] = []
        seen: dict[str, int] = {}
        for i, export in enumerate(self.exports):
            if export.name in seen:
                problems.append(
                    (
                        ("exports", i, "name"),
                        f"duplicate export name '{export.name}' (also exports[{seen[export.name]}])",
                    )
                )
            seen.setdefault(export.name, i)
            auto_chunk = export.table is not None and self.source.type == "postgres"
            if export.mode == "chunked" and not export.chunk_column and not auto_chunk:
                problems.append(
                    (
                        ("exports", i, "chunk_column"),
                        "required for mode: chunked (taken from the primary key automatically only for "
                        "`table:` exports on postgres)",
                    )
                )
        if problems:
            raise _rule_error(problems)
        return self

    @property
    def path(self) -> Path | None:
        """The loaded file (absolute), None when built from a dict."""
        return self._path

    @property
    def base_dir(self) -> Path:
        """The folder relative paths (query_file, url_file) are resolved against."""
        return self._base_dir

    def export(self, name: str) -> ExportConfig:
        """The export called `name`; ConfigError listing the known names otherwise."""
        for export in self.exports:
            if export.name == name:
                return export
        known = ", ".join(e.name for e in self.exports)
        raise ConfigError(f"no export named '{name}' (known: {known})")

    def tuning_for(self, export: ExportConfig) -> Tuning:
        """Resolved tuning: profile (export, source, else environment), then source.tuning, export.tuning."""
        layers = [t for t in (self.source.tuning, export.tuning) if t is not None]
        profile = next(
            (t.profile for t in reversed(layers) if t.profile is not None),
            "fast" if self.source.environment == "local" else "balanced",
        )
        values: dict[str, Any] = {
            **PROFILES[profile],
            "max_batch_memory_mb": None,
            "on_batch_memory_exceeded": "warn",
        }
        for layer in layers:
            values.update({k: v for k in _TUNING_KEYS if k != "profile" and (v := getattr(layer, k)) is not None})
        return Tuning(profile=profile, **values)

    def dagster_for(self, export: ExportConfig) -> DagsterConfig:
        """The export's Dagster settings over the top-level defaults (export wins per field; tags merge)."""
        if export.dagster is None:
            return self.dagster or DagsterConfig()
        return export.dagster.merged_over(self.dagster)


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (`on:` stays a key), dates as strings, duplicate keys refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key '{key}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"  # dates stay strings: the models parse them, with a path
_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _parse_yaml(text: str, label: str) -> Any:
    """YAML → Python; syntax errors become `<file> line N: problem` (no snippet: it may hold a secret)."""
    try:
        return yaml.load(text, Loader=_YamlLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        details = [f"column {mark.column + 1}"] if mark else []
        if exc.context and exc.problem:
            started = exc.context_mark
            details.append(exc.context + (f" started at line {started.line + 1}" if started else ""))
        suffix = f" ({'; '.join(details)})" if details else ""
        raise ConfigError(f"{label}{where}: {problem}{suffix}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{label}: invalid YAML: {exc}") from None


_VAR = re.compile(r"\$\$|\$\{([^}]*)\}")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


_SECRET_KEY = re.compile(r"(password|url|secret|token)$", re.IGNORECASE)
_SECRET_VAR = re.compile(r"pass|pwd|secret|token|key|credential|url|dsn", re.IGNORECASE)


def _expand_env(
    node: Any,
    env: Mapping[str, str],
    loc: tuple[str | int, ...],
    problems: list[str],
    secrets: list[str],
) -> Any:
    """Expand `${VAR}` in every string of the parsed tree (`$$` → `$`); collect unset variables in `problems`.

    This includes `query:` text: it is config text written by the operator, not data (run-time values are
    bound parameters, never spliced in here). Values of secret-looking variables, or substituted into
    secret-looking keys, are collected in `secrets` so error messages can mask them.
    """
    if isinstance(node, str):
        key = next((part for part in reversed(loc) if isinstance(part, str)), "")

        def substitute(match: re.Match[str]) -> str:
            if match[0] == "$$":
                return "$"
            name = match[1]
            where = _format_loc(loc) or "<top>"
            if not _VAR_NAME.match(name):
                problems.append(f"{where}: '${{{name}}}' is not a valid variable reference (write $$ for a literal $)")
                return ""
            if name not in env:
                problems.append(f"{where}: environment variable {name} is not set")
                return ""
            if _SECRET_VAR.search(name) or _SECRET_KEY.search(key):
                secrets.append(env[name])
            return env[name]

        return _VAR.sub(substitute, node)
    if isinstance(node, dict):
        return {k: _expand_env(v, env, (*loc, k), problems, secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand_env(v, env, (*loc, i), problems, secrets) for i, v in enumerate(node)]
    return node


def _secret_values(node: Any) -> list[str]:
    """Values under secret-looking keys (and URL passwords in them), masked from error text as a backstop."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and isinstance(key, str) and _SECRET_KEY.search(key):
                found.append(value)
                with contextlib.suppress(ValueError):
                    if password := urlsplit(value).password:
                        found += [password, unquote(password)]
            else:
                found += _secret_values(value)
    elif isinstance(node, list):
        for value in node:
            found += _secret_values(value)
    return found


def _format_loc(loc: tuple[str | int, ...]) -> str:
    """('exports', 1, 'chunk_column') → 'exports[1].chunk_column'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# Union-member tags pydantic adds to an error's loc, by the field they follow.
_UNION_TAGS = {
    "destination": set(_DESTINATIONS),
    "max_file_size": {"int", "str"},
    "partition_start": {"datetime", "date"},
}


def _clean_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Drop pydantic's union-member tags (`destination.s3.bucket` → `destination.bucket`)."""
    out: list[str | int] = []
    for part in loc:
        if out and isinstance(out[-1], str) and part in _UNION_TAGS.get(out[-1], ()):
            continue
        out.append(part)
    return tuple(out)


def _first_model(annotation: Any) -> type[BaseModel] | None:
    """The first pydantic model class inside a (possibly Optional/list/Annotated) annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if (model := _first_model(arg)) is not None:
            return model
    return None


def _owner_of(raw_loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model that holds the last key of `raw_loc` (to list the keys allowed there)."""
    model: type[BaseModel] | None = Config
    parts = list(raw_loc[:-1])
    i = 0
    while i < len(parts) and model is not None:
        part = parts[i]
        i += 1
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        if part == "destination":
            model = _DESTINATIONS.get(str(parts[i])) if i < len(parts) else None
            i += 1
        else:
            model = _first_model(field.annotation)
    return model


def _unknown_key_message(raw_loc: tuple[str | int, ...]) -> str:
    """'unknown key' plus a close match or the list of allowed keys."""
    model = _owner_of(raw_loc)
    if model is None:
        return "unknown key"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(str(raw_loc[-1]), allowed, n=1)
    if close:
        return f"unknown key (did you mean '{close[0]}'?)"
    if len(allowed) <= 15:
        return f"unknown key (allowed: {', '.join(allowed)})"
    return "unknown key (see `rivet schema config` for the allowed keys)"


def _error_lines(exc: ValidationError) -> list[str]:
    """One `<path>: <message>` line per pydantic error; messages never include the input value."""
    lines: list[str] = []
    for err in exc.errors(include_url=False, include_input=False):
        raw_loc = tuple(err["loc"])
        loc = _clean_loc(raw_loc)
        where = _format_loc(loc)
        ctx = err.get("ctx") or {}
        kind = err["type"]
        if kind == _RULE_ERROR:
            for sub, msg in ctx["problems"]:
                lines.append(f"{_format_loc((*loc, *sub)) or '<top>'}: {msg}")
        elif kind == _MISPLACED_TUNING:
            for key in ctx["keys"]:
                target = _format_loc((*loc, "tuning", key))
                lines.append(f"{_format_loc((*loc, key))}: tuning keys go under 'tuning:' ({target})")
        elif kind == "union_tag_invalid":
            supported = ", ".join(_DESTINATIONS)
            tag = ctx.get("tag")
            lines.append(f"{where}: destination type '{tag}' is not supported (supported: {supported})")
        elif kind == "union_tag_not_found":
            lines.append(f"{where}.type: required (one of: {', '.join(_DESTINATIONS)})")
        elif kind == "extra_forbidden":
            lines.append(f"{where}: {_unknown_key_message(raw_loc)}")
        elif kind == "missing":
            lines.append(f"{where}: required")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where or '<top>'}: {msg}")
    return lines


def parse_config(
    data: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    label: str = "<config>",
    path: Path | None = None,
) -> Config:
    """Validate an already-parsed rivet.yaml tree (expanding `${VAR}` from `env`); see `load_config`."""
    env = os.environ if env is None else env
    base = (base_dir or Path.cwd()).resolve()
    problems: list[str] = []
    secrets: list[str] = []
    expanded = _expand_env(dict(data), env, (), problems, secrets)
    if problems:
        raise ConfigError("\n  ".join([f"invalid config {label}:", *problems]))
    try:
        cfg = Config.model_validate(expanded, context={"base_dir": base})
    except ValidationError as exc:
        message = "\n  ".join([f"invalid config {label}:", *_error_lines(exc)])
        raise ConfigError(redact(message, [*secrets, *_secret_values(expanded)])) from None
    cfg._path = path
    cfg._base_dir = base
    return cfg


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read, expand and validate a rivet.yaml; every problem is a ConfigError naming the file and field."""
    file = Path(path)
    label = str(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {label}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{label}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {label}: {exc.strerror or exc}") from None
    data = _parse_yaml(text, label)
    if data is None:
        raise ConfigError(f"{label} is empty; it needs at least source: and exports:")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{label}: the top level must be a mapping with source: and exports:, not a {type(data).__name__}"
        )
    resolved = file.resolve()
    return parse_config(data, base_dir=resolved.parent, env=env, label=label, path=resolved)


def config_json_schema() -> dict[str, Any]:
    """JSON Schema of rivet.yaml (`rivet schema config`)."""
    schema = Config.model_json_schema(mode="validation")
    schema["title"] = "rivet.yaml"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def export_fingerprint(cfg: Config, export: ExportConfig) -> str:
    """Short sha256 of the export's settings (plus its query_file text): the Dagster code_version."""
    payload = export.model_dump_json()
    if export.query_file is not None:
        with contextlib.suppress(ConfigError, OSError):  # a missing file is reported when the export runs
            payload += "\n" + (export.resolved_query(cfg.base_dir) or "")
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


__all__ = [
    "PROFILES",
    "Config",
    "DagsterConfig",
    "DestinationConfig",
    "ExportConfig",
    "GcsDestination",
    "LocalDestination",
    "MetaColumns",
    "NotificationsConfig",
    "NullRatioRule",
    "ParquetOptions",
    "Profile",
    "QualityConfig",
    "QualityRule",
    "RowCountRule",
    "S3Destination",
    "SlackConfig",
    "SourceConfig",
    "TlsConfig",
    "Tuning",
    "TuningConfig",
    "UniqueColumnsRule",
    "config_json_schema",
    "export_fingerprint",
    "load_config",
    "parse_config",
    "parse_file_size",
    "parse_type_override",
]
