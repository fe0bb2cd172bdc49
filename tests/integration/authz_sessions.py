"""Matrix rows of the session API (issue 5): nurses and prescribers run sessions; the front desk
checks patients in, cancels a visit that has not started and sees the patient's visits; only
prescribers confirm a pre-dose check; admins nothing clinical. Each request gets a session of
its own in the state the request needs (session_support.visit_in)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ketaclinic.services import sessions as svc
from ketaclinic.services.session_forms import VitalsIn
from tests.integration.authz_cases import CLINICAL, DEMOGRAPHICS, PRESCRIBER, Case, api
from tests.integration.session_support import GOOD_PREDOSE, integration_visit, visit_in

PREDOSE_JSON = {
    "systolic": 118, "diastolic": 76, "escort_confirmed": True, "benzodiazepine_today": False,
    "fasting_confirmed": True,
}  # fmt: skip
CALM_JSON = {"systolic": 122, "diastolic": 78, "heart_rate": 76, "spo2": 98}
ALL_CLEAR_JSON = {
    "alert_and_oriented": True, "escort_present": True, "no_driving_acknowledged": True,
}  # fmt: skip
DESK = DEMOGRAPHICS  # prescriber, nurse, front desk

# fmt: off
CASES: tuple[Case, ...] = (
    api("GET", "/api/patients/{patient_id}/sessions", DESK),
    api("GET", "/api/sessions/{session_id}", CLINICAL, "/api/sessions/{s_scheduled}"),
    api("GET", "/api/sessions/{session_id}/checklist", CLINICAL,
        "/api/sessions/{s_observation}/checklist"),
    api("POST", "/api/sessions/{session_id}/check-in", DESK,
        "/api/sessions/{s_scheduled}/check-in", json={"chair": "Chair 2"}),
    api("POST", "/api/sessions/{session_id}/predose", CLINICAL,
        "/api/sessions/{s_checked_in}/predose", json=PREDOSE_JSON),
    api("POST", "/api/sessions/{session_id}/confirm", PRESCRIBER,
        "/api/sessions/{s_confirm}/confirm", json={"reason": "BP 150/85 recheck stable"}),
    api("POST", "/api/sessions/{session_id}/doses", CLINICAL,
        "/api/sessions/{s_predose}/doses", json={"dose_mg": 40, "lot": "K-1"}),
    api("POST", "/api/sessions/{session_id}/end-dosing", CLINICAL,
        "/api/sessions/{s_dosing}/end-dosing", json={}),
    api("POST", "/api/sessions/{session_id}/vitals", CLINICAL,
        "/api/sessions/{s_checked_in}/vitals", json=CALM_JSON),
    api("POST", "/api/sessions/{session_id}/alerts/{alert_id}/acknowledge", CLINICAL,
        "/api/sessions/{s_alert_path}/acknowledge",
        json={"action_taken": "rechecked in 5 minutes, prescriber told"}),
    api("POST", "/api/sessions/{session_id}/scores", CLINICAL,
        "/api/sessions/{s_checked_in}/scores", json={"scale": "moaas", "score": 5}),
    api("POST", "/api/sessions/{session_id}/adverse-events", CLINICAL,
        "/api/sessions/{s_checked_in}/adverse-events", json={"kind": "nausea", "severity": "mild"}),
    api("POST", "/api/sessions/{session_id}/ready", CLINICAL,
        "/api/sessions/{s_observation}/ready"),
    api("POST", "/api/sessions/{session_id}/discharge", CLINICAL,
        "/api/sessions/{s_ready}/discharge", json=ALL_CLEAR_JSON),
    api("POST", "/api/sessions/{session_id}/complete", CLINICAL,
        "/api/sessions/{s_integration}/complete",
        json={"note": "integration: reviewed the session, plan for the week"}),
    api("POST", "/api/sessions/{session_id}/cancel", DESK,
        "/api/sessions/{s_scheduled}/cancel", json={"reason": "patient rang to move the visit"}),
    api("POST", "/api/sessions/{session_id}/stop", CLINICAL,
        "/api/sessions/{s_checked_in}/stop", json={"reason": "patient unwell on arrival"}),
    api("GET", "/api/board", CLINICAL),
)
# fmt: on


def _in(state: str, route: str = "iv") -> Callable[[Any], str]:
    def make(world: Any) -> str:
        return str(visit_in(world.api.clinic, state, route).session_id)

    return make


def _awaiting_confirmation(world: Any) -> str:
    """An esketamine session whose check found 150/85: above 140/90, a prescriber confirms."""
    clinic = world.api.clinic
    visit = visit_in(clinic, "checked_in", "esketamine")
    high = replace(GOOD_PREDOSE, systolic=150, diastolic=85)
    with clinic.work() as s:
        check = svc.run_predose_check(s, clinic.nurse, clinic.clock, visit.session_id, high)
        assert check.decision == "confirm"
    return str(visit.session_id)


def _alert_path(world: Any) -> str:
    """``<session>/alerts/<alert>`` of an open systolic alert during an infusion."""
    clinic = world.api.clinic
    visit = visit_in(clinic, "dosing")
    with clinic.work() as s:
        _, alerts = svc.record_vitals(
            s, clinic.nurse, clinic.clock, visit.session_id, VitalsIn(systolic=190, diastolic=100)
        )
        return f"{visit.session_id}/alerts/{alerts[0].id}"


MAKERS: dict[str, Callable[[Any], str]] = {
    "s_scheduled": _in("scheduled"),
    "s_checked_in": _in("checked_in"),
    "s_predose": _in("pre_dose_check"),
    "s_dosing": _in("dosing"),
    "s_observation": _in("observation"),
    "s_ready": _in("ready_for_discharge"),
    "s_confirm": _awaiting_confirmation,
    "s_alert_path": _alert_path,
    # A checked-in integration (psychotherapy) session: nurses and prescribers record it done.
    "s_integration": lambda world: str(
        integration_visit(world.api.clinic, "checked_in").session_id
    ),
}
