"""The base of every config model, bounded strict numbers, and the cross-field error carrier.

Integers and booleans are strict (`parallel: "2"` or `parallel: true` is an error), except a value that was
exactly one `${VAR}` reference: rivet-cli substitutes variables in the text before parsing, so `batch_size:
${BATCH}` is an integer there and stays one here (see `Expanded`).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Strict, model_validator
from pydantic_core import PydanticCustomError

# Error types of our own, turned into path-naming lines by `messages.error_lines`.
RULE_ERROR = "rivet_rule"
MISPLACED_TUNING = "rivet_misplaced_tuning"

Problem = tuple[tuple[str | int, ...], str]


def format_loc(loc: tuple[str | int, ...]) -> str:
    """('exports', 1, 'chunk_column') → 'exports[1].chunk_column'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def rule_error(problems: list[Problem]) -> PydanticCustomError:
    """One validation error carrying several `(sub-path, message)` problems found by a cross-field rule."""
    summary = "; ".join(f"{format_loc(loc)}: {msg}" if loc else msg for loc, msg in problems)
    return PydanticCustomError(RULE_ERROR, "{summary}", {"summary": summary, "problems": problems})


class Expanded(str):
    """A string that was exactly one `${VAR}` reference: an int, float or bool field may still read it as one."""

    __slots__ = ()


_INT_TEXT = re.compile(r"^[+-]?[0-9]+$")
_FLOAT_TEXT = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_BOOL_TEXT = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}

StrictInt = Annotated[int, Strict()]  # bounds go on the field: `Field(gt=0, le=...)`
StrictBool = Annotated[bool, Strict()]
StrictFloat = Annotated[float, Strict()]  # an int is still accepted (3 → 3.0), a bool or text is not


def _wants(annotation: Any, kind: type) -> bool:
    """Whether a field annotation (Optional / Annotated / union) takes `kind` and not a plain str."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is Annotated:
        return _wants(args[0], kind)
    if args and typing.get_origin(annotation) is not Literal:
        members = [a for a in args if a is not type(None)]
        return str not in members and any(_wants(a, kind) for a in members)
    return annotation is kind


def _typed(value: Expanded, annotation: Any) -> Any:
    """`value` as the int, float or bool its field takes, when the text reads as one; else unchanged."""
    if _wants(annotation, bool) and value in _BOOL_TEXT:
        return _BOOL_TEXT[value]
    if _wants(annotation, int) and _INT_TEXT.match(value):
        return int(value)
    if _wants(annotation, float) and _FLOAT_TEXT.match(value):
        return float(value)
    return value


class ConfigModel(BaseModel):
    """Base of every config model: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    @model_validator(mode="before")
    @classmethod
    def _typed_expansions(cls, data: Any) -> Any:
        """`${VAR}` values typed as rivet-cli types the substituted text (an int field gets an int)."""
        if not isinstance(data, Mapping) or not any(isinstance(v, Expanded) for v in data.values()):
            return data
        fields = cls.model_fields
        return {
            k: _typed(v, fields[k].annotation) if isinstance(v, Expanded) and k in fields else v
            for k, v in data.items()
        }
