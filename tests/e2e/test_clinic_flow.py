"""A day at the clinic in a real browser (Debian's chromium), against the app served by uvicorn.

A prescriber signs in, registers a patient, adds an MDD diagnosis (F33.1), two failed adequate
trials (sertraline 100 mg daily for 10 weeks, no response; venlafaxine 150 mg daily for 8 weeks,
partial response, its outcome taken in the interview with the inline form) and a blood pressure,
screens, sees "Eligible" and signs. A nurse sees the screening without the sign control, and a
forged sign is refused (403). The front desk cannot open the chart. An idle session is signed
out. Then the audit log holds each read and write the flow made.

Dates are counted back from the server's FixedClock (2026-11-01 09:00 UTC).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from ketaclinic.services import users
from ketaclinic.services.clock import FixedClock
from ketaclinic.store.db import make_engine, session_factory, transaction
from ketaclinic.store.models import AuditEvent, ScreeningSignature
from tests.e2e.conftest import LiveServer, enrol_second_factor, type_code_if_asked

PASSWORD = "a long clinic password"
STAFF = {
    "pat": ("Pat Prescriber", "prescriber"),
    "nora": ("Nora Nurse", "nurse"),
    "fran": ("Fran Desk", "front_desk"),
}


def _staff(server: LiveServer) -> None:
    engine = make_engine(server.database_url)
    try:
        with transaction(session_factory(engine)) as s:
            for username, (name, role) in STAFF.items():
                users.create_user(s, server.clock, username, name, role, PASSWORD)
    finally:
        engine.dispose()
    enrol_second_factor(server, "pat")  # the default policy asks it of prescribers


def _audit(server: LiveServer) -> list[tuple[str, str, str, int | None]]:
    engine = make_engine(server.database_url)
    try:
        with session_factory(engine)() as s:
            rows = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
            return [(e.username, e.action, e.what, e.patient_id) for e in rows]
    finally:
        engine.dispose()


def _signatures(server: LiveServer) -> int:
    engine = make_engine(server.database_url)
    try:
        with session_factory(engine)() as s:
            return len(s.scalars(select(ScreeningSignature)).all())
    finally:
        engine.dispose()


def _sign_in(browser: Any, server: LiveServer, username: str) -> Any:
    context = browser.new_context(viewport={"width": 1180, "height": 820})
    page = context.new_page()
    page.goto(server.url + "/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    type_code_if_asked(page, server, username)
    page.wait_for_url(server.url + "/")
    return page


def _today(clock: FixedClock) -> date:
    return clock.now().date()


def test_a_prescriber_screens_and_signs_and_others_are_kept_to_their_roles(
    live_server: LiveServer, browser: Any
) -> None:
    server = live_server
    _staff(server)
    today = _today(server.clock)
    sertraline_start = today - timedelta(days=250)
    venlafaxine_start = today - timedelta(days=80)

    # --- the prescriber -----------------------------------------------------------------------
    doctor = _sign_in(browser, server, "pat")
    doctor.get_by_role("link", name="Patients").first.click()
    doctor.get_by_role("link", name="New patient").click()
    doctor.get_by_label("MRN (medical record number)").fill("E2E-1")
    doctor.get_by_label("Given name").fill("Robin")
    doctor.get_by_label("Family name").fill("Tester")
    doctor.get_by_label("Birth date").fill("1980-04-12")
    doctor.get_by_label("Sex").select_option("female")
    doctor.get_by_label("Escort's name").fill("Sam Tester")
    doctor.get_by_role("button", name="Register patient").click()
    doctor.wait_for_url(re.compile(r"/patients/\d+$"))
    match = re.search(r"/patients/(\d+)$", doctor.url)
    assert match is not None
    pid = int(match.group(1))
    assert doctor.get_by_role("heading", name="Tester, Robin").is_visible()

    doctor.get_by_role("link", name="Add diagnosis").click()
    doctor.get_by_label("Code (required)", exact=True).fill("F33.1")
    doctor.get_by_label("Diagnosis in words").fill("Major depressive disorder, recurrent, moderate")
    doctor.get_by_label("Onset").fill((today - timedelta(days=700)).isoformat())
    doctor.get_by_role("button", name="Save").click()
    doctor.wait_for_url(re.compile(rf"/patients/{pid}#diagnoses$"))
    assert doctor.get_by_text("ICD-10-CM F33.1").is_visible()

    def add_trial(name: str, dose: str, start: date, weeks: int, outcome: str | None) -> None:
        doctor.get_by_role("link", name="Add medication trial").click()
        doctor.get_by_label("Medication (required)").fill(name)
        doctor.get_by_label("Dose (mg)").fill(dose)
        doctor.get_by_label("Start").fill(start.isoformat())
        doctor.get_by_label("End", exact=True).fill((start + timedelta(weeks=weeks)).isoformat())
        doctor.get_by_label("Status").select_option("completed")
        if outcome:
            doctor.get_by_label("Outcome", exact=True).select_option(outcome)
        doctor.get_by_role("button", name="Save").click()
        doctor.wait_for_url(re.compile(rf"/patients/{pid}#trials$"))

    add_trial("sertraline", "100", sertraline_start, 10, "no-response")
    # The venlafaxine outcome is taken in the interview, on the trial's row (htmx).
    add_trial("venlafaxine", "150", venlafaxine_start, 8, None)
    doctor.get_by_role("link", name="Record the outcome of venlafaxine").click()
    outcome = doctor.locator("form[aria-label='Outcome of venlafaxine']")
    # Saved with neither an outcome nor words: refused in place, beside the field.
    outcome.get_by_role("button", name="Save outcome").click()
    refusal = doctor.locator("#f-outcome-error")
    refusal.get_by_text("give an outcome or describe it").wait_for()
    outcome = doctor.locator("form[aria-label='Outcome of venlafaxine']")
    outcome.get_by_label("Outcome", exact=True).select_option("partial-response")
    outcome.get_by_label("In the patient's words (optional)").fill("a little better, not well")
    outcome.get_by_role("button", name="Save outcome").click()
    trials = doctor.locator("#trials")
    trials.get_by_role("cell", name="Partial response (a little better, not well)").wait_for()
    assert doctor.url.endswith(f"/patients/{pid}#trials")  # swapped in place, no navigation

    doctor.get_by_role("link", name="Record vitals").click()
    doctor.get_by_label("Systolic (mmHg)").fill("301")
    doctor.get_by_label("Diastolic (mmHg)").fill("78")
    doctor.get_by_role("button", name="Save").click()
    # Refused beside the field, and the form keeps what was typed.
    error = doctor.locator("#f-systolic-error")
    assert error.inner_text() == "must be between 50 and 300 mmHg (got 301)"
    assert doctor.get_by_label("Diastolic (mmHg)").input_value() == "78"
    doctor.get_by_label("Systolic (mmHg)").fill("124")
    doctor.get_by_role("button", name="Save").click()
    doctor.wait_for_url(re.compile(rf"/patients/{pid}#vitals$"))
    assert doctor.get_by_text("124/78 mmHg").is_visible()
    doctor.screenshot(path="/tmp/ketaclinic-chart.png", full_page=True)

    doctor.get_by_label("Route").select_option("iv")
    doctor.get_by_role("button", name="Screen").click()
    doctor.wait_for_url(re.compile(r"/screenings/\d+$"))
    sid = int(doctor.url.rsplit("/", 1)[1])
    decision = doctor.locator(".decision.large .decision-word")
    assert decision.inner_text() == "Eligible"
    assert doctor.get_by_role("rowheader", name="sertraline", exact=True).is_visible()
    doctor.screenshot(path="/tmp/ketaclinic-screening.png", full_page=True)

    # --- the nurse: sees the screening, has no sign control, and a forged sign is refused ------
    nurse = _sign_in(browser, server, "nora")
    nurse.goto(f"{server.url}/screenings/{sid}")
    assert nurse.locator(".decision.large .decision-word").inner_text() == "Eligible"
    assert nurse.get_by_role("button", name="Sign this screening").count() == 0
    assert nurse.get_by_text("Override the decision").count() == 0
    token = nurse.locator("input[name=csrf_token]").first.input_value()
    forged = nurse.request.post(
        f"{server.url}/screenings/{sid}/sign", form={"csrf_token": token}, max_redirects=0
    )
    assert forged.status == 403
    assert _signatures(server) == 0

    # --- the prescriber signs ------------------------------------------------------------------
    doctor.get_by_role("button", name="Sign this screening").click()
    doctor.wait_for_url(f"{server.url}/screenings/{sid}")
    assert doctor.get_by_text("Signed by Pat Prescriber on 2026-11-01 09:00 UTC.").is_visible()
    assert _signatures(server) == 1

    # At the chair side: a portrait tablet, nothing wider than the screen.
    doctor.set_viewport_size({"width": 820, "height": 1180})
    doctor.goto(f"{server.url}/patients/{pid}")
    assert doctor.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    doctor.screenshot(path="/tmp/ketaclinic-chart-tablet.png", full_page=True)

    # --- the front desk cannot open the chart --------------------------------------------------
    desk = _sign_in(browser, server, "fran")
    response = desk.goto(f"{server.url}/patients/{pid}")
    assert response is not None and response.status == 403
    assert desk.get_by_role("heading", name="Not allowed").is_visible()
    assert desk.get_by_text("Tester, Robin").count() == 0

    # --- an idle session is signed out ---------------------------------------------------------
    server.clock.advance(minutes=16)
    doctor.reload()
    doctor.wait_for_url(re.compile(r"/sign-in\?"))
    assert doctor.get_by_role("heading", name="Sign in").is_visible()
    assert doctor.get_by_text("signed out after 15 minutes without activity").is_visible()

    # --- the audit log holds each read and write of the flow -----------------------------------
    audit = _audit(server)
    of_patient = [(who, action, what) for who, action, what, patient in audit if patient == pid]
    expected = [
        ("pat", "write", "patient registered"),
        ("pat", "read", "chart"),
        ("pat", "read", "diagnoses form"),
        ("pat", "read", "medications form"),
        ("pat", "read", "outcome form medication"),
        ("pat", "write", "trial outcome medication"),
        ("pat", "read", "vitals form"),
        ("pat", "read", "vitals form (refused)"),
        ("pat", "write", "add observation"),
        ("pat", "read", "record for screening"),
        ("pat", "write", f"screening {sid} (iv)"),
        ("pat", "read", f"screening {sid}"),
        ("pat", "write", f"sign screening {sid}"),
        ("nora", "read", f"screening {sid}"),
    ]
    for who, action, what in expected:
        assert any(
            (w, a) == (who, action) and (t == what or t.startswith(what + " "))
            for w, a, t in of_patient
        ), (who, action, what)
    writes = [what for who, action, what in of_patient if action == "write"]
    assert len([w for w in writes if w.startswith("add condition ")]) == 1
    assert len([w for w in writes if w.startswith("add medication ")]) == 2
    # Every chart the prescriber loaded is a read (after each save and after the outcome).
    assert of_patient.count(("pat", "read", "chart")) >= 5
    # The refused attempts read nothing of the patient and wrote nothing.
    assert not [row for row in audit if row[0] == "fran" and row[3] == pid]
    assert not [row for row in audit if row[0] == "nora" and row[1] == "write"]
