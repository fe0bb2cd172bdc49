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
from typing import Any, TypeVar

import orjson

from ketaclinic.clinical.facts import Coding, Moment
from ketaclinic.fhir.errors import Place

_Key = TypeVar("_Key")
_Read = TypeVar("_Read")

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
    # dict.__instancecheck__ is isinstance(item, dict), mapped in C rather than a generator.
    if not isinstance(found, list) or not all(map(dict.__instancecheck__, found)):
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


# A population repeats the same days and times (a blood pressure's two readings, a year of visits
# on the same days): each text is read once and its day or moment kept by the text, which names
# the same value (only a plain ``str``; a refused text is refused again each time, at its own
# place). At most TEXTS_KEPT are kept, then all are forgotten, so that memory stays bounded.
TEXTS_KEPT = 16384
_days_read: dict[str, date] = {}
_moments_read: dict[str, Moment] = {}
# A full dateTime is seldom repeated whole, but its day and its time of day (with its zone) are:
# the time of day ("T08:30:00Z") -> how long after midnight of its day the instant is, in UTC.
_clocks_read: dict[str, timedelta] = {}


def keep(kept: dict[_Key, _Read], key: _Key, read: _Read, limit: int = TEXTS_KEPT) -> _Read:
    """``read`` kept under ``key``; past ``limit`` readings all are forgotten (bounded memory)."""
    if len(kept) >= limit:
        kept.clear()
    kept[key] = read
    return read


def day_of(value: dict[str, Any], key: str, place: Place, field: str) -> date | None:
    """The calendar day of a date or dateTime, as written; a partial date is its first day."""
    written = value.get(key)
    if type(written) is str:
        known = _days_read.get(written)
        if known is None and written[10:11] == "T" and written[10:] in _clocks_read:
            known = _days_read.get(written[:10])
        if known is not None:
            return known
    parts = _parts(value, key, place, field)
    if parts is None:
        return None
    found = _day(parts, place, field)
    if type(written) is str:
        keep(_days_read, written, found)
    return found


def moment_of(value: dict[str, Any], key: str, place: Place, field: str) -> Moment | None:
    """A date, dateTime or instant: its day as written and its instant in naive UTC."""
    written = value.get(key)
    if type(written) is str:
        known = _moments_read.get(written)
        if known is None and written[10:11] == "T":
            known = _moment_of_parts_read(written)
        if known is not None:
            return known
    parts = _parts(value, key, place, field)
    if parts is None:
        return None
    found = _moment(parts, place, field)
    if type(written) is str:
        keep(_moments_read, written, found)
        if parts.group(4) is not None:
            # Written as day, "T", time of day: the day is its first ten characters.
            keep(_days_read, written[:10], found.day)
            keep(_clocks_read, written[10:], found.at - _midnight(found.day))
    return found


def _moment_of_parts_read(written: str) -> Moment | None:
    """The moment of a dateTime whose day and time of day were both read before, else None."""
    day = _days_read.get(written[:10])
    after = _clocks_read.get(written[10:])
    if day is None or after is None:
        return None
    found = Moment(day, _midnight(day) + after)
    keep(_moments_read, written, found)
    return found


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _moment(parts: re.Match[str], place: Place, field: str) -> Moment:
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
# The codes of one system in such a list, by (system, JSON text), bounded the same way.
_codes_read: dict[tuple[str, bytes], tuple[str, ...]] = {}
_JSON_ONLY = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def json_text(value: object) -> bytes | None:
    """The JSON text of decoded JSON, to keep what was read from it by: the same text is the
    same value. None when the text could name another value too: no text for a Python value
    JSON has not (a str subclass, a datetime...), and none with ``null``, as orjson writes NaN
    and infinities so."""
    try:
        written = orjson.dumps(value, option=_JSON_ONLY)
    except orjson.JSONEncodeError:
        return None
    return None if b"null" in written else written


def _json_text(concept: dict[str, Any]) -> bytes | None:
    """The JSON text of a concept's ``coding`` list, None when it is not a plain JSON list."""
    listed = concept.get("coding")
    return json_text(listed) if type(listed) is list else None


def codings(concept: dict[str, Any] | None, place: Place, field: str) -> tuple[Coding, ...]:
    """The codings of a CodeableConcept that carry a code (a system may be absent: "")."""
    if concept is None:
        return ()
    written = _json_text(concept)
    if written is None:
        return _read_codings(concept, place, field)
    return _codings_kept(written, concept, place, field)


def _codings_kept(
    written: bytes, concept: dict[str, Any], place: Place, field: str
) -> tuple[Coding, ...]:
    known = _codings_read.get(written)
    if known is None:
        # Read (or refused, naming the field) before anything is kept.
        known = keep(_codings_read, written, _read_codings(concept, place, field), _CODINGS_KEPT)
    return known


def codes_in(
    concept: dict[str, Any] | None, system: str, place: Place, field: str
) -> tuple[str, ...]:
    """The codes of ``system`` among ``codings(concept)``, each once, in their order."""
    if concept is None:
        return ()
    written = _json_text(concept)
    if written is None:
        return _distinct_codes(_read_codings(concept, place, field), system)
    known = _codes_read.get((system, written))
    if known is None:
        found = _distinct_codes(_codings_kept(written, concept, place, field), system)
        known = keep(_codes_read, (system, written), found, _CODINGS_KEPT)
    return known


def _distinct_codes(found: tuple[Coding, ...], system: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(coding.code for coding in found if coding.system == system))


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
