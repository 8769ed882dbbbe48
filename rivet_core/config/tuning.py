"""Tuning: the load-shaping knobs, declared once in `Tuning`; `TuningConfig` (the YAML block) derives from it.

Resolution order (`resolve_tuning`): the profile's numbers, then `source.tuning`, then `exports[].tuning`, field
by field. The profile is the last one set (export, then source), else `fast` for `environment: local` and
`balanced` otherwise; `Tuning.profile_origin` says which of the three it was.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, create_model, model_validator
from pydantic_core import PydanticCustomError

from rivet_core.config.aliases import BatchMemoryPolicy, Environment, Profile, ProfileOrigin
from rivet_core.config.base import MISPLACED_TUNING, ConfigModel, StrictBool, StrictInt, rule_error

PROFILES: dict[str, dict[str, Any]] = {  # Any: `Tuning(profile=p, **PROFILES[p])` type-checks
    "fast": {
        "batch_size": 50000,
        "throttle_ms": 0,
        "statement_timeout_s": 0,
        "lock_timeout_s": 0,
        "max_retries": 1,
        "retry_backoff_ms": 1000,
        "memory_threshold_mb": 0,
        "stall_timeout_s": 600,
    },
    "balanced": {
        "batch_size": 10000,
        "throttle_ms": 50,
        "statement_timeout_s": 300,
        "lock_timeout_s": 30,
        "max_retries": 3,
        "retry_backoff_ms": 2000,
        "memory_threshold_mb": 4096,
        "stall_timeout_s": 300,
    },
    "safe": {
        "batch_size": 2000,
        "throttle_ms": 500,
        "statement_timeout_s": 120,
        "lock_timeout_s": 10,
        "max_retries": 5,
        "retry_backoff_ms": 5000,
        "memory_threshold_mb": 2048,
        "stall_timeout_s": 120,
    },
}


def _knob(description: str, **bounds: int) -> dict[str, Any]:
    """Metadata of a `Tuning` field: its user-facing description and the bounds the YAML value must meet."""
    return {"description": description, "bounds": bounds}


@dataclass(frozen=True)
class Tuning:
    """Tuning with every value resolved (profile → source.tuning → export.tuning); see `Config.tuning_for`."""

    profile: Profile = field(metadata=_knob("Preset the other knobs start from (see Tuning profiles)."))
    batch_size: int = field(metadata=_knob("Rows fetched per batch (1..1000000).", gt=0, le=1_000_000))
    throttle_ms: int = field(
        metadata=_knob("Pause after each batch, in ms, to spare the source (0..60000).", ge=0, le=60_000)
    )
    statement_timeout_s: int = field(
        metadata=_knob(
            "Limit on each planning statement (describe, COUNT, MIN/MAX), in s; 0 = none (0..604800, 7 days).",
            ge=0,
            le=604_800,
        )
    )
    lock_timeout_s: int = field(metadata=_knob("Longest wait for a lock, in s; 0 = none (0..86400).", ge=0, le=86_400))
    max_retries: int = field(
        metadata=_knob(
            "Retries of the whole export after a transient source error, on a new connection (0..20).", ge=0, le=20
        )
    )
    retry_backoff_ms: int = field(
        metadata=_knob("Wait before the first retry, in ms, doubled on each later one (0..300000).", ge=0, le=300_000)
    )
    memory_threshold_mb: int = field(
        metadata=_knob(
            "Resident memory above which fetching stops reading ahead and, in chunked modes, a chunk waits for the "
            "one in flight before it starts, in MiB; 0 = off (0..1048576).",
            ge=0,
            le=1_048_576,
        )
    )
    batch_size_memory_mb: int | None = field(
        default=None,
        metadata=_knob(
            "Size batches by memory instead: a 1000-row probe, then rows = MiB / the Arrow bytes per row seen so far, "
            "clamped to 1000..500000; not with batch_size at any level (1..1048576).",
            gt=0,
            le=1_048_576,
        ),
    )
    max_batch_memory_mb: int | None = field(
        default=None,
        metadata=_knob(
            "Cap on one batch's Arrow bytes, in MiB, checked before it is written, in every mode (1..1048576).",
            gt=0,
            le=1_048_576,
        ),
    )
    on_batch_memory_exceeded: BatchMemoryPolicy = field(
        default="warn",
        metadata=_knob(
            "A batch over max_batch_memory_mb: warn (once per unit, with a batch_size that fits; written anyway), "
            "fail the export, or auto_shrink (halve it until each piece fits)."
        ),
    )
    adaptive: bool = field(
        default=False,
        metadata=_knob(
            "Every 10 batches read the source's write pressure (PG checkpoints_req, MySQL Innodb_log_waits): up → "
            "batch to 75% (≥ 500 rows), flat → +25% (≤ the starting batch size)."
        ),
    )
    lease_wait_s: int = field(
        default=0,
        metadata=_knob(
            "Longest wait for another run of the same export (or partition) to finish, in s; 0 = fail at once "
            "(0..3600; docs/lease.md).",
            ge=0,
            le=3600,
        ),
    )
    late_commit_wait_s: int = field(
        default=30,
        metadata=_knob(
            "Longest wait, per incremental run, for other sessions' open transactions that could still commit rows "
            "below the run's cursor bound; still open after it, the run fails with nothing exported; 0 = no wait "
            "(default 30; 0..3600; docs/cursor.md).",
            ge=0,
            le=3600,
        ),
    )
    stall_timeout_s: int = field(
        default=300,
        metadata=_knob(
            "Longest wait for the source's next batch (the first one included), or for a planning statement's reply "
            "beyond statement_timeout_s, in s; then the statement is cancelled, the connection closed and the export "
            "retried under max_retries. throttle_ms pauses and writer waits do not count; 0 = off (0..86400).",
            ge=0,
            le=86_400,
        ),
    )
    profile_origin: ProfileOrigin = field(default="default", compare=False, metadata={"yaml": False})
    """Where `profile` came from: `explicit` (a tuning.profile), `environment` (source.environment), `default`."""

    @property
    def profile_label(self) -> str:
        """The profile and the key that chose it, e.g. `fast (from source.environment)`, for logs and `rivet check`."""
        source = {"explicit": "tuning.profile", "environment": "source.environment", "default": "default"}
        return f"{self.profile} (from {source[self.profile_origin]})"


def _optional_fields() -> dict[str, Any]:
    """Every `Tuning` field as an optional, described, bounded (and strict, for ints) pydantic field."""
    hints = typing.get_type_hints(Tuning)
    fields: dict[str, Any] = {}
    for knob in dataclasses.fields(Tuning):
        if knob.metadata.get("yaml") is False:
            continue
        kind = hints[knob.name]
        if kind is int or kind == int | None:
            kind = StrictInt
        elif kind is bool:
            kind = StrictBool
        field = Field(default=None, description=knob.metadata["description"], **knob.metadata["bounds"])
        fields[knob.name] = (kind | None, field)
    return fields


_TuningFields: Any = create_model("_TuningFields", __base__=ConfigModel, **_optional_fields())


class TuningConfig(_TuningFields):
    """Load-shaping knobs (source level, overridable per export field by field); unset = from the profile."""

    @model_validator(mode="after")
    def _one_batch_sizing(self) -> TuningConfig:
        """batch_size and batch_size_memory_mb are two ways to size a batch: one of them."""
        if self.batch_size is not None and self.batch_size_memory_mb is not None:
            raise rule_error([(("batch_size_memory_mb",), "cannot be combined with batch_size (set one of them)")])
        return self


TUNING_KEYS: tuple[str, ...] = tuple(TuningConfig.model_fields)


def reject_tuning_keys(data: Any) -> Any:
    """Before-validator: tuning keys written next to `table:` / `type:` get a "put it under tuning:" error."""
    if isinstance(data, Mapping):
        misplaced = [key for key in data if key in TUNING_KEYS]
        if misplaced:
            raise PydanticCustomError(MISPLACED_TUNING, "tuning keys go under 'tuning:' ({keys})", {"keys": misplaced})
    return data


def resolve_tuning(layers: Iterable[TuningConfig | None], environment: Environment | None) -> Tuning:
    """Profile numbers overlaid by each set layer in order (later wins); the profile as the module doc says."""
    given = [layer for layer in layers if layer is not None]
    explicit = next((layer.profile for layer in reversed(given) if layer.profile is not None), None)
    profile: Profile = explicit or ("fast" if environment == "local" else "balanced")
    origin: ProfileOrigin = "explicit" if explicit else "environment" if environment is not None else "default"
    values: dict[str, Any] = dict(PROFILES[profile])
    for layer in given:
        values.update({k: v for k in TUNING_KEYS if k != "profile" and (v := getattr(layer, k)) is not None})
    return Tuning(profile=profile, profile_origin=origin, **values)
