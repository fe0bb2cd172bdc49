"""Whole sessions at the chair in a real browser (Debian's chromium), watched on the nurse board.

IV: the front desk checks the patient in from the board; the nurse runs the pre-dose check, gives
the planned 40 mg (0.5 mg/kg of 80 kg), records vitals every 15 minutes; a systolic of 181 (above
180) raises an alert that the board shows while it is open, until the nurse acknowledges it with
the action taken; the infusion ends, the observation timer counts down 60 minutes on the board,
the discharge checklist passes and the patient is discharged.

Esketamine: the prescriber records the site's REMS certification and the nurse the patient's
REMS enrolment; fasting is confirmed; the second 28 mg device is refused 4 minutes after the
first and given at 5; blood pressure at 40 minutes; discharge is refused at 119 minutes from the
first device and allowed at 120.

The board stays open in its own tab and is never reloaded: every change reaches it through the
fragment it polls every 5 seconds (htmx), and the test waits for that fragment. The server's
FixedClock (2026-11-01 09:00 UTC) is moved, never slept on, in steps under the 15-minute idle
sign-out, each step waiting for the board to show the new time (its poll keeps the session
alive, as it does for a board on the wall).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from ketaclinic.services import users
from ketaclinic.services.actor import Actor, Role
from ketaclinic.store.db import make_engine, session_factory, transaction
from ketaclinic.store.models import AuditEvent, TreatmentSession, User
from tests.e2e.conftest import LiveServer, enrol_second_factor, type_code_if_asked
from tests.integration.plan_support import active_plan
from tests.integration.services_support import Clinic

PASSWORD = "a long clinic password"
STAFF: dict[str, tuple[str, Role]] = {
    "pat": ("Pat Prescriber", "prescriber"),
    "nora": ("Nora Nurse", "nurse"),
    "fran": ("Fran Desk", "front_desk"),
}
POLL_WAIT_MS = 12_000  # two polls and some


@dataclass
class Setup:
    patient_id: int
    session_id: int


@contextmanager
def _clinic(server: LiveServer) -> Iterator[Clinic]:
    """The live server's database as a services Clinic, its staff signed in by password."""
    engine = make_engine(server.database_url)
    factory = session_factory(engine)
    actors: dict[Role, Actor] = {}
    with transaction(factory) as s:
        for username, (name, role) in STAFF.items():
            found = s.scalar(select(User).where(User.username == username))
            user = found or users.create_user(s, server.clock, username, name, role, PASSWORD)
            actors[role] = users.actor_for(user, "127.0.0.1")
    enrol_second_factor(server, "pat")  # the default policy asks it of prescribers
    try:
        yield Clinic(engine, factory, server.clock, actors)
    finally:
        engine.dispose()


def _planned(server: LiveServer, route: str, chair: str) -> Setup:
    """A patient with an active plan (signed screening, consent) whose first session is today."""
    with _clinic(server) as clinic:
        patient_id, plan_id = active_plan(clinic, route, chair=chair)
        with clinic.work() as s:
            first = s.scalars(
                select(TreatmentSession)
                .where(TreatmentSession.plan_id == plan_id, TreatmentSession.kind == "dosing")
                .order_by(TreatmentSession.planned_on, TreatmentSession.number)
            ).first()
            assert first is not None and first.planned_on == server.clock.now().date()
            return Setup(patient_id, first.id)


def _audit(server: LiveServer) -> list[tuple[str, str, str, int | None]]:
    engine = make_engine(server.database_url)
    try:
        with session_factory(engine)() as s:
            rows = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
            return [(e.username, e.action, e.what, e.patient_id) for e in rows]
    finally:
        engine.dispose()


def _sign_in(browser: Any, server: LiveServer, username: str, where: str = "/board") -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(server.url + where)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    type_code_if_asked(page, server, username)
    page.wait_for_url(server.url + where)
    return page


