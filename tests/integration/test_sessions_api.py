"""The session JSON API (issue 5) on SQLite and PostgreSQL: a whole IV session over HTTP, bad
input answered 422 naming the field, moves out of order 409, roles 403, each with nothing
written, and every read and write audited with the patient's id."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.integration.api_support import Api, field_errors, open_api
from tests.integration.session_support import new_visit, visit_in

PREDOSE = {
    "systolic": 118,
    "diastolic": 76,
    "escort_confirmed": True,
    "benzodiazepine_today": False,
}
CALM = {"systolic": 122, "diastolic": 78, "heart_rate": 76, "spo2": 98, "respiratory_rate": 14}
ALL_CLEAR = {"alert_and_oriented": True, "escort_present": True, "no_driving_acknowledged": True}


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def audited_patients(api: Api, since: int) -> list[int | None]:
    return [e.patient_id for e in api.audit()[since:]]


def test_a_whole_iv_session_over_the_api(api: Api) -> None:
    clinic = api.clinic
    visit = new_visit(clinic)
    sid, pid = visit.session_id, visit.patient_id
    start = len(api.audit())

    listed = api.get("front_desk", f"/api/patients/{pid}/sessions")
    assert listed.status_code == 200
    assert listed.json()[0]["id"] == sid and "vitals" not in listed.json()[0]
    r = api.post("front_desk", f"/api/sessions/{sid}/check-in", {"chair": "Chair 4"})
    assert (r.status_code, r.json()["state"], r.json()["chair"]) == (200, "checked_in", "Chair 4")
    r = api.post("nurse", f"/api/sessions/{sid}/predose", PREDOSE)
    assert (r.status_code, r.json()["decision"]) == (201, "go")
    r = api.post("nurse", f"/api/sessions/{sid}/doses", {"dose_mg": "40", "lot": "K-1"})
    assert (r.status_code, r.json()["dose_mg"], r.json()["outside_plan"]) == (201, 40, False)

    clinic.clock.advance(minutes=15)
    r = api.post("nurse", f"/api/sessions/{sid}/vitals", {"systolic": 186, "diastolic": 104})
    assert r.status_code == 201
    (alert,) = r.json()["alerts"]
    assert alert["rule"] == "systolic_high"
    r = api.get("nurse", f"/api/sessions/{sid}")
    assert (r.json()["state"], r.json()["open_alerts"]) == ("dosing", 1)
    r = api.post(
        "nurse",
        f"/api/sessions/{sid}/alerts/{alert['id']}/acknowledge",
        {"action_taken": "rate halved, recheck in 5 minutes"},
    )
    assert (r.status_code, r.json()["action_taken"]) == (200, "rate halved, recheck in 5 minutes")

    clinic.clock.advance(minutes=25)  # 40 minutes: the infusion is over
    r = api.post("nurse", f"/api/sessions/{sid}/end-dosing", {})
    ended = clinic.clock.now()
    assert r.json()["state"] == "observation"
    assert r.json()["observation_ends_at"] == (ended + timedelta(minutes=60)).isoformat()
    r = api.post("nurse", f"/api/sessions/{sid}/scores", {"scale": "cadss", "score": 6})
    assert r.status_code == 201
    nausea = {"kind": "nausea", "severity": "mild"}
    r = api.post("nurse", f"/api/sessions/{sid}/adverse-events", nausea)
    assert r.status_code == 201

    clinic.clock.advance(minutes=60)
    api.post("nurse", f"/api/sessions/{sid}/vitals", CALM)
    r = api.post("nurse", f"/api/sessions/{sid}/scores", {"scale": "moaas", "score": 5})
    assert r.status_code == 201
    board = api.get("nurse", "/api/board", day="2026-11-01")
    assert [(s["id"], s["state"]) for s in board.json()] == [(sid, "ready_for_discharge")]
    assert api.get("nurse", f"/api/sessions/{sid}/checklist").json() == []
    r = api.post("nurse", f"/api/sessions/{sid}/discharge", ALL_CLEAR)
    assert (r.status_code, r.json()["state"]) == (200, "discharged")
    assert [e["to_state"] for e in r.json()["events"]] == [
        "checked_in", "pre_dose_check", "dosing", "observation", "ready_for_discharge",
        "discharged",
    ]  # fmt: skip
    # Every request above read or wrote this patient's data and is audited with the patient.
    assert set(audited_patients(api, start)) == {pid}
    assert len(audited_patients(api, start)) == 15  # one row per request


def test_bad_input_is_422_naming_the_field_and_writes_nothing(api: Api) -> None:
    clinic = api.clinic
    sid = visit_in(clinic, "pre_dose_check", "esketamine").session_id
    cases = [
        ("doses", {"dose_mg": "twenty-eight", "lot": "E-1"}, "dose_mg"),
        ("doses", {"dose_mg": 28}, "lot"),
        ("doses", {"dose_mg": 28, "lot": "E-1", "started_at": "2026-11-01T09:01:00"}, "started_at"),
        ("vitals", {"systolic": 400, "diastolic": 80}, "systolic"),
        ("vitals", {"systolic": 120, "diastolic": 20}, "diastolic"),
        ("vitals", {"spo2": 97, "taken_at": "2026-11-01T10:00:00Z"}, "taken_at"),
        ("scores", {"scale": "moaas", "score": 7}, "score"),
    ]
    for what, body, name in cases:
        before = api.counts()
        response = api.post("nurse", f"/api/sessions/{sid}/{what}", body)
        assert field_errors(response) == [("body", name)], body
        assert api.counts() == before
    r = api.post("nurse", f"/api/sessions/{sid}/doses", {"dose_mg": 28, "lot": "E-1"})
    assert r.status_code == 201
    clinic.clock.advance(minutes=4)
    before = api.counts()
    r = api.post("nurse", f"/api/sessions/{sid}/doses", {"dose_mg": 28, "lot": "E-1"})
    assert field_errors(r) == [("body", "started_at")]
    assert "5 minutes between devices" in r.json()["detail"][0]["msg"]
    assert api.counts() == before


def test_out_of_order_is_409_and_roles_are_checked(api: Api) -> None:
    sid = visit_in(api.clinic, "checked_in").session_id
    before = api.counts()
    r = api.post("nurse", f"/api/sessions/{sid}/end-dosing", {})
    assert r.status_code == 409
    assert r.json()["detail"] == (
        "A session that is checked in cannot become observation; next is cancelled or "
        "pre dose check or stopped."
    )
    assert api.post("nurse", f"/api/sessions/{sid}/discharge", ALL_CLEAR).status_code == 409
    assert api.post("front_desk", f"/api/sessions/{sid}/predose", PREDOSE).status_code == 403
    assert api.post("front_desk", f"/api/sessions/{sid}/cancel", {"reason": "x"}).status_code == 403
    assert api.get("admin", f"/api/sessions/{sid}").status_code == 403
    assert api.get("front_desk", "/api/board").status_code == 403
    assert api.get("nurse", "/api/sessions/999999").status_code == 404
    assert api.counts() == before


def test_esketamine_discharge_over_the_api_refused_at_119_allowed_at_120(api: Api) -> None:
    clinic = api.clinic
    sid = visit_in(clinic, "observation", "esketamine").session_id
    first = api.get("nurse", f"/api/sessions/{sid}").json()["dosing_started_at"]
    clinic.clock.at = clinic.clock.at.fromisoformat(first) + timedelta(minutes=119)
    api.post("nurse", f"/api/sessions/{sid}/vitals", CALM)
    api.post("nurse", f"/api/sessions/{sid}/scores", {"scale": "moaas", "score": 5})
    r = api.post("nurse", f"/api/sessions/{sid}/discharge", ALL_CLEAR)
    assert r.status_code == 409
    assert r.json()["detail"].startswith("Discharge refused: Observation ends at ")
    clinic.clock.advance(minutes=1)
    r = api.post("nurse", f"/api/sessions/{sid}/discharge", ALL_CLEAR)
    assert (r.status_code, r.json()["state"]) == (200, "discharged")


def test_a_prescriber_confirms_an_elevated_pressure_on_esketamine(api: Api) -> None:
    sid = visit_in(api.clinic, "checked_in", "esketamine").session_id
    high = {**PREDOSE, "systolic": 146, "fasting_confirmed": True}
    r = api.post("nurse", f"/api/sessions/{sid}/predose", high)
    assert r.json()["decision"] == "confirm"
    assert api.post("nurse", f"/api/sessions/{sid}/confirm", {"reason": "ok"}).status_code == 403
    blocked = api.post("nurse", f"/api/sessions/{sid}/doses", {"dose_mg": 28, "lot": "E-1"})
    assert blocked.status_code == 409
    r = api.post("prescriber", f"/api/sessions/{sid}/confirm", {"reason": "146/76, usual for her"})
    assert (r.status_code, r.json()["confirmation_reason"]) == (200, "146/76, usual for her")
    r = api.post("nurse", f"/api/sessions/{sid}/doses", {"dose_mg": 28, "lot": "E-1"})
    assert r.status_code == 201
