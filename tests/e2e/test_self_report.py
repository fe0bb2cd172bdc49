"""A patient answers PHQ-9 on a phone through a self-report link, with item 9 = 2; the crisis
text shows at once, the urgent alert reaches the prescriber's dashboard, and the prescriber
acknowledges it with the action taken (issue 6, "Tests that must exist").

Real browser (Debian's chromium) against the app served by uvicorn; the server's FixedClock
stands at 2026-11-01 09:00 UTC.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import select

from ketaclinic.services import users
from ketaclinic.services.actor import Actor
from ketaclinic.services.patients import PatientIn, register_patient
from ketaclinic.store.db import make_engine, session_factory, transaction
from ketaclinic.store.models import AuditEvent, QuestionnaireResponse, SafetyAlert
from tests.e2e.conftest import LiveServer, enrol_second_factor, type_code_if_asked

PASSWORD = "a long clinic password"
ACTION = "Phoned the patient at once; safety plan reviewed, seen today at 14:00"
PHONE = {"width": 390, "height": 844}  # a common phone, portrait


def _clinic(server: LiveServer) -> int:
    """Staff and one patient; the patient's id."""
    engine = make_engine(server.database_url)
    try:
        with transaction(session_factory(engine)) as s:
            users.create_user(s, server.clock, "pat", "Pat Prescriber", "prescriber", PASSWORD)
            users.create_user(s, server.clock, "nora", "Nora Nurse", "nurse", PASSWORD)
            patient = register_patient(
                s,
                Actor.system(),
                server.clock,
                PatientIn("E2E-7", "Robin", "Tester", date(1980, 4, 12), "female"),
            )
            patient_id = patient.id
    finally:
        engine.dispose()
    enrol_second_factor(server, "pat")  # the default policy asks it of prescribers
    return patient_id


def _stored(server: LiveServer) -> tuple[list[Any], list[Any], list[Any]]:
    engine = make_engine(server.database_url)
    try:
        with session_factory(engine)() as s:
            return (
                list(s.scalars(select(QuestionnaireResponse))),
                list(s.scalars(select(SafetyAlert))),
                [(e.username, e.action, e.patient_id) for e in s.scalars(select(AuditEvent))],
            )
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


def test_a_patient_reports_item_9_and_the_prescriber_acknowledges(
    live_server: LiveServer, browser: Any
) -> None:
    server = live_server
    pid = _clinic(server)

    # --- the nurse creates a link ----------------------------------------------------------------
    nurse = _sign_in(browser, server, "nora")
    nurse.goto(f"{server.url}/patients/{pid}/questionnaires")
    nurse.get_by_label("Self-report link for").select_option("phq9")
    nurse.get_by_role("button", name="Create link for the patient").click()
    link = nurse.locator("#self-report-link")
    link.wait_for()
    url = link.get_attribute("href")
    assert url is not None and re.fullmatch(rf"{server.url}/r/[A-Za-z0-9_-]{{43}}", url)
    assert nurse.get_by_label("Link", exact=True).input_value() == url

    # --- the patient, on a phone, with no account ------------------------------------------------
    phone_context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    phone = phone_context.new_page()
    phone.goto(url)
    assert phone.get_by_role("heading", name="PHQ-9").is_visible()
    assert phone.locator("nav").count() == 0
    # Nothing is wider than the phone, and every answer is a tap target at least 48px tall.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    choices = phone.locator("label.choice")
    assert choices.count() == 9 * 4
    for index in (0, 17, 35):
        box = choices.nth(index).bounding_box()
        assert box is not None and box["height"] >= 48 and box["width"] >= 300

    def answer(item: int, value: int) -> None:
        phone.locator(f"#q-item_{item}").locator(f"input[value='{value}']").check()

    # First try: item 9 forgotten: refused beside the item, nothing stored.
    for item in range(1, 9):
        answer(item, 0)
    phone.get_by_role("button", name="Send my answers").click()
    phone.locator("#q-item_9-error").get_by_text("no answer").wait_for()
    assert _stored(server)[0] == []
    answer(9, 2)
    phone.screenshot(path="/tmp/ketaclinic-self-report-phone.png", full_page=True)
    phone.get_by_role("button", name="Send my answers").click()
    phone.get_by_role("heading", name="Thank you").wait_for()
    crisis = phone.locator("section.crisis")
    assert crisis.is_visible()
    assert "988" in crisis.inner_text()
    phone.screenshot(path="/tmp/ketaclinic-self-report-done.png", full_page=True)

    # The link is spent: opening it again is refused.
    again = phone.goto(url)
    assert again is not None and again.status == 410
    assert phone.get_by_text("already been used").is_visible()

    responses, alerts, audit = _stored(server)
    assert [(r.scale, r.total, r.source) for r in responses] == [("phq9", 2, "link")]
    assert [(a.rule, a.patient_id, a.acknowledged_at) for a in alerts] == [
        ("phq9_item9", pid, None)
    ]
    assert ("patient-link", "write", pid) in audit

    # --- the prescriber's dashboard --------------------------------------------------------------
    doctor = _sign_in(browser, server, "pat")
    doctor.get_by_role("link", name="Alerts").first.click()
    doctor.wait_for_url(f"{server.url}/alerts")
    alert = doctor.locator("li.finding").filter(has_text="PHQ-9 item 9 answered 2")
    assert alert.is_visible()
    assert alert.get_by_role("link", name="Tester, Robin").is_visible()
    doctor.screenshot(path="/tmp/ketaclinic-alerts.png", full_page=True)
    alert.get_by_label("Action taken").fill(ACTION)
    alert.get_by_role("button", name="Acknowledge alert").click()
    doctor.wait_for_url(f"{server.url}/alerts?done=acknowledged")
    assert doctor.get_by_text("Alert acknowledged.").is_visible()
    assert doctor.get_by_text("No open safety alerts.").is_visible()

    _, alerts, audit = _stored(server)
    (done,) = alerts
    assert done.action_taken == ACTION
    assert done.acknowledged_at is not None
    assert ("pat", "write", pid) in audit

    # The nurse sees alerts but has no acknowledge control.
    nurse.goto(f"{server.url}/alerts")
    assert nurse.get_by_text("No open safety alerts.").is_visible()
