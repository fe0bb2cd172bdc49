"""The clinic's HTML pages through the real ASGI app, on SQLite and on PostgreSQL: patients,
the chart, record forms (with the message beside the field and nothing written on bad input),
corrections and history, the inline trial outcome, screening, sign and override, and the audit
rows each page writes.

Browsers are signed in by starting a web session directly (services.web_sessions.start), so no
Argon2 hash is computed; signing in through the form is covered by test_web_auth.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ketaclinic.services import web_sessions
from ketaclinic.services.actor import Role
from ketaclinic.store.db import transaction
from ketaclinic.store.models import (
    AuditEvent,
    ConditionRecord,
    MedicationRecord,
    ObservationRecord,
    Patient,
    ScreeningOverride,
    ScreeningSignature,
    User,
)
from ketaclinic.web.app import create_app
from tests.integration.services_support import TODAY, Clinic, open_clinic

SESSION_COOKIE = "ketaclinic_session"


@dataclass
class Browser:
    """A signed-in browser: its client and the session's CSRF token."""

    http: TestClient
    csrf: str
    role: Role

    def get(self, path: str, **headers: str) -> httpx.Response:
        return self.http.get(path, headers=headers)

    def post(self, path: str, data: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
        body = {"csrf_token": self.csrf, **(data or {})}
        return self.http.post(path, data=body, headers=headers)


@dataclass
class Site:
    clinic: Clinic
    app: FastAPI

    def browser(self, role: Role) -> Browser:
        with transaction(self.clinic.factory) as s:
            user = s.scalar(select(User).where(User.username == role))
            assert user is not None
            started = web_sessions.start(s, self.clinic.clock, user)
        http = TestClient(self.app, follow_redirects=False)
        http.cookies.set(SESSION_COOKIE, started.cookie)
        return Browser(http, started.csrf_token, role)

    def count(self, model: type[Any]) -> int:
        with self.clinic.factory() as s:
            return s.scalar(select(func.count()).select_from(model)) or 0

    def audit(self) -> list[tuple[str, str, str, int | None]]:
        with self.clinic.factory() as s:
            rows = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
            return [(e.username, e.action, e.what, e.patient_id) for e in rows]

    def patient(self, mrn: str = "MRN-1", **changes: Any) -> int:
        return self.clinic.register(mrn, **changes).id


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:
    with open_clinic(database_url) as clinic:
        app = create_app(database_url, clinic.clock)
        try:
            yield Site(clinic, app)
        finally:
            app.state.engine.dispose()


def field_error(page: httpx.Response, name: str) -> str:
    """The message shown beside the field ``name`` (empty when none)."""
    match = re.search(
        rf'<p id="f-{name}-error" class="error field-error"( hidden)?>([^<]*)</p>', page.text
    )
    assert match is not None, f"no error slot for {name}"
    return match.group(2)


def days_ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


# --- patients -----------------------------------------------------------------------------------

NEW_PATIENT = {
    "mrn": "MRN-7",
    "given_name": "Bea",
    "family_name": "Sample",
    "birth_date": "1979-06-02",
    "sex": "female",
    "escort_name": "Carl Sample",
    "escort_phone": "555-0100",
}


def test_the_front_desk_registers_a_patient_and_is_sent_back_to_the_list(site: Site) -> None:
    desk = site.browser("front_desk")
    form = desk.get("/patients/new")
    assert form.status_code == 200
    for name, label in (("mrn", "MRN"), ("birth_date", "Birth date"), ("sex", "Sex")):
        assert f'<label for="f-{name}">{label}' in form.text
    response = desk.post("/patients", NEW_PATIENT)
    assert response.status_code == 303
    assert response.headers["location"] == "/patients?mrn=MRN-7&registered=MRN-7"
    with site.clinic.factory() as s:
        patient = s.scalar(select(Patient).where(Patient.mrn == "MRN-7"))
        assert patient is not None
        assert (patient.given_name, patient.escort_phone) == ("Bea", "555-0100")
    assert ("front_desk", "write", "patient registered", patient.id) in site.audit()
    listed = desk.get(response.headers["location"])
    assert "Patient MRN-7 is registered." in listed.text
    # The front desk sees the name but no link to the chart.
    assert "Sample, Bea" in listed.text
    assert f'href="/patients/{patient.id}"' not in listed.text


def test_a_prescriber_who_registers_a_patient_lands_on_the_chart(site: Site) -> None:
    response = site.browser("prescriber").post("/patients", NEW_PATIENT)
    assert response.status_code == 303
    assert re.fullmatch(r"/patients/\d+", response.headers["location"])


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"mrn": "MRN-1"}, "mrn", "MRN MRN-1 is already registered"),
        ({"birth_date": "2026-11-02"}, "birth_date", "is in the future (2026-11-02)"),
        (
            {"birth_date": "02/06/1979"},
            "birth_date",
            "is not a date (YYYY-MM-DD): &#39;02/06/1979&#39;",
        ),
        ({"given_name": "  "}, "given_name", "is required"),
        ({"sex": ""}, "sex", "must be one of female, male, other, unknown"),
    ],
)
def test_bad_patient_input_is_shown_beside_the_field_and_nothing_is_written(
    site: Site, change: dict[str, str], field: str, message: str
) -> None:
    site.patient("MRN-1")
    before = site.clinic.counts()
    response = site.browser("nurse").post("/patients", {**NEW_PATIENT, **change})
    assert response.status_code == 422
    assert field_error(response, field) == message
    assert f'id="f-{field}"' in response.text
    # What was typed is kept in the form.
    assert 'value="Sample"' in response.text
    after = site.clinic.counts()
    assert after["patients"] == before["patients"]


