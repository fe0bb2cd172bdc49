"""A quick proof that a resource the engine reads is valid R4, so that R4B need not be asked.

Source: spec/screening.md, "Input: a FHIR R4 Bundle" ("Valid means ... checked with
``fhir.resources.R4B``"), and issue 8 (R4B model validation was about 60 % of the time of a
screening). ``surely_valid`` answers True only when it can show that R4B's ``model_validate``
accepts the resource; on False the reader asks R4B itself, so every refusal, and its message,
is still R4B's.

What "knows" means: the elements of each type (names, cardinality, element types, required
elements, choice groups ``value[x]``) are read once from the R4B model classes themselves, so the
fast path can never accept an element name R4B would call unknown. The values are judged here,
by rules stricter than R4B's (found by experiment with fhir.resources 8 / fhir_core 1.1):

- every object has at least one element, every list at least one item, no ``null`` anywhere;
- string, markdown, xhtml: a JSON string with some non-whitespace (R4B refuses "" and strings of
  whitespace other than space, tab, CR, LF; it accepts " x ", which is accepted here too);
- code: no leading, trailing or double whitespace (R4B: ``^[^\\s]+(\\s[^\\s]+)*$``), and only
  single spaces inside (R4B also takes tabs);
- id: ``[A-Za-z0-9-.]{1,64}`` (R4B allows 255);
- uri, canonical: a non-empty string with no whitespace (R4B takes any string, even "");
- boolean: JSON true or false (R4B also takes "true" and 1);
- integer, unsignedInt, positiveInt: a JSON integer, not a boolean, in range (R4B also takes
  "2" and 2.0);
- decimal: a JSON number, not a boolean, finite (R4B refuses true, takes "5");
- date: YYYY, YYYY-MM or YYYY-MM-DD that is a real day, year 0001-9999 (R4B refuses 2026-13,
  2026-02-30, 0000);
- dateTime: a date, or a full date and time to the second with a zone (Z or +hh:mm up to 14:00),
  at most 6 decimals, no leap second (R4B refuses a time without zone or seconds, 24:00:00);
- instant: the full form of dateTime; time: hh:mm:ss with at most 6 decimals.

Anything else is "not known" and the answer is False: ``contained`` resources, ``_element``
primitive extensions, ``fhir_comments``, and elements of type base64Binary, url, oid, uuid or
integer64.

The resource is decoded JSON (objects, arrays, strings, numbers, true, false, null), as the
reader gives it. A population repeats the same codes, dosages and blood-pressure components
thousands of times, so the answer for a value of those types is kept by its JSON text (a few
thousand answers at most, then forgotten): the same text is the same value, and the same answer.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
from fhir.resources.R4B import get_fhir_model_class
from fhir_core.types import FhirBase, FhirElementOrResourceBase

__all__ = ["READ_TYPES", "surely_valid"]

# The resource types the engine reads (fhir/bundle.py); others are never proven here.
READ_TYPES = (
    "Patient",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "Medication",
    "Observation",
    "AllergyIntolerance",
    "Procedure",
)

_Check = Callable[[object], bool]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_CODE = re.compile(r"[^\s]+(?: [^\s]+)*")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_URI = re.compile(r"\S+")
# Year 0001-9999 as in R4B's own pattern (which refuses 0000).
_YEAR = r"(?:[0-9](?:[0-9](?:[0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_DATE = re.compile(rf"({_YEAR})(?:-(0[1-9]|1[0-2])(?:-(0[1-9]|[12][0-9]|3[01]))?)?")
_CLOCK = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
_ZONE = r"(?:Z|[+\-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_FULL = re.compile(rf"({_YEAR})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T{_CLOCK}{_ZONE}")
_TIME = re.compile(_CLOCK)

# The types whose values a population repeats most (bench/cohort.py profile); answers kept for
# each, up to _ANSWERS_KEPT, then forgotten all at once so that memory stays bounded.
_REMEMBERED = frozenset({"CodeableConcept", "Dosage", "ObservationComponent"})
_ANSWERS_KEPT = 4096
# A Python value with no JSON text of its own (a datetime, a str subclass...) is not remembered.
_JSON_ONLY = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _is_day(year: str, month: str, day: str) -> bool:
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def _string(value: object) -> bool:
    return type(value) is str and value != "" and not value.isspace()


def _code(value: object) -> bool:
    return type(value) is str and _CODE.fullmatch(value) is not None


def _id(value: object) -> bool:
    return type(value) is str and _ID.fullmatch(value) is not None


def _uri(value: object) -> bool:
    return type(value) is str and _URI.fullmatch(value) is not None


def _boolean(value: object) -> bool:
    return type(value) is bool


def _integer(value: object) -> bool:
    return type(value) is int and _INT_MIN <= value <= _INT_MAX


def _unsigned_int(value: object) -> bool:
    return type(value) is int and 0 <= value <= _INT_MAX


def _positive_int(value: object) -> bool:
    return type(value) is int and 1 <= value <= _INT_MAX


def _decimal(value: object) -> bool:
    if type(value) is int:
        return True
    return type(value) is float and math.isfinite(value)


def _date(value: object) -> bool:
    if type(value) is not str:
        return False
    found = _DATE.fullmatch(value)
    if found is None:
        return False
    year, month, day = found.groups()
    return day is None or _is_day(year, month, day)


def _instant(value: object) -> bool:
    if type(value) is not str:
        return False
    found = _FULL.fullmatch(value)
    return found is not None and _is_day(*found.groups())


def _date_time(value: object) -> bool:
    return _instant(value) if type(value) is str and "T" in value else _date(value)


def _time(value: object) -> bool:
    return type(value) is str and _TIME.fullmatch(value) is not None


# FHIR primitive type (fhir_core's ``__visit_name__``) -> the check of one value.
_PRIMITIVES: Mapping[str, _Check] = {
    "string": _string,
    "markdown": _string,
    "xhtml": _string,
    "code": _code,
    "id": _id,
    "uri": _uri,
    "canonical": _uri,
    "boolean": _boolean,
    "integer": _integer,
    "unsignedInt": _unsigned_int,
    "positiveInt": _positive_int,
    "decimal": _decimal,
    "date": _date,
    "dateTime": _date_time,
    "instant": _instant,
    "time": _time,
}


@dataclass(slots=True)
class _Shape:
    """What R4B allows in one complex type (filled after creation: types refer to themselves)."""

    # element name -> (repeats, check of a primitive value, shape of a complex value, choice):
    # a plain tuple, as this is the hot loop of every screening.
    elements: dict[str, _Element] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    required_choices: tuple[str, ...] = ()
    # Answers by JSON text, for the types in _REMEMBERED; None for the others.
    answers: dict[bytes, bool] | None = None


# ``choice`` is the ``value`` of ``value[x]``: at most one variant of it.
_Element = tuple[bool, _Check | None, _Shape | None, str | None]


def _fits(value: object, shape: _Shape) -> bool:
    if type(value) is not dict or not value:
        return False
    elements = shape.elements
    chosen: set[str] | None = None
    for key, item in value.items():
        element = elements.get(key)
        if element is None:
            return False
        repeats, check, inner, choice = element
        if choice is not None:
            if chosen is None:
                chosen = {choice}
            elif choice in chosen:
                return False
            else:
                chosen.add(choice)
        items: list[Any] | tuple[Any]
        if repeats:
            if type(item) is not list or not item:
                return False
            items = item
        else:
            items = (item,)
        if inner is not None:
            fits = _fits if inner.answers is None else _remembered
            for one in items:
                if not fits(one, inner):
                    return False
        elif check is not None:
            for one in items:
                if not check(one):
                    return False
    for key in shape.required:
        if key not in value:
            return False
    return not shape.required_choices or (
        chosen is not None and chosen.issuperset(shape.required_choices)
    )


def _remembered(value: object, shape: _Shape) -> bool:
    """``_fits``, answered from the shape's answers when this JSON text was judged before."""
    answers = shape.answers
    assert answers is not None
    try:
        text = orjson.dumps(value, option=_JSON_ONLY)
    except orjson.JSONEncodeError:
        return _fits(value, shape)
    known = answers.get(text)
    if known is None:
        if len(answers) >= _ANSWERS_KEPT:
            answers.clear()
        known = answers[text] = _fits(value, shape)
    return known


