"""Validation errors as lines a user can act on: the field path, then what is wrong and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from farflow.api.rules import RuleViolationError


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of a manifest."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def field_errors(error: ValidationError) -> list[FieldError]:
    """Every problem pydantic found, each pointing at the exact field."""
    return [FieldError(_path(detail), _message(detail)) for detail in error.errors()]


def _path(detail: ErrorDetails) -> str:
    location = list(detail["loc"])
    cause = detail.get("ctx", {}).get("error")
    if isinstance(cause, RuleViolationError) and cause.field_path:
        location.append(cause.field_path)
    return _join(location) or "(document)"


def _join(location: list[int | str]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def _message(detail: ErrorDetails) -> str:
    kind = detail["type"]
    if kind == "value_error":
        cause = str(detail["ctx"]["error"])
        return (
            cause
            if isinstance(detail["input"], dict)
            else f"{cause} (got {_shown(detail['input'])})"
        )
    if kind == "extra_forbidden":
        return "unknown field; check its spelling against `kubectl explain airflowcluster.spec`"
    if kind == "missing":
        return "required field is missing"
    return f"{detail['msg']} (got {_shown(detail['input'])})"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