def test_today_is_a_valid_birth_date(site: Site) -> None:
    response = site.browser("nurse").post("/patients", {**NEW_PATIENT, "birth_date": "2026-11-01"})
    assert response.status_code == 303


def test_the_list_searches_by_name_birth_date_and_mrn_and_pages(site: Site) -> None:
    for n in range(23):
        site.patient(f"M-{n:02d}", family_name=f"Family{n:02d}", given_name="Zed")
    site.patient(
        "X-1", family_name="Other", given_name="Ola", birth_date=TODAY - timedelta(days=9000)
    )
    nurse = site.browser("nurse")
    first = nurse.get("/patients?name=zed")
    assert first.status_code == 200
    assert "23 patients found, page 1 of 2." in first.text
    assert first.text.count("Zed</a>") == 20
    assert 'href="/patients?name=zed&amp;page=2"' in first.text
    second = nurse.get("/patients?name=zed&page=2")
    assert second.text.count("Zed</a>") == 3
    assert "Family22, Zed" in second.text
    by_birth = nurse.get(f"/patients?birth_date={days_ago(9000)}")
    assert "1 patient found." in by_birth.text and "Other, Ola" in by_birth.text
    by_mrn = nurse.get("/patients?mrn=M-05")
    assert "1 patient found." in by_mrn.text and "Family05, Zed" in by_mrn.text
    # Each patient shown is an audited read of that patient.
    reads = [a for a in site.audit() if a[:3] == ("nurse", "read", "patient list")]
    assert len(reads) == 20 + 3 + 1 + 1


def test_a_search_by_a_malformed_birth_date_says_so_beside_the_field(site: Site) -> None:
    response = site.browser("nurse").get("/patients?birth_date=yesterday")
    assert response.status_code == 422
    assert field_error(response, "birth_date") == "is not a date (YYYY-MM-DD): &#39;yesterday&#39;"


def test_admins_have_no_patient_pages(site: Site) -> None:
    admin = site.browser("admin")
    pid = site.patient()
    for path in ("/patients", "/patients/new", f"/patients/{pid}"):
        assert admin.get(path).status_code == 403
    assert admin.post("/patients", NEW_PATIENT).status_code == 403
    assert site.count(Patient) == 1


def test_pages_need_a_session(site: Site) -> None:
    response = TestClient(site.app, follow_redirects=False).get("/patients")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fpatients"


# --- the chart ----------------------------------------------------------------------------------


