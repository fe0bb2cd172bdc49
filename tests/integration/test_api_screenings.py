"""Screening through the API on SQLite and PostgreSQL: the whole flow from registration to a
stale signed screening, and the refusals of screen, sign and override."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ketaclinic.services.actor import Role
from tests.integration.api_support import Api, field_errors, open_api

MDD = {
    "code": "F33.1",
    "display": "Major depressive disorder, recurrent, moderate",
    "onset": "2023-02-01",
}
# Two failed adequate trials of two classes (clinical-facts.md: sertraline, an SSRI, minimum
# 50 mg; venlafaxine, an SNRI, minimum 150 mg; each about 14 weeks, at least 6): resistant.
SERTRALINE = {
    "name": "sertraline", "rxnorm": "36437", "start": "2025-01-06", "end": "2025-04-14",
    "dose_mg": 100, "outcome": "no-response",
}  # fmt: skip
VENLAFAXINE = {
    "name": "venlafaxine", "rxnorm": "39786", "start": "2025-05-05", "end": "2025-08-11",
    "dose_mg": 225, "outcome": "partial-response",
}  # fmt: skip
# Below 140/90 and three days before the screening: no blood-pressure finding.
BP = {"loinc": "85354-9", "effective": "2026-10-29T10:15:00Z", "systolic": 118, "diastolic": 76}
JUSTIFICATION = "BP 150/95 twice this week"  # 25 characters


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def trd_patient(api: Api) -> int:
    """Registered at the front desk, diagnosed and interviewed by the prescriber, BP by the
    nurse: each step through the API."""
    patient = api.new_patient()
    steps: list[tuple[str, dict[str, Any], Role]] = [
        ("conditions", MDD, "prescriber"),
        ("medications", SERTRALINE, "prescriber"),
        ("medications", VENLAFAXINE, "prescriber"),
        ("observations", BP, "nurse"),
    ]
    for plural, body, role in steps:
        response = api.post(role, f"/api/patients/{patient}/{plural}", body)
        assert response.status_code == 201, response.text
    return patient


def screen(api: Api, patient: int, **body: Any) -> Any:
    response = api.post(
        "prescriber", f"/api/patients/{patient}/screenings", {"route": "iv", **body}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_the_whole_flow_screen_sign_stale_override(api: Api) -> None:
    patient = trd_patient(api)

    screening = screen(api, patient)
    assert screening["decision"] == screening["engine_decision"] == "eligible"
    assert (screening["route"], screening["as_of"], screening["signed"]) == (
        "iv",
        "2026-11-01",
        False,
    )
    output = screening["output"]
    assert output["decision"] == "eligible"
    assert output["patient"] == f"Patient/{patient}"
    assert output["treatment_resistance"]["status"] == "resistant"
    assert output["treatment_resistance"]["failed_adequate_trials"] == 2
    assert [i["id"] for i in output["indications"]] == ["treatment_resistant_depression"]

    api.clinic.clock.advance(minutes=5)
    signed = api.post("prescriber", f"/api/screenings/{screening['id']}/sign").json()
    assert signed["signed"] is True
    assert signed["signature"] == {
        "signed_by_id": api.user_id("prescriber"),
        "signed_at": "2026-11-01T09:05:00",
    }
    assert signed["stale"] is False
    assert api.post("prescriber", f"/api/screenings/{screening['id']}/sign").status_code == 409

    # A record added after the signature makes the signed screening stale, on the chart too.
    api.clinic.clock.advance(minutes=1)
    later = {**BP, "effective": "2026-11-01T09:06:00Z", "systolic": 150, "diastolic": 95}
    added = api.post("nurse", f"/api/patients/{patient}/observations", later)
    assert added.status_code == 201
    assert api.get("nurse", f"/api/screenings/{screening['id']}").json()["stale"] is True
    latest = api.get("nurse", f"/api/patients/{patient}/chart").json()["latest_screening"]
    assert (latest["id"], latest["stale"], latest["decision"]) == (
        screening["id"],
        True,
        "eligible",
    )

    path = f"/api/screenings/{screening['id']}/override"
    before = api.counts()
    short = api.post("prescriber", path, {"decision": "not_eligible", "justification": "x" * 19})
    assert field_errors(short) == [("body", "justification")]
    assert api.counts() == before
    response = api.post("prescriber", path, {"decision": "not_eligible", "justification": "y" * 20})
    assert response.status_code == 200, response.text
    overridden = response.json()
    assert (overridden["decision"], overridden["engine_decision"], overridden["overridden"]) == (
        "not_eligible",
        "eligible",
        True,
    )
    assert overridden["justification"] == "y" * 20
    assert overridden["override"]["overridden_by_id"] == api.user_id("prescriber")
    # The override is shown wherever the decision is: the list and the chart.
    [listed] = api.get("nurse", f"/api/patients/{patient}/screenings").json()
    assert (listed["decision"], listed["justification"]) == ("not_eligible", "y" * 20)
    chart = api.get("prescriber", f"/api/patients/{patient}/chart").json()
    assert chart["latest_screening"]["decision"] == "not_eligible"

    writes = [(e.username, e.what) for e in api.audit() if e.action == "write"]
    assert writes[-4:] == [
        ("prescriber", f"screening {screening['id']}: iv -> eligible"),
        ("prescriber", f"screening {screening['id']}: signed"),
        ("nurse", f"observation {added.json()['id']}: added"),
        ("prescriber", f"screening {screening['id']}: overridden to not_eligible"),
    ]


def test_the_chart_groups_the_record(api: Api) -> None:
    patient = trd_patient(api)
    lab = {"loinc": "1742-6", "effective": "2026-10-20", "value": 22}
    assert api.post("nurse", f"/api/patients/{patient}/observations", lab).status_code == 201
    chart = api.get("nurse", f"/api/patients/{patient}/chart").json()
    assert chart["patient"]["id"] == patient
    assert [d["code"] for d in chart["diagnoses"]] == ["F33.1"]
    assert [(t["ingredient"], t["first_start"]) for t in chart["trials"]] == [
        ("sertraline", "2025-01-06"),
        ("venlafaxine", "2025-05-05"),
    ]
    assert [v["systolic"] for v in chart["vitals"]] == [118]
    assert [lab["loinc"] for lab in chart["labs"]] == ["1742-6"]
    assert (chart["scales"], chart["allergies"], chart["procedures"]) == ([], [], [])
    assert chart["latest_screening"] is None
    assert api.audit()[-1].what == "chart"


def test_screenings_are_listed_newest_first(api: Api) -> None:
    patient = trd_patient(api)
    first = screen(api, patient)
    api.clinic.clock.advance(minutes=1)
    second = screen(api, patient, route="esketamine", as_of="2026-10-31")
    listed = api.get("nurse", f"/api/patients/{patient}/screenings").json()
    assert [(s["id"], s["route"], s["as_of"]) for s in listed] == [
        (second["id"], "esketamine", "2026-10-31"),
        (first["id"], "iv", "2026-11-01"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"route": "nasal"}, "route"),
        ({}, "route"),
        ({"route": "iv", "as_of": "2026-11-02"}, "as_of"),  # tomorrow
        ({"route": "iv", "as_of": "soon"}, "as_of"),
    ],
)
def test_bad_screening_requests_are_refused(api: Api, body: dict[str, Any], field: str) -> None:
    patient = trd_patient(api)
    before = api.counts()
    response = api.post("prescriber", f"/api/patients/{patient}/screenings", body)
    assert field_errors(response) == [("body", field)]
    assert api.counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "maybe", "justification": JUSTIFICATION}, "decision"),
        ({"decision": "eligible", "justification": JUSTIFICATION}, "decision"),  # the engine's
        ({"decision": "not_eligible", "justification": "  " + "z" * 19 + "  "}, "justification"),
        ({"decision": "not_eligible"}, "justification"),
    ],
)
def test_bad_overrides_are_refused(api: Api, body: dict[str, Any], field: str) -> None:
    patient = trd_patient(api)
    screening = screen(api, patient)
    before = api.counts()
    response = api.post("prescriber", f"/api/screenings/{screening['id']}/override", body)
    assert field_errors(response) == [("body", field)]
    assert api.counts() == before


def test_a_second_override_is_a_conflict(api: Api) -> None:
    screening = screen(api, trd_patient(api))
    path = f"/api/screenings/{screening['id']}/override"
    ok = api.post("prescriber", path, {"decision": "not_eligible", "justification": JUSTIFICATION})
    assert ok.status_code == 200
    again = api.post(
        "prescriber", path, {"decision": "needs_information", "justification": JUSTIFICATION}
    )
    assert again.status_code == 409


def test_an_unknown_screening_is_404(api: Api) -> None:
    assert api.get("nurse", "/api/screenings/999").status_code == 404
    assert api.post("prescriber", "/api/screenings/999/sign").status_code == 404
