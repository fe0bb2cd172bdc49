"""Typed values out of the raw JSON of one resource.

The resource has already passed its R4B model, but pydantic's lax mode lets a
few things through that the engine must not guess at (a number where a
dateTime belongs, a string where a decimal belongs); these readers refuse
them with the field named, and otherwise return plain Python values.

Dates: FHIR allows partial dates ("2019", "2019-04"). Each is read as its
first day, for starts and ends alike: simple, and the same everywhere.
Times: the calendar day is kept as written (local to the record) and the
instant is converted to naive UTC, so that readings from different time zones
order and pair correctly (see ``facts.Moment``).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import orjson

from ketaclinic.clinical.facts import Coding, Moment
from ketaclinic.fhir.errors import Place

_DATE_TIME = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def child(value: dict[str, Any], key: str, place: Place, field: str) -> dict[str, Any] | None:
    """An object element, or None when absent."""
    found = value.get(key)
    if found is None:
        return None
    if not isinstance(found, dict):
        raise place.fail(field, "expected an object")
    return found


def children(value: dict[str, Any], key: str, place: Place, field: str) -> list[dict[str, Any]]:
    """A repeating element of objects (an empty list when absent)."""
    found = value.get(key)
    if found is None:
        return []
    if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
        raise place.fail(field, "expected a list of objects")
    return found


def first_child(value: dict[str, Any], key: str, place: Place, field: str) -> dict[str, Any] | None:
    found = children(value, key, place, field)
    return found[0] if found else None


def text(value: dict[str, Any], key: str, place: Place, field: str) -> str | None:
    found = value.get(key)
    if found is None:
        return None
    if not isinstance(found, str):
        raise place.fail(field, "expected a string")
    return found


def number(value: dict[str, Any], key: str, place: Place, field: str) -> float | None:
    found = value.get(key)
    if found is None:
        return None
    if isinstance(found, bool) or not isinstance(found, int | float | str):
        raise place.fail(field, "expected a number")
    try:
        return float(found)
    except ValueError:
        raise place.fail(field, f"not a valid decimal ({found!r})") from None


def integer(value: dict[str, Any], key: str, place: Place, field: str) -> int | None:
    found = number(value, key, place, field)
    if found is None:
        return None
    if not found.is_integer():
        raise place.fail(field, "expected an integer")
    return int(found)


def _parts(value: dict[str, Any], key: str, place: Place, field: str) -> re.Match[str] | None:
    written = text(value, key, place, field)
    if written is None:
        return None
    parts = _DATE_TIME.fullmatch(written)
    if parts is None:
        raise place.fail(field, f"not a valid date or dateTime ({written!r})")
    return parts


def _day(parts: re.Match[str], place: Place, field: str) -> date:
    year, month, day = parts.group(1, 2, 3)
    try:
        return date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        raise place.fail(field, f"not a valid date ({parts.group(0)!r})") from None


def day_of(value: dict[str, Any], key: str, place: Place, field: str) -> date | None:
    """The calendar day of a date or dateTime, as written; a partial date is its first day."""
    parts = _parts(value, key, place, field)
    return None if parts is None else _day(parts, place, field)


def moment_of(value: dict[str, Any], key: str, place: Place, field: str) -> Moment | None:
    """A date, dateTime or instant: its day as written and its instant in naive UTC."""
    parts = _parts(value, key, place, field)
    if parts is None:
        return None
    day = _day(parts, place, field)
    hour, minute, second, fraction, zone = parts.group(4, 5, 6, 7, 8)
    if hour is None:
        return Moment.of_day(day)
    try:
        # A leap second (":60") is ordered as the last instant of its minute.
        at = datetime(
            day.year,
            day.month,
            day.day,
            int(hour),
            int(minute),
            min(int(second or 0), 59),
            int((fraction or "0")[:6].ljust(6, "0")),
        )
    except ValueError:
        raise place.fail(field, f"not a valid dateTime ({parts.group(0)!r})") from None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        at -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return Moment(day, at)


# A population repeats the same few hundred codings: a list of them is read once and kept by its
# JSON text, which names the same value (a JSON list: a tuple is refused, never looked up).
# At most _CODINGS_KEPT are kept, then all are forgotten, so that memory stays bounded.
_CODINGS_KEPT = 4096
_codings_read: dict[bytes, tuple[Coding, ...]] = {}
_JSON_ONLY = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def codings(concept: dict[str, Any] | None, place: Place, field: str) -> tuple[Coding, ...]:
    """The codings of a CodeableConcept that carry a code (a system may be absent: "")."""
    if concept is None:
        return ()
    listed = concept.get("coding")
    if type(listed) is not list:
        return _read_codings(concept, place, field)
    try:
        written = orjson.dumps(listed, option=_JSON_ONLY)
    except orjson.JSONEncodeError:
        return _read_codings(concept, place, field)
    known = _codings_read.get(written)
    if known is None:
        # Read (or refused, naming the field) before anything is kept.
        known = _read_codings(concept, place, field)
        if len(_codings_read) >= _CODINGS_KEPT:
            _codings_read.clear()
        _codings_read[written] = known
    return known


def _read_codings(concept: dict[str, Any], place: Place, field: str) -> tuple[Coding, ...]:
    found: list[Coding] = []
    for i, coding in enumerate(children(concept, "coding", place, f"{field}.coding")):
        where = f"{field}.coding[{i}]"
        code = text(coding, "code", place, f"{where}.code")
        if code is None:
            continue
        system = text(coding, "system", place, f"{where}.system") or ""
        found.append(Coding(system, code, text(coding, "display", place, f"{where}.display")))
    return tuple(found)


def concept_text(concept: dict[str, Any] | None, place: Place, field: str) -> str | None:
    return None if concept is None else text(concept, "text", place, f"{field}.text")


def first_code(value: dict[str, Any], key: str, place: Place) -> str | None:
    """The first code of a status CodeableConcept (clinicalStatus, verificationStatus)."""
    found = codings(child(value, key, place, key), place, key)
    return found[0].code if found else None


def reference(value: dict[str, Any], key: str, place: Place) -> str | None:
    """The literal reference of a Reference element, or None (absent, or logical only)."""
    found = child(value, key, place, key)
    return None if found is None else text(found, "reference", place, f"{key}.reference")