def test_the_front_desk_cannot_open_the_chart(site: Site) -> None:
    pid = site.patient()
    response = site.browser("front_desk").get(f"/patients/{pid}")
    assert response.status_code == 403
    assert "Not allowed" in response.text
    assert not [a for a in site.audit() if a[2] == "chart"]


def test_an_unknown_patient_is_not_found(site: Site) -> None:
    assert site.browser("prescriber").get("/patients/999").status_code == 404


def test_a_nurse_reads_the_chart_without_prescriber_controls(site: Site) -> None:
    pid = site.patient()
    page = site.browser("nurse").get(f"/patients/{pid}")
    assert page.status_code == 200
    assert "Example, Alice" in page.text
    assert f'href="/patients/{pid}/vitals/new"' in page.text
    assert f'href="/patients/{pid}/labs/new"' in page.text
    assert f'href="/patients/{pid}/diagnoses/new"' not in page.text
    assert f'action="/patients/{pid}/screenings"' not in page.text
    assert ("nurse", "read", "chart", pid) in site.audit()


def _add_trials(b: Browser, pid: int) -> None:
    for values in (
        {
            "name": "sertraline",
            "dose_mg": "100",
            "start": days_ago(240),
            "end": days_ago(170),
            "status": "completed",
            "outcome": "no-response",
        },
        {
            "name": "venlafaxine",
            "dose_mg": "75",
            "start": days_ago(100),
            "end": days_ago(80),
            "status": "completed",
        },
        {
            "name": "venlafaxine",
            "dose_mg": "150",
            "start": days_ago(80),
            "end": days_ago(24),
            "status": "completed",
            "outcome": "partial-response",
        },
    ):
        response = b.post(
            f"/patients/{pid}/medications",
            {"frequency": "1", "period": "1", "period_unit": "d", **values},
        )
        assert response.status_code == 303, response.text


def test_the_chart_draws_a_trial_timeline_by_ingredient(site: Site) -> None:
    pid = site.patient()
    doctor = site.browser("prescriber")
    _add_trials(doctor, pid)
    page = doctor.get(f"/patients/{pid}")
    assert page.status_code == 200
    svg = page.text[page.text.index("<svg") : page.text.index("</svg>")]
    # Two lanes (sertraline, venlafaxine), three bars: the dose change is venlafaxine's second.
    assert svg.count('class="lane"') == 2
    assert svg.count('class="bar"') == 3
    assert ">100 mg daily</text>" in svg and ">150 mg daily</text>" in svg
    assert 'fill="#b3261e"' in svg  # no response
    assert 'fill="#c76b00"' in svg  # partial response
    assert 'fill="#8a939d"' in svg  # the 75 mg step: no outcome recorded
    # The same in words: the trial table.
    assert "Partial response" in page.text and "No response" in page.text
    assert re.search(
        r'<td class="dose">100 mg daily</td>\s*<td class="taken"><span class="date">'
        + days_ago(240)
        + '</span> to <span class="date">'
        + days_ago(170),
        page.text,
    )
    assert "10 weeks, completed" in page.text


# --- record forms -------------------------------------------------------------------------------


