"""Reading rivet.yaml: bounded YAML parsing, `${VAR}` expansion (`--param` first), validation into `Config`.

Every problem becomes one `ConfigError` (exit code 2) whose lines read `<path>: <what is wrong / allowed>`,
e.g. `exports[1].chunk_column: required for mode: chunked ...`. The YAML is bounded before anything walks it
(document size, nesting depth, values after alias expansion), so a "billion laughs" file fails at once.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import ValidationError

from rivet_core.config.base import Expanded, format_loc
from rivet_core.config.messages import error_lines
from rivet_core.config.root import Config
from rivet_core.config.sqltext import expand_queries
from rivet_core.errors import ConfigError
from rivet_core.redact import redact, remember

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 200_000  # scalars, lists and mappings, counted with every alias expanded


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (`on:` stays a key), dates as strings, duplicate keys refused, and a
    nesting limit enforced while composing."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

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


class _TooLarge(Exception):
    """The composed YAML expands past `MAX_VALUES` or `MAX_DEPTH`, or an alias contains itself."""


def _check_expansion(root: yaml.Node) -> None:
    """Count the values `root` holds with aliases expanded (shared nodes counted once each use)."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) → (values, height)
    open_nodes: set[int] = set()

    def walk(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in open_nodes:
            raise _TooLarge("an alias refers to the node that contains it")
        if key not in sizes:
            open_nodes.add(key)
            children: list[yaml.Node] = []
            if isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            elif isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            total, height = 1, 0
            for child in children:
                values, below = walk(child, depth + 1)
                total, height = total + values, max(height, below + 1)
                if total > MAX_VALUES:
                    raise _TooLarge(f"more than {MAX_VALUES} values once aliases are expanded")
            open_nodes.discard(key)
            sizes[key] = (total, height)
        if depth + sizes[key][1] > MAX_DEPTH:
            raise _TooLarge(f"nested deeper than {MAX_DEPTH} levels once aliases are expanded")
        return sizes[key]

    walk(root, 0)


def _parse_yaml(text: str, label: str) -> Any:
    """YAML → Python; syntax errors become `<file> line N: problem` (no snippet: it may hold a secret)."""
    loader = _YamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    except _TooLarge as exc:
        raise ConfigError(f"{label}: {exc}") from None
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
    finally:
        loader.dispose()


_VAR = re.compile(r"\$\$|\$\{([^}]*)\}")
_WHOLE_VAR = re.compile(r"^\$\{[^}]*\}$")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_KEY = re.compile(r"(password|url|secret|token)$", re.IGNORECASE)
_SECRET_VAR = re.compile(r"pass|pwd|secret|token|key|credential|url|dsn", re.IGNORECASE)


def _expand_env(
    node: Any,
    env: Mapping[str, str],
    loc: tuple[str | int, ...],
    problems: list[str],
    secrets: list[str],
    used: set[str],
) -> Any:
    """Expand `${VAR}` in every string of the parsed tree (`$$` → `$`); collect unset variables in `problems`.

    Except `exports[].query`, left raw here: in SQL text a variable is a value (`sqltext.expand_queries`,
    README: SQL and parameters), never spliced in. Values of secret-looking variables, or substituted into
    secret-looking keys, are collected in `secrets` so error messages can mask them. A string that is exactly
    one `${VAR}` becomes `Expanded`, which an int or bool field may still read as one (rivet-cli substitutes
    in the text, before parsing).
    """
    if isinstance(node, str) and len(loc) == 3 and loc[0] == "exports" and loc[2] == "query":
        return node
    if isinstance(node, str):
        key = next((part for part in reversed(loc) if isinstance(part, str)), "")

        def substitute(match: re.Match[str]) -> str:
            if match[0] == "$$":
                return "$"
            name = match[1]
            where = format_loc(loc) or "<top>"
            if not _VAR_NAME.match(name):
                problems.append(f"{where}: '${{{name}}}' is not a valid variable reference (write $$ for a literal $)")
                return ""
            used.add(name)
            if name not in env:
                problems.append(f"{where}: environment variable {name} is not set")
                return ""
            if _SECRET_VAR.search(name) or _SECRET_KEY.search(key):
                secrets.append(env[name])
            return env[name]

        expanded = _VAR.sub(substitute, node)
        return Expanded(expanded) if _WHOLE_VAR.match(node) else expanded
    if isinstance(node, dict):
        return {k: _expand_env(v, env, (*loc, k), problems, secrets, used) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand_env(v, env, (*loc, i), problems, secrets, used) for i, v in enumerate(node)]
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


def _param_pairs(params: Iterable[str]) -> list[tuple[str, str]]:
    """Each `--param KEY=VALUE` as (KEY, VALUE); ConfigError for one without `=` or a key."""
    pairs = []
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param {item!r}: expected KEY=VALUE")
        pairs.append((key, value))
    return pairs


def apply_params(env: Mapping[str, str], params: Iterable[str]) -> dict[str, str]:
    """`env` with each `--param KEY=VALUE` set over it (a param wins over the environment, as in rivet-cli)."""
    return {**env, **dict(_param_pairs(params))}


def parse_config(
    data: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    label: str = "<config>",
    path: Path | None = None,
    param_names: Iterable[str] = (),
) -> Config:
    """Validate an already-parsed rivet.yaml tree (expanding `${VAR}` from `env`); see `load_config`.

    `param_names`: the `--param` keys merged into `env`; those no `${NAME}` used become `Config.unused_params`.
    """
    env = os.environ if env is None else env
    base = (base_dir or Path.cwd()).resolve()
    problems: list[str] = []
    secrets: list[str] = []
    used: set[str] = set()
    expanded = _expand_env(dict(data), env, (), problems, secrets, used)
    queries = expand_queries(expanded, env, problems, secrets)
    used.update(name for text in queries.values() for name in text.values)
    remember(*secrets, *_secret_values(expanded))
    if problems:
        raise ConfigError("\n  ".join([f"invalid config {label}:", *problems]))
    try:
        cfg = Config.model_validate(expanded, context={"base_dir": base})
    except ValidationError as exc:
        message = "\n  ".join([f"invalid config {label}:", *error_lines(exc)])
        raise ConfigError(redact(message, [*secrets, *_secret_values(expanded)])) from None
    cfg._path = path
    cfg._base_dir = base
    cfg._unused_params = tuple(dict.fromkeys(name for name in param_names if name not in used))
    for index, text in queries.items():
        cfg.exports[index]._sql = text
    return cfg


def _read_text(file: Path, label: str) -> str:
    """The file's text, refusing one larger than `MAX_DOCUMENT_BYTES` without reading all of it."""
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {label}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {label}: {exc.strerror or exc}") from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ConfigError(
            f"{label}: larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB; a rivet.yaml is far smaller"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{label}: not UTF-8 text") from None


def load_config(path: str | Path, env: Mapping[str, str] | None = None, *, params: Iterable[str] = ()) -> Config:
    """Read, expand and validate a rivet.yaml; every problem is a ConfigError naming the file and field.

    `params` (`--param KEY=VALUE`) win over `env`; the keys no `${KEY}` used are listed in `Config.unused_params`.
    """
    file = Path(path)
    label = str(path)
    data = _parse_yaml(_read_text(file, label), label)
    if data is None:
        raise ConfigError(f"{label} is empty; it needs at least source: and exports:")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{label}: the top level must be a mapping with source: and exports:, not a {type(data).__name__}"
        )
    resolved = file.resolve()
    pairs = _param_pairs(params)
    merged = {**(os.environ if env is None else env), **dict(pairs)}
    names = [key for key, _ in pairs]
    return parse_config(data, base_dir=resolved.parent, env=merged, label=label, path=resolved, param_names=names)
