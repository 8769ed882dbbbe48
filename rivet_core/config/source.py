"""The `source:` block: which database to read and how to reach it (URL forms or structured fields), and TLS.

Loading never reads a secret: `url_env`, `url_file` and `password_env` are resolved only when a source
connects (`SourceConfig.resolve_url`), and the URL's shape is checked then, with the same messages as an
inline `url:` gets at load.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import Field, Strict, model_validator

from rivet_core.config.aliases import URL_SCHEMES, Environment, SourceType, TlsMode
from rivet_core.config.base import ConfigModel, Problem, StrictBool, StrictInt, rule_error
from rivet_core.config.tuning import TuningConfig, reject_tuning_keys
from rivet_core.config.urls import MAX_URL_LENGTH, url_problem
from rivet_core.errors import ConfigError
from rivet_core.redact import redact_url, remember

_URL_FORMS = ("url", "url_env", "url_file")
_STRUCTURED = ("host", "port", "user", "database", "password", "password_env")


def require_env(env: Mapping[str, str], name: str, field: str) -> str:
    """The value of env var `name`; a ConfigError naming `field` and the variable (never a value) if unset/empty."""
    value = env.get(name)
    if not value:
        raise ConfigError(f"{field}: environment variable {name} is not set")
    if not field.endswith("access_key_env"):  # an access key id names a key, it is not one
        remember(value)
    return value


class TlsConfig(ConfigModel):
    """Transport security of the source connection (libpq sslmode semantics)."""

    mode: TlsMode | None = Field(
        default=None,
        description="require = encrypt only; verify-ca = also check the certificate chain; verify-full = "
        "also check the host name; disable = plain text. Unset in a tls: block = verify-full.",
    )
    ca_file: str | None = Field(default=None, description="PEM file of an extra trusted root certificate.")
    accept_invalid_certs: StrictBool = Field(default=False, description="Turn certificate verification off.")
    accept_invalid_hostnames: StrictBool = Field(default=False, description="Turn host name verification off.")

    @property
    def effective_mode(self) -> TlsMode:
        """The mode to connect with: `mode`, else verify-full (a tls: block asks for TLS), then weakened by the
        accept_invalid_* switches (certs off → require; hostnames off → at most verify-ca)."""
        mode: TlsMode = self.mode or "verify-full"
        if self.accept_invalid_certs and mode != "disable":
            return "require"
        if self.accept_invalid_hostnames and mode == "verify-full":
            return "verify-ca"
        return mode


class SourceConfig(ConfigModel):
    """The database to read: a URL (inline, from an env var or a file) or structured host/user/database."""

    type: SourceType = Field(description="Database engine: postgres, or mysql (MySQL and MariaDB).")
    url: Annotated[str, Strict()] | None = Field(
        default=None,
        min_length=1,
        repr=False,
        description=f"Connection URL, e.g. postgresql://user@host:5432/db (at most {MAX_URL_LENGTH} characters).",
    )
    url_env: str | None = Field(default=None, min_length=1, description="Environment variable holding the URL.")
    url_file: str | None = Field(
        default=None, min_length=1, description="File holding the URL on one line (relative to the config folder)."
    )
    host: str | None = Field(default=None, min_length=1, description="Host name or IP (structured form).")
    port: StrictInt | None = Field(
        default=None, ge=1, le=65535, description="Port; default 5432 (postgres) / 3306 (mysql)."
    )
    user: str | None = Field(default=None, min_length=1, description="User name (structured form).")
    database: str | None = Field(default=None, min_length=1, description="Database name (structured form).")
    password: str | None = Field(
        default=None, repr=False, description="Plaintext password; prefer password_env (stripped from plan files)."
    )
    password_env: str | None = Field(
        default=None, min_length=1, description="Environment variable holding the password."
    )
    environment: Environment | None = Field(
        default=None, description="Picks the default tuning profile: local → fast, production / replica → balanced."
    )
    tuning: TuningConfig | None = Field(default=None, description="Tuning for every export (each export may override).")
    tls: TlsConfig | None = Field(default=None, description="Transport security; absent = the driver's default.")

    @model_validator(mode="before")
    @classmethod
    def _no_loose_tuning(cls, data: Any) -> Any:
        """Tuning keys belong under `tuning:`."""
        return reject_tuning_keys(data)

    @model_validator(mode="after")
    def _one_connection_form(self) -> SourceConfig:
        """Exactly one of url / url_env / url_file, or structured fields; password xor password_env; URL shape."""
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
        if self.url is not None and (problem := url_problem(self.url, self.type)):
            problems.append((("url",), problem))
        if problems:
            raise rule_error(problems)
        return self

    @property
    def default_port(self) -> int:
        """5432 for postgres, 3306 for mysql."""
        return 5432 if self.type == "postgres" else 3306

    @property
    def scheme(self) -> str:
        """URL scheme built for structured sources: `postgresql` or `mysql`."""
        return URL_SCHEMES[self.type][0]

    def resolve_url(self, base_dir: Path, env: Mapping[str, str] | None = None) -> str:
        """The connection URL (see `_resolve_url`), remembered as a secret for every later redaction."""
        url = self._resolve_url(base_dir, env)
        remember(url)
        return url

    def _resolve_url(self, base_dir: Path, env: Mapping[str, str] | None = None) -> str:
        """The connection URL, reading env vars / the url_file now (secrets are resolved only on connect).

        Errors name the env var or file, never a value or the file's content. `url_file` is relative to
        `base_dir` (the config folder).
        """
        env = os.environ if env is None else env
        if self.url is not None:
            return self.url
        if self.url_env is not None:
            url = require_env(env, self.url_env, "source.url_env")
            if problem := url_problem(url, self.type):
                raise ConfigError(f"source.url_env: the URL in {self.url_env} is {_as_clause(problem)}")
            return url
        if self.url_file is not None:
            return self._read_url_file(base_dir)
        password = self.password
        if self.password_env is not None:
            password = require_env(env, self.password_env, "source.password_env")
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

    def _read_url_file(self, base_dir: Path) -> str:
        """The one-line URL in `url_file`; errors say what is wrong, never quoting the file."""
        assert self.url_file is not None
        path = Path(self.url_file)
        path = path if path.is_absolute() else base_dir / path
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_URL_LENGTH + 2)
        except OSError as exc:
            raise ConfigError(f"source.url_file: cannot read {path}: {exc.strerror or exc}") from None
        if len(raw) > MAX_URL_LENGTH + 1:
            raise ConfigError(f"source.url_file: {path} does not hold a URL (longer than {MAX_URL_LENGTH} characters)")
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ConfigError(f"source.url_file: {path} does not hold a URL (not UTF-8 text)") from None
        if not text:
            raise ConfigError(f"source.url_file: {path} is empty")
        if "\n" in text or "://" not in text:
            raise ConfigError(f"source.url_file: {path} does not hold a URL (one line, {self.scheme}://…)")
        if problem := url_problem(text, self.type):
            raise ConfigError(f"source.url_file: the URL in {path} is {_as_clause(problem)}")
        return text

    def _hostport(self) -> str:
        host = self.host or ""
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # IPv6 literal
        return f"{host}:{self.port or self.default_port}"


def _as_clause(problem: str) -> str:
    """A `url_problem` text readable after "the URL in X is …"."""
    return problem if problem.startswith(("longer", "not a URL")) else f"invalid: {problem}"
