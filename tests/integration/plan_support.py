"""A patient ready for treatment, and an active plan, for the plan, session and outcome tests.

``ready_patient`` records what the screening engine needs to call a woman of 40 with recurrent
MDD eligible for ketamine: two failed adequate trials of two classes (sertraline 100 mg and
venlafaxine 225 mg, each 14 weeks: clinical-facts.md, ATRQ minimum doses 50 and 150 mg, at least
6 weeks), a normal blood pressure, and the whole workup of spec/screening.md fresh on the clinic's
day (2026-11-01): physical exam, ALT, creatinine, a negative urine hCG (female 12-55), a baseline
PHQ-9, and a body weight. It runs the screening for the route and signs it.

``active_plan`` adds a plan and the signed consent: ``(patient_id, plan_id)`` of an active plan
whose TreatmentSession rows exist (state "scheduled"), the first one on ``start_on`` (default:
the clinic's day).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import count

from ketaclinic.services.charting import screen_patient, sign_screening
from ketaclinic.services.consent import sign_consent
from ketaclinic.services.plan_forms import PlanIn
from ketaclinic.services.plans import create_plan
from ketaclinic.services.records import (
    add_condition,
    add_medication,
    add_observation,
    add_procedure,
)
from ketaclinic.services.records_forms import ConditionIn, MedicationIn, ObservationIn, ProcedureIn
from tests.integration.services_support import Clinic

MDD = ConditionIn("F33.1", "Major depressive disorder, recurrent, moderate", onset=date(2023, 2, 1))
SERTRALINE = MedicationIn(
    "sertraline", rxnorm="36437", start=date(2025, 1, 6), end=date(2025, 4, 14), dose_mg=100,
    outcome="no-response",
)  # fmt: skip
VENLAFAXINE = MedicationIn(
    "venlafaxine", rxnorm="39786", start=date(2025, 5, 5), end=date(2025, 8, 11), dose_mg=225,
    outcome="partial-response",
)  # fmt: skip
_NUMBERS = count(1)
WEIGHT = "29463-7"
PHQ9 = "44261-6"
ROUTE_OF_SCREENING = {"sublingual": "oral"}
DEFAULT_DOSE = {
    "iv": {"mg_per_kg": 0.5},
    "im": {"mg_per_kg": 0.5},
    "esketamine": {"mg": 56.0},
    "oral": {"mg": 100.0},
    "sublingual": {"mg": 100.0},
}


def ready_patient(
    clinic: Clinic,
    route: str = "iv",
    *,
    mrn: str | None = None,
    weight_kg: float | None = 80.0,
    weighed_days_ago: int = 2,
    phq9: float = 18,
    workup: bool = True,
    sign: bool = True,
) -> int:
    """A registered patient with a complete workup and a signed screening for ``route``."""
    day = clinic.clock.now().date()
    recent = datetime.combine(day - timedelta(days=3), datetime.min.time()).replace(hour=10)
    patient = clinic.register(mrn or f"PLAN-{next(_NUMBERS)}")
    who, clock = clinic.prescriber, clinic.clock
    with clinic.work() as s:
        add_condition(s, who, clock, patient.id, MDD)
        add_medication(s, who, clock, patient.id, SERTRALINE)
        add_medication(s, who, clock, patient.id, VENLAFAXINE)
        add_observation(
            s, who, clock, patient.id, ObservationIn("85354-9", recent, systolic=118, diastolic=76)
        )
        if workup:
            add_procedure(
                s, who, clock, patient.id,
                ProcedureIn("5880005", "Physical examination", performed=recent.date()),
            )  # fmt: skip
            add_observation(s, who, clock, patient.id, ObservationIn("1742-6", recent, value=25))
            add_observation(s, who, clock, patient.id, ObservationIn("2160-0", recent, value=0.9))
            add_observation(
                s, who, clock, patient.id, ObservationIn("2106-3", recent, result="negative")
            )
            add_observation(s, who, clock, patient.id, ObservationIn(PHQ9, recent, value=phq9))
        if weight_kg is not None:
            weighed = datetime.combine(day - timedelta(days=weighed_days_ago), datetime.min.time())
            weight = ObservationIn(WEIGHT, weighed.replace(hour=9), value=weight_kg)
            add_observation(s, who, clock, patient.id, weight)
    with clinic.work() as s:
        screening = screen_patient(
            s, who, clock, patient.id, ROUTE_OF_SCREENING.get(route, route), day
        )
        if sign:
            sign_screening(s, who, clock, screening.id)
    return patient.id


def plan_in(
    route: str = "iv",
    *,
    start_on: date,
    indication: str = "treatment_resistant_depression",
    integration_sessions: bool = False,
    **changes: object,
) -> PlanIn:
    values: dict[str, object] = {
        "route": route,
        "indication": indication,
        "start_on": start_on,
        "integration_sessions": integration_sessions,
        **DEFAULT_DOSE[route],
    }
    values.update(changes)
    return PlanIn(**values)  # type: ignore[arg-type]


def active_plan(
    clinic: Clinic,
    route: str = "iv",
    *,
    start_on: date | None = None,
    integration_sessions: bool = False,
    weight_kg: float = 80.0,
    consent: bool = True,
    **changes: object,
) -> tuple[int, int]:
    """(patient_id, plan_id): a plan by ``route`` with its consent signed (active, sessions made).

    With ``consent=False`` the plan stays awaiting_consent and has no sessions.
    """
    patient_id = ready_patient(clinic, route, weight_kg=weight_kg)
    first = start_on or clinic.clock.now().date()
    values = plan_in(route, start_on=first, integration_sessions=integration_sessions, **changes)
    with clinic.work() as s:
        plan = create_plan(s, clinic.prescriber, clinic.clock, patient_id, values)
        plan_id = plan.id
    if consent:
        with clinic.work() as s:
            sign_consent(s, clinic.nurse, clinic.clock, plan_id, typed_name="Alice Example")
    return patient_id, plan_id
