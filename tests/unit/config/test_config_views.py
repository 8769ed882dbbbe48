"""rivet_core.config: per-mode typed views, tuning declared once, a description on every field."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from rivet_core.config import (
    DEFAULT_CHUNK_SIZE,
    ChunkedView,
    FullView,
    IncrementalView,
    TimeWindowView,
    Tuning,
    TuningConfig,
    config_json_schema,
)

from .config_cases import load_dict, minimal


def test_full_view(tmp_path: Path) -> None:
    assert load_dict(tmp_path, minimal()).exports[0].mode_view == FullView()


def test_incremental_view(tmp_path: Path) -> None:
    single = load_dict(tmp_path, minimal(mode="incremental", cursor_column="id")).exports[0]
    assert single.mode_view == IncrementalView("id", None, "single_column")
    data = minimal(
        mode="incremental", cursor_column="updated_at", cursor_fallback_column="created_at",
        incremental_cursor_mode="coalesce",
    )  # fmt: skip
    assert load_dict(tmp_path, data).exports[0].mode_view == IncrementalView("updated_at", "created_at", "coalesce")


@pytest.mark.parametrize(
    ("fields", "size", "strategy"),
    [
        ({}, DEFAULT_CHUNK_SIZE, "size"),
        ({"chunk_size": 500}, 500, "size"),
        ({"chunk_count": 8}, DEFAULT_CHUNK_SIZE, "count"),
        ({"chunk_by_days": 7}, DEFAULT_CHUNK_SIZE, "by_days"),
        ({"chunk_dense": True, "chunk_size": 1000}, 1000, "dense"),
    ],
)
def test_chunked_view(tmp_path: Path, fields: dict[str, Any], size: int, strategy: str) -> None:
    export = load_dict(tmp_path, minimal(mode="chunked", chunk_column="id", parallel=3, **fields)).exports[0]
    view = export.mode_view
    assert isinstance(view, ChunkedView)
    assert (view.column, view.size, view.parallel, view.checkpoint, view.max_attempts) == ("id", size, 3, False, 3)
    assert (view.count, view.by_days, view.dense) == (
        fields.get("chunk_count"),
        fields.get("chunk_by_days"),
        fields.get("chunk_dense", False),
    )
    assert view.strategy == strategy


def test_chunked_view_without_column_means_the_primary_key(tmp_path: Path) -> None:
    view = load_dict(tmp_path, minimal(mode="chunked", chunk_checkpoint=True)).exports[0].mode_view
    assert isinstance(view, ChunkedView) and view.column is None and view.checkpoint is True


def test_time_window_view(tmp_path: Path) -> None:
    data = minimal(mode="time_window", time_column="ts", time_column_type="unix", days_window=3)
    assert load_dict(tmp_path, data).exports[0].mode_view == TimeWindowView("ts", "unix", 3)
    data = minimal(mode="time_window", time_column="ts")
    assert load_dict(tmp_path, data).exports[0].mode_view == TimeWindowView("ts", "timestamp", 1)


def test_view_is_computed_once_and_frozen(tmp_path: Path) -> None:
    export = load_dict(tmp_path, minimal(mode="incremental", cursor_column="id")).exports[0]
    assert export.mode_view is export.mode_view
    with pytest.raises(dataclasses.FrozenInstanceError):
        export.mode_view.cursor_column = "x"  # type: ignore[union-attr, misc]
    assert "mode_view" not in export.model_dump()


def test_tuning_keys_are_declared_once() -> None:
    """The YAML block has exactly the resolved dataclass's fields, each with its description and bounds."""
    knobs = {f.name: f for f in dataclasses.fields(Tuning) if f.metadata.get("yaml") is not False}
    assert list(TuningConfig.model_fields) == list(knobs)
    assert {f.name for f in dataclasses.fields(Tuning)} - set(knobs) == {"profile_origin"}  # resolved, not a key
    for name, field in TuningConfig.model_fields.items():
        assert field.default is None
        assert field.description == knobs[name].metadata["description"]


def test_every_field_has_a_description() -> None:
    schema = config_json_schema()
    models = {"rivet.yaml": schema, **schema["$defs"]}
    missing = [
        f"{model}.{key}"
        for model, body in models.items()
        for key, field in body.get("properties", {}).items()
        if not field.get("description")
    ]
    assert missing == []
