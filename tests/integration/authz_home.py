"""Matrix rows of the home programme (issue 5 item 5): prescribers record PDMP checks and write
home prescriptions; nurses and prescribers schedule and record check-ins and diary doses and
read the programme; the front desk and admins nothing. Each request gets a fresh oral plan of
the world's patient (rems_rows.plan_row), with a PDMP check, a prescription and a passing
check-in when the request needs them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ketaclinic.services import home_programme as home
from ketaclinic.store.models import TreatmentPlan
from tests.integration.authz_cases import CLINICAL, PRESCRIBER, Case, api, page
from tests.integration.rems_rows import plan_row

PDMP = {"result": "clear"}
PRESCRIPTION = {"dose_mg": "100", "doses": "4"}
SCHEDULE = {"due_at": "2026-11-01T18:00"}
CHECKIN_JSON = {"sitter_present": True, "no_driving": True, "reported_by": "patient"}
CHECKIN_FORM = {"sitter_present": "yes", "no_driving": "yes", "reported_by": "patient"}
DOSE = {"prescription_id": "{home_prescription}", "dose_mg": "100"}

# fmt: off
CASES: tuple[Case, ...] = (
    api("GET", "/api/plans/{plan_id}/home", CLINICAL, "/api/plans/{home_plan}/home"),
    api("GET", "/api/plans/{plan_id}/home/missed", CLINICAL, "/api/plans/{home_plan}/home/missed"),
    api("POST", "/api/plans/{plan_id}/home/pdmp", PRESCRIBER, "/api/plans/{home_plan}/home/pdmp",
        json=PDMP),
    api("POST", "/api/plans/{plan_id}/home/prescriptions", PRESCRIBER,
        "/api/plans/{home_plan_checked}/home/prescriptions", json=PRESCRIPTION),
    api("POST", "/api/plans/{plan_id}/home/schedule", CLINICAL,
        "/api/plans/{home_plan}/home/schedule", json=SCHEDULE),
    api("POST", "/api/plans/{plan_id}/home/checkins", CLINICAL,
        "/api/plans/{home_plan}/home/checkins", json=CHECKIN_JSON),
    api("POST", "/api/plans/{plan_id}/home/doses", CLINICAL,
        "/api/plans/{home_plan_ready}/home/doses", json=DOSE),
    page("GET", "/plans/{plan_id}/home", CLINICAL, "/plans/{home_plan}/home"),
    page("POST", "/plans/{plan_id}/home/pdmp", PRESCRIBER, "/plans/{home_plan}/home/pdmp",
         form=PDMP),
    page("POST", "/plans/{plan_id}/home/prescriptions", PRESCRIBER,
         "/plans/{home_plan_checked}/home/prescriptions", form=PRESCRIPTION),
    page("POST", "/plans/{plan_id}/home/schedule", CLINICAL, "/plans/{home_plan}/home/schedule",
         form=SCHEDULE),
    page("POST", "/plans/{plan_id}/home/checkins", CLINICAL, "/plans/{home_plan}/home/checkins",
         form=CHECKIN_FORM),
    page("POST", "/plans/{plan_id}/home/doses", CLINICAL, "/plans/{home_plan_ready}/home/doses",
         form=DOSE),
)
# fmt: on


def _plan(world: Any) -> int:
    """A fresh oral plan of 100 mg, on one screening per world (kept on the world)."""
    screening = getattr(world, "home_screening", None)
    plan_id = plan_row(world.api.clinic, world.patient, "oral", 100, screening_id=screening)
    if screening is None:
        with world.api.clinic.work() as s:
            world.home_screening = s.get_one(TreatmentPlan, plan_id).screening_id
    return plan_id


def _checked(world: Any) -> str:
    """A plan with a clear PDMP check just recorded."""
    clinic, plan_id = world.api.clinic, _plan(world)
    with clinic.work() as s:
        home.record_pdmp_check(s, clinic.prescriber, clinic.clock, plan_id, "clear")
    return str(plan_id)


def _ready(world: Any) -> str:
    """A plan with a prescription and a passing check-in today: ready for a diary dose."""
    clinic, plan_id = world.api.clinic, int(_checked(world))
    with clinic.work() as s:
        prescription = home.write_home_prescription(
            s, clinic.prescriber, clinic.clock, plan_id, 100, 4
        )
        home.record_checkin(s, clinic.nurse, clinic.clock, plan_id, home.CheckinIn(True, True))
        # The dose body names it; the path, filled first, made it.
        world.home_prescription = prescription.id
    return str(plan_id)


MAKERS: dict[str, Callable[[Any], str]] = {
    "home_plan": lambda world: str(_plan(world)),
    "home_plan_checked": _checked,
    "home_plan_ready": _ready,
    "home_prescription": lambda world: str(world.home_prescription),
}
