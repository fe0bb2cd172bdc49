"""``surely_valid``: True only for resources it can prove valid R4 (spec/screening.md, "Valid
means"; FHIR R4 datatypes, https://hl7.org/fhir/R4/datatypes.html). False sends the resource to
R4B, so every False below is "not proven", never "invalid". Each rule has a case that passes
and a near miss that does not; the expected answers are written from the FHIR R4 rules and
from this check's own stricter bounds (id at most 64 characters, FHIR's own limit).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ketaclinic.fhir.fast_check import surely_valid

SUBJECT = {"reference": "Patient/p1"}
LOINC = "http://loinc.org"

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "code": {"coding": [{"system": LOINC, "code": "8867-4"}], "text": "Heart rate"},
    "subject": SUBJECT,
    "effectiveDateTime": "2026-10-01T08:30:00Z",
    "valueQuantity": {"value": 72, "unit": "/min"},
}

MINIMAL: list[dict[str, Any]] = [
    {"resourceType": "Patient"},
    {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-02-29"},
    {"resourceType": "Condition", "subject": SUBJECT},
    {
        "resourceType": "MedicationStatement",
        "status": "active",
        "subject": SUBJECT,
        "medicationCodeableConcept": {"text": "sertraline 50 mg"},
    },
    {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": SUBJECT,
        "medicationReference": {"reference": "Medication/m1"},
    },
    {"resourceType": "Medication", "code": {"text": "sertraline"}},
    {"resourceType": "Observation", "status": "final", "code": {"text": "x"}},
    {"resourceType": "AllergyIntolerance", "patient": SUBJECT},
    {"resourceType": "Procedure", "status": "completed", "subject": SUBJECT},
]


@pytest.mark.parametrize("resource", MINIMAL, ids=lambda r: r["resourceType"])
def test_the_smallest_valid_resource_of_each_read_type_is_proven(resource: dict[str, Any]) -> None:
    assert surely_valid(resource)


@pytest.mark.parametrize(
    ("resource", "missing"),
    [
        (MINIMAL[2], "subject"),  # Condition.subject 1..1
        (MINIMAL[3], "status"),  # MedicationStatement.status 1..1
        (MINIMAL[3], "subject"),
        (MINIMAL[3], "medicationCodeableConcept"),  # medication[x] 1..1
        (MINIMAL[4], "intent"),  # MedicationRequest.intent 1..1
        (MINIMAL[4], "status"),
        (MINIMAL[4], "medicationReference"),
        (MINIMAL[6], "status"),  # Observation.status 1..1
        (MINIMAL[6], "code"),  # Observation.code 1..1
        (MINIMAL[7], "patient"),  # AllergyIntolerance.patient 1..1
        (MINIMAL[8], "status"),  # Procedure.status 1..1
        (MINIMAL[8], "subject"),
    ],
)
def test_a_missing_required_element_is_not_proven(resource: dict[str, Any], missing: str) -> None:
    without = {k: v for k, v in resource.items() if k != missing}
    assert not surely_valid(without)


def test_types_the_engine_does_not_read_are_never_proven() -> None:
    assert not surely_valid({"resourceType": "Encounter", "status": "finished"})
    assert not surely_valid({"resourceType": "Bundle", "type": "collection"})
    assert not surely_valid({"status": "final", "code": {"text": "x"}})
    assert not surely_valid({"resourceType": ["Observation"], "status": "final"})


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    resource = copy.deepcopy(OBSERVATION)
    target: Any = resource
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return resource


def test_the_reference_observation_is_proven() -> None:
    assert surely_valid(OBSERVATION)


@pytest.mark.parametrize(
    ("path", "value", "proven"),
    [
        # string: some non-whitespace content
        (("code", "text"), "Heart rate", True),
        (("code", "text"), "", False),
        (("code", "text"), "   ", False),
        (("code", "text"), 5, False),
        # code: no leading, trailing or double whitespace
        (("status",), "final", True),
        (("code", "coding", 0, "code"), "a b", True),
        (("code", "coding", 0, "code"), "a  b", False),
        (("status",), " final", False),
        (("status",), "final ", False),
        (("status",), "", False),
        # id: letters, digits, '-' and '.', at most 64
        (("id",), "a" * 64, True),
        (("id",), "a" * 65, False),
        (("id",), "o_1", False),
        (("id",), 1, False),
        # uri: some characters, none of them whitespace
        (("code", "coding", 0, "system"), "http://loinc.org", True),
        (("code", "coding", 0, "system"), "http://loinc .org", False),
        (("code", "coding", 0, "system"), "", False),
        # decimal: a JSON number, not a boolean
        (("valueQuantity", "value"), 72.5, True),
        (("valueQuantity", "value"), -0.0, True),
        (("valueQuantity", "value"), True, False),
        (("valueQuantity", "value"), "72", False),
        (("valueQuantity", "value"), float("inf"), False),
        # dateTime: a real date, or a full time to the second with a zone
        (("effectiveDateTime",), "2026", True),
        (("effectiveDateTime",), "2026-10", True),
        (("effectiveDateTime",), "2024-02-29", True),
        (("effectiveDateTime",), "2025-02-29", False),
        (("effectiveDateTime",), "2026-13", False),
        (("effectiveDateTime",), "2026-13-01", False),
        (("effectiveDateTime",), "0000-01-01", False),
        (("effectiveDateTime",), "2026-1-01", False),
        (("effectiveDateTime",), "2026-10-01T08:30:00.123456+14:00", True),
        (("effectiveDateTime",), "2026-10-01T08:30:00+14:01", False),
        (("effectiveDateTime",), "2026-10-01T08:30:00", False),
        (("effectiveDateTime",), "2026-10-01T08:30Z", False),
        (("effectiveDateTime",), "2026-10-01T24:00:00Z", False),
        (("effectiveDateTime",), "2026-02-30T08:30:00Z", False),
        (("effectiveDateTime",), "2026-10-01 08:30:00Z", False),
        # an element must not be null, an empty object or an empty list
        (("subject",), None, False),
        (("subject",), {}, False),
        (("code", "coding"), [], False),
        # cardinality: a list where a list is due, an object where an object is due
        (("code", "coding"), {"system": LOINC, "code": "8867-4"}, False),
        (("subject",), [SUBJECT], False),
        # choice: at most one variant of value[x]
        (("valueString",), "72", False),
        (("effectivePeriod",), {"start": "2026-10-01"}, False),
        # unknown, or left to R4B: extra keys, primitive extensions, contained, comments
        (("valueQuantity", "valu"), 72, False),
        (("Status",), "final", False),
        (("_status",), {"extension": [{"url": "http://x", "valueString": "y"}]}, False),
        (("contained",), [{"resourceType": "Medication", "id": "m"}], False),
        (("fhir_comments",), "x", False),
        (("code", "resourceType"), "CodeableConcept", False),
        (("code", "coding", 0, "garbage"), {"nested": [1, 2]}, False),
    ],
)
def test_each_primitive_and_structure_rule(path: tuple[Any, ...], value: Any, proven: bool) -> None:
    assert surely_valid(_with(path, value)) is proven


@pytest.mark.parametrize(
    ("value", "proven"),
    [
        (1, True),
        (2_147_483_647, True),
        (2_147_483_648, False),  # integer is 32-bit
        (-1, True),
        (True, False),
        (2.0, False),
        ("1", False),
    ],
)
def test_integer_values(value: Any, proven: bool) -> None:
    resource = {k: v for k, v in OBSERVATION.items() if k != "valueQuantity"}
    assert surely_valid({**resource, "valueInteger": value}) is proven


@pytest.mark.parametrize(
    ("frequency", "proven"),
    [(1, True), (0, False), (-1, False)],  # Timing.repeat.frequency is positiveInt
)
def test_positive_int(frequency: int, proven: bool) -> None:
    statement = {
        **MINIMAL[3],
        "dosage": [
            {"timing": {"repeat": {"frequency": frequency, "period": 1, "periodUnit": "d"}}}
        ],
    }
    assert surely_valid(statement) is proven


@pytest.mark.parametrize(
    ("value", "proven"),
    [(True, True), (False, True), ("true", False), (1, False)],
)
def test_boolean_values(value: Any, proven: bool) -> None:
    assert surely_valid({"resourceType": "Patient", "active": value}) is proven


def test_patient_birth_date_is_a_date_without_time() -> None:
    assert surely_valid({"resourceType": "Patient", "birthDate": "1980-01-31"})
    assert not surely_valid({"resourceType": "Patient", "birthDate": "1980-01-31T00:00:00Z"})
    assert not surely_valid({"resourceType": "Patient", "birthDate": "1980-04-31"})


def test_instant_needs_the_full_form() -> None:
    base = {**MINIMAL[6]}
    assert surely_valid({**base, "issued": "2026-10-01T08:30:00Z"})
    assert not surely_valid({**base, "issued": "2026-10-01"})


def test_extensions_of_simple_values_nest() -> None:
    race = {
        "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
        "extension": [
            {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16", "code": "2106-3"}},
            {"url": "text", "valueString": "White"},
        ],
    }
    assert surely_valid({"resourceType": "Patient", "extension": [race]})
    no_url = {"valueString": "White"}
    assert not surely_valid({"resourceType": "Patient", "extension": [no_url]})
    two_values = {"url": "http://x", "valueString": "a", "valueBoolean": True}
    assert not surely_valid({"resourceType": "Patient", "extension": [two_values]})


def test_deep_nesting_is_not_an_error() -> None:
    extension: dict[str, Any] = {"url": "http://x", "valueString": "y"}
    for _ in range(3000):
        extension = {"url": "http://x", "extension": [extension]}
    assert surely_valid({"resourceType": "Patient", "extension": [extension]}) is False


def test_extensions_nested_as_deep_as_json_is_read_are_proven() -> None:
    """R4B fails on extensions nested 500 deep (a RecursionError, not a refusal), so such a
    valid resource must be proven here: one level of Python's recursion per level of nesting
    (the fuzzed bundles nest 505 extensions, near orjson's limit of 1,024 JSON levels)."""
    extension: dict[str, Any] = {"url": "http://x", "valueString": "y"}
    for _ in range(505):
        extension = {"url": "http://x", "extension": [extension]}
    assert surely_valid({"resourceType": "Patient", "extension": [extension]})
    assert surely_valid({**MINIMAL[2], "extension": [extension]})


def test_answers_kept_for_repeated_values_stay_right_and_bounded() -> None:
    """A population repeats its codes, so the answer for a CodeableConcept is kept by its JSON
    text: the same text gets the same answer, a near miss its own, and at most 4,096 answers
    are kept per type whatever the number of resources judged."""
    from ketaclinic.fhir import fast_check

    for n in range(5_000):
        concept = {"coding": [{"system": LOINC, "code": f"{n}-0"}], "text": f"test {n}"}
        assert surely_valid({**OBSERVATION, "code": concept})
    near_miss = {"coding": [{"system": LOINC, "code": "4999-0 "}], "text": "test 4999"}
    assert not surely_valid({**OBSERVATION, "code": near_miss})
    assert not surely_valid({**OBSERVATION, "code": near_miss})
    again = {"coding": [{"system": LOINC, "code": "4999-0"}], "text": "test 4999"}
    assert surely_valid({**OBSERVATION, "code": again})
    kept = [len(s.answers) for s in fast_check._SHAPES.values() if s.answers is not None]
    assert kept and max(kept) <= 4_096


def test_answers_kept_for_repeated_strings_stay_right() -> None:
    """Codes, systems and days are judged once per text and the answer kept by the text: the
    same text gets the same answer, whatever was judged before it."""
    for status in ("final", "final ", "final", "fi  nal", "amended"):
        assert surely_valid(_with(("status",), status)) is (status in ("final", "amended"))
    for day in ("2024-02-29", "2025-02-29", "2024-02-29", "2025-02-29", "2025-02-28"):
        assert surely_valid(_with(("effectiveDateTime",), day)) is (day != "2025-02-29")
    for system in ("http://loinc.org", "http://loinc.org ", "http://loinc.org"):
        proven = surely_valid(_with(("code", "coding", 0, "system"), system))
        assert proven is (system == "http://loinc.org")


@pytest.mark.parametrize(
    ("seen", "value", "proven"),
    [
        # A day and a time of day each seen before, in other dateTimes: a new dateTime of both.
        (["2026-10-01T08:30:00Z", "2026-10-05T11:00:00+02:00"], "2026-10-01T11:00:00+02:00", True),
        # A known time of day on an impossible day, a known day with an impossible time.
        (["2026-10-01T08:30:00Z"], "2026-02-30T08:30:00Z", False),
        (["2026-10-01T08:30:00Z"], "2026-10-01T24:00:00Z", False),
        (["2026-10-01T08:30:00Z"], "2026-10-01T08:30:00+14:01", False),
        # The parts must be a whole day and a whole time of day, with nothing between them.
        (["2026-10-01T08:30:00Z"], "2026-10-1T08:30:00Z", False),
        (["2026-10-01T08:30:00Z"], "2026-10-01TT08:30:00Z", False),
        (["2026-10-01T08:30:00Z"], "2026-10-01T", False),
        (["2026-10-01T08:30:00Z", "2026-10"], "2026-10T08:30:00Z", False),
    ],
)
def test_date_times_are_judged_by_day_and_time_of_day(
    seen: list[str], value: str, proven: bool
) -> None:
    for earlier in seen:
        assert surely_valid(_with(("effectiveDateTime",), earlier))
    assert surely_valid(_with(("effectiveDateTime",), value)) is proven
    assert surely_valid(_with(("issued",), value)) is proven


def test_the_same_layout_with_other_values_is_judged_again() -> None:
    """The element names of an object are judged once (known, required, one of each choice);
    the values of each object are still judged, each time."""
    assert surely_valid(OBSERVATION)
    assert not surely_valid(_with(("id",), "o_1"))
    assert not surely_valid(_with(("status",), 5))
    assert not surely_valid(_with(("subject",), {"reference": ""}))
    without_status = {k: v for k, v in OBSERVATION.items() if k != "status"}
    assert not surely_valid(without_status)
    # The same names in another order: another layout, allowed as well.
    assert surely_valid({**without_status, "status": "final"})
    two_values = {**OBSERVATION, "valueString": "72"}
    assert not surely_valid(two_values)
    assert not surely_valid(two_values)


def test_the_codes_and_quantity_of_an_observation_are_judged_together_and_alone() -> None:
    """Code, category and quantity are answered by their joint JSON text: a near miss in any
    one of them is a new text, judged and refused."""
    category = [{"coding": [{"system": "http://example.org/cat", "code": "vital-signs"}]}]
    base = {**OBSERVATION, "category": category}
    assert surely_valid(base)
    assert surely_valid(base)
    assert not surely_valid({**base, "valueQuantity": {"value": True, "unit": "/min"}})
    assert not surely_valid({**base, "valueQuantity": {"value": "72", "unit": "/min"}})
    assert surely_valid({**base, "valueQuantity": {"value": 72.0, "unit": "/min"}})
    assert not surely_valid({**base, "category": category[0]})
    assert not surely_valid({**base, "category": [{"coding": [{"code": "vital signs "}]}]})
    assert not surely_valid({**base, "code": {"coding": []}})
    assert surely_valid(base)
