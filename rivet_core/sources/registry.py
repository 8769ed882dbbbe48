"""Which Source class serves a `source.type`: each engine package registers its class when it is imported.

`open_source` imports `rivet_core.sources.<type>` on first use only, so a database driver is loaded only when
a config names it. Adding a database = one new package that decorates its Source with `@register("<type>")`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from rivet_core.errors import ConfigError

if TYPE_CHECKING:
    from rivet_core.config import SourceConfig, Tuning
    from rivet_core.sources.base import Source

_ENGINES: dict[str, type[Source]] = {}


def register(engine: str) -> Callable[[type[Source]], type[Source]]:
    """Class decorator: `engine` (a `source.type` value) is served by the decorated Source class."""

    def add(cls: type[Source]) -> type[Source]:
        _ENGINES[engine] = cls
        return cls

    return add


def source_class(engine: str) -> type[Source]:
    """The Source class of an engine, importing its package on first use."""
    if engine not in _ENGINES:
        try:
            importlib.import_module(f"rivet_core.sources.{engine}")
        except ModuleNotFoundError as exc:
            if exc.name != f"rivet_core.sources.{engine}":
                raise
        if engine not in _ENGINES:
            raise ConfigError(f"source.type: no source engine named {engine!r}")
    return _ENGINES[engine]


def open_source(config: SourceConfig, url: str, tuning: Tuning) -> Source:
    """The Source for `config.type`; the driver module is imported only when used."""
    return source_class(config.type)(url, tuning, tls=config.tls)
