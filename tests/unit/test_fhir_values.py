"""``fhir.values``: codings, dosages, days and moments read once are kept by their text; what is
kept never changes an answer (expected values written from the FHIR R4 datatypes)."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest

from ketaclinic.clinical.facts import Coding, Moment
from ketaclinic.fhir.errors import BundleError, Place
from ketaclinic.fhir.read_resources import read_medication
from ketaclinic.fhir.values import codes_in, codings, day_of, json_text, moment_of

LOINC = "http://loinc.org"


def test_the_same_codings_read_twice_are_the_same() -> None:
    concept = {
        "coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic"}, {"code": "x"}]
    }
    expected = (Coding(LOINC, "8480-6", "Systolic"), Coding("", "x", None))
    assert codings(concept, Place(0, "Observation"), "code") == expected
    assert codings(dict(concept), Place(1, "Observation"), "code") == expected


def test_a_refused_coding_is_refused_each_time_at_its_own_place() -> None:
    concept = {"coding": [{"system": LOINC, "code": 8480}]}
    for index in (3, 4):
        with pytest.raises(BundleError) as refused:
            codings(concept, Place(index, "Observation"), "code")
        assert str(refused.value) == (
            f"entry {index} (Observation): code.coding[0].code: expected a string"
        )


def test_codings_in_a_tuple_are_refused_even_after_the_same_list_was_read() -> None:
    listed = [{"system": LOINC, "code": "718-7"}]
    assert codings({"coding": listed}, Place(0, "Observation"), "code") == (Coding(LOINC, "718-7"),)
    with pytest.raises(BundleError) as refused:
        codings({"coding": tuple(listed)}, Place(0, "Observation"), "code")
    assert str(refused.value) == "entry 0 (Observation): code.coding: expected a list of objects"


def test_moments_read_from_a_day_and_a_time_of_day_read_before() -> None:
    """A dateTime's day and time of day are kept apart too, so a new dateTime made of both is
    read from them; the instant is the one the whole text names (naive UTC)."""
    place = Place(0, "Observation")
    first = {"effectiveDateTime": "2026-03-01T10:00:00Z"}
    second = {"effectiveDateTime": "2026-03-05T23:30:00-05:00"}
    assert moment_of(first, "effectiveDateTime", place, "effectiveDateTime") == Moment(
        date(2026, 3, 1), datetime(2026, 3, 1, 10, 0)
    )
    assert moment_of(second, "effectiveDateTime", place, "effectiveDateTime") == Moment(
        date(2026, 3, 5), datetime(2026, 3, 6, 4, 30)
    )
    mixed = {"effectiveDateTime": "2026-03-01T23:30:00-05:00"}
    assert moment_of(mixed, "effectiveDateTime", place, "effectiveDateTime") == Moment(
        date(2026, 3, 1), datetime(2026, 3, 2, 4, 30)
    )
    assert day_of(mixed, "effectiveDateTime", place, "effectiveDateTime") == date(2026, 3, 1)
    # The last day of a leap year, at a time read on another day (a leap second: its minute's
    # last instant).
    leap = {"issued": "2016-12-31T23:59:60Z"}
    assert moment_of(leap, "issued", place, "issued") == Moment(
        date(2016, 12, 31), datetime(2016, 12, 31, 23, 59, 59)
    )
    assert day_of({"d": "2024-12-31"}, "d", place, "d") == date(2024, 12, 31)
    then = {"issued": "2024-12-31T23:59:60Z"}
    assert moment_of(then, "issued", place, "issued") == Moment(
        date(2024, 12, 31), datetime(2024, 12, 31, 23, 59, 59)
    )


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("2026-02-30T10:00:00Z", "not a valid date ('2026-02-30T10:00:00Z')"),
        ("2026-03-01T24:00:00Z", "not a valid dateTime ('2026-03-01T24:00:00Z')"),
        ("2026-03-01T10:00:00X", "not a valid date or dateTime ('2026-03-01T10:00:00X')"),
        ("2026-03-01T", "not a valid date or dateTime ('2026-03-01T')"),
    ],
)
def test_a_refused_date_time_is_refused_after_its_parts_were_read(
    written: str, problem: str
) -> None:
    place = Place(0, "Observation")
    for earlier in ("2026-03-01T10:00:00Z", "2026-02-28T10:00:00Z"):
        moment_of({"issued": earlier}, "issued", place, "issued")
    for index in (3, 4):
        with pytest.raises(BundleError) as refused:
            moment_of({"issued": written}, "issued", Place(index, "Observation"), "issued")
        assert str(refused.value) == f"entry {index} (Observation): issued: {problem}"


def test_days_kept_by_text_stay_right() -> None:
    place = Place(0, "Condition")
    for _ in range(2):
        assert day_of({"d": "2019"}, "d", place, "d") == date(2019, 1, 1)
        assert day_of({"d": "2019-04"}, "d", place, "d") == date(2019, 4, 1)
        assert day_of({"d": "2019-04-02T10:00:00Z"}, "d", place, "d") == date(2019, 4, 2)
        with pytest.raises(BundleError):
            day_of({"d": "2019-04-31"}, "d", place, "d")
        with pytest.raises(BundleError):
            day_of({"d": 2019}, "d", place, "d")


def test_codes_of_one_system_each_once_in_order() -> None:
    concept = {
        "coding": [
            {"system": LOINC, "code": "8480-6"},
            {"system": "http://snomed.info/sct", "code": "271649006"},
            {"system": LOINC, "code": "8480-6"},
            {"system": LOINC, "code": "8459-0"},
        ]
    }
    place = Place(0, "Observation")
    for _ in range(2):
        assert codes_in(concept, LOINC, place, "code") == ("8480-6", "8459-0")
        assert codes_in(concept, "http://snomed.info/sct", place, "code") == ("271649006",)
    assert codes_in(None, LOINC, place, "code") == ()


def test_a_json_text_names_one_value_only() -> None:
    assert json_text({"a": [1, "x", True]}) == b'{"a":[1,"x",true]}'
    # orjson writes NaN, infinities and None alike (null): no text, so nothing is kept by it.
    assert json_text({"value": None}) is None
    assert json_text({"value": math.nan}) is None
    assert json_text({"when": date(2026, 1, 1)}) is None


def _statement(value: object, frequency: object = 1) -> dict[str, object]:
    return {
        "resourceType": "MedicationStatement",
        "status": "active",
        "medicationCodeableConcept": {"text": "sertraline 50 mg tablet"},
        "dosage": [
            {
                "timing": {"repeat": {"frequency": frequency, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": value, "unit": "mg"}}],
            }
        ],
    }


def test_dosages_kept_by_text_stay_right() -> None:
    place = Place(2, "MedicationStatement")
    for _ in range(2):
        read = read_medication(_statement(50), "MedicationStatement/1", place, lambda _: None)
        assert (read.dose_mg, read.frequency, read.period, read.period_unit) == (50.0, 1, 1.0, "d")
    assert read_medication(_statement(None), "m", place, lambda _: None).dose_mg is None
    assert math.isnan(read_medication(_statement(math.nan), "m", place, lambda _: None).dose_mg)
    assert read_medication(_statement(None), "m", place, lambda _: None).dose_mg is None
    for index in (3, 4):
        place = Place(index, "MedicationStatement")
        with pytest.raises(BundleError) as refused:
            read_medication(_statement(50, frequency=1.5), "m", place, lambda _: None)
        assert str(refused.value) == (
            f"entry {index} (MedicationStatement): dosage[0].timing.repeat.frequency: "
            "expected an integer"
        )