class Board:
    """The nurse's board tab: opened once, never reloaded."""

    def __init__(self, page: Any, server: LiveServer) -> None:
        self.page = page
        self.server = server
        # A mark on the window: a reload would lose it.
        page.evaluate("window.boardNeverReloaded = true")

    def card(self, session_id: int) -> Any:
        return self.page.locator(f"#visit-{session_id}")

    def shows(self, session_id: int, text: str) -> None:
        expect(self.card(session_id)).to_contain_text(text, timeout=POLL_WAIT_MS)

    def lacks(self, session_id: int, text: str) -> None:
        expect(self.card(session_id)).not_to_contain_text(text, timeout=POLL_WAIT_MS)

    def later(self, minutes: int) -> None:
        """Move the server's clock on, in steps the board sees (its poll keeps us signed in)."""
        while minutes > 0:
            step = min(10, minutes)
            self.server.clock.advance(minutes=step)
            minutes -= step
            now = self.server.clock.now().strftime("%H:%M")
            expect(self.page.locator("#board-now")).to_have_text(now, timeout=POLL_WAIT_MS)
        assert self.page.evaluate("window.boardNeverReloaded") is True


def _form(page: Any, action: str) -> Any:
    return page.locator(f"form[action$='{action}']")


def _vitals(page: Any, systolic: str, diastolic: str, heart_rate: str = "76") -> None:
    form = _form(page, "/vitals")
    form.get_by_label("Systolic (mmHg)").fill(systolic)
    form.get_by_label("Diastolic (mmHg)").fill(diastolic)
    form.get_by_label("Heart rate (/min)").fill(heart_rate)
    form.get_by_label("SpO2 (%)").fill("98")
    form.get_by_role("button", name="Record vitals").click()
    expect(page.get_by_role("status")).to_have_text("Vitals recorded.")


def _state(page: Any, words: str) -> None:
    expect(page.locator("#session-state")).to_have_text(words)


def _predose(page: Any, systolic: str, diastolic: str, *, fasting: bool = False) -> None:
    form = _form(page, "/predose")
    form.get_by_label("Systolic (mmHg)").fill(systolic)
    form.get_by_label("Diastolic (mmHg)").fill(diastolic)
    form.get_by_label("Heart rate (/min)").fill("72")
    form.get_by_label("SpO2 (%)").fill("98")
    form.get_by_label("An adult escort or transport home is arranged").check()
    if fasting:
        form.get_by_label("Fasting: no food for 2 hours, no drink for 30 minutes").check()
    form.get_by_role("button", name="Run the pre-dose check").click()
    expect(page.locator("#predose-result .go-word")).to_have_text("Go")


def _score(page: Any, score: str, scale: str = "moaas") -> None:
    form = _form(page, "/scores")
    form.get_by_label("Scale").select_option(scale)
    form.get_by_label("Score", exact=True).fill(score)
    form.get_by_role("button", name="Record score").click()
    expect(page.get_by_role("status")).to_have_text("Score recorded.")


def _discharge_form(page: Any) -> Any:
    form = _form(page, "/discharge")
    form.get_by_label("Alert and oriented").check()
    form.get_by_label("An adult escort is here to take the patient home").check()
    form.get_by_label("The patient acknowledges: no driving until the next day").check()
    return form


