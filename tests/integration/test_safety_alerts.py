"""Safety alerts: PHQ-9 item 9 >= 1, or a C-SSRS screener result of moderate or high risk,
raises an urgent alert on the dashboard and the chart that a prescriber acknowledges with the
action taken (issue 6, item 3), on SQLite and PostgreSQL.

C-SSRS coding as in clinical/scales.py: questions 1-5 0 = no, 1 = yes; question 6 0 = no,
1 = yes more than 3 months ago, 2 = yes within 3 months. Risk: 1-2 low, 3 moderate, 4-5 high,
6 high within 3 months and moderate before (clinical-facts.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketaclinic.services.actor import Role
from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from ketaclinic.services.questionnaires import record_response
from ketaclinic.services.safety import acknowledge_alert, alerts_of, open_alerts
from ketaclinic.services.self_report import send_link, submit_by_link
from ketaclinic.store.models import AuditEvent, SafetyAlert
from tests.integration.api_support import Api, open_api
from tests.integration.services_support import NOW, Clinic, open_clinic

CALLED = "Called the patient the same day; safety plan reviewed, seen tomorrow"


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


@pytest.fixture
def web(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def _record(clinic: Clinic, patient: int, scale: str, answers: list[int]) -> list[SafetyAlert]:
    with clinic.work() as s:
        done = record_response(s, clinic.nurse, clinic.clock, patient, scale, answers, NOW)
        return done.alerts


@pytest.mark.parametrize(
    ("scale", "answers", "rules"),
    [
        ("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1], ["phq9_item9"]),
        ("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 3], ["phq9_item9"]),
        ("phq9", [3, 3, 3, 3, 3, 3, 3, 3, 0], []),  # severe, but item 9 is 0: near miss
        ("cssrs_screener", [0, 0, 1, 0, 0, 0], ["cssrs_moderate"]),
        ("cssrs_screener", [0, 0, 0, 1, 0, 0], ["cssrs_high"]),
        ("cssrs_screener", [0, 0, 0, 0, 1, 0], ["cssrs_high"]),
        ("cssrs_screener", [0, 0, 0, 0, 0, 1], ["cssrs_moderate"]),
        ("cssrs_screener", [0, 0, 0, 0, 0, 2], ["cssrs_high"]),
        ("cssrs_screener", [1, 1, 0, 0, 0, 0], []),  # low risk: near miss
        ("cssrs_screener", [0, 0, 0, 0, 0, 0], []),
        ("moaas", [0], []),  # urgent at the chair (issue 5), not a suicidality alert
        ("madrs", [6] * 10, []),
    ],
)
def test_which_responses_raise_an_alert(
    clinic: Clinic, scale: str, answers: list[int], rules: list[str]
) -> None:
    patient = clinic.register().id
    raised = _record(clinic, patient, scale, answers)
    assert [a.rule for a in raised] == rules
    with clinic.factory() as s:
        assert [a.rule for a in open_alerts(s)] == rules


def test_the_alert_names_the_response_and_the_patient(clinic: Clinic) -> None:
    patient = clinic.register().id
    (alert,) = _record(clinic, patient, "phq9", [0] * 8 + [2])
    with clinic.factory() as s:
        row = s.get_one(SafetyAlert, alert.id)
        assert row.patient_id == patient
        assert row.raised_at == NOW
        assert "item 9 answered 2" in row.message
        assert row.acknowledged_at is None


def test_a_self_report_raises_the_alert_too(clinic: Clinic) -> None:
    patient = clinic.register().id
    with clinic.work() as s:
        token = send_link(s, clinic.nurse, clinic.clock, patient, "phq9").token
    with clinic.work() as s:
        done = submit_by_link(s, clinic.clock, token, [0] * 8 + [2])
        assert [a.rule for a in done.alerts] == ["phq9_item9"]


def test_a_prescriber_acknowledges_with_the_action_taken(clinic: Clinic) -> None:
    patient = clinic.register().id
    (alert,) = _record(clinic, patient, "phq9", [0] * 8 + [1])
    clinic.clock.advance(minutes=20)
    with clinic.work() as s:
        done = acknowledge_alert(s, clinic.prescriber, clinic.clock, alert.id, CALLED)
        assert done.acknowledged_by_id == clinic.prescriber.user_id
    with clinic.factory() as s:
        row = s.get_one(SafetyAlert, alert.id)
        assert (row.action_taken, row.acknowledged_at) == (CALLED, NOW.replace(minute=20))
        assert open_alerts(s) == []
        assert [a.id for a in alerts_of(s, patient)] == [alert.id]


def test_nurses_see_but_cannot_acknowledge(clinic: Clinic) -> None:
    patient = clinic.register().id
    (alert,) = _record(clinic, patient, "phq9", [0] * 8 + [1])
    roles: tuple[Role, ...] = ("nurse", "front_desk", "admin")
    for role in roles:
        with pytest.raises(Forbidden), clinic.work() as s:
            acknowledge_alert(s, clinic.actors[role], clinic.clock, alert.id, CALLED)
    with clinic.factory() as s:
        assert [a.id for a in open_alerts(s, patient)] == [alert.id]


@pytest.mark.parametrize("action", ["", "   ", "x" * 1001])
def test_the_action_taken_is_required_and_fits(clinic: Clinic, action: str) -> None:
    patient = clinic.register().id
    (alert,) = _record(clinic, patient, "phq9", [0] * 8 + [1])
    with pytest.raises(InvalidInput) as refused, clinic.work() as s:
        acknowledge_alert(s, clinic.prescriber, clinic.clock, alert.id, action)
    assert refused.value.field == "action_taken"
    with clinic.factory() as s:
        assert s.get_one(SafetyAlert, alert.id).acknowledged_at is None


def test_the_first_acknowledgement_stands(clinic: Clinic) -> None:
    patient = clinic.register().id
    (alert,) = _record(clinic, patient, "phq9", [0] * 8 + [1])
    with clinic.work() as s:
        acknowledge_alert(s, clinic.prescriber, clinic.clock, alert.id, CALLED)
    with pytest.raises(Conflict), clinic.work() as s:
        acknowledge_alert(s, clinic.prescriber, clinic.clock, alert.id, "something else")
    with pytest.raises(NotFound), clinic.work() as s:
        acknowledge_alert(s, clinic.prescriber, clinic.clock, 9999, CALLED)
    with clinic.factory() as s:
        assert s.get_one(SafetyAlert, alert.id).action_taken == CALLED


def test_open_alerts_per_patient_oldest_first(clinic: Clinic) -> None:
    alice = clinic.register().id
    bruno = clinic.register("MRN-2").id
    (first,) = _record(clinic, alice, "phq9", [0] * 8 + [1])
    clinic.clock.advance(minutes=5)
    (second,) = _record(clinic, bruno, "cssrs_screener", [0, 0, 1, 0, 0, 0])
    with clinic.factory() as s:
        assert [a.id for a in open_alerts(s)] == [first.id, second.id]
        assert [a.id for a in open_alerts(s, bruno)] == [second.id]


# ---- web ----------------------------------------------------------------------------------------


def test_dashboard_banner_and_api_show_the_alert_until_acknowledged(web: Api) -> None:
    patient = web.new_patient(given_name="Dana", family_name="Doe")
    made = web.post(
        "nurse",
        f"/api/patients/{patient}/questionnaires",
        {"scale": "phq9", "answers": [0] * 8 + [2], "completed_at": "2026-11-01T08:00:00Z"},
    )
    assert made.status_code == 201
    (alert,) = made.json()["alerts"]
    assert alert["rule"] == "phq9_item9"

    dashboard = web.get("nurse", "/alerts")
    assert dashboard.status_code == 200
    assert "PHQ-9 item 9 answered 2" in dashboard.text and "Doe, Dana" in dashboard.text
    assert "A prescriber must acknowledge this alert." in dashboard.text
    assert "Acknowledge alert" in web.get("prescriber", "/alerts").text
    banner = web.get("nurse", f"/patients/{patient}/alerts/banner")
    assert banner.status_code == 200 and "PHQ-9 item 9 answered 2" in banner.text
    assert [a["id"] for a in web.get("nurse", "/api/safety-alerts").json()] == [alert["id"]]

    refused = web.post(
        "nurse", f"/api/safety-alerts/{alert['id']}/acknowledge", {"action_taken": CALLED}
    )
    assert refused.status_code == 403
    empty = web.post(
        "prescriber", f"/api/safety-alerts/{alert['id']}/acknowledge", {"action_taken": ""}
    )
    assert empty.status_code == 422
    done = web.post(
        "prescriber", f"/api/safety-alerts/{alert['id']}/acknowledge", {"action_taken": CALLED}
    )
    assert done.status_code == 200
    assert done.json()["action_taken"] == CALLED

    assert web.get("nurse", "/api/safety-alerts").json() == []
    assert "No open safety alerts." in web.get("nurse", "/alerts").text
    assert "safety-banner" not in web.get("nurse", f"/patients/{patient}/alerts/banner").text
    with web.clinic.factory() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.patient_id == patient)).all()
        written = [(e.username, e.what) for e in rows if e.action == "write"]
        assert ("nurse", f"safety alert {alert['id']} raised: phq9_item9") in written
        assert ("prescriber", f"safety alert {alert['id']}: acknowledged") in written


def test_the_acknowledge_form_refuses_an_empty_action_beside_the_field(web: Api) -> None:
    patient = web.new_patient()
    with web.clinic.work() as s:
        done = record_response(
            s, web.clinic.nurse, web.clinic.clock, patient, "phq9", [0] * 8 + [1], NOW
        )
        alert_id = done.alerts[0].id
    page = web.http.post(
        f"/alerts/{alert_id}/acknowledge",
        headers=web.headers("prescriber"),
        data={"action_taken": " "},
    )
    assert page.status_code == 422
    assert f'id="action-{alert_id}-error" class="error field-error">is required<' in page.text
    back = web.http.post(
        f"/alerts/{alert_id}/acknowledge",
        headers=web.headers("prescriber"),
        data={"action_taken": CALLED, "back": "https://evil.example/patients/1"},
    )
    assert back.status_code == 303
    assert back.headers["location"] == "/alerts?done=acknowledged"


def test_the_banner_acknowledges_and_returns_to_the_chart(web: Api) -> None:
    patient = web.new_patient()
    with web.clinic.work() as s:
        done = record_response(
            s,
            web.clinic.nurse,
            web.clinic.clock,
            patient,
            "cssrs_screener",
            [0, 0, 0, 1, 0, 0],
            NOW,
        )
        alert_id = done.alerts[0].id
    banner = web.get("prescriber", f"/patients/{patient}/alerts/banner")
    assert f'action="/alerts/{alert_id}/acknowledge"' in banner.text
    assert f'name="back" value="/patients/{patient}"' in banner.text
    back = web.http.post(
        f"/alerts/{alert_id}/acknowledge",
        headers=web.headers("prescriber"),
        data={"action_taken": CALLED, "back": f"/patients/{patient}"},
    )
    assert back.status_code == 303
    assert back.headers["location"] == f"/patients/{patient}"


def test_the_patient_sees_the_crisis_text_after_an_alarming_answer(web: Api) -> None:
    patient = web.new_patient()
    with web.clinic.work() as s:
        token = send_link(s, web.clinic.nurse, web.clinic.clock, patient, "phq9").token
    answers = {f"item_{n}": "0" for n in range(1, 9)} | {"item_9": "2"}
    page = web.http.post(f"/r/{token}", data=answers)
    assert page.status_code == 200
    assert 'class="crisis" role="alert"' in page.text
    assert "988" in page.text
    with web.clinic.work() as s:
        calm = send_link(s, web.clinic.nurse, web.clinic.clock, patient, "phq9").token
    quiet = web.http.post(f"/r/{calm}", data={f"item_{n}": "0" for n in range(1, 10)})
    assert 'class="crisis"' not in quiet.text
    # The crisis text is still at the foot of every self-report page.
    assert "988" in quiet.text
