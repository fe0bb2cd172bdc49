"""Authorization matrix rows for treatment plans and consent (issue 5), written by hand.

Prescribers make, change, pause, resume and end plans; nurses read plans and take consent
signatures (and record a withdrawal) beside the patient; the front desk (demographics only)
and admins (no clinical data) see no plan. Every target is fresh: a patient ready for a plan
(signed eligible screening, complete workup, weight), a plan awaiting consent, an active plan,
a paused plan, a signed consent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ketaclinic.services.consent import standing_consent
from ketaclinic.services.plans import pause_plan
from tests.integration.authz_cases import CLINICAL, PRESCRIBER, Case, api, page
from tests.integration.plan_support import active_plan, ready_patient

PLAN_JSON = {
    "route": "iv", "indication": "treatment_resistant_depression", "start_on": "2026-11-01",
    "mg_per_kg": 0.5,
}  # fmt: skip
PLAN_FORM = {k: str(v) for k, v in PLAN_JSON.items()}
REASON = {"reason": "asked by the patient"}
SIGNED = {"typed_name": "Alice Example"}


def _ready(world: Any) -> str:
    return str(ready_patient(world.api.clinic))


def _plan(world: Any) -> str:
    return str(active_plan(world.api.clinic, consent=False)[1])


def _active(world: Any) -> str:
    return str(active_plan(world.api.clinic)[1])


def _paused(world: Any) -> str:
    clinic = world.api.clinic
    plan_id = active_plan(clinic)[1]
    with clinic.work() as s:
        pause_plan(s, clinic.prescriber, clinic.clock, plan_id, "away")
    return str(plan_id)


def _consent(world: Any) -> str:
    clinic = world.api.clinic
    plan_id = active_plan(clinic)[1]
    with clinic.factory() as s:
        found = standing_consent(s, plan_id)
        assert found is not None
        return str(found.id)


# fmt: off
CASES: tuple[Case, ...] = (
    api("GET", "/api/patients/{patient_id}/plans", CLINICAL),
    api("POST", "/api/patients/{patient_id}/plans", PRESCRIBER, "/api/patients/{pl_ready}/plans",
        json=PLAN_JSON),
    api("GET", "/api/plans/{plan_id}", CLINICAL, "/api/plans/{pl_plan}"),
    api("POST", "/api/plans/{plan_id}/change", PRESCRIBER, "/api/plans/{pl_plan}/change",
        json={**PLAN_JSON, "mg_per_kg": 0.6, **REASON}),
    api("POST", "/api/plans/{plan_id}/pause", PRESCRIBER, "/api/plans/{pl_active}/pause",
        json=REASON),
    api("POST", "/api/plans/{plan_id}/resume", PRESCRIBER, "/api/plans/{pl_paused}/resume",
        json=REASON),
    api("POST", "/api/plans/{plan_id}/end", PRESCRIBER, "/api/plans/{pl_plan}/end", json=REASON),
    api("GET", "/api/plans/{plan_id}/consent-text", CLINICAL, "/api/plans/{pl_plan}/consent-text"),
    api("POST", "/api/plans/{plan_id}/consent", CLINICAL, "/api/plans/{pl_plan}/consent",
        json=SIGNED),
    api("POST", "/api/plans/{plan_id}/consent/withdraw", CLINICAL,
        "/api/plans/{pl_active}/consent/withdraw", json=REASON),
    page("GET", "/patients/{patient_id}/plans", CLINICAL),
    page("GET", "/patients/{patient_id}/plans/new", PRESCRIBER),
    page("POST", "/patients/{patient_id}/plans", PRESCRIBER, "/patients/{pl_ready}/plans",
         form=PLAN_FORM),
    page("GET", "/plans/{plan_id}", CLINICAL, "/plans/{pl_plan}"),
    page("GET", "/plans/{plan_id}/change", PRESCRIBER, "/plans/{pl_plan}/change"),
    page("POST", "/plans/{plan_id}/change", PRESCRIBER, "/plans/{pl_plan}/change",
         form={**PLAN_FORM, "mg_per_kg": "0.6", **REASON}),
    page("POST", "/plans/{plan_id}/pause", PRESCRIBER, "/plans/{pl_active}/pause", form=REASON),
    page("POST", "/plans/{plan_id}/resume", PRESCRIBER, "/plans/{pl_paused}/resume", form=REASON),
    page("POST", "/plans/{plan_id}/end", PRESCRIBER, "/plans/{pl_plan}/end", form=REASON),
    page("GET", "/plans/{plan_id}/consent", CLINICAL, "/plans/{pl_plan}/consent"),
    page("POST", "/plans/{plan_id}/consent", CLINICAL, "/plans/{pl_plan}/consent", form=SIGNED),
    page("POST", "/plans/{plan_id}/consent/withdraw", CLINICAL,
         "/plans/{pl_active}/consent/withdraw", form=REASON),
    page("GET", "/consents/{consent_id}.pdf", CLINICAL, "/consents/{pl_consent}.pdf"),
)
# fmt: on

MAKERS: dict[str, Callable[[Any], str]] = {
    "pl_ready": _ready,
    "pl_plan": _plan,
    "pl_active": _active,
    "pl_paused": _paused,
    "pl_consent": _consent,
}
