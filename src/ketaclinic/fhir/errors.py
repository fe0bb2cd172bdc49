"""Bad input in a FHIR Bundle, said in one line: what is wrong and where.

Entries are numbered from 0, as in FHIRPath (``Bundle.entry[3]`` is "entry 3"),
so a message can be checked against the file with any FHIR tool.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson


class BundleError(ValueError):
    """The bundle cannot be read: one human line naming the entry, resource type and field."""


@dataclass(frozen=True)
class Place:
    """One entry of the bundle, to name in messages."""

    index: int
    resource_type: str

    def fail(self, field: str, problem: str) -> BundleError:
        where = f"entry {self.index} ({self.resource_type})"
        return BundleError(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")


# Pydantic error types, said in FHIR words.
_PROBLEMS: Mapping[str, str] = {
    "missing": "required element is missing",
    "model_field_validation.missing": "required element is missing",
    "extra_forbidden": "unknown element",
    "json_invalid": "expected an object",
    "dict_type": "expected an object",
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_pattern_mismatch": "not a valid value for its FHIR type",
}
_NOT_SPEC = re.compile(r"(\w+) value string does not match spec regex")
_CHOICE_MISSING = re.compile(r"Expect any of field value from this list \[([^\]]*)\]")
_CHOICE_MANY = re.compile(r"Any of one field value is expected from this list \[([^\]]*)\]")
_SCALARS = (str, int, float, bool)


def _field_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "root" or "[" in part:
            # Validator wrappers, not elements of the resource.
            continue
        else:
            name = f"_{part[: -len('__ext')]}" if part.endswith("__ext") else part
            path += f".{name}" if path else name
    return path


def _names(listed: str) -> str:
    return ", ".join(name.strip(" '\"") for name in listed.split(","))


def _problem(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    message = " ".join(str(error.get("msg", "")).split()).removeprefix("Value error, ")
    if found := _NOT_SPEC.search(message):
        word = found.group(1)
        return f"not a valid {word[0].lower()}{word[1:]}"
    if found := _CHOICE_MISSING.search(message):
        return f"one of {_names(found.group(1))} is required"
    if found := _CHOICE_MANY.search(message):
        return f"only one of {_names(found.group(1))} may be given"
    if kind == "model_validation_format" and "model_class" in error.get("ctx", {}):
        return f"expected a {error['ctx']['model_class']} object"
    if kind == "list_type" and message.startswith("Input should be"):
        return "expected a list"
    return _PROBLEMS.get(kind, message)


def _shown(value: object) -> str:
    # As written in the JSON, so that the reader can search the file for it.
    text = orjson.dumps(value).decode()
    return text if len(text) <= 40 else text[:37] + "..."


def from_validation(place: Place, errors: Sequence[Mapping[str, Any]]) -> BundleError:
    """The first problem pydantic found in a resource, in one line; the others are counted."""
    if not errors:
        return place.fail("", "not a valid resource")
    first = errors[0]
    problem = _problem(first)
    value = first.get("input")
    if isinstance(value, _SCALARS) and "missing" not in problem:
        problem += f" ({_shown(value)})"
    if len(errors) > 1:
        others = len(errors) - 1
        problem += f" (and {others} more problem{'s' if others > 1 else ''})"
    return place.fail(_field_path(first.get("loc", ())), problem)
