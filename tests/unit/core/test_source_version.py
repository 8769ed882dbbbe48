"""A source's version signal: equal signals give one data version, a moved maximum another; any key type works."""

from __future__ import annotations

import datetime as dt
import uuid

from rivet_core.observe import SourceVersion


def test_a_version_follows_the_maximum_and_takes_any_key_type() -> None:
    assert SourceVersion("id", 20).version == SourceVersion("id", 20).version
    assert SourceVersion("id", 20).version != SourceVersion("id", 25).version
    assert SourceVersion("id", 20).version != SourceVersion("id", "20").version  # the type is part of it
    moment = dt.datetime(2026, 11, 1, 13, tzinfo=dt.UTC)
    assert SourceVersion("ts", moment).version != SourceVersion("ts", moment + dt.timedelta(seconds=1)).version
    key = uuid.uuid4()
    assert SourceVersion("id", key).version == SourceVersion("id", uuid.UUID(str(key))).version
    assert SourceVersion(None, rows=3).version != SourceVersion(None, rows=4).version
