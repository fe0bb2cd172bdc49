"""Questionnaire responses and schedules, by the services, the API and the staff pages, on
SQLite and PostgreSQL (issue 6, items 1-2 and "Bad input").

Expected totals and bands are worked by hand from clinical-facts.md, "Rating scales".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from ketaclinic.services.actor import Role
from ketaclinic.services.charting import screen_patient
from ketaclinic.services.errors import Forbidden, InvalidInput, NotFound
from ketaclinic.services.questionnaires import (
    assign,
    assignments_of,
    due_questionnaires,
    record_response,
    responses_of,
)
from ketaclinic.services.web_sessions import start
from ketaclinic.store.models import (
    AuditEvent,
    QuestionnaireResponse,
    TreatmentPlan,
    TreatmentSession,
    User,
)
from tests.integration.api_support import Api, field_errors, open_api
from tests.integration.services_support import NOW, TODAY, Clinic, open_clinic

# 1+2+1+2+1+1+0+0+0 = 8: PHQ-9 mild (5-9).
PHQ9_MILD = [1, 2, 1, 2, 1, 1, 0, 0, 0]


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


@pytest.fixture
def web(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def test_every_answer_is_stored_with_total_and_band(clinic: Clinic) -> None:
    patient = clinic.register().id
    with clinic.work() as s:
        done = record_response(s, clinic.nurse, clinic.clock, patient, "phq9", PHQ9_MILD, NOW)
        assert done.alerts == []
    with clinic.work() as s:
        (row,) = responses_of(s, patient)
        assert json.loads(row.answers) == PHQ9_MILD
        assert (row.scale, row.total, row.band) == ("phq9", 8, "mild")
        assert (row.source, row.recorded_by_id) == ("staff", clinic.nurse.user_id)
        assert row.completed_at == NOW


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([3] * 9, 27, "severe"),
        ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild"),  # 5 starts mild
        ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal"),  # near miss
    ],
)
def test_phq9_totals_and_bands(clinic: Clinic, answers: list[int], total: int, band: str) -> None:
    patient = clinic.register().id
    with clinic.work() as s:
        row = record_response(s, clinic.nurse, clinic.clock, patient, "phq9", answers, NOW)
        assert (row.response.total, row.response.band) == (total, band)


def test_qids_total_is_the_sum_of_its_nine_domains(clinic: Clinic) -> None:
    # Sleep max(3,1,0,0)=3, sad 2, appetite max(0,2,1,0)=2, concentration 1, self 1, death 0,
    # interest 2, energy 1, psychomotor max(1,3)=3: 15, moderate (11-15).
    answers = [3, 1, 0, 0, 2, 0, 2, 1, 0, 1, 1, 0, 2, 1, 1, 3]
    patient = clinic.register().id
    with clinic.work() as s:
        done = record_response(s, clinic.nurse, clinic.clock, patient, "qids_sr16", answers, NOW)
        assert (done.response.total, done.response.band) == (15, "moderate")
        assert json.loads(done.response.answers) == answers


def test_cssrs_keeps_its_risk_level_as_band_and_rank(clinic: Clinic) -> None:
    patient = clinic.register().id
    with clinic.work() as s:
        done = record_response(
            s, clinic.nurse, clinic.clock, patient, "cssrs_screener", [1, 1, 0, 0, 0, 0], NOW
        )
        # Questions 1-2 only: low risk, rank 1 of 0-3.
        assert (done.response.band, done.response.total) == ("low risk", 1)


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ([1, 2, 1, 4, 1, 1, 0, 0, 0], "item_4"),  # 4 is outside 0-3
        ([1, 2, 1, 2, 1, 1, 0, 0, -1], "item_9"),
        ([1, 2, 1, 2, 1, 1, 0, 0], "item_9"),  # missing
        ([1, 2, None, 2, 1, 1, 0, 0, 0], "item_3"),  # left blank
        ([1, 2, 1, 2, 1, 1, 0, 0, 0, 0], "item_10"),  # one too many
        ([1, 2, 1, 2, 1, 1, 0, 0, "x"], "item_9"),
        ([1, 2, 1, 2, 1, 1, 0, 0, True], "item_9"),
    ],
)
def test_bad_answers_are_refused_naming_the_item_and_nothing_is_stored(
    clinic: Clinic, answers: list[object], field: str
) -> None:
    patient = clinic.register().id
    before = clinic.counts()
    with pytest.raises(InvalidInput) as refused, clinic.work() as s:
        record_response(s, clinic.nurse, clinic.clock, patient, "phq9", answers, NOW)
    assert refused.value.field == field
    assert "PHQ-9 item" in refused.value.message
    assert clinic.counts() == before


def test_a_response_dated_in_the_future_is_refused(clinic: Clinic) -> None:
    patient = clinic.register().id
    before = clinic.counts()
    later = NOW + timedelta(minutes=1)
    with pytest.raises(InvalidInput) as refused, clinic.work() as s:
        record_response(s, clinic.nurse, clinic.clock, patient, "phq9", PHQ9_MILD, later)
    assert refused.value.field == "completed_at"
    assert clinic.counts() == before
    # Now itself has happened.
    with clinic.work() as s:
        record_response(s, clinic.nurse, clinic.clock, patient, "phq9", PHQ9_MILD, NOW)


def test_unknown_scale_patient_and_session_are_refused(clinic: Clinic) -> None:
    patient = clinic.register().id
    other = clinic.register("MRN-2").id
    other_session = _sessions(clinic, other, [(TODAY, "scheduled")])[0]
    with pytest.raises(InvalidInput) as refused, clinic.work() as s:
        record_response(s, clinic.nurse, clinic.clock, patient, "bdi", [0], NOW)
    assert refused.value.field == "scale"
    with pytest.raises(NotFound), clinic.work() as s:
        record_response(s, clinic.nurse, clinic.clock, 9999, "phq9", PHQ9_MILD, NOW)
    with pytest.raises(InvalidInput) as refused, clinic.work() as s:
        record_response(
            s, clinic.nurse, clinic.clock, patient, "phq9", PHQ9_MILD, NOW, other_session
        )
    assert refused.value.field == "session_id"


@pytest.mark.parametrize("role", ["front_desk", "admin"])
def test_only_clinical_staff_record_responses(clinic: Clinic, role: Role) -> None:
    patient = clinic.register().id
    with pytest.raises(Forbidden), clinic.work() as s:
        record_response(s, clinic.actors[role], clinic.clock, patient, "phq9", PHQ9_MILD, NOW)


def test_responses_are_listed_oldest_first_and_by_scale(clinic: Clinic) -> None:
    patient = clinic.register().id
    with clinic.work() as s:
        record_response(s, clinic.nurse, clinic.clock, patient, "phq9", PHQ9_MILD, NOW)
        record_response(s, clinic.nurse, clinic.clock, patient, "gad7", [0] * 7, NOW)
        earlier = NOW - timedelta(days=7)
        record_response(s, clinic.nurse, clinic.clock, patient, "phq9", [3] * 9, earlier)
    with clinic.work() as s:
        assert [r.total for r in responses_of(s, patient, "phq9")] == [27, 8]
        assert [(r.scale, r.completed_at) for r in responses_of(s, patient)] == [
            ("phq9", earlier),
            ("phq9", NOW),
            ("gad7", NOW),
        ]


# ---- schedules ----------------------------------------------------------------------------------


def _sessions(clinic: Clinic, patient: int, days: list[tuple[date, str]]) -> list[int]:
    """Dosing sessions of a plan, planned on these days in these states."""
    with clinic.work() as s:
        screening = screen_patient(s, clinic.prescriber, clinic.clock, patient, "iv")
        plan = TreatmentPlan(
            patient_id=patient,
            route="iv",
            indication="treatment_resistant_depression",
            screening_id=screening.id,
            status="active",
            created_at=NOW,
        )
        s.add(plan)
        s.flush()
        ids = []
        for number, (day, visit_state) in enumerate(days, start=1):
            visit = TreatmentSession(
                plan_id=plan.id,
                patient_id=patient,
                kind="dosing",
                number=number,
                planned_on=day,
                state=visit_state,
                state_at=NOW,
                created_at=NOW,
            )
            s.add(visit)
            s.flush()
            ids.append(visit.id)
        return ids


def test_phq9_is_due_before_the_next_session_until_answered(clinic: Clinic) -> None:
    patient = clinic.register().id
    # Held Oct 29, cancelled Nov 2 (counts for nothing), next Nov 3.
    _sessions(
        clinic,
        patient,
        [(date(2026, 10, 29), "discharged"), (date(2026, 11, 2), "cancelled"),
         (date(2026, 11, 3), "scheduled")],
    )  # fmt: skip
    with clinic.work() as s:
        assign(s, clinic.nurse, clinic.clock, patient, "phq9", True, None)
        # Answered on the day of the session already held: belongs to that one.
        on_day = datetime(2026, 10, 29, 8, 0)
        record_response(s, clinic.nurse, clinic.clock, patient, "phq9", PHQ9_MILD, on_day)
    with clinic.work() as s:
        (due,) = due_questionnaires(s, clinic.clock, patient)
        assert (due.scale_id, due.status, due.due_on) == ("phq9", "due", date(2026, 11, 3))
        record_response(s, clinic.nurse, clinic.clock, patient, "phq9", PHQ9_MILD, NOW)
    with clinic.work() as s:
        assert due_questionnaires(s, clinic.clock, patient) == []


def test_every_14_days_due_then_overdue(clinic: Clinic) -> None:
    patient = clinic.register().id
    with clinic.work() as s:
        assign(s, clinic.nurse, clinic.clock, patient, "gad7", False, 14)
    with clinic.work() as s:
        (due,) = due_questionnaires(s, clinic.clock, patient)
        assert (due.status, due.due_on) == ("due", TODAY)  # starts today, none answered
        record_response(s, clinic.nurse, clinic.clock, patient, "gad7", [0] * 7, NOW)
    with clinic.work() as s:
        assert due_questionnaires(s, clinic.clock, patient) == []
    clinic.clock.advance(days=13)
    with clinic.work() as s:
        assert due_questionnaires(s, clinic.clock, patient) == []
    clinic.clock.advance(days=1)
    with clinic.work() as s:
        (due,) = due_questionnaires(s, clinic.clock, patient)
        assert (due.status, due.due_on) == ("due", TODAY + timedelta(days=14))
    clinic.clock.advance(days=1)
    with clinic.work() as s:
        (due,) = due_questionnaires(s, clinic.clock, patient)
        assert due.status == "overdue"


def test_a_new_schedule_for_a_scale_replaces_the_old(clinic: Clinic) -> None:
    patient = clinic.register().id
    with clinic.work() as s:
        assign(s, clinic.nurse, clinic.clock, patient, "phq9", True, None)
        assign(s, clinic.prescriber, clinic.clock, patient, "phq9", True, 14)
        assign(s, clinic.prescriber, clinic.clock, patient, "gad7", False, 28)
    with clinic.work() as s:
        found = [(a.scale, a.before_each_session, a.every_days) for a in assignments_of(s, patient)]
        assert found == [("gad7", False, 28), ("phq9", True, 14)]


@pytest.mark.parametrize(("before", "days"), [(False, None), (True, 0), (False, 366)])
def test_a_schedule_needs_a_rule(clinic: Clinic, before: bool, days: int | None) -> None:
    patient = clinic.register().id
    with pytest.raises(InvalidInput) as refused, clinic.work() as s:
        assign(s, clinic.nurse, clinic.clock, patient, "phq9", before, days)
    assert refused.value.field == "every_days"


# ---- the API ------------------------------------------------------------------------------------


def test_api_records_and_lists_responses(web: Api) -> None:
    patient = web.new_patient()
    body = {"scale": "phq9", "answers": PHQ9_MILD, "completed_at": "2026-11-01T08:30:00Z"}
    made = web.post("nurse", f"/api/patients/{patient}/questionnaires", body)
    assert made.status_code == 201, made.text
    assert (made.json()["total"], made.json()["band"], made.json()["alerts"]) == (8, "mild", [])
    listed = web.get("prescriber", f"/api/patients/{patient}/questionnaires", scale="phq9")
    assert listed.status_code == 200
    (row,) = listed.json()["responses"]
    assert row["answers"] == PHQ9_MILD
    assert row["completed_at"] == "2026-11-01T08:30:00"
    assert any(
        e.username == "prescriber" and e.action == "read" and e.patient_id == patient
        for e in web.audit()
    )


def test_api_refuses_bad_answers_naming_the_item(web: Api) -> None:
    patient = web.new_patient()
    before = web.counts()
    body = {"scale": "phq9", "answers": [1, 2, 1, 2, 1, 1, 0, 0, 4], "completed_at": "2026-11-01"}
    response = web.post("nurse", f"/api/patients/{patient}/questionnaires", body)
    assert field_errors(response) == [("body", "item_9")]
    assert "outside 0-3" in response.json()["detail"][0]["msg"]
    assert web.counts() == before


def test_api_time_zones_count_for_the_future_check(web: Api) -> None:
    patient = web.new_patient()
    path = f"/api/patients/{patient}/questionnaires"
    # 10:00 at UTC+2 is 08:00 UTC, before the clinic's 09:00 UTC.
    ok = {"scale": "gad7", "answers": [0] * 7, "completed_at": "2026-11-01T10:00:00+02:00"}
    assert web.post("nurse", path, ok).status_code == 201
    late = {"scale": "gad7", "answers": [0] * 7, "completed_at": "2026-11-01T09:00:01Z"}
    assert field_errors(web.post("nurse", path, late)) == [("body", "completed_at")]


def test_api_assignment_then_due(web: Api) -> None:
    patient = web.new_patient()
    made = web.post(
        "prescriber",
        f"/api/patients/{patient}/questionnaire-assignments",
        {"scale": "phq9", "every_days": 14},
    )
    assert made.status_code == 201, made.text
    (due,) = web.get("nurse", f"/api/patients/{patient}/questionnaires").json()["due"]
    assert (due["scale"], due["status"], due["due_on"]) == ("phq9", "due", "2026-11-01")


# ---- the staff pages ----------------------------------------------------------------------------


def _form(answers: list[int], **more: str) -> dict[str, str]:
    values = {f"item_{n}": str(a) for n, a in enumerate(answers, start=1)}
    return {"scale": "phq9", "completed_at": "2026-11-01T08:30", **values, **more}


def test_staff_form_shows_every_item_and_records(web: Api) -> None:
    patient = web.new_patient()
    page = web.get("nurse", f"/patients/{patient}/questionnaires/new", scale="phq9")
    assert page.status_code == 200
    assert page.text.count('type="radio" name="item_') == 9 * 4
    sent = web.http.post(
        f"/patients/{patient}/questionnaires", headers=web.headers("nurse"), data=_form(PHQ9_MILD)
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/patients/{patient}/questionnaires?done=recorded"
    listing = web.get("nurse", f"/patients/{patient}/questionnaires", done="recorded")
    assert "Questionnaire recorded." in listing.text
    assert "1 2 1 2 1 1 0 0 0" in listing.text


def test_staff_form_refuses_an_answer_out_of_range_beside_the_item(web: Api) -> None:
    patient = web.new_patient()
    before = web.counts()
    data = _form(PHQ9_MILD)
    data["item_5"] = "7"
    sent = web.http.post(
        f"/patients/{patient}/questionnaires", headers=web.headers("nurse"), data=data
    )
    assert sent.status_code == 422
    assert 'id="f-item_5-error" class="error field-error">answer 7 is outside 0-3<' in sent.text
    assert web.counts() == before


def test_staff_form_refuses_a_missing_item_and_a_future_time(web: Api) -> None:
    patient = web.new_patient()
    data = _form(PHQ9_MILD)
    del data["item_2"]
    sent = web.http.post(
        f"/patients/{patient}/questionnaires", headers=web.headers("nurse"), data=data
    )
    assert sent.status_code == 422
    assert 'id="f-item_2-error" class="error field-error">no answer<' in sent.text
    future = _form(PHQ9_MILD, completed_at="2026-11-01T09:30")
    sent = web.http.post(
        f"/patients/{patient}/questionnaires", headers=web.headers("nurse"), data=future
    )
    assert sent.status_code == 422
    assert "is in the future" in sent.text
    with web.clinic.factory() as s:
        assert s.scalars(select(QuestionnaireResponse)).all() == []


def test_due_fragment_lists_overdue(web: Api) -> None:
    patient = web.new_patient()
    web.post(
        "nurse",
        f"/api/patients/{patient}/questionnaire-assignments",
        {"scale": "gad7", "every_days": 14, "starts_on": "2026-10-20"},
    )
    fragment = web.get("nurse", f"/patients/{patient}/questionnaires/due")
    assert fragment.status_code == 200
    assert "Overdue" in fragment.text and "GAD-7" in fragment.text
    assert "<html" not in fragment.text
    with web.clinic.factory() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.patient_id == patient)).all()
        assert any(e.what == "questionnaires due" for e in rows)


def test_staff_forms_carry_the_sessions_csrf_token(web: Api) -> None:
    """Signed in with the cookie (not a bearer token), every form posts with the session's CSRF
    token, so the app-wide check lets it through."""
    patient = web.new_patient()
    with web.clinic.work() as s:
        started = start(s, web.clinic.clock, s.get_one(User, web.clinic.nurse.user_id))
    web.http.cookies.set("ketaclinic_session", started.cookie)
    try:
        for path in (
            f"/patients/{patient}/questionnaires",
            f"/patients/{patient}/questionnaires/new?scale=gad7",
        ):
            page = web.http.get(path)
            assert page.status_code == 200
            forms = re.findall(r'<form method="post".*?</form>', page.text, re.S)
            assert forms
            for form in forms:
                assert f'name="csrf_token" value="{started.csrf_token}"' in form
        sent = web.http.post(
            f"/patients/{patient}/questionnaires",
            data={
                "scale": "gad7",
                "completed_at": "2026-11-01T08:30",
                **{f"item_{n}": "1" for n in range(1, 8)},
                "csrf_token": started.csrf_token,
            },
        )
        assert sent.status_code == 303
    finally:
        web.http.cookies.clear()
