"""The fast check against fhir.resources R4B itself (issue 8, spec/screening.md "Valid means").

The property that matters is soundness: whenever ``surely_valid`` says True, R4B's
``model_validate`` accepts the resource, so skipping R4B can never let through a resource the
contract refuses. It is checked on valid resources from the project's generators and on those
resources mutated in the ways real exports go wrong. Then, at the level of the reader: a bundle
reads to the same Record, or is refused with the same one-line message, with or without the fast
path. Last, the fast path must be worth having: most resources the engine reads take it.
"""

from __future__ import annotations

import copy
import glob
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pydantic
import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ketaclinic.fhir.bundle as bundle_module
from ketaclinic.cohort.synth_patient import patient_resources
from ketaclinic.fhir.bundle import BundleError, read_bundle
from ketaclinic.fhir.fast_check import READ_TYPES, surely_valid
from tests.integration import fhir_gen

Resource = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]
SUBJECT = {"reference": "Patient/p1"}
UCUM = "http://unitsofmeasure.org"
SETTINGS = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def r4b_accepts(resource: Resource) -> bool:
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except pydantic.ValidationError:
        return False
    return True


# Resources as EHR exports write them: more of R4 than the generators use (names, addresses,
# narrative, meta, nested extensions, Ratio, Range, Annotation, Timing...).
RICH: list[Resource] = [
    {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {
            "versionId": "3",
            "lastUpdated": "2026-03-04T10:11:12.345+01:00",
            "profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"],
            "tag": [{"system": "http://example.org/tags", "code": "imported"}],
        },
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">Jo Smith</div>',
        },
        "extension": [
            {
                "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
                "extension": [
                    {
                        "url": "ombCategory",
                        "valueCoding": {
                            "system": "urn:oid:2.16.840.1.113883.6.238",
                            "code": "2106-3",
                            "display": "White",
                        },
                    },
                    {"url": "text", "valueString": "White"},
                ],
            },
            {"url": "http://example.org/birth-weight", "valueDecimal": 3.4},
        ],
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [{"system": "http://example.org/id-type", "code": "MR"}]},
                "system": "urn:oid:1.2.36.146.595.217.0.1",
                "value": "12345",
                "period": {"start": "2001-05-06"},
            }
        ],
        "active": True,
        "name": [{"use": "official", "family": "Smith", "given": ["Jo", "Ann"]}],
        "telecom": [{"system": "phone", "value": "(03) 5555 6473", "use": "work", "rank": 1}],
        "gender": "female",
        "birthDate": "1974-12-25",
        "deceasedBoolean": False,
        "address": [{"line": ["534 Erewhon St"], "city": "PleasantVille", "postalCode": "3999"}],
        "maritalStatus": {"text": "married"},
        "multipleBirthInteger": 1,
    },
    {
        "resourceType": "Condition",
        "id": "c1",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://example.org/cat", "code": "problem"}]}],
        "code": {
            "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "F33.2"}],
            "text": "Major depressive disorder, recurrent severe",
        },
        "subject": SUBJECT,
        "onsetDateTime": "2019-04-01T09:30:00-05:00",
        "recordedDate": "2019-04-02",
        "recorder": {"reference": "Practitioner/pr1", "display": "Dr. B"},
        "stage": [{"summary": {"text": "severe"}}],
        "note": [{"authorString": "B", "time": "2019-04-02T10:00:00Z", "text": "Long history."}],
    },
    {
        "resourceType": "MedicationRequest",
        "id": "rx1",
        "status": "completed",
        "intent": "order",
        "category": [{"coding": [{"system": "http://example.org/cat", "code": "community"}]}],
        "medicationReference": {"reference": "Medication/m1"},
        "subject": SUBJECT,
        "authoredOn": "2025-01-10T08:00:00Z",
        "requester": {"display": "Dr. A. Prescriber"},
        "dosageInstruction": [
            {
                "sequence": 1,
                "text": "one tablet twice a day",
                "timing": {
                    "repeat": {
                        "boundsPeriod": {"start": "2025-01-10"},
                        "frequency": 2,
                        "period": 1,
                        "periodUnit": "d",
                        "timeOfDay": ["08:00:00", "20:00:00"],
                    }
                },
                "asNeededBoolean": False,
                "route": {"text": "oral"},
                "doseAndRate": [{"doseQuantity": {"value": 50, "unit": "mg", "system": UCUM}}],
                "maxDosePerPeriod": {
                    "numerator": {"value": 200, "unit": "mg"},
                    "denominator": {"value": 1, "unit": "d"},
                },
            }
        ],
        "dispenseRequest": {
            "validityPeriod": {"start": "2025-01-10", "end": "2025-04-10"},
            "numberOfRepeatsAllowed": 0,
            "quantity": {"value": 60, "unit": "each"},
            "expectedSupplyDuration": {"value": 30, "unit": "days", "system": UCUM, "code": "d"},
        },
    },
    {
        "resourceType": "Medication",
        "id": "m1",
        "code": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "312940",
                    "display": "sertraline 50 MG Oral Tablet",
                }
            ]
        },
        "status": "active",
        "form": {"text": "tablet"},
        "ingredient": [
            {
                "itemCodeableConcept": {"text": "sertraline"},
                "isActive": True,
                "strength": {
                    "numerator": {"value": 50, "unit": "mg"},
                    "denominator": {"value": 1, "unit": "tablet"},
                },
            }
        ],
        "batch": {"lotNumber": "A1", "expirationDate": "2027-01-31"},
    },
    {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "category": [{"coding": [{"system": "http://example.org/cat", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "1742-6"}], "text": "ALT"},
        "subject": SUBJECT,
        "effectiveDateTime": "2026-09-01T07:45:00.5Z",
        "issued": "2026-09-01T12:00:00Z",
        "performer": [{"reference": "Organization/lab"}],
        "valueQuantity": {"value": 31.5, "unit": "U/L", "system": UCUM, "code": "U/L"},
        "interpretation": [{"text": "normal"}],
        "note": [{"text": "Fasting."}],
        "referenceRange": [{"low": {"value": 7}, "high": {"value": 56}, "text": "7-56"}],
    },
    {
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": "active",
        "medicationCodeableConcept": {"text": "Effexor XR 150 mg"},
        "subject": SUBJECT,
        "effectivePeriod": {"start": "2026-01-01"},
        "dateAsserted": "2026-02-01T00:00:00Z",
        "reasonCode": [{"text": "depression"}],
        "dosage": [{"text": "daily", "doseAndRate": [{"doseRange": {"low": {"value": 75}}}]}],
    },
    {
        "resourceType": "AllergyIntolerance",
        "id": "a1",
        "type": "allergy",
        "category": ["medication"],
        "criticality": "high",
        "code": {"text": "ketamine"},
        "patient": SUBJECT,
        "onsetAge": {"value": 30, "unit": "a", "system": UCUM, "code": "a"},
        "reaction": [{"manifestation": [{"text": "rash"}], "severity": "moderate"}],
    },
    {
        "resourceType": "Procedure",
        "id": "pr1",
        "status": "completed",
        "code": {"text": "Electroconvulsive therapy"},
        "subject": SUBJECT,
        "performedPeriod": {"start": "2024-02-01", "end": "2024-03-15"},
        "performer": [{"actor": {"reference": "Practitioner/pr1"}}],
        "outcome": {"text": "partial response"},
        "bodySite": [{"text": "head"}],
    },
]


