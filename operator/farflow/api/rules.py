"""Validation rules written once and enforced twice: as CEL in the CRD, and in Python.

Each rule carries its CEL expression (checked by the API server at admission), a Python
predicate that states the same rule (checked by `farflow validate` and by the operator before it
acts), and the one message both report, so a user sees the same words either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema


@dataclass(frozen=True)
class Rule:
    """One cross-field rule of a model: CEL for the API server, a predicate for Python."""

    cel: str
    message: str
    holds: Callable[[Any], bool]
    field_path: str = ""

    def to_crd(self) -> dict[str, str]:
        """The `x-kubernetes-validations` entry for this rule."""
        entry = {"rule": self.cel, "message": self.message}
        if self.field_path:
            entry["fieldPath"] = self.field_path
        return entry


def named_or_created(field: str, what: str) -> Rule:
    """An existing resource must be named unless FarFlow creates it (``field`` is the
    same in Python and on the wire)."""
    return Rule(
        cel=f"self.create || has(self.{field})",
        message=f"name an existing {what} or set create: true",
        holds=lambda model: model.create or getattr(model, field) is not None,
        field_path=f".{field}",
    )


def exactly_one_of(first: str, second: str, message: str = "") -> Rule:
    """One of two optional fields, not both, not neither (``first`` and ``second`` are the
    wire names)."""
    return Rule(
        cel=f"has(self.{first}) != has(self.{second})",
        message=message or f"set exactly one of {first} or {second}",
        holds=lambda model: (_wire(model, first) is None) != (_wire(model, second) is None),
    )


def _wire(model: BaseModel, name: str) -> Any:
    """The value of the field whose wire name (its alias) is ``name``."""
    fields = type(model).model_fields
    return getattr(model, next(key for key, f in fields.items() if (f.alias or key) == name))


@dataclass(frozen=True)
class Immutable:
    """A field that keeps its value once the object exists: a CEL transition rule (the API
    server compares the update with the stored object), and the same comparison in Python
    between two versions of a manifest (`farflow validate --previous`).

    ``path`` is the field's wire path below the model that carries the rule; an absent field
    (or parent) counts as ``default``. With ``presence`` only whether the field is set may not
    change; with ``grows`` a list may gain items but lose none; with ``ascends`` a version
    (three numbers, such as 3.3.2) may go up but not down."""

    path: tuple[str, ...]
    message: str
    default: str | tuple[str, ...] = ""
    presence: bool = False
    grows: bool = False
    ascends: bool = False

    def to_crd(self) -> dict[str, str]:
        """The `x-kubernetes-validations` entry: a transition rule, since it reads oldSelf."""
        new, old = self._cel_value("self"), self._cel_value("oldSelf")
        if self.grows:
            rule = f"{old}.all(item, item in {new})"
        elif self.ascends:
            rule = f"{_cel_version(new)} >= {_cel_version(old)}"
        else:
            rule = f"{new} == {old}"
        return {"rule": rule, "message": self.message, "fieldPath": "." + ".".join(self.path)}

    def changed(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        """Whether going from the spec ``old`` to ``new`` (wire form) breaks the rule."""
        before, after = self._value(old), self._value(new)
        if self.grows:
            return not set(before) <= set(after)
        if self.ascends:
            return _version(after) < _version(before)
        return bool(before != after)

    def _cel_value(self, root: str) -> str:
        guards = " && ".join(
            f"has({root}.{'.'.join(self.path[: depth + 1])})" for depth in range(len(self.path))
        )
        if self.presence:
            return f"({guards})"
        return f"({guards} ? {root}.{'.'.join(self.path)} : {_cel_literal(self.default)})"

    def _value(self, spec: dict[str, Any]) -> Any:
        node: Any = spec
        for name in self.path:
            if not isinstance(node, dict) or node.get(name) is None:
                return False if self.presence else self.default
            node = node[name]
        return True if self.presence else (tuple(node) if self.grows else node)


def _version(value: str) -> tuple[int, ...]:
    return tuple(int(part) for part in value.split("."))


def _cel_version(value: str) -> str:
    """A version of three numbers as one comparable integer (CEL has no list ordering)."""
    parts = [f"int({value}.split('.')[{index}])" for index in range(3)]
    return f"({parts[0]} * 1000000000000 + {parts[1]} * 1000000 + {parts[2]})"


def _cel_literal(value: str | tuple[str, ...]) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(f"'{item}'" for item in value) + "]"
    return f"'{value}'"


class RuleViolationError(ValueError):
    """A broken rule; remembers which field it points at so errors can name it."""

    def __init__(self, rule: Rule) -> None:
        super().__init__(rule.message)
        self.field_path = rule.field_path.lstrip(".")


class SpecModel(BaseModel):
    """Base of every spec block: camelCase on the wire, unknown fields rejected, rules checked."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )
    rules: ClassVar[tuple[Rule, ...]] = ()
    immutable: ClassVar[tuple[Immutable, ...]] = ()

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        for rule in type(self).rules:
            if not rule.holds(self):
                raise RuleViolationError(rule)
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        rules: tuple[Rule | Immutable, ...] = (*cls.rules, *cls.immutable)
        validations = [rule.to_crd() for rule in rules]
        if validations:
            schema["x-kubernetes-validations"] = validations
        return schema


@dataclass(frozen=True)
class Matching:
    """Annotation for a string that must fully match ``pattern``; ``message`` says what fits.

    The pattern avoids backslashes and quotes so it reads the same in Python and in CEL.
    """

    pattern: str
    message: str
    max_length: int = 256

    def __post_init__(self) -> None:
        if "\\" in self.pattern or "'" in self.pattern:
            raise ValueError(f"pattern {self.pattern!r} must not contain backslashes or quotes")

    def check(self, value: str) -> str:
        if not re.fullmatch(self.pattern, value):
            raise ValueError(self.message)
        return value

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        string = core_schema.str_schema(max_length=self.max_length)
        return core_schema.no_info_after_validator_function(self.check, string)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        rule = {"rule": f"self.matches('^{self.pattern}$')", "message": self.message}
        json_schema["x-kubernetes-validations"] = [rule]
        return json_schema


def no_duplicates(items: list[str]) -> list[str]:
    """Rejects a list that names an item twice (the CRD marks such lists as sets)."""
    repeated = sorted({item for item in items if items.count(item) > 1})
    if repeated:
        raise ValueError(f"lists {', '.join(repeated)} more than once; list each item once")
    return items
