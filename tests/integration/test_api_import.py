"""Importing a FHIR R4 Bundle through the API on SQLite and PostgreSQL: all or nothing, and
the same bundle twice creates nothing new and says so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.api_support import Api, field_errors, open_api

EXAMPLE_01 = Path(__file__).parents[2] / "examples" / "01-eligible-trd.json"
# Example 01: a Patient (born 1986-03-15, as api_support.PATIENT) and 13 clinical resources.
EXAMPLE_01_RESOURCES = 13


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


@pytest.fixture
def patient(api: Api) -> int:
    return api.new_patient()


def clinical_rows(counts: dict[str, int]) -> int:
    return sum(
        counts[t] for t in ("conditions", "medications", "observations", "allergies", "procedures")
    )


def test_importing_the_same_bundle_twice_creates_nothing_new_and_says_so(
    api: Api, patient: int
) -> None:
    data = EXAMPLE_01.read_bytes()
    first = api.post_bytes("prescriber", f"/api/patients/{patient}/import", data)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "created": 13,
        "unchanged": 0,
        "already_imported": False,
        "message": "13 records created, 0 already in the record.",
    }
    before = api.counts()
    assert clinical_rows(before) == EXAMPLE_01_RESOURCES
    second = api.post_bytes("prescriber", f"/api/patients/{patient}/import", data)
    assert second.status_code == 200
    assert second.json() == {
        "created": 0,
        "unchanged": 13,
        "already_imported": True,
        "message": "This bundle was imported before: nothing new was created.",
    }
    # Only the audit trail grew: the attempt is recorded, nothing clinical was added.
    after = api.counts()
    assert after == {**before, "audit_events": before["audit_events"] + 1}
    assert [(e.action, e.what, e.patient_id) for e in api.audit()[-2:]] == [
        ("write", "import: 13 records created, 0 already in the record.", patient),
        ("write", "import: This bundle was imported before: nothing new was created.", patient),
    ]
    medications = api.get("nurse", f"/api/patients/{patient}/medications").json()
    assert {m["source"] for m in medications} == {"import"}


def test_an_overlapping_export_adds_only_what_is_new(api: Api, patient: int) -> None:
    bundle = json.loads(EXAMPLE_01.read_bytes())
    api.post_bytes("prescriber", f"/api/patients/{patient}/import", json.dumps(bundle).encode())
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "subject": {"reference": "Patient/ex01-trd"},
                "effectiveDateTime": "2026-10-30T08:00:00Z",
                "valueQuantity": {"value": 72, "unit": "/min"},
            }
        }
    )
    response = api.post_bytes(
        "prescriber", f"/api/patients/{patient}/import", json.dumps(bundle).encode()
    )
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["unchanged"]) == (1, 13)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{not json",
        b'{"resourceType": "Patient"}',
        # A clinical resource without its required status (R4 structure).
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {
                        "resource": {
                            "resourceType": "Patient",
                            "id": "p1",
                            "birthDate": "1986-03-15",
                        }
                    },
                    {
                        "resource": {
                            "resourceType": "Observation",
                            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                            "subject": {"reference": "Patient/p1"},
                            "valueQuantity": {"value": 72},
                        }
                    },
                ],
            }
        ).encode(),
    ],
    ids=["empty", "not-json", "not-a-bundle", "invalid-resource"],
)
def test_a_refused_bundle_is_422_with_the_reason_and_writes_nothing(
    api: Api, patient: int, data: bytes
) -> None:
    before = api.counts()
    response = api.post_bytes("prescriber", f"/api/patients/{patient}/import", data)
    assert field_errors(response) == [("body", "bundle")]
    assert response.json()["detail"][0]["msg"]
    assert api.counts() == before


def test_someone_elses_record_is_refused(api: Api) -> None:
    other = api.new_patient(mrn="MRN-2", birth_date="1990-01-01")
    before = api.counts()
    response = api.post_bytes(
        "prescriber", f"/api/patients/{other}/import", EXAMPLE_01.read_bytes()
    )
    assert field_errors(response) == [("body", "bundle")]
    assert "born 1986-03-15" in response.json()["detail"][0]["msg"]
    assert api.counts() == before


def test_importing_into_an_unknown_patient_is_404(api: Api) -> None:
    before = api.counts()
    response = api.post_bytes("prescriber", "/api/patients/999/import", EXAMPLE_01.read_bytes())
    assert response.status_code == 404
    assert api.counts() == before