def _with_subject(resource: Resource) -> Resource:
    key = {"Patient": None, "AllergyIntolerance": "patient"}.get(
        resource["resourceType"], "subject"
    )
    return resource if key is None else {**resource, key: SUBJECT}


GENERATED = st.one_of(
    fhir_gen.patients(),
    fhir_gen.conditions().map(_with_subject),
    fhir_gen.medication_statements().map(_with_subject),
    fhir_gen.blood_pressures().flatmap(st.sampled_from).map(_with_subject),
    fhir_gen.laboratory().map(_with_subject),
    fhir_gen.coded_results().map(_with_subject),
    fhir_gen.procedures().map(_with_subject),
    fhir_gen.allergies().map(_with_subject),
)


@st.composite
def synthetic(draw: st.DrawFn) -> Resource:
    index = draw(st.integers(0, 5_000))
    made = [r for r in patient_resources(8, index, date(2026, 11, 1)) if _is_read(r)]
    return draw(st.sampled_from(made))


def _is_read(resource: Resource) -> bool:
    return resource.get("resourceType") in READ_TYPES


VALID = st.one_of(GENERATED, synthetic(), st.sampled_from(RICH))

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            " ",
            " x",
            "x ",
            "a  b",
            "a\tb",
            "\x0b",
            "\u00a0",
            "true",
            "5",
            "2026-13-01",
            "2026-02-30",
            "2025-02-29",
            "2026-1-01",
            "0000-01-01",
            "2026-01-01T10:00:00",
            "2026-01-01T10:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T10:00:00+14:01",
            "2016-12-31T23:59:60Z",
            "2026-01-01TT10:00:00Z",
            "2026-01-01T",
            "2026-01T10:00:00Z",
            "2026-02-29T10:00:00Z",
            "2026-01-01T10:00:00Z ",
            "not a date",
            "final",
            "Patient/p1",
            "http://loinc.org",
            "a" * 65,
            "a_b",
        ]
    ),
    st.sampled_from([2**31, 2**31 - 1, -(2**31) - 1, 0, -1, 1.0, 2.5, 1e300]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["text", "code", "coding", "value", "system", "extension", "x"]),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=6,
)
# A second variant of a choice, or an element of a type the fast check leaves to R4B.
ADDED = {
    "valueString": "x",
    "valueBoolean": True,
    "effectivePeriod": {"start": "2026-01-01"},
    "effectiveInstant": "2026-01-01T00:00:00Z",
    "medicationReference": {"reference": "Medication/m1"},
    "medicationCodeableConcept": {"text": "x"},
    "onsetString": "x",
    "onsetAge": {"value": 3},
    "performedString": "x",
    "deceasedDateTime": "2020-01-01",
    "multipleBirthBoolean": True,
    "abatementString": "x",
    "asNeededBoolean": True,
    "reportedBoolean": True,
    "_status": {"extension": [{"url": "http://example.org/why", "valueString": "unknown"}]},
    "_birthDate": {"extension": [{"url": "http://example.org/x", "valueString": "y"}]},
    "fhir_comments": "a comment",
    "contained": [{"resourceType": "Medication", "id": "m2"}],
    "resourceType": "Observation",
    "extraElement": "x",
    "Status": "final",
    "url": "http://example.org/x",
}


