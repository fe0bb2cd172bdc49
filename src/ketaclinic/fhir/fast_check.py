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
reader gives it. A population repeats the same values thousands of times, so answers are kept
(issue 8; each store bounded, and forgotten all at once when full), always by something that
names what was judged, so that a kept answer is the answer judging would give:

- a code, uri, day or zoned time of day: by the string itself (a dateTime is judged as its day
  and its time of day, each kept; ids are unique, never kept);
- the element names of an object, in order: whether they are allowed (known, the required ones
  present, at most one of each choice) does not depend on the values, which are still judged;
- a CodeableConcept, Dosage, ObservationComponent or Quantity: by its JSON text, alone and
  jointly with the others of its object (an observation's code, category and quantity: one
  look-up). The same text is the same value, and the same answer; the one exception is null,
  which orjson writes for None, NaN and infinities alike, and all three are refused anywhere.
"""

from __future__ import annotations

import itertools
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
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
_FULL_DAY = re.compile(rf"({_YEAR})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
_CLOCK = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
_ZONE = r"(?:Z|[+\-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_ZONED_CLOCK = re.compile(f"{_CLOCK}{_ZONE}")
_TIME = re.compile(_CLOCK)

# The complex types whose values a population repeats most (bench/cohort.py profile); answers
# kept for each by JSON text, up to _ANSWERS_KEPT, then forgotten all at once so that memory
# stays bounded.
_REMEMBERED = frozenset({"CodeableConcept", "Dosage", "ObservationComponent", "Quantity"})
_ANSWERS_KEPT = 4096
# Answers for primitive values, by the string itself: codes, systems, days and times of day
# repeat across a population far more than whole values do, so more of them are kept.
_TEXTS_KEPT = 16384
# A Python value with no JSON text of its own (a datetime, a str subclass...) is not remembered.
_JSON_ONLY = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _remembering(judge: Callable[[str], bool]) -> _Check:
    """``judge`` of a JSON string, its answers kept by the string (the same string, the same
    answer): a dictionary look-up instead of a regular expression for the values a population
    repeats. Anything but an exact ``str`` is refused before any look-up."""
    answers: dict[str, bool] = {}

    def check(value: object) -> bool:
        if type(value) is not str:
            return False
        known = answers.get(value)
        if known is None:
            if len(answers) >= _TEXTS_KEPT:
                answers.clear()
            known = answers[value] = judge(value)
        return known

    return check


def _is_day(year: str, month: str, day: str) -> bool:
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def _string(value: object) -> bool:
    return type(value) is str and value != "" and not value.isspace()


def _id(value: object) -> bool:
    # Not remembered: ids are unique, an answer kept for one would never be asked for again.
    return type(value) is str and _ID.fullmatch(value) is not None


def _judge_date(value: str) -> bool:
    found = _DATE.fullmatch(value)
    if found is None:
        return False
    year, month, day = found.groups()
    return day is None or _is_day(year, month, day)


def _judge_full_day(value: str) -> bool:
    found = _FULL_DAY.fullmatch(value)
    return found is not None and _is_day(*found.groups())


_code = _remembering(lambda value: _CODE.fullmatch(value) is not None)
_uri = _remembering(lambda value: _URI.fullmatch(value) is not None)
_date = _remembering(_judge_date)
_full_day = _remembering(_judge_full_day)
_zoned_clock = _remembering(lambda value: _ZONED_CLOCK.fullmatch(value) is not None)


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


def _instant(value: object) -> bool:
    # The day and the zoned time of day are judged (and remembered) apart: a population repeats
    # both, but seldom the two together. A day has no "T", so the first "T" parts them.
    if type(value) is not str:
        return False
    day, parted, clock = value.partition("T")
    return parted == "T" and _full_day(day) and _zoned_clock(clock)


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
class _Layout:
    """How to judge an object that has these element names, in this order (see _layout)."""

    # The single primitive elements (status, id, dates...), by name, and their checks.
    leaves: tuple[tuple[str, _Check], ...]
    # The other elements (complex, or lists) but the remembered ones, by name, and how to judge.
    elements: tuple[tuple[str, _Element], ...]
    # The values of the elements a population repeats whole (codes, dosages: _REMEMBERED),
    # judged together and answered by their joint JSON text; None when there are none.
    pick_kept: Callable[[dict[str, Any]], tuple[Any, ...]] | None
    kept: tuple[_Element, ...]
    # Names this layout in the shape's ``answers`` (never reused, even after they are forgotten).
    number: int


@dataclass(slots=True)
class _Shape:
    """What R4B allows in one complex type (filled after creation: types refer to themselves)."""

    # element name -> (repeats, check of a primitive value, shape of a complex value).
    elements: dict[str, _Element] = field(default_factory=dict)
    # element name -> its choice group (``value`` for ``valueQuantity``), for choice elements.
    choices: dict[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    required_choices: frozenset[str] = frozenset()
    # _fits_by_names or _fits_each, chosen once the shape is filled (read when judging).
    fits: Callable[[_Shape, object], bool] = field(default=lambda shape, value: False)
    # Layouts seen: the element names of an object, in order -> how to judge its values, or
    # _REFUSED when the names alone are not allowed (see _layout).
    layouts: dict[tuple[Any, ...], _Layout] = field(default_factory=dict)
    # Answers by JSON text: of a whole value for the types in _REMEMBERED (``remembered``), and
    # by layout number and JSON text of the remembered elements of an object (``_fits_by_names``).
    answers: dict[Any, bool] = field(default_factory=dict)
    remembered: bool = False


# How to check one element: does it repeat, the check of one primitive value or the shape of one
# complex value (a plain tuple, as this is the hot loop of every screening).
_Element = tuple[bool, _Check | None, _Shape | None]

_REFUSED = _Layout(leaves=(), elements=(), pick_kept=None, kept=(), number=-1)
_layout_numbers = itertools.count()

# Nesting: a complex value is judged by calling its shape's ``fits`` straight from the loop over
# its parent's elements (no helper function, map or partial between them: in Python 3.11 each
# C call counts against the recursion limit as a Python call does), so that each level of
# a deeply nested value (extensions in extensions) costs one level of Python's recursion, as
# deep as JSON is read; R4B itself fails on such values (a RecursionError, not a refusal), so
# proving them valid here is what keeps them from being a defect.


def _fits_by_names(shape: _Shape, value: object) -> bool:
    """Does ``value`` (decoded JSON) surely fit ``shape``, a type with required or choice
    elements (every resource, Extension, Dosage...)?"""
    if type(value) is not dict or not value:
        return False
    # Whether the names are allowed (known, required ones present, one of each choice) depends
    # on the names alone, and a population writes the same few layouts of each type again and
    # again: that part is looked up, leaving the values to judge.
    names = tuple(value)
    layout = shape.layouts.get(names)
    if layout is None:
        layout = _layout(shape, names)
    if layout is _REFUSED:
        return False
    for name, leaf in layout.leaves:
        if not leaf(value[name]):
            return False
    items: list[Any] | tuple[Any, ...]
    for name, (repeats, check, inner) in layout.elements:
        item = value[name]
        if repeats:
            if type(item) is not list or not item:
                return False
            items = item
        else:
            items = (item,)
        if inner is None:
            assert check is not None
            for one in items:
                if not check(one):
                    return False
        elif inner.remembered:
            for one in items:
                if not _remembered(inner, one):
                    return False
        else:
            fits = inner.fits
            for one in items:
                if not fits(inner, one):
                    return False
    return layout.pick_kept is None or _kept_fit(shape, layout, layout.pick_kept(value))


def _kept_fit(shape: _Shape, layout: _Layout, values: tuple[Any, ...]) -> bool:
    """Do the values of the remembered elements fit? Answered by their joint JSON text: one
    look-up for the code, category and quantity of an observation, say, not one each."""
    try:
        text = orjson.dumps(values, option=_JSON_ONLY)
    except orjson.JSONEncodeError:
        return _all_remembered_fit(layout.kept, values)
    known = shape.answers.get((layout.number, text))
    if known is None:
        if len(shape.answers) >= _ANSWERS_KEPT:
            shape.answers.clear()
        known = shape.answers[layout.number, text] = _all_remembered_fit(layout.kept, values)
    return known


def _all_remembered_fit(elements: tuple[_Element, ...], values: tuple[Any, ...]) -> bool:
    """Each value of an element of a remembered type, judged by the answers kept for its type."""
    for (repeats, _, inner), item in zip(elements, values, strict=True):
        assert inner is not None
        if repeats and (type(item) is not list or not item):
            return False
        for one in item if repeats else (item,):
            if not _remembered(inner, one):
                return False
    return True


def _fits_each(shape: _Shape, value: object) -> bool:
    """``fits`` for a type without required or choice elements (Coding, Quantity,
    Reference...): small objects, for which a plain loop is quicker than a look-up.

    The loop over one element's values is written out here as in ``_fits_by_names``, not
    shared: a shared function (or ``all`` over a generator) costs two more Python frames per
    level of nesting, and the proof must reach as deep as JSON is read (a hostile bundle nests
    extensions ~1,000 deep, where R4B itself fails with RecursionError; test_fast_check.py)."""
    if type(value) is not dict or not value:
        return False
    elements = shape.elements
    items: list[Any] | tuple[Any, ...]
    for key, item in value.items():
        element = elements.get(key)
        if element is None:
            return False
        repeats, check, inner = element
        if repeats:
            if type(item) is not list or not item:
                return False
            items = item
        else:
            items = (item,)
        if inner is None:
            assert check is not None
            for one in items:
                if not check(one):
                    return False
        elif inner.remembered:
            for one in items:
                if not _remembered(inner, one):
                    return False
        else:
            fits = inner.fits
            for one in items:
                if not fits(inner, one):
                    return False
    return True


def _layout(shape: _Shape, names: tuple[Any, ...]) -> _Layout:
    """How to judge an object with the element names ``names``, or _REFUSED when such an
    object is refused whatever its values; kept (up to _ANSWERS_KEPT layouts, then all
    forgotten)."""
    groups = shape.choices
    chosen = [groups[name] for name in names if name in groups]
    allowed = (
        all(name in shape.elements for name in names)
        and all(name in names for name in shape.required)
        and len(set(chosen)) == len(chosen)
        and shape.required_choices.issubset(chosen)
    )
    if len(shape.layouts) >= _ANSWERS_KEPT:
        shape.layouts.clear()
    if not allowed:
        shape.layouts[names] = _REFUSED
        return _REFUSED
    kept = [name for name in names if _is_remembered(shape.elements[name])]
    leaves = [name for name in names if _is_leaf(shape.elements[name])]
    alone = [name for name in names if name not in kept and name not in leaves]
    layout = shape.layouts[names] = _Layout(
        leaves=tuple((name, _leaf_check(shape.elements[name])) for name in leaves),
        elements=tuple((name, shape.elements[name]) for name in alone),
        pick_kept=_picker(kept) if kept else None,
        kept=tuple(shape.elements[name] for name in kept),
        number=next(_layout_numbers),
    )
    return layout


def _is_leaf(element: _Element) -> bool:
    """A single primitive value."""
    repeats, check, _ = element
    return not repeats and check is not None


def _leaf_check(element: _Element) -> _Check:
    check = element[1]
    assert check is not None
    return check


def _is_remembered(element: _Element) -> bool:
    inner = element[2]
    return inner is not None and inner.remembered


def _picker(names: list[Any]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The values of ``names`` in an object, as a tuple (itemgetter gives a bare value for one
    name, and an error for none)."""
    if len(names) >= 2:
        return itemgetter(*names)
    if names:
        name = names[0]
        return lambda value: (value[name],)
    return lambda value: ()