# Each move of the clock waits for the board's next poll (5 s): longer than the default limit.
@pytest.mark.timeout(300)
def test_a_whole_iv_session_on_the_nurse_board(live_server: LiveServer, browser: Any) -> None:
    server = live_server
    visit = _planned(server, "iv", "Chair 1")
    sid = visit.session_id

    nurse = _sign_in(browser, server, "nora")
    board = Board(nurse, server)
    expect(nurse.locator("#chair-1")).to_contain_text("Chair 1")
    board.shows(sid, "Scheduled")

    # The front desk sees the board without clinical detail and checks the patient in.
    desk = _sign_in(browser, server, "fran")
    desk.get_by_role("button", name="Check in Alice Example").click()
    expect(desk.get_by_role("status")).to_have_text("Checked in.")
    board.shows(sid, "Checked in")

    # At the chair, in a second tab of the nurse's browser.
    chair = nurse.context.new_page()
    chair.goto(f"{server.url}/sessions/{sid}")
    _state(chair, "Checked in")
    _predose(chair, "118", "76")
    dose = _form(chair, "/doses")
    expect(dose.get_by_label("Dose (mg)")).to_have_value("40")  # 0.5 mg/kg x 80 kg
    dose.get_by_label("Lot number").fill("KET-2211")
    dose.get_by_role("button", name="Record the dose").click()
    _state(chair, "Dosing")
    board.shows(sid, "Dosing")
    board.shows(sid, "Next vitals at 09:15")

    board.later(15)  # 09:15
    _vitals(chair, "124", "80")
    board.later(15)  # 09:30: a systolic above 180
    _vitals(chair, "181", "92", heart_rate="88")
    expect(chair.locator("#alerts")).to_contain_text("Systolic 181 is above 180.")
    board.shows(sid, "Alert: Systolic 181 is above 180.")
    expect(board.card(sid)).to_have_class(re.compile(r"\balerting\b"))
    expect(desk.locator(f"#visit-{sid}")).not_to_contain_text("Alert")

    ack = chair.locator("#alerts form")
    ack.get_by_role("button", name="Acknowledge").click()  # no action given: refused
    expect(ack.locator(".field-error").first).to_be_visible()
    ack = chair.locator("#alerts form")
    ack.get_by_label("Action taken").fill("Infusion slowed, prescriber informed, BP rechecked")
    ack.get_by_role("button", name="Acknowledge").click()
    expect(chair.get_by_role("status")).to_have_text("Alert acknowledged.")
    expect(chair.locator("#alerts")).to_have_count(0)
    board.lacks(sid, "Alert")

    board.later(10)  # 09:40: the 40-minute infusion ends
    _form(chair, "/end-dosing").get_by_role("button", name=re.compile("End the infusion")).click()
    _state(chair, "Observation")
    board.shows(sid, "60 min")
    board.shows(sid, "until 10:40")

    for minutes, pressure in ((5, "126"), (15, "124"), (15, "122"), (15, "120")):
        board.later(minutes)  # 09:45, 10:00, 10:15, 10:30
        _vitals(chair, pressure, "78")
    board.shows(sid, "10 min")
    board.lacks(sid, "overdue")

    board.later(10)  # 10:40: observation over
    _vitals(chair, "120", "78")
    _score(chair, "5")
    _state(chair, "Ready for discharge")
    board.shows(sid, "Ready for discharge")
    board.shows(sid, "Observation over at 10:40")
    expect(chair.locator("#discharge-passes")).to_be_visible()
    _discharge_form(chair).get_by_role("button", name="Discharge").click()
    expect(chair.get_by_role("status")).to_have_text("Discharged.")
    _state(chair, "Discharged")
    board.shows(sid, "Discharged")
    board.shows(sid, "left 10:40")
    assert nurse.evaluate("window.boardNeverReloaded") is True
    chair.bring_to_front()
    chair.screenshot(path="/tmp/ketaclinic-session-iv.png", full_page=True)
    nurse.bring_to_front()
    nurse.screenshot(path="/tmp/ketaclinic-board.png", full_page=True)

    trail = _audit(server)
    assert ("fran", "read", "board: today's sessions", visit.patient_id) in trail
    assert ("fran", "write", f"session {sid}: checked in at Chair 1", visit.patient_id) in trail
    assert ("nora", "read", f"session {sid}", visit.patient_id) in trail
    assert any(
        who == "nora" and what.startswith(f"session {sid}: alert") and pid == visit.patient_id
        for who, _, what, pid in trail
    )
    assert ("nora", "write", f"session {sid}: discharged", visit.patient_id) in trail


