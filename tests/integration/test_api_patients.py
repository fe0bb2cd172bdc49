"""The patients API through the real ASGI app, on SQLite and PostgreSQL: register, search,
open, refusals with the field named and nothing written, and the audit rows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.api_support import PATIENT, Api, field_errors, open_api


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def test_the_front_desk_registers_a_patient_and_it_is_audited(api: Api) -> None:
    body = {**PATIENT, "phone": " 555-0100 ", "escort_name": "Bob Example"}
    response = api.post("front_desk", "/api/patients", body)
    assert response.status_code == 201
    created = response.json()
    assert {k: v for k, v in created.items() if k != "id"} == {
        "mrn": "MRN-1",
        "given_name": "Alice",
        "family_name": "Example",
        "birth_date": "1986-03-15",
        "sex": "female",
        "phone": "555-0100",
        "email": None,
        "address": None,
        "escort_name": "Bob Example",
        "escort_phone": None,
        "created_at": "2026-11-01T09:00:00",
    }
    [event] = api.audit()
    assert (event.username, event.action, event.what, event.patient_id, event.address) == (
        "front_desk",
        "write",
        "demographics: registered",
        created["id"],
        "testclient",
    )


def test_a_patient_is_opened_by_id_and_a_missing_one_is_404(api: Api) -> None:
    patient_id = api.new_patient()
    response = api.get("nurse", f"/api/patients/{patient_id}")
    assert response.status_code == 200
    assert response.json()["mrn"] == "MRN-1"
    assert api.audit()[-1].what == "demographics"
    assert api.audit()[-1].patient_id == patient_id
    missing = api.get("nurse", f"/api/patients/{patient_id + 1000}")
    assert missing.status_code == 404


def test_search_by_name_birth_date_and_mrn_pages_by_family_name(api: Api) -> None:
    ids = {
        "Zed": api.new_patient(mrn="A1", family_name="Zed", given_name="Ann"),
        "Young": api.new_patient(mrn="A2", family_name="Young", given_name="Anna"),
        "Xu": api.new_patient(
            mrn="A3", family_name="Xu", given_name="Ben", birth_date="1990-01-02"
        ),
    }
    everyone = api.get("front_desk", "/api/patients", size=2).json()
    assert (everyone["total"], everyone["pages"], everyone["page"], everyone["size"]) == (
        3,
        2,
        1,
        2,
    )
    assert [p["family_name"] for p in everyone["items"]] == ["Xu", "Young"]
    second = api.get("front_desk", "/api/patients", size=2, page=2).json()
    assert [p["family_name"] for p in second["items"]] == ["Zed"]
    by_name = api.get("front_desk", "/api/patients", q="ann").json()
    assert [p["family_name"] for p in by_name["items"]] == ["Young", "Zed"]
    born = api.get("front_desk", "/api/patients", birth_date="1990-01-02").json()
    assert [p["id"] for p in born["items"]] == [ids["Xu"]]
    by_mrn = api.get("front_desk", "/api/patients", mrn="A2").json()
    assert [p["id"] for p in by_mrn["items"]] == [ids["Young"]]


def test_a_search_audits_the_query_and_each_patient_shown(api: Api) -> None:
    first = api.new_patient(mrn="A1", family_name="Able")
    second = api.new_patient(mrn="A2", family_name="Baker")
    before = len(api.audit())
    api.get("nurse", "/api/patients", q="e", mrn="A2")
    rows = [(e.action, e.what, e.patient_id) for e in api.audit()[before:]]
    assert rows == [
        ("read", "patient search (name 'e', MRN 'A2'): page 1", None),
        ("read", "demographics: search result", second),
    ]
    assert first != second


def test_paging_out_of_range_is_a_422_naming_the_parameter(api: Api) -> None:
    assert field_errors(api.get("front_desk", "/api/patients", page=0)) == [("query", "page")]
    assert field_errors(api.get("front_desk", "/api/patients", size=101)) == [("query", "size")]
    assert api.get("front_desk", "/api/patients", size=100).status_code == 200


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"birth_date": "2026-11-16"}, "birth_date"),  # a fortnight after the clinic's today
        ({"birth_date": "15/03/1986"}, "birth_date"),  # not an ISO date
        ({"birth_date": None}, "birth_date"),
        ({"sex": "f"}, "sex"),
        ({"family_name": "  "}, "family_name"),
        ({"mrn": ""}, "mrn"),
        ({"email": "not an address"}, "email"),
        ({"nickname": "Al"}, "nickname"),  # unknown keys are refused, not dropped
    ],
)
def test_bad_demographics_are_refused_with_the_field_and_nothing_written(
    api: Api, changes: dict[str, object], field: str
) -> None:
    before = api.counts()
    response = api.post("front_desk", "/api/patients", {**PATIENT, **changes})
    assert field_errors(response) == [("body", field)]
    assert api.counts() == before


def test_todays_birth_date_is_accepted(api: Api) -> None:
    # The near miss of the future-date rule: the clinic's today (2026-11-01) is not the future.
    assert api.new_patient(birth_date="2026-11-01") > 0


def test_a_duplicate_mrn_is_refused_with_nothing_written(api: Api) -> None:
    api.new_patient()
    before = api.counts()
    response = api.post("nurse", "/api/patients", {**PATIENT, "given_name": "Other"})
    assert field_errors(response) == [("body", "mrn")]
    assert "MRN-1 is already registered" in response.json()["detail"][0]["msg"]
    assert api.counts() == before


def test_the_api_is_documented_with_typed_responses(api: Api) -> None:
    spec = api.http.get("/api/openapi.json").json()
    paths = spec["paths"]
    assert {
        "/api/patients",
        "/api/patients/{patient_id}",
        "/api/patients/{patient_id}/chart",
        "/api/patients/{patient_id}/import",
        "/api/patients/{patient_id}/observations",
        "/api/records/observation/{record_id}/correct",
        "/api/records/{kind}/{record_id}/entered-in-error",
        "/api/records/{kind}/{record_id}/history",
        "/api/medications/{record_id}/outcome",
        "/api/patients/{patient_id}/screenings",
        "/api/screenings/{screening_id}",
        "/api/screenings/{screening_id}/sign",
        "/api/screenings/{screening_id}/override",
    } <= set(paths)
    chart = paths["/api/patients/{patient_id}/chart"]["get"]["responses"]["200"]
    assert chart["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ChartOut"
    }
    assert (
        "application/fhir+json"
        in paths["/api/patients/{patient_id}/import"]["post"]["requestBody"]["content"]
    )
