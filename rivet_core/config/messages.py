"""pydantic errors → one `<path>: <what is wrong / what is allowed>` line each, never quoting the input."""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from rivet_core.config.base import MISPLACED_TUNING, RULE_ERROR, format_loc
from rivet_core.config.destinations import DESTINATIONS
from rivet_core.config.root import Config

# Union-member tags pydantic adds to an error's loc, by the field they follow.
_UNION_TAGS = {
    "destination": set(DESTINATIONS),
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
            model = DESTINATIONS.get(str(parts[i])) if i < len(parts) else None
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


def error_lines(exc: ValidationError) -> list[str]:
    """One `<path>: <message>` line per pydantic error; messages never include the input value."""
    lines: list[str] = []
    for err in exc.errors(include_url=False, include_input=False):
        raw_loc = tuple(err["loc"])
        loc = _clean_loc(raw_loc)
        where = format_loc(loc)
        ctx = err.get("ctx") or {}
        kind = err["type"]
        if kind == RULE_ERROR:
            for sub, msg in ctx["problems"]:
                lines.append(f"{format_loc((*loc, *sub)) or '<top>'}: {msg}")
        elif kind == MISPLACED_TUNING:
            for key in ctx["keys"]:
                target = format_loc((*loc, "tuning", key))
                lines.append(f"{format_loc((*loc, key))}: tuning keys go under 'tuning:' ({target})")
        elif kind == "union_tag_invalid":
            supported = ", ".join(DESTINATIONS)
            tag = ctx.get("tag")
            lines.append(f"{where}: destination type '{tag}' is not supported (supported: {supported})")
        elif kind == "union_tag_not_found":
            lines.append(f"{where}.type: required (one of: {', '.join(DESTINATIONS)})")
        elif kind == "extra_forbidden":
            lines.append(f"{where}: {_unknown_key_message(raw_loc)}")
        elif kind == "missing":
            lines.append(f"{where}: required")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where or '<top>'}: {msg}")
    return lines