def _places(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to an object member or list item, the root object's path first."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _places(item, (*path, index))


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


@st.composite
def mutated(draw: st.DrawFn, base: Resource | None = None) -> Resource:
    """A valid resource (``base``, else any) with one to three things wrong (or, by chance,
    still right)."""
    resource: Resource = copy.deepcopy(draw(VALID) if base is None else base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_places(resource))))
        how = draw(st.sampled_from(["replace", "rename", "delete", "add", "wrap", "unwrap"]))
        if not path:
            how = "add"
        if how == "add":
            target = _at(resource, path)
            if not isinstance(target, dict):
                continue
            key = draw(st.sampled_from(sorted(ADDED)))
            target[key] = draw(st.one_of(st.just(copy.deepcopy(ADDED[key])), JSON_VALUES))
            continue
        parent, last = _at(resource, path[:-1]), path[-1]
        if how == "replace":
            parent[last] = draw(JSON_VALUES)
        elif how == "wrap":
            parent[last] = [parent[last]]
        elif how == "unwrap" and isinstance(parent[last], list) and parent[last]:
            parent[last] = parent[last][0]
        elif how == "delete":
            del parent[last]
        elif how == "rename" and isinstance(last, str):
            parent[draw(st.sampled_from([last + "x", last.upper(), "_" + last, last[:-1]]))] = (
                parent.pop(last)
            )
    return resource


@SETTINGS
@given(VALID)
def test_valid_resources_take_the_fast_path_and_r4b_agrees(resource: Resource) -> None:
    assert r4b_accepts(resource)
    assert surely_valid(resource)


@SETTINGS
@given(mutated())
def test_the_fast_path_never_accepts_what_r4b_refuses(resource: Resource) -> None:
    if surely_valid(resource):
        assert r4b_accepts(resource), orjson.dumps(resource).decode()