def _primitive_name(annotation: Any) -> str | None:
    if annotation is bool:
        return "boolean"
    for meta in getattr(annotation, "__metadata__", ()):
        name = getattr(meta, "__visit_name__", None)
        if isinstance(name, str):
            return name
    return None


def _element_of(annotation: Any, choice: str | None) -> _Element | None:
    """How to check a field of this type, None when not known here."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        present = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _element_of(present[0], choice) if len(present) == 1 else None
    if origin is list:
        found = _element_of(typing.get_args(annotation)[0], choice)
        return None if found is None or found[0] else (True, *found[1:])
    if isinstance(annotation, type) and issubclass(annotation, FhirBase):
        if issubclass(annotation, FhirElementOrResourceBase):
            return None  # contained resources: left to R4B
        return False, None, _shape(annotation.get_model_klass()), choice
    name = _primitive_name(annotation)
    check = _PRIMITIVES.get(name) if name is not None else None
    return None if check is None else (False, check, None, choice)


_SHAPES: dict[Any, _Shape] = {}


def _shape(model: Any) -> _Shape:
    known = _SHAPES.get(model)
    if known is not None:
        return known
    shape = _SHAPES[model] = _Shape(answers={} if model.__name__ in _REMEMBERED else None)
    # Stored before it is filled, so that Extension.extension and Identifier.assigner end.
    required: list[str] = []
    required_choices: set[str] = set()
    for name, info in model.model_fields.items():
        alias = info.alias or name
        if name.endswith("__ext") or name == "fhir_comments":
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if info.is_required() or extra.get("element_required") is True:
            required.append(alias)
        choice = extra.get("one_of_many")
        if isinstance(choice, str) and extra.get("one_of_many_required") is True:
            required_choices.add(choice)
        found = _element_of(info.annotation, choice if isinstance(choice, str) else None)
        if found is not None:
            shape.elements[alias] = found
    shape.required = tuple(required)
    shape.required_choices = tuple(sorted(required_choices))
    return shape


def _resource_shape(kind: str) -> _Shape:
    shape = _shape(get_fhir_model_class(kind))
    return _Shape(
        elements={**shape.elements, "resourceType": (False, kind.__eq__, None, None)},
        required=shape.required,
        required_choices=shape.required_choices,
    )


_RESOURCES: dict[str, _Shape] = {kind: _resource_shape(kind) for kind in READ_TYPES}


def surely_valid(resource: dict[str, Any]) -> bool:
    """True only if R4B's model of its type accepts ``resource``; False means "ask R4B"."""
    kind = resource.get("resourceType")
    shape = _RESOURCES.get(kind) if type(kind) is str else None
    if shape is None:
        return False
    try:
        return _fits(resource, shape)
    except RecursionError:
        return False