def _remembered(shape: _Shape, value: object) -> bool:
    """``fits``, answered from the shape's answers when this JSON text was judged before."""
    try:
        text = orjson.dumps(value, option=_JSON_ONLY)
    except orjson.JSONEncodeError:
        return shape.fits(shape, value)
    answers = shape.answers
    known = answers.get(text)
    if known is None:
        if len(answers) >= _ANSWERS_KEPT:
            answers.clear()
        known = answers[text] = shape.fits(shape, value)
    return known


def _primitive_name(annotation: Any) -> str | None:
    if annotation is bool:
        return "boolean"
    for meta in getattr(annotation, "__metadata__", ()):
        name = getattr(meta, "__visit_name__", None)
        if isinstance(name, str):
            return name
    return None


def _element_of(annotation: Any) -> _Element | None:
    """How to check a field of this type, None when not known here."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        present = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _element_of(present[0]) if len(present) == 1 else None
    if origin is list:
        found = _element_of(typing.get_args(annotation)[0])
        return None if found is None or found[0] else (True, *found[1:])
    if isinstance(annotation, type) and issubclass(annotation, FhirBase):
        if issubclass(annotation, FhirElementOrResourceBase):
            return None  # contained resources: left to R4B
        return False, None, _shape(annotation.get_model_klass())
    name = _primitive_name(annotation)
    check = _PRIMITIVES.get(name) if name is not None else None
    return None if check is None else (False, check, None)


_SHAPES: dict[Any, _Shape] = {}


def _shape(model: Any) -> _Shape:
    known = _SHAPES.get(model)
    if known is not None:
        return known
    shape = _SHAPES[model] = _Shape(remembered=model.__name__ in _REMEMBERED)
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
        found = _element_of(info.annotation)
        if found is not None:
            shape.elements[alias] = found
            if isinstance(choice, str):
                shape.choices[alias] = choice
    shape.required = tuple(required)
    shape.required_choices = frozenset(required_choices)
    shape.fits = _way_to_fit(shape)
    return shape


def _resource_shape(kind: str) -> _Shape:
    shape = _shape(get_fhir_model_class(kind))
    resource = _Shape(
        elements={**shape.elements, "resourceType": (False, kind.__eq__, None)},
        choices=shape.choices,
        required=shape.required,
        required_choices=shape.required_choices,
    )
    resource.fits = _way_to_fit(resource)
    return resource


def _way_to_fit(shape: _Shape) -> Callable[[_Shape, object], bool]:
    has_rules = shape.required or shape.required_choices or shape.choices
    return _fits_by_names if has_rules else _fits_each


_RESOURCES: dict[str, _Shape] = {kind: _resource_shape(kind) for kind in READ_TYPES}


def surely_valid(resource: dict[str, Any]) -> bool:
    """True only if R4B's model of its type accepts ``resource``; False means "ask R4B"."""
    kind = resource.get("resourceType")
    shape = _RESOURCES.get(kind) if type(kind) is str else None
    if shape is None:
        return False
    try:
        return shape.fits(shape, resource)
    except RecursionError:
        return False
