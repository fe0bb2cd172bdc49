"""The nurse board and the session page through the real app (issue 5, items 3 and 6).

Expected values are written from the issue and clinical-facts.md: IV observation 60 minutes
after the infusion ends (policy default, Seeds 30-60), IV vitals every 15 minutes with 5 minutes'
slack, the systolic alert above 180 (180 itself is no alert), esketamine devices 5 minutes apart
and discharge no sooner than 120 minutes after the first device. The patients come from
plan_support (blood pressure 118/76, 80 kg: the IV plan is 0.5 mg/kg = 40 mg). The clinic's
clock starts at 2026-11-01 09:00 and is moved, never slept on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from ketaclinic.services import demo_clinic
from ketaclinic.services import sessions as svc
from ketaclinic.services.actor import Role
from ketaclinic.services.demo_sessions import seed_todays_sessions
from ketaclinic.store.models import AuditEvent, TreatmentSession
from tests.integration.api_support import Api, open_api
from tests.integration.session_support import new_visit, state_of, visit_in

BOARD = "board: today's sessions"
GOOD_PREDOSE = {
    "systolic": "118", "diastolic": "76", "heart_rate": "72", "spo2": "98",
    "respiratory_rate": "14", "escort_confirmed": "on",
}  # fmt: skip
CALM = {"systolic": "122", "diastolic": "78", "heart_rate": "76", "spo2": "98"}
ALL_CLEAR = {"alert_and_oriented": "on", "escort_present": "on", "no_driving_acknowledged": "on"}


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def post(api: Api, role: Role, path: str, form: dict[str, str] | None = None) -> httpx.Response:
    response: httpx.Response = api.http.post(path, headers=api.headers(role), data=form or {})
    return response


def page(api: Api, role: Role, path: str) -> str:
    response = api.http.get(path, headers=api.headers(role))
    assert response.status_code == 200, response.text[:500]
    return response.text


def live(api: Api, role: Role) -> httpx.Response:
    headers = {**api.headers(role), "HX-Request": "true"}
    response: httpx.Response = api.http.get("/board/live", headers=headers)
    return response


def stored(api: Api) -> dict[str, int]:
    """Rows in every table but the audit trail (a refused form's page view is audited)."""
    return {k: v for k, v in api.counts().items() if k != "audit_events"}


def field_error(html: str, form: str, field: str) -> str:
    found = re.search(
        rf'<p id="f-{form}-{field}-error" class="error field-error">([^<]*)</p>', html
    )
    assert found is not None, f"no message beside {form}.{field}"
    return found.group(1)


def card(html: str, session_id: int) -> str:
    """One session's card on the board."""
    found = re.search(rf'<li class="visit[^"]*" id="visit-{session_id}".*?</li>\s*\n', html, re.S)
    assert found is not None, f"session {session_id} is not on the board"
    return found.group(0)


def audited(api: Api, username: str, what: str, patient_id: int) -> int:
    with api.clinic.factory() as s:
        rows = s.scalars(
            select(AuditEvent).where(
                AuditEvent.username == username,
                AuditEvent.patient_id == patient_id,
                AuditEvent.what.startswith(what),
            )
        ).all()
        return len(rows)


# ---- the board ---------------------------------------------------------------------------------


def test_the_board_shows_todays_sessions_by_chair_and_audits_each_patient(api: Api) -> None:
    dosing = visit_in(api.clinic, "dosing")  # checked in at Chair 1
    waiting = new_visit(api.clinic, "iv")  # no chair yet
    html = page(api, "nurse", "/board")
    chairs = re.findall(r'<h2 id="chair-\d+">([^<]+?) <span', html)
    assert chairs == ["Chair 1", "No chair yet"]
    assert "Dosing" in card(html, dosing.session_id)
    assert "Scheduled" in card(html, waiting.session_id)
    assert 'hx-get="/board/live"' in html and 'hx-trigger="every 5s"' in html
    for visit in (dosing, waiting):
        assert audited(api, "nurse", BOARD, visit.patient_id) == 1


def test_the_front_desk_sees_names_states_and_times_but_nothing_clinical(api: Api) -> None:
    visit = visit_in(api.clinic, "dosing")
    assert post(api, "nurse", f"/sessions/{visit.session_id}/vitals", {
        "systolic": "181", "diastolic": "90"}).status_code == 303  # fmt: skip
    nurse = card(page(api, "nurse", "/board"), visit.session_id)
    assert "Alert: Systolic 181 is above 180." in nurse
    assert f'href="/sessions/{visit.session_id}"' in nurse
    desk = card(page(api, "front_desk", "/board"), visit.session_id)
    assert "Alice Example" in desk and "Dosing" in desk and "in 09:00" in desk
    assert "181" not in desk and "Alert" not in desk and "/sessions/" not in desk
    assert "open alert" not in page(api, "front_desk", "/board")
    assert api.get("admin", "/board").status_code == 403
    assert api.get("admin", "/board/live").status_code == 403


def test_the_polled_fragment_is_the_body_only_and_audits_a_patient_once_per_quarter_hour(
    api: Api,
) -> None:
    visit = visit_in(api.clinic, "checked_in")
    first = live(api, "nurse")
    assert first.status_code == 200
    assert "<html" not in first.text and 'id="board-now"' in first.text
    assert audited(api, "nurse", BOARD, visit.patient_id) == 1
    live(api, "nurse")
    assert audited(api, "nurse", BOARD, visit.patient_id) == 1
    api.clinic.clock.advance(minutes=16)
    live(api, "nurse")
    assert audited(api, "nurse", BOARD, visit.patient_id) == 2
    # The page itself always records the read.
    page(api, "nurse", "/board")
    assert audited(api, "nurse", BOARD, visit.patient_id) == 3
    # Asked for outside the board (e.g. after signing in), the fragment sends to the board.
    plain = api.get("nurse", "/board/live")
    assert plain.status_code == 303 and plain.headers["location"] == "/board"


def test_the_observation_timer_counts_down_and_late_vitals_are_flagged(api: Api) -> None:
    visit = visit_in(api.clinic, "observation")  # infusion started and ended at 09:00
    body = card(live(api, "nurse").text, visit.session_id)
    assert "60 min" in body and "until 10:00" in body
    api.clinic.clock.advance(minutes=20)  # 09:20: the 09:15 reading is still within its slack
    body = card(live(api, "nurse").text, visit.session_id)
    assert "40 min" in body
    assert "overdue" not in body and "Next vitals at 09:15" in body
    api.clinic.clock.advance(minutes=1)  # 09:21: more than 5 minutes late
    body = card(live(api, "nurse").text, visit.session_id)
    assert "39 min" in body
    assert "Vitals overdue since 09:15" in body
    late = {**CALM, "taken_at": "2026-11-01T09:20"}  # written up late, taken in time
    assert post(api, "nurse", f"/sessions/{visit.session_id}/vitals", late).status_code == 303
    body = card(live(api, "nurse").text, visit.session_id)
    assert "overdue" not in body and "Next vitals at 09:30" in body
    api.clinic.clock.advance(minutes=39)  # 10:00
    assert "Observation over at 10:00" in card(live(api, "nurse").text, visit.session_id)


# ---- the session page ----------------------------------------------------------------------------


def test_the_session_page_is_for_nurses_and_prescribers_and_audits_the_patient(api: Api) -> None:
    visit = visit_in(api.clinic, "checked_in")
    html = page(api, "nurse", f"/sessions/{visit.session_id}")
    assert 'id="session-state">Checked in<' in html
    assert "Run the pre-dose check" in html
    assert audited(api, "nurse", f"session {visit.session_id}", visit.patient_id) == 1
    assert api.get("prescriber", f"/sessions/{visit.session_id}").status_code == 200
    assert api.get("front_desk", f"/sessions/{visit.session_id}").status_code == 403
    assert api.get("admin", f"/sessions/{visit.session_id}").status_code == 403
    assert api.get("nurse", "/sessions/999999").status_code == 404


def test_bad_vitals_come_back_beside_the_field_and_nothing_is_written(api: Api) -> None:
    visit = visit_in(api.clinic, "dosing")
    path = f"/sessions/{visit.session_id}/vitals"
    before = stored(api)
    refused = post(api, "nurse", path, {"systolic": "abc", "diastolic": "80"})
    assert refused.status_code == 422
    assert "must be a number" in field_error(refused.text, "vitals", "systolic")
    assert 'value="abc"' in refused.text  # what was typed is shown again
    # 300 is the highest systolic a monitored outpatient can show (data entry, not an alert).
    refused = post(api, "nurse", path, {"systolic": "301", "diastolic": "80"})
    assert refused.status_code == 422
    assert field_error(refused.text, "vitals", "systolic")
    refused = post(api, "nurse", path, {"heart_rate": "72", "taken_at": "2026-11-01T10:00"})
    assert refused.status_code == 422
    assert "future" in field_error(refused.text, "vitals", "taken_at")
    assert stored(api) == before
    # The refused page was seen: audited as a read of the patient, never as a write.
    assert audited(api, "nurse", f"session {visit.session_id} (form vitals refused)",
                   visit.patient_id) == 3  # fmt: skip
    assert audited(api, "nurse", f"session {visit.session_id}: vitals", visit.patient_id) == 0


def test_an_alert_stays_until_acknowledged_with_the_action_taken(api: Api) -> None:
    visit = visit_in(api.clinic, "dosing")
    sid = visit.session_id
    # 180 is not above 180: no alert.
    assert post(api, "nurse", f"/sessions/{sid}/vitals", {
        "systolic": "180", "diastolic": "90"}).status_code == 303  # fmt: skip
    assert "Open alerts" not in page(api, "nurse", f"/sessions/{sid}")
    assert post(api, "nurse", f"/sessions/{sid}/vitals", {
        "systolic": "181", "diastolic": "90"}).status_code == 303  # fmt: skip
    assert audited(api, "nurse", f"session {sid}: vitals BP 181/90; 1 alert(s)", visit.patient_id)
    html = page(api, "nurse", f"/sessions/{sid}")
    assert "Open alerts (1)" in html and "Systolic 181 is above 180." in html
    with api.clinic.factory() as s:
        alert = svc.alerts_of(s, sid)[0]
    path = f"/sessions/{sid}/alerts/{alert.id}/acknowledge"
    before = stored(api)
    refused = post(api, "nurse", path, {"action_taken": "  "})
    assert refused.status_code == 422
    assert field_error(refused.text, f"alert-{alert.id}", "action_taken")
    assert stored(api) == before
    done = post(api, "nurse", path, {"action_taken": "Infusion rate halved, prescriber called"})
    assert done.status_code == 303
    html = page(api, "nurse", f"/sessions/{sid}")
    assert "Open alerts" not in html
    assert "Alert acknowledged: Infusion rate halved, prescriber called" in html
    assert "Alert" not in card(page(api, "nurse", "/board"), sid)
    assert audited(api, "nurse", f"session {sid}: alert {alert.id} acknowledged", visit.patient_id)
    # An alert of another session is not reachable through this one.
    other = visit_in(api.clinic, "dosing")
    assert post(api, "nurse", f"/sessions/{other.session_id}/alerts/{alert.id}/acknowledge",
                {"action_taken": "x"}).status_code == 404  # fmt: skip


def test_stopping_the_infusion_is_recorded_and_starts_observation(api: Api) -> None:
    visit = visit_in(api.clinic, "dosing")
    sid = visit.session_id
    post(api, "nurse", f"/sessions/{sid}/vitals", {"systolic": "190", "diastolic": "100"})
    with api.clinic.factory() as s:
        alert = svc.alerts_of(s, sid)[0]
    api.clinic.clock.advance(minutes=10)
    done = post(api, "nurse", f"/sessions/{sid}/alerts/{alert.id}/acknowledge", {
        "action_taken": "Infusion stopped", "infusion_stopped": "on"})  # fmt: skip
    assert done.status_code == 303
    assert state_of(api.clinic, sid) == "observation"
    html = page(api, "nurse", f"/sessions/{sid}")
    assert "(infusion stopped)" in html
    assert 'id="observation-ends">10:10' in html  # 60 minutes after 09:10


def test_a_step_out_of_order_is_refused_beside_its_form_and_nothing_is_written(api: Api) -> None:
    visit = visit_in(api.clinic, "checked_in")
    before = stored(api)
    refused = post(api, "nurse", f"/sessions/{visit.session_id}/end-dosing")
    assert refused.status_code == 409
    assert 'id="refused-end_dosing"' in refused.text
    assert "cannot become observation" in refused.text
    assert stored(api) == before
    assert state_of(api.clinic, visit.session_id) == "checked_in"


def test_the_front_desk_checks_in_from_the_board_and_no_further(api: Api) -> None:
    visit = new_visit(api.clinic, "iv")
    board = page(api, "front_desk", "/board")
    assert f'action="/sessions/{visit.session_id}/check-in"' in board
    done = post(api, "front_desk", f"/sessions/{visit.session_id}/check-in", {"back": "board"})
    assert done.status_code == 303 and done.headers["location"] == "/board?done=check_in"
    assert state_of(api.clinic, visit.session_id) == "checked_in"
    assert "Checked in." in page(api, "front_desk", "/board?done=check_in")
    assert audited(api, "front_desk", f"session {visit.session_id}: checked in", visit.patient_id)
    before = stored(api)
    denied = post(api, "front_desk", f"/sessions/{visit.session_id}/predose", GOOD_PREDOSE)
    assert denied.status_code == 403
    assert stored(api) == before
    # A second check-in is a step out of order: shown on the board, nothing written.
    again = post(api, "front_desk", f"/sessions/{visit.session_id}/check-in", {"back": "board"})
    assert again.status_code == 409 and "Nothing was recorded" in again.text
    assert stored(api) == before


def test_cancelling_needs_a_reason(api: Api) -> None:
    visit = new_visit(api.clinic, "iv")
    before = stored(api)
    refused = post(api, "nurse", f"/sessions/{visit.session_id}/cancel", {"reason": ""})
    assert refused.status_code == 422
    assert field_error(refused.text, "cancel", "reason")
    assert stored(api) == before
    done = post(api, "nurse", f"/sessions/{visit.session_id}/cancel", {"reason": "Patient unwell"})
    assert done.status_code == 303
    assert state_of(api.clinic, visit.session_id) == "cancelled"
    assert "Cancelled: Patient unwell" in page(api, "nurse", f"/sessions/{visit.session_id}")


# ---- esketamine ----------------------------------------------------------------------------------


def test_a_prescriber_confirms_an_elevated_pressure_before_esketamine(api: Api) -> None:
    visit = visit_in(api.clinic, "checked_in", "esketamine")
    sid = visit.session_id
    # 150/85 at 40: above the label's 140/90, under the uncontrolled 160/90.
    high = {**GOOD_PREDOSE, "systolic": "150", "diastolic": "85", "fasting_confirmed": "on"}
    assert post(api, "nurse", f"/sessions/{sid}/predose", high).status_code == 303
    html = page(api, "nurse", f"/sessions/{sid}")
    assert "A prescriber must confirm" in html
    assert "Waiting for a prescriber" in html and "Record device" not in html
    with api.clinic.factory() as s:
        check = svc.latest_predose(s, sid)
        assert check is not None
    path = f"/sessions/{sid}/predose/{check.id}/confirm"
    before = stored(api)
    assert post(api, "nurse", path, {"reason": "x"}).status_code == 403
    refused = post(api, "prescriber", path, {"reason": ""})
    assert refused.status_code == 422 and field_error(refused.text, "confirm", "reason")
    assert stored(api) == before
    done = post(api, "prescriber", path, {"reason": "Rechecked 148/84, asymptomatic"})
    assert done.status_code == 303
    html = page(api, "nurse", f"/sessions/{sid}")
    assert "Record device 1" in html and "Rechecked 148/84, asymptomatic" in html


def test_esketamine_devices_five_minutes_apart_and_discharge_at_120_minutes(api: Api) -> None:
    visit = visit_in(api.clinic, "checked_in", "esketamine")
    sid, clock = visit.session_id, api.clinic.clock
    form = {**GOOD_PREDOSE, "fasting_confirmed": "on"}
    assert post(api, "nurse", f"/sessions/{sid}/predose", form).status_code == 303
    assert post(api, "nurse", f"/sessions/{sid}/doses", {"dose_mg": "28", "lot": "ESK-1"}
                ).status_code == 303  # fmt: skip
    clock.advance(minutes=4)
    before = stored(api)
    early = post(api, "nurse", f"/sessions/{sid}/doses", {"dose_mg": "28", "lot": "ESK-1"})
    assert early.status_code == 422
    assert "5 minutes" in field_error(early.text, "dose", "started_at")
    assert stored(api) == before
    clock.advance(minutes=1)
    assert post(api, "nurse", f"/sessions/{sid}/doses", {"dose_mg": "28", "lot": "ESK-1"}
                ).status_code == 303  # fmt: skip
    assert post(api, "nurse", f"/sessions/{sid}/end-dosing").status_code == 303
    html = page(api, "nurse", f"/sessions/{sid}")
    assert 'id="observation-ends">11:00' in html  # 120 minutes from the first device at 09:00
    clock.advance(minutes=35)  # 09:40: the label's recheck
    assert post(api, "nurse", f"/sessions/{sid}/vitals", CALM).status_code == 303
    assert post(api, "nurse", f"/sessions/{sid}/scores", {"scale": "moaas", "score": "5"}
                ).status_code == 303  # fmt: skip
    clock.advance(minutes=79)  # 10:59, 119 minutes from the first device
    assert post(api, "nurse", f"/sessions/{sid}/vitals", CALM).status_code == 303
    before = stored(api)
    refused = post(api, "nurse", f"/sessions/{sid}/discharge", ALL_CLEAR)
    assert refused.status_code == 409
    assert "Discharge refused" in refused.text
    assert "Observation ends at 11:00 (1 minutes left)." in refused.text
    assert stored(api) == before
    clock.advance(minutes=1)  # 11:00, 120 minutes
    assert post(api, "nurse", f"/sessions/{sid}/discharge", ALL_CLEAR).status_code == 303
    assert state_of(api.clinic, sid) == "discharged"
    html = page(api, "nurse", f"/sessions/{sid}")
    assert "Discharged at 11:00" in html
    assert re.search(r"Dose 28 mg \(device 2\), lot ESK-1", html)


def test_only_a_prescriber_overrides_the_discharge_checklist(api: Api) -> None:
    visit = visit_in(api.clinic, "observation")  # IV, observation until 10:00
    sid = visit.session_id
    override = {**ALL_CLEAR, "override_reason": "Transfer to emergency care with escort"}
    before = stored(api)
    assert post(api, "nurse", f"/sessions/{sid}/discharge", override).status_code == 403
    refused = post(api, "prescriber", f"/sessions/{sid}/discharge", ALL_CLEAR)
    assert refused.status_code == 409 and 'id="refused-blockers"' in refused.text
    assert stored(api) == before
    assert post(api, "prescriber", f"/sessions/{sid}/discharge", override).status_code == 303
    with api.clinic.factory() as s:
        row = s.get_one(TreatmentSession, sid)
        assert row.state == "discharged"
    assert "Transfer to emergency care with escort" in page(api, "nurse", f"/sessions/{sid}")


# ---- the demo clinic -----------------------------------------------------------------------------


def test_the_demo_clinic_has_a_morning_on_its_board(api: Api) -> None:
    # The demo seed plans today's sessions itself (09:00: the first step of the morning ran at
    # 06:00).
    assert demo_clinic.seed(api.clinic.factory, api.clinic.clock).sessions == 6
    with api.clinic.factory() as s:
        board = svc.board(s, api.clinic.clock, api.clinic.clock.now().date())
    states = sorted(b.state for b in board)
    assert states == sorted(
        ["discharged", "observation", "observation", "dosing", "checked_in", "scheduled"]
    )
    alerting = [b for b in board if b.open_alerts]
    assert [a.message for b in alerting for a in b.open_alerts] == ["Systolic 184 is above 180."]
    assert "Systolic 184 is above 180." in page(api, "nurse", "/board")
    # Done once.
    assert seed_todays_sessions(api.clinic.factory, api.clinic.clock) == 0