@pytest.mark.timeout(300)
def test_a_whole_esketamine_session_on_the_nurse_board(
    live_server: LiveServer, browser: Any
) -> None:
    server = live_server
    visit = _planned(server, "esketamine", "Chair 2")
    sid = visit.session_id

    # REMS: the site's certification (a prescriber) and the patient's enrolment (the nurse).
    doctor = _sign_in(browser, server, "pat", "/rems")
    site = _form(doctor, "/rems/site")
    site.get_by_label("REMS certification of the setting").fill("REMS-SITE-0042")
    site.get_by_label("Certified on").fill("2026-01-05")
    site.get_by_role("button", name="Record certification").click()
    expect(doctor.get_by_text("REMS-SITE-0042")).to_be_visible()

    nurse = _sign_in(browser, server, "nora", "/rems")
    enrol = _form(nurse, "/rems/enrolments")
    enrol.get_by_label("Patient number").fill(str(visit.patient_id))
    enrol.get_by_label("REMS patient enrolment").fill("REMS-PT-7781")
    enrol.get_by_label("Enrolled on").fill("2026-11-01")
    enrol.get_by_role("button", name="Record enrolment").click()
    expect(nurse.get_by_text("REMS-PT-7781")).to_be_visible()

    nurse.goto(f"{server.url}/board")
    board = Board(nurse, server)
    board.shows(sid, "Scheduled")
    board.shows(sid, "Esketamine nasal spray")
    nurse.get_by_role("button", name="Check in Alice Example").click()
    board = Board(nurse, server)  # the check-in posted and came back to the board
    board.shows(sid, "Checked in")

    chair = nurse.context.new_page()
    chair.goto(f"{server.url}/sessions/{sid}")
    _predose(chair, "128", "80", fasting=True)
    expect(chair.locator("#predose-result")).to_contain_text("REMS recorded")
    device = _form(chair, "/doses")
    expect(device.get_by_label("Esketamine device (mg)")).to_have_value("28")
    device.get_by_label("Lot number").fill("ESK-5531")
    device.get_by_role("button", name="Record device 1").click()
    _state(chair, "Dosing")
    board.shows(sid, "Dosing")

    board.later(4)  # 09:04: too soon for the second device
    device = _form(chair, "/doses")
    device.get_by_label("Lot number").fill("ESK-5531")
    device.get_by_role("button", name="Record device 2").click()
    refusal = chair.locator("#f-dose-started_at-error")
    expect(refusal).to_contain_text("5 minutes between devices")
    board.later(1)  # 09:05
    device = _form(chair, "/doses")
    device.get_by_role("button", name="Record device 2").click()  # the lot typed is kept
    expect(chair.get_by_role("status")).to_have_text("Dose recorded.")
    expect(chair.locator("#dosed-mg")).to_have_text("56 mg")
    _form(chair, "/end-dosing").get_by_role("button", name=re.compile("Last device")).click()
    _state(chair, "Observation")
    expect(chair.locator("#observation-ends")).to_contain_text("11:00")  # 2 h from 09:00
    board.shows(sid, "until 11:00")

    board.later(35)  # 09:40: the label's blood-pressure recheck
    _vitals(chair, "136", "84")
    _score(chair, "2", scale="cadss")  # dissociation, not notable (the label's CADSS > 4)
    board.shows(sid, "80 min")
    board.later(40)  # 10:20
    _score(chair, "5")
    board.later(39)  # 10:59: 119 minutes from the first device
    _vitals(chair, "126", "80")
    board.shows(sid, "1 min")
    chair.reload()
    _discharge_form(chair).get_by_role("button", name="Discharge").click()
    expect(chair.locator("#refused-discharge")).to_contain_text("Discharge refused")
    expect(chair.locator("#refused-blockers")).to_contain_text(
        "Observation ends at 11:00 (1 minutes left)."
    )
    _state(chair, "Observation")

    board.later(1)  # 11:00: 120 minutes
    board.shows(sid, "Observation over at 11:00")
    chair.goto(f"{server.url}/sessions/{sid}")  # not a reload: that would post the form again
    expect(chair.locator("#discharge-passes")).to_be_visible()
    _discharge_form(chair).get_by_role("button", name="Discharge").click()
    expect(chair.get_by_role("status")).to_have_text("Discharged.")
    board.shows(sid, "Discharged")
    board.shows(sid, "left 11:00")
    chair.bring_to_front()
    chair.screenshot(path="/tmp/ketaclinic-session-esketamine.png", full_page=True)
    # The REMS Patient Monitoring Form is filled from the session, on the REMS pages.
    chair.get_by_role("button", name="Fill the form from this session").click()
    chair.wait_for_url(re.compile(r"/rems/forms/\d+"))
    chair.goto(f"{server.url}/sessions/{sid}")
    expect(chair.locator("#rems")).to_contain_text("not yet submitted")
    assert ("nora", "write", f"session {sid}: discharged", visit.patient_id) in _audit(server)