def test_a_prescriber_adds_a_diagnosis(site: Site) -> None:
    pid = site.patient()
    doctor = site.browser("prescriber")
    form = doctor.get(f"/patients/{pid}/diagnoses/new")
    assert form.status_code == 200
    assert '<label for="f-code">Code' in form.text
    response = doctor.post(
        f"/patients/{pid}/diagnoses",
        {
            "system": "http://hl7.org/fhir/sid/icd-10-cm",
            "code": "F33.1",
            "display": "Major depressive disorder, recurrent, moderate",
            "clinical_status": "active",
            "verification_status": "confirmed",
            "onset": days_ago(400),
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/patients/{pid}#diagnoses"
    with site.clinic.factory() as s:
        row = s.scalars(select(ConditionRecord)).one()
        assert (row.code, row.clinical_status, row.onset) == (
            "F33.1",
            "active",
            TODAY - timedelta(days=400),
        )
    assert ("prescriber", "read", "diagnoses form", pid) in site.audit()
    assert ("prescriber", "write", f"add condition {row.id}", pid) in site.audit()
    chart = doctor.get(f"/patients/{pid}")
    assert "ICD-10-CM F33.1" in chart.text


def test_a_nurse_may_not_add_a_diagnosis(site: Site) -> None:
    pid = site.patient()
    nurse = site.browser("nurse")
    assert nurse.get(f"/patients/{pid}/diagnoses/new").status_code == 403
    response = nurse.post(f"/patients/{pid}/diagnoses", {"code": "F33.1", "display": "MDD"})
    assert response.status_code == 403
    assert site.count(ConditionRecord) == 0


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        (
            {"systolic": "301", "diastolic": "80"},
            "systolic",
            "must be between 50 and 300 mmHg (got 301)",
        ),
        (
            {"systolic": "49", "diastolic": "30"},
            "systolic",
            "must be between 50 and 300 mmHg (got 49)",
        ),
        (
            {"systolic": "250", "diastolic": "201"},
            "diastolic",
            "must be between 20 and 200 mmHg (got 201)",
        ),
        (
            {"systolic": "120", "diastolic": "19"},
            "diastolic",
            "must be between 20 and 200 mmHg (got 19)",
        ),
        ({"systolic": "120", "diastolic": ""}, "diastolic", "is required"),
        ({"heart_rate": "301"}, "heart_rate", "must be between 20 and 300 /min (got 301)"),
        ({"heart_rate": "19"}, "heart_rate", "must be between 20 and 300 /min (got 19)"),
        ({"spo2": "101"}, "spo2", "must be between 50 and 100 % (got 101)"),
        ({"spo2": "49"}, "spo2", "must be between 50 and 100 % (got 49)"),
        ({"weight": "401"}, "weight", "must be between 2 and 400 kg (got 401)"),
        ({"weight": "1.5"}, "weight", "must be between 2 and 400 kg (got 1.5)"),
        ({"weight": "heavy"}, "weight", "is not a number: &#39;heavy&#39;"),
        (
            {"systolic": "120", "diastolic": "80", "effective": "2026-11-01T09:01"},
            "effective",
            "is in the future (2026-11-01T09:01:00)",
        ),
        ({}, "systolic", "enter at least one measurement"),
    ],
)
def test_implausible_vitals_are_refused_beside_the_field_and_nothing_is_saved(
    site: Site, values: dict[str, str], field: str, message: str
) -> None:
    pid = site.patient()
    nurse = site.browser("nurse")
    # A good blood pressure with the bad value: the whole form is refused, not half saved.
    body = {"effective": "2026-11-01T08:30", "systolic": "120", "diastolic": "80", **values}
    if not values:
        body = {"effective": "2026-11-01T08:30"}
    response = nurse.post(f"/patients/{pid}/vitals", body)
    assert response.status_code == 422
    assert field_error(response, field) == message
    assert "Nothing was saved." in response.text
    assert site.count(ObservationRecord) == 0


def test_vitals_at_the_edges_of_the_plausible_ranges_are_saved(site: Site) -> None:
    pid = site.patient()
    nurse = site.browser("nurse")
    edges = [
        {
            "systolic": "300",
            "diastolic": "200",
            "heart_rate": "300",
            "spo2": "100",
            "weight": "400",
        },
        {"systolic": "50", "diastolic": "20", "heart_rate": "20", "spo2": "50", "weight": "2"},
    ]
    for values in edges:
        response = nurse.post(
            f"/patients/{pid}/vitals", {"effective": "2026-11-01T09:00", **values}
        )
        assert response.status_code == 303, field_error(response, "diastolic")
    assert site.count(ObservationRecord) == 8
    writes = [a for a in site.audit() if a[1] == "write"]
    assert len(writes) == 8 and all(a[2].startswith("add observation ") for a in writes)
    chart = nurse.get(f"/patients/{pid}")
    assert "300/200 mmHg" in chart.text and "2 kg" in chart.text


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"start": "2026-11-02"}, "start", "is in the future (2026-11-02)"),
        (
            {"start": days_ago(10), "end": days_ago(11)},
            "end",
            f"cannot be before the start ({days_ago(11)} &lt; {days_ago(10)})",
        ),
        ({"dose_mg": "0"}, "dose_mg", "must be more than 0 (got 0)"),
        ({"name": ""}, "name", "is required"),
        (
            {"outcome": "cured"},
            "outcome",
            "must be one of intolerance, no-response, partial-response, remission, response"
            " (got &#39;cured&#39;)",
        ),
    ],
)
def test_a_bad_medication_trial_is_refused_beside_the_field(
    site: Site, values: dict[str, str], field: str, message: str
) -> None:
    pid = site.patient()
    body = {
        "name": "sertraline",
        "dose_mg": "100",
        "frequency": "1",
        "period": "1",
        "period_unit": "d",
        "status": "completed",
        **values,
    }
    response = site.browser("prescriber").post(f"/patients/{pid}/medications", body)
    assert response.status_code == 422
    assert field_error(response, field) == message
    assert site.count(MedicationRecord) == 0


