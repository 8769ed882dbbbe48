"""Sources: one module per database engine behind the `Source` protocol of `base.py`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rivet_core.config import SourceConfig, Tuning
    from rivet_core.sources.base import Source


def open_source(config: SourceConfig, url: str, tuning: Tuning) -> Source:
    """The Source for `config.type`; the driver module is imported only when used."""
    if config.type == "postgres":
        from rivet_core.sources.postgres import PostgresSource

        return PostgresSource(url, tuning, tls=config.tls)
    from rivet_core.sources.mysql import MySQLSource

    return MySQLSource(url, tuning, tls=config.tls)
