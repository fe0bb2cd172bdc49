"""Matrix rows of the board and the session pages (issue 5, items 3 and 6).

Written by hand from issue 5 and the session brief: nurses and prescribers run sessions on the
session page; the front desk sees the board (names, chairs, states, times) and checks patients
in; only a prescriber confirms a pre-dose check; admins see nothing clinical. Every request gets
a session of its own in the state it needs (session_support.visit_in).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

from ketaclinic.services import sessions as svc
from ketaclinic.services.session_forms import VitalsIn
from tests.integration.authz_cases import CLINICAL, DEMOGRAPHICS, PRESCRIBER, Case, page
from tests.integration.services_support import Clinic
from tests.integration.session_support import CALM, GOOD_PREDOSE, integration_visit, visit_in

PREDOSE_FORM = {
    "systolic": "118", "diastolic": "76", "heart_rate": "72", "spo2": "98",
    "respiratory_rate": "14", "escort_confirmed": "on",
}  # fmt: skip
VITALS_FORM = {"systolic": "122", "diastolic": "78", "heart_rate": "76", "spo2": "98"}
DISCHARGE_FORM = {
    "alert_and_oriented": "on", "escort_present": "on", "no_driving_acknowledged": "on",
}  # fmt: skip

# fmt: off
CASES: tuple[Case, ...] = (
    page("GET", "/board", DEMOGRAPHICS),
    page("GET", "/board/live", DEMOGRAPHICS),
    page("GET", "/sessions/{session_id}", CLINICAL, "/sessions/{page_scheduled}"),
    page("POST", "/sessions/{session_id}/check-in", DEMOGRAPHICS,
         "/sessions/{page_scheduled}/check-in", form={"chair": "Chair 2"}),
    page("POST", "/sessions/{session_id}/predose", CLINICAL,
         "/sessions/{page_checked_in}/predose", form=PREDOSE_FORM),
    page("POST", "/sessions/{session_id}/predose/{check_id}/confirm", PRESCRIBER,
         "/sessions/{page_confirm_path}/confirm", form={"reason": "rechecked, stable at 148/84"}),
    page("POST", "/sessions/{session_id}/doses", CLINICAL,
         "/sessions/{page_predose}/doses", form={"dose_mg": "40", "lot": "K-1"}),
    page("POST", "/sessions/{session_id}/end-dosing", CLINICAL,
         "/sessions/{page_dosing}/end-dosing", form={}),
    page("POST", "/sessions/{session_id}/vitals", CLINICAL,
         "/sessions/{page_checked_in}/vitals", form=VITALS_FORM),
    page("POST", "/sessions/{session_id}/alerts/{alert_id}/acknowledge", CLINICAL,
         "/sessions/{page_alert_path}/acknowledge", form={"action_taken": "rechecked in 5 min"}),
    page("POST", "/sessions/{session_id}/scores", CLINICAL,
         "/sessions/{page_dosing}/scores", form={"scale": "moaas", "score": "4"}),
    page("POST", "/sessions/{session_id}/adverse-events", CLINICAL,
         "/sessions/{page_dosing}/adverse-events", form={"kind": "nausea", "severity": "mild"}),
    page("POST", "/sessions/{session_id}/check-ready", CLINICAL,
         "/sessions/{page_observation}/check-ready", form={}),
    page("POST", "/sessions/{session_id}/discharge", CLINICAL,
         "/sessions/{page_ready}/discharge", form=DISCHARGE_FORM),
    page("POST", "/sessions/{session_id}/complete", CLINICAL,
         "/sessions/{page_integration}/complete",
         form={"note": "integration: reviewed the session, plan for the week"}),
    page("POST", "/sessions/{session_id}/cancel", CLINICAL,
         "/sessions/{page_scheduled}/cancel", form={"reason": "patient rang to move the visit"}),
    page("POST", "/sessions/{session_id}/stop", CLINICAL,
         "/sessions/{page_checked_in}/stop", form={"reason": "patient unwell on arrival"}),
)
# fmt: on


def _in(state: str) -> Callable[[Any], str]:
    def make(world: Any) -> str:
        return str(visit_in(world.api.clinic, state).session_id)

    return make


@contextmanager
def _earlier(clinic: Clinic, minutes: int) -> Iterator[None]:
    """Run the block ``minutes`` ago on the clinic's clock, then come back: a session can then be
    past its observation without moving the shared clock on for the other rows."""
    now = clinic.clock.now()
    clinic.clock.at = now - timedelta(minutes=minutes)
    try:
        yield
    finally:
        clinic.clock.at = now


def _ready(world: Any) -> str:
    """An IV session whose infusion ended 70 minutes ago (observation is 60), with calm vitals
    and MOAA/S 5 now: ready for discharge."""
    clinic = world.api.clinic
    with _earlier(clinic, 70):
        visit = visit_in(clinic, "observation")
    with clinic.work() as s:
        svc.record_vitals(s, clinic.nurse, clinic.clock, visit.session_id, CALM)
        svc.record_score(s, clinic.nurse, clinic.clock, visit.session_id, "moaas", 5)
        assert svc.get_treatment_session(s, visit.session_id).state == "ready_for_discharge"
    return str(visit.session_id)


def _confirm_path(world: Any) -> str:
    """``<session>/predose/<check>`` of an esketamine check at 150/85 (above the label's 140/90,
    under the uncontrolled 160/90): a prescriber confirms."""
    clinic = world.api.clinic
    visit = visit_in(clinic, "checked_in", "esketamine")
    high = replace(GOOD_PREDOSE, systolic=150, diastolic=85)
    with clinic.work() as s:
        check = svc.run_predose_check(s, clinic.nurse, clinic.clock, visit.session_id, high)
        assert check.decision == "confirm"
        return f"{visit.session_id}/predose/{check.id}"


def _alert_path(world: Any) -> str:
    """``<session>/alerts/<alert>`` of an open alert (systolic 185 > 180) during an infusion."""
    clinic = world.api.clinic
    visit = visit_in(clinic, "dosing")
    with clinic.work() as s:
        _, alerts = svc.record_vitals(
            s, clinic.nurse, clinic.clock, visit.session_id, VitalsIn(systolic=185, diastolic=100)
        )
        return f"{visit.session_id}/alerts/{alerts[0].id}"


MAKERS: dict[str, Callable[[Any], str]] = {
    "page_scheduled": _in("scheduled"),
    "page_checked_in": _in("checked_in"),
    "page_predose": _in("pre_dose_check"),
    "page_dosing": _in("dosing"),
    "page_observation": _in("observation"),
    "page_ready": _ready,
    "page_confirm_path": _confirm_path,
    "page_alert_path": _alert_path,
    # A checked-in integration (psychotherapy) session: nurses and prescribers record it done.
    "page_integration": lambda world: str(
        integration_visit(world.api.clinic, "checked_in").session_id
    ),
}