def test_an_end_on_its_start_day_is_accepted(site: Site) -> None:
    pid = site.patient()
    body = {"name": "sertraline", "dose_mg": "100", "start": days_ago(3), "end": days_ago(3)}
    assert site.browser("prescriber").post(f"/patients/{pid}/medications", body).status_code == 303


def test_a_lab_result_and_an_unknown_test_code(site: Site) -> None:
    pid = site.patient()
    nurse = site.browser("nurse")
    ok = nurse.post(
        f"/patients/{pid}/labs", {"loinc": "1742-6", "value": "31", "effective": "2026-10-30T08:00"}
    )
    assert ok.status_code == 303
    other = nurse.post(
        f"/patients/{pid}/labs",
        {
            "other_loinc": "99999-9",
            "display": "Local test",
            "value": "4",
            "unit": "mg",
            "effective": "2026-10-30T08:00",
        },
    )
    assert other.status_code == 303
    chart = nurse.get(f"/patients/{pid}")
    assert "31 U/L" in chart.text and "Local test" in chart.text


def test_a_dose_change_form_starts_from_the_trial(site: Site) -> None:
    pid = site.patient()
    doctor = site.browser("prescriber")
    _add_trials(doctor, pid)
    with site.clinic.factory() as s:
        first = s.scalars(select(MedicationRecord).order_by(MedicationRecord.id)).first()
        assert first is not None
    page = doctor.get(f"/patients/{pid}/medications/new?after={first.id}")
    assert 'value="sertraline"' in page.text
    assert f'value="{TODAY.isoformat()}"' in page.text


# --- corrections, entered in error, history -----------------------------------------------------


def _diagnosis(site: Site, b: Browser, pid: int, code: str = "F33.1") -> int:
    b.post(f"/patients/{pid}/diagnoses", {"code": code, "display": "Major depressive disorder"})
    with site.clinic.factory() as s:
        return (
            s.scalars(select(ConditionRecord.id).order_by(ConditionRecord.id.desc())).first() or 0
        )


def test_a_correction_keeps_the_old_version_in_the_history(site: Site) -> None:
    pid = site.patient()
    doctor = site.browser("prescriber")
    old = _diagnosis(site, doctor, pid, "F33.0")
    form = doctor.get(f"/records/condition/{old}/correct")
    assert form.status_code == 200
    assert 'value="F33.0"' in form.text
    refused = doctor.post(
        f"/records/condition/{old}/correct", {"code": "F33.1", "display": "MDD", "reason": " "}
    )
    assert refused.status_code == 422
    assert field_error(refused, "reason") == "is required"
    assert site.count(ConditionRecord) == 1
    response = doctor.post(
        f"/records/condition/{old}/correct",
        {"code": "F33.1", "display": "MDD recurrent moderate", "reason": "moderate, not mild"},
    )
    assert response.status_code == 303
    with site.clinic.factory() as s:
        rows = s.scalars(select(ConditionRecord).order_by(ConditionRecord.id)).all()
        assert [(r.code, r.state) for r in rows] == [("F33.0", "superseded"), ("F33.1", "current")]
        new = rows[1].id
    assert response.headers["location"] == f"/records/condition/{new}/history"
    history = doctor.get(response.headers["location"])
    assert history.text.count('class="card version') == 2
    assert "moderate, not mild" in history.text and "superseded" in history.text
    assert ("prescriber", "write", f"correct condition {old} -> {new}", pid) in site.audit()
    assert ("prescriber", "read", f"history condition {new}", pid) in site.audit()
    # A superseded version cannot be corrected again.
    assert (
        doctor.post(
            f"/records/condition/{old}/correct", {"code": "F33.2", "reason": "x"}
        ).status_code
        == 409
    )