@SETTINGS
@given(VALID, st.data())
def test_a_near_miss_of_a_resource_just_proven_is_not_proven_unless_r4b_accepts_it(
    resource: Resource, data: st.DataObject
) -> None:
    """The fast check keeps answers by text (codes, days, times of day, element names, the joint
    text of codes and quantities): judging the valid resource first seeds them with its own
    parts, so that its near miss is judged against what was kept from it."""
    assert surely_valid(resource)
    wrong = data.draw(mutated(resource))
    if surely_valid(wrong):
        assert r4b_accepts(wrong), orjson.dumps(wrong).decode()


@pytest.mark.parametrize(
    "mutation",
    [
        # (path, new value) - each one a thing R4B refuses, by experiment.
        (("code", "coding", 0, "code"), ""),
        (("code", "coding", 0, "system"), 5),
        (("effectiveDateTime",), "2026-02-30"),
        (("effectiveDateTime",), "2026-01-01T10:00:00"),
        (("valueQuantity", "value"), True),
        (("valueQuantity", "value"), "not a number"),
        (("status",), " final"),
        (("id",), "o_1"),
        (("performer",), {"reference": "Organization/lab"}),
        # A day and a time of day each proven before (RICH[4] and below), never both valid.
        (("effectiveDateTime",), "2026-02-30T07:45:00.5Z"),
        (("effectiveDateTime",), "2026-09-01T24:00:00Z"),
        (("effectiveDateTime",), "2026-09-01T12:00:00"),
        (("issued",), "2026-09-01"),
        (("issued",), "2026-09-01TT12:00:00Z"),
        # Near misses of the joint text of code and quantity, and of the element names.
        (("valueQuantity", "value"), [31.5]),
        (("valueQuantity", "code"), " U/L"),
        (("code", "coding"), [{"system": "http://loinc.org", "code": "1742-6 "}]),
        (("valueString",), "31.5"),
    ],
)
def test_r4b_refusals_are_left_to_r4b(mutation: tuple[tuple[Any, ...], Any]) -> None:
    path, value = mutation
    assert surely_valid(RICH[4])
    assert surely_valid({**RICH[4], "effectiveDateTime": "2026-02-28T12:00:00Z"})
    resource = copy.deepcopy(RICH[4])
    _at(resource, path[:-1])[path[-1]] = value
    assert not r4b_accepts(resource)
    assert not surely_valid(resource)


def _reading(data: bytes) -> object:
    try:
        return read_bundle(data)
    except BundleError as error:
        return f"BundleError: {error}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fhir_gen.bundles(), st.data())
def test_the_reader_answers_alike_with_or_without_the_fast_path(
    bundle: Resource, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(bundle["entry"]) - 1))
    wrong = data.draw(mutated())
    entry = bundle["entry"][index]
    # The mutation keeps the entry's id and subject, so that it stays about the same patient.
    kept = {k: entry["resource"][k] for k in ("id", "subject", "patient") if k in entry["resource"]}
    if wrong.get("resourceType") == entry["resource"]["resourceType"]:
        entry["resource"] = {**wrong, **kept}
    raw = orjson.dumps(bundle)
    fast = _reading(raw)
    with mock.patch.object(bundle_module, "surely_valid", lambda resource: False):
        slow = _reading(raw)
    assert fast == slow


def _fraction(resources: list[Resource]) -> tuple[int, int]:
    read = [r for r in resources if _is_read(r)]
    return sum(surely_valid(r) for r in read), len(read)


def test_most_resources_of_the_examples_take_the_fast_path() -> None:
    resources = [
        entry["resource"]
        for path in sorted(glob.glob(str(ROOT / "examples" / "*.json")))
        for entry in orjson.loads(Path(path).read_bytes())["entry"]
    ]
    fast, read = _fraction(resources)
    print(f"examples: {fast}/{read} read resources on the fast path")
    assert read > 50
    assert fast / read >= 0.95


def test_most_resources_of_a_synthetic_population_take_the_fast_path() -> None:
    resources = [r for i in range(300) for r in patient_resources(8, i, date(2026, 11, 1))]
    fast, read = _fraction(resources)
    print(f"synthetic population: {fast}/{read} read resources on the fast path")
    assert read > 1000
    assert fast / read >= 0.95
