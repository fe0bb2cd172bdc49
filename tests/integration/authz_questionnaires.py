"""Matrix rows of questionnaires, self-report links and safety alerts (issue 6).

Written from the issue and the brief: prescribers and nurses record responses, assign
questionnaires and send links; prescribers acknowledge safety alerts, nurses see them; the front
desk and admins neither. The patient's page /r/{token} is public: the single-use token is the
credential (each request gets a fresh link).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ketaclinic.services.questionnaires import record_response
from ketaclinic.services.self_report import send_link
from tests.integration.authz_cases import CLINICAL, PRESCRIBER, Case, api, page, public
from tests.integration.services_support import NOW

PHQ9_MILD = [1, 2, 1, 2, 1, 1, 0, 0, 0]
PHQ9_FORM = {f"item_{n}": str(a) for n, a in enumerate(PHQ9_MILD, start=1)}
ENTRY_FORM = {"scale": "phq9", "completed_at": "2026-11-01T08:30", **PHQ9_FORM}
ENTRY_JSON = {"scale": "phq9", "answers": PHQ9_MILD, "completed_at": "2026-11-01T08:30:00Z"}
ASSIGN = {"scale": "phq9", "before_each_session": True, "every_days": 14}
ASSIGN_FORM = {"scale": "phq9", "before_each_session": "on", "every_days": "14"}
ACK = {"action_taken": "Called the patient; safety plan reviewed"}

# fmt: off
CASES: tuple[Case, ...] = (
    public("GET", "/r/{token}", "/r/{self_report_token}"),
    public("POST", "/r/{token}", "/r/{self_report_token}", form=PHQ9_FORM),
    page("GET", "/patients/{patient_id}/questionnaires", CLINICAL),
    page("GET", "/patients/{patient_id}/questionnaires/new", CLINICAL),
    page("POST", "/patients/{patient_id}/questionnaires", CLINICAL, form=ENTRY_FORM),
    page("GET", "/patients/{patient_id}/questionnaires/due", CLINICAL),
    page("POST", "/patients/{patient_id}/questionnaires/assignments", CLINICAL,
         form=ASSIGN_FORM),
    page("POST", "/patients/{patient_id}/self-report-links", CLINICAL, form={"scale": "phq9"}),
    page("GET", "/patients/{patient_id}/alerts/banner", CLINICAL),
    page("GET", "/alerts", CLINICAL),
    page("POST", "/alerts/{alert_id}/acknowledge", PRESCRIBER,
         "/alerts/{safety_alert}/acknowledge", form=ACK),
    api("GET", "/api/patients/{patient_id}/questionnaires", CLINICAL),
    api("POST", "/api/patients/{patient_id}/questionnaires", CLINICAL, json=ENTRY_JSON),
    api("POST", "/api/patients/{patient_id}/questionnaire-assignments", CLINICAL, json=ASSIGN),
    api("POST", "/api/patients/{patient_id}/self-report-links", CLINICAL,
        json={"scale": "phq9"}),
    api("GET", "/api/safety-alerts", CLINICAL),
    api("POST", "/api/safety-alerts/{alert_id}/acknowledge", PRESCRIBER,
        "/api/safety-alerts/{safety_alert}/acknowledge", json=ACK),
)
# fmt: on


def _token(world: Any) -> str:
    clinic = world.api.clinic
    with clinic.work() as s:
        return send_link(s, clinic.nurse, clinic.clock, world.patient, "phq9").token


def _alert(world: Any) -> str:
    """An open safety alert: a PHQ-9 with item 9 answered 1."""
    clinic = world.api.clinic
    with clinic.work() as s:
        done = record_response(
            s, clinic.nurse, clinic.clock, world.patient, "phq9", [0] * 8 + [1], NOW
        )
        return str(done.alerts[0].id)


MAKERS: dict[str, Callable[[Any], str]] = {
    "self_report_token": _token,
    "safety_alert": _alert,
}