def test_entered_in_error_leaves_the_chart_and_stays_in_the_history(site: Site) -> None:
    pid = site.patient()
    doctor = site.browser("prescriber")
    old = _diagnosis(site, doctor, pid, "F41.1")
    refused = doctor.post(f"/records/condition/{old}/entered-in-error", {"error_reason": ""})
    assert refused.status_code == 422
    assert field_error(refused, "error_reason") == "is required"
    response = doctor.post(
        f"/records/condition/{old}/entered-in-error", {"error_reason": "wrong patient"}
    )
    assert response.status_code == 303
    chart = doctor.get(f"/patients/{pid}")
    assert "F41.1" not in chart.text
    history = doctor.get(response.headers["location"])
    assert "entered in error" in history.text and "wrong patient" in history.text


def test_a_nurse_corrects_an_observation_but_not_a_diagnosis(site: Site) -> None:
    pid = site.patient()
    doctor, nurse = site.browser("prescriber"), site.browser("nurse")
    diagnosis = _diagnosis(site, doctor, pid)
    assert nurse.get(f"/records/condition/{diagnosis}/correct").status_code == 403
    assert (
        nurse.post(
            f"/records/condition/{diagnosis}/entered-in-error", {"error_reason": "x"}
        ).status_code
        == 403
    )
    assert nurse.get(f"/records/condition/{diagnosis}/history").status_code == 200
    nurse.post(
        f"/patients/{pid}/vitals",
        {"effective": "2026-11-01T08:00", "systolic": "150", "diastolic": "95"},
    )
    with site.clinic.factory() as s:
        bp = s.scalars(select(ObservationRecord)).one().id
    form = nurse.get(f"/records/observation/{bp}/correct")
    assert 'name="systolic"' in form.text and 'value="150"' in form.text
    response = nurse.post(
        f"/records/observation/{bp}/correct",
        {
            "loinc": "85354-9",
            "systolic": "130",
            "diastolic": "85",
            "effective": "2026-11-01T08:00",
            "reason": "misread the cuff",
        },
    )
    assert response.status_code == 303
    assert "130/85 mmHg" in nurse.get(f"/patients/{pid}").text
    assert site.browser("front_desk").get(f"/records/observation/{bp}/history").status_code == 403


def test_an_unknown_record_kind_is_not_found(site: Site) -> None:
    assert site.browser("prescriber").get("/records/potion/1/history").status_code == 404


# --- the trial outcome, inline ------------------------------------------------------------------


def test_the_outcome_is_recorded_inline_with_htmx(site: Site) -> None:
    pid = site.patient()
    doctor = site.browser("prescriber")
    doctor.post(
        f"/patients/{pid}/medications",
        {"name": "escitalopram", "dose_mg": "20", "start": days_ago(120), "end": days_ago(40)},
    )
    with site.clinic.factory() as s:
        trial = s.scalars(select(MedicationRecord)).one().id
    htmx = {"HX-Request": "true"}
    form = doctor.get(f"/records/medication/{trial}/outcome", **htmx)
    assert form.status_code == 200
    assert form.text.lstrip().startswith(f'<tr id="trial-row-{trial}"')
    assert 'hx-post="/records/medication/' in form.text
    refused = doctor.post(
        f"/records/medication/{trial}/outcome",
        {"outcome": "", "outcome_text": "", "reason": "interview"},
        **htmx,
    )
    assert refused.status_code == 422
    assert refused.headers["HX-Retarget"] == f"#trial-row-{trial}"
    assert field_error(refused, "outcome") == "give an outcome or describe it"
    assert site.count(MedicationRecord) == 1
    saved = doctor.post(
        f"/records/medication/{trial}/outcome",
        {
            "outcome": "no-response",
            "outcome_text": "no change after 8 weeks",
            "reason": "interview",
        },
        **htmx,
    )
    assert saved.status_code == 200
    assert saved.text.lstrip().startswith('<section id="trials"')
    assert "No response (no change after 8 weeks)" in saved.text
    with site.clinic.factory() as s:
        rows = s.scalars(select(MedicationRecord).order_by(MedicationRecord.id)).all()
        assert [(r.state, r.outcome) for r in rows] == [
            ("superseded", None),
            ("current", "no-response"),
        ]
    assert (
        "prescriber",
        "write",
        f"trial outcome medication {trial} -> {rows[1].id}",
        pid,
    ) in site.audit()


