"""``read_bundle_object``: ``read_bundle`` after JSON decoding (same Record, same refusals), and
the subject check's quick path (spec/screening.md: a resource about someone else is refused)."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import pytest

from ketaclinic.fhir.bundle import BundleError, read_bundle, read_bundle_object

PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1980-02-29"}


def _condition(reference: str, index: str = "c1") -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": index,
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "F33.2"}]},
        "subject": {"reference": reference},
        "onsetDateTime": "2019-04-01",
    }


def _bundle(*resources: dict[str, Any], patient_url: str | None = None) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [{"resource": PATIENT}]
    if patient_url is not None:
        entries[0]["fullUrl"] = patient_url
    entries += [{"resource": resource} for resource in resources]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _refusal(read: Any, given: Any) -> str:
    with pytest.raises(BundleError) as refused:
        read(given)
    return str(refused.value)


def test_the_same_record_as_from_the_json_bytes() -> None:
    bundle = _bundle(_condition("Patient/p1"), _condition("Patient/p1/_history/3", "c2"))
    record = read_bundle_object(bundle)
    assert record == read_bundle(orjson.dumps(bundle))
    assert [c.ref for c in record.conditions] == ["Condition/c1", "Condition/c2"]
    assert [c.onset for c in record.conditions] == [date(2019, 4, 1)] * 2
    assert record.patient.birth_date == date(1980, 2, 29)


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        ([], "not a FHIR Bundle: the JSON is list, not an object"),
        ({"type": "collection"}, "not a FHIR Bundle: has no resourceType"),
        ({"resourceType": "Patient"}, 'not a FHIR Bundle: resourceType is "Patient"'),
        (
            {"resourceType": "Bundle", "type": "document"},
            'Bundle.type: "document" is not one of collection, transaction, batch, searchset',
        ),
        (
            {"resourceType": "Bundle"},
            "Bundle.type: missing not one of collection, transaction, batch, searchset",
        ),
        (
            {"resourceType": "Bundle", "type": "collection", "entry": {}},
            "Bundle.entry: expected a list",
        ),
        ({"resourceType": "Bundle", "type": "collection"}, "no Patient in the bundle"),
    ],
)
def test_the_same_refusals_as_from_the_json_bytes(bundle: Any, message: str) -> None:
    assert _refusal(read_bundle_object, bundle) == message
    assert _refusal(read_bundle, orjson.dumps(bundle)) == message


@pytest.mark.parametrize(
    ("reference", "patient_url", "refused"),
    [
        ("Patient/p1", None, False),
        ("Patient/p1/_history/2", None, False),
        ("http://example.org/fhir/Patient/p1", None, False),
        ("urn:uuid:p1", "urn:uuid:p1", False),
        ("Patient/p2", None, True),
        ("Patient/p10", None, True),
        ("http://example.org/fhir/Patient/p1", "urn:uuid:p1", True),
        # A history reference is matched by what it names, not as written.
        ("urn:uuid:p1/_history/2", "urn:uuid:p1/_history/2", True),
    ],
)
def test_a_resource_about_someone_else_is_refused(
    reference: str, patient_url: str | None, refused: bool
) -> None:
    bundle = _bundle(_condition(reference), patient_url=patient_url)
    if not refused:
        assert read_bundle_object(bundle).conditions[0].ref == "Condition/c1"
        return
    names = " or ".join(sorted({"Patient/p1", patient_url or "Patient/p1"}))
    assert _refusal(read_bundle_object, bundle) == (
        f"entry 1 (Condition): subject.reference: refers to {reference!r}, "
        f"not the bundle's Patient ({names})"
    )


def test_each_refusal_names_its_own_entry_and_type() -> None:
    """Places (entry index, type) are shared between bundles: each message still names the
    entry and type of its own bundle."""
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": "Patient/p2"},
    }
    assert _refusal(read_bundle_object, _bundle(observation)).startswith(
        "entry 1 (Observation): subject.reference:"
    )
    assert _refusal(read_bundle_object, _bundle(_condition("Patient/p2"))).startswith(
        "entry 1 (Condition): subject.reference:"
    )
    assert _refusal(read_bundle_object, _bundle(observation, observation)).startswith(
        "entry 1 (Observation): subject.reference:"
    )


def test_a_resource_too_deep_for_r4b_is_refused_not_a_crash() -> None:
    """Extensions nested 300 deep (JSON 600 levels, which orjson reads) in a Condition that the
    fast check cannot prove (its clinicalStatus is a number): R4B's own recursion gives out, and
    the bundle is refused naming the entry, as bad input (CLI exit 2, cohort: a refused patient)."""
    extension = '{"url":"http://x","valueString":"v"}'
    for _ in range(300):
        extension = '{"url":"http://x","extension":[' + extension + "]}"
    condition = (
        '{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p1"},'
        '"code":{"text":"x"},"clinicalStatus":12,"extension":[' + extension + "]}"
    )
    data = (
        '{"resourceType":"Bundle","type":"collection","entry":[{"resource":'
        + orjson.dumps(PATIENT).decode()
        + '},{"resource":'
        + condition
        + "}]}"
    ).encode()
    assert _refusal(read_bundle, data) == (
        "entry 1 (Condition): nested too deeply to be checked as R4"
    )