def test_the_outcome_form_works_without_javascript(site: Site) -> None:
    pid = site.patient()
    doctor = site.browser("prescriber")
    doctor.post(
        f"/patients/{pid}/medications",
        {"name": "bupropion", "dose_mg": "300", "start": days_ago(120), "end": days_ago(40)},
    )
    with site.clinic.factory() as s:
        trial = s.scalars(select(MedicationRecord)).one().id
    page = doctor.get(f"/records/medication/{trial}/outcome")
    assert "<h1>Outcome of a trial</h1>" in page.text
    response = doctor.post(
        f"/records/medication/{trial}/outcome", {"outcome": "intolerance", "reason": "interview"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/patients/{pid}#trials"
    assert (
        site.browser("nurse")
        .post(f"/records/medication/{trial}/outcome", {"outcome": "response", "reason": "x"})
        .status_code
        == 403
    )


# --- screening ----------------------------------------------------------------------------------


def _eligible_patient(site: Site, doctor: Browser) -> int:
    pid = site.patient()
    doctor.post(
        f"/patients/{pid}/diagnoses",
        {
            "code": "F33.1",
            "display": "Major depressive disorder, recurrent, moderate",
            "onset": days_ago(700),
        },
    )
    _add_trials(doctor, pid)
    doctor.post(
        f"/patients/{pid}/vitals",
        {"effective": "2026-10-31T10:00", "systolic": "124", "diastolic": "78"},
    )
    return pid


def _screen(doctor: Browser, pid: int, route: str = "iv") -> int:
    response = doctor.post(f"/patients/{pid}/screenings", {"route": route})
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/screenings/(\d+)", response.headers["location"])
    assert match is not None
    return int(match.group(1))


def test_screen_sign_and_the_decision_on_the_chart(site: Site) -> None:
    doctor = site.browser("prescriber")
    pid = _eligible_patient(site, doctor)
    sid = _screen(doctor, pid)
    page = doctor.get(f"/screenings/{sid}")
    assert page.status_code == 200
    assert '<span class="decision-word" data-decision="eligible">Eligible</span>' in page.text
    # The decision comes before the findings, trial table, staging and workup.
    order = [
        page.text.index(s)
        for s in (
            'data-decision="eligible"',
            "Findings",
            "Treatment resistance",
            "Staging",
            "Workup checklist",
        )
    ]
    assert order == sorted(order)
    assert "Treatment resistant depression" in page.text
    assert "Source:" in page.text
    assert '<th scope="row">sertraline</th>' in page.text
    assert f'action="/screenings/{sid}/sign"' in page.text
    assert doctor.post(f"/screenings/{sid}/sign").status_code == 303
    signed = doctor.get(f"/screenings/{sid}")
    assert "Signed by Prescriber on 2026-11-01 09:00 UTC." in signed.text
    assert f'action="/screenings/{sid}/sign"' not in signed.text
    chart = doctor.get(f"/patients/{pid}")
    assert 'data-decision="eligible"' in chart.text and "STALE" not in chart.text
    audit = site.audit()
    for entry in (
        ("prescriber", "write", f"screening {sid} (iv)", pid),
        ("prescriber", "read", f"screening {sid}", pid),
        ("prescriber", "write", f"sign screening {sid}", pid),
    ):
        assert entry in audit
    # A record added after signing makes the signed screening stale, on the chart and the page.
    site.clinic.clock.advance(minutes=5)
    doctor.post(f"/patients/{pid}/vitals", {"effective": "2026-11-01T09:03", "heart_rate": "70"})
    assert "STALE" in doctor.get(f"/patients/{pid}").text
    assert "STALE" in doctor.get(f"/screenings/{sid}").text


def test_a_nurse_sees_the_screening_but_cannot_sign_or_override(site: Site) -> None:
    doctor, nurse = site.browser("prescriber"), site.browser("nurse")
    pid = _eligible_patient(site, doctor)
    sid = _screen(doctor, pid)
    page = nurse.get(f"/screenings/{sid}")
    assert page.status_code == 200
    assert 'data-decision="eligible"' in page.text
    assert f"/screenings/{sid}/sign" not in page.text
    assert f"/screenings/{sid}/override" not in page.text
    assert nurse.post(f"/screenings/{sid}/sign").status_code == 403
    long_reason = "The patient declined; documented at length here."
    assert (
        nurse.post(
            f"/screenings/{sid}/override",
            {"decision": "not_eligible", "justification": long_reason},
        ).status_code
        == 403
    )
    assert nurse.post(f"/patients/{pid}/screenings", {"route": "iv"}).status_code == 403
    assert site.count(ScreeningSignature) == 0 and site.count(ScreeningOverride) == 0
    assert site.browser("front_desk").get(f"/screenings/{sid}").status_code == 403


def test_an_override_needs_twenty_characters_and_is_shown_with_the_decision(site: Site) -> None:
    doctor = site.browser("prescriber")
    pid = _eligible_patient(site, doctor)
    sid = _screen(doctor, pid)
    nineteen = "x" * 19
    refused = doctor.post(
        f"/screenings/{sid}/override", {"decision": "not_eligible", "justification": nineteen}
    )
    assert refused.status_code == 422
    assert field_error(refused, "justification") == "must be at least 20 characters (got 19)"
    assert site.count(ScreeningOverride) == 0
    why = "Recent syncope under review."
    assert len(why) >= 20
    response = doctor.post(
        f"/screenings/{sid}/override", {"decision": "not_eligible", "justification": why}
    )
    assert response.status_code == 303
    page = doctor.get(f"/screenings/{sid}")
    assert 'data-decision="not_eligible">Not eligible' in page.text
    assert "Engine's decision: <strong>Eligible</strong>" in page.text
    assert why in page.text
    chart = doctor.get(f"/patients/{pid}")
    assert 'data-decision="not_eligible"' in chart.text and why in chart.text
    assert ("prescriber", "write", f"override screening {sid}", pid) in site.audit()


def test_an_unknown_route_is_refused(site: Site) -> None:
    doctor = site.browser("prescriber")
    pid = site.patient()
    response = doctor.post(f"/patients/{pid}/screenings", {"route": "rectal"})
    assert response.status_code == 422


def test_forms_without_the_csrf_token_are_refused(site: Site) -> None:
    pid = site.patient()
    doctor = site.browser("prescriber")
    response = doctor.http.post(f"/patients/{pid}/diagnoses", data={"code": "F33.1"})
    assert response.status_code == 403
    assert site.count(ConditionRecord) == 0


def test_an_unknown_code_is_kept_and_shown_as_unrecognised(site: Site) -> None:
    doctor = site.browser("prescriber")
    pid = _eligible_patient(site, doctor)
    response = doctor.post(
        f"/patients/{pid}/diagnoses",
        {"system": "http://snomed.info/sct", "code": "999999999", "display": "Local concept"},
    )
    assert response.status_code == 303
    sid = _screen(doctor, pid)
    page = doctor.get(f"/screenings/{sid}")
    assert "Unrecognised code" in page.text
    assert "SNOMED CT 999999999 (Local concept) is not known to the screening engine" in page.text
    chart = doctor.get(f"/patients/{pid}")
    row = chart.text[chart.text.index("Local concept") : chart.text.index("SNOMED CT 999999999")]
    assert "unrecognised code" in row
