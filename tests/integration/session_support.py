"""A session brought to any state through the services, for the session, API, CLI and
authorization tests.

The patient comes from plan_support (a woman of 40, blood pressure 118/76, negative hCG three
days ago, 80 kg): the IV plan gives 0.5 mg/kg = 40 mg over 40 minutes, esketamine 56 mg (two
28 mg devices). Each call makes a new plan, so every target is fresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from ketaclinic.services import sessions as svc
from ketaclinic.services.session_forms import DischargeIn, DoseIn, PredoseIn, VitalsIn
from ketaclinic.store.models import RemsEnrolment, TreatmentSession
from tests.integration.plan_support import active_plan
from tests.integration.services_support import Clinic

GOOD_PREDOSE = PredoseIn(
    systolic=118,
    diastolic=76,
    escort_confirmed=True,
    benzodiazepine_today=False,
    fasting_confirmed=True,
    heart_rate=72,
    spo2=98,
    respiratory_rate=14,
)
CALM = VitalsIn(systolic=122, diastolic=78, heart_rate=76, spo2=98, respiratory_rate=14)
ALL_CLEAR = DischargeIn(alert_and_oriented=True, escort_present=True, no_driving_acknowledged=True)
PLANNED_MG = {"iv": 40.0, "im": 40.0, "esketamine": 56.0}
ORDER = ("scheduled", "checked_in", "pre_dose_check", "dosing", "observation")


@dataclass(frozen=True)
class Visit:
    patient_id: int
    plan_id: int
    session_id: int


def enrol_rems(clinic: Clinic, patient_id: int, *, site: bool = True, patient: bool = True) -> None:
    """The REMS rows an esketamine dose needs (the site's once, the patient's)."""
    with clinic.work() as s:
        have_site = s.scalars(select(RemsEnrolment).where(RemsEnrolment.kind == "site")).first()
        if site and have_site is None:
            s.add(
                RemsEnrolment(
                    kind="site",
                    patient_id=None,
                    reference="SITE-1",
                    enrolled_on=date(2026, 1, 5),
                    recorded_at=clinic.clock.now(),
                )
            )
        if patient:
            s.add(
                RemsEnrolment(
                    kind="patient",
                    patient_id=patient_id,
                    reference=f"PT-{patient_id}",
                    enrolled_on=clinic.clock.now().date(),
                    recorded_at=clinic.clock.now(),
                )
            )


def new_visit(clinic: Clinic, route: str = "iv", *, rems: bool = True) -> Visit:
    """An active plan's first session, scheduled today."""
    patient_id, plan_id = active_plan(clinic, route)
    if route == "esketamine" and rems:
        enrol_rems(clinic, patient_id)
    with clinic.work() as s:
        first = s.scalars(
            select(TreatmentSession)
            .where(TreatmentSession.plan_id == plan_id, TreatmentSession.kind == "dosing")
            .order_by(TreatmentSession.planned_on, TreatmentSession.number)
        ).first()
        assert first is not None and first.planned_on == clinic.clock.now().date()
        return Visit(patient_id, plan_id, first.id)


def state_of(clinic: Clinic, session_id: int) -> str:
    with clinic.work() as s:
        return svc.get_treatment_session(s, session_id).state


def dose_all(clinic: Clinic, visit: Visit, route: str) -> None:
    """The plan's whole dose: one 40 mg dose, or 28 mg devices 5 minutes apart."""
    nurse, clock = clinic.nurse, clinic.clock
    if route == "esketamine":
        for device in range(2):
            if device:
                clock.advance(minutes=5)
            with clinic.work() as s:
                svc.record_dose(s, nurse, clock, visit.session_id, DoseIn(28, lot="ESK-1"))
    else:
        with clinic.work() as s:
            svc.record_dose(s, nurse, clock, visit.session_id, DoseIn(PLANNED_MG[route], lot="K-1"))


def visit_in(clinic: Clinic, state: str, route: str = "iv") -> Visit:
    """A fresh session brought to ``state`` (the clinic's clock moves for the later ones)."""
    visit = new_visit(clinic, route)
    nurse, clock = clinic.nurse, clinic.clock
    sid = visit.session_id

    def step(target: str) -> None:
        with clinic.work() as s:
            if target == "checked_in":
                svc.check_in(s, nurse, clock, sid, chair="Chair 1")
            elif target == "pre_dose_check":
                assert svc.run_predose_check(s, nurse, clock, sid, GOOD_PREDOSE).decision == "go"
            elif target == "observation":
                svc.end_dosing(s, nurse, clock, sid)

    if state in ("scheduled", "cancelled"):
        if state == "cancelled":
            with clinic.work() as s:
                svc.cancel_session(s, nurse, clock, sid, "patient rang to cancel")
        return visit
    for target in ORDER[1 : ORDER.index(state) + 1] if state in ORDER else ORDER[1:]:
        if target == "dosing":
            dose_all(clinic, visit, route)
        else:
            step(target)
    if state in ORDER:
        return visit
    if state == "stopped":
        with clinic.work() as s:
            svc.stop_session(s, nurse, clock, sid, "patient felt unwell")
        return visit
    # ready_for_discharge or discharged: observation over, calm vitals, fully alert.
    clock.advance(minutes=125)
    with clinic.work() as s:
        svc.record_vitals(s, nurse, clock, sid, CALM)
        svc.record_score(s, nurse, clock, sid, "moaas", 5)
    assert state_of(clinic, sid) == "ready_for_discharge"
    if state == "discharged":
        with clinic.work() as s:
            svc.discharge(s, nurse, clock, sid, ALL_CLEAR)
    return visit


INTEGRATION_STATES = ("scheduled", "checked_in", "discharged", "cancelled", "stopped")


def integration_visit(clinic: Clinic, state: str = "scheduled") -> Visit:
    """A fresh IV plan with integration sessions; its first integration session (today, after
    the first dosing session) brought to ``state``, one of INTEGRATION_STATES."""
    patient_id, plan_id = active_plan(clinic, "iv", integration_sessions=True)
    with clinic.work() as s:
        first = s.scalars(
            select(TreatmentSession)
            .where(TreatmentSession.plan_id == plan_id, TreatmentSession.kind == "integration")
            .order_by(TreatmentSession.planned_on, TreatmentSession.number)
        ).first()
        assert first is not None and first.planned_on == clinic.clock.now().date()
        visit = Visit(patient_id, plan_id, first.id)
    nurse, clock, sid = clinic.nurse, clinic.clock, visit.session_id
    with clinic.work() as s:
        if state == "cancelled":
            svc.cancel_session(s, nurse, clock, sid, "patient rang to move the visit")
        elif state != "scheduled":
            svc.check_in(s, nurse, clock, sid, chair="Room 2")
    if state in ("discharged", "stopped"):
        with clinic.work() as s:
            if state == "discharged":
                svc.complete_visit(s, nurse, clock, sid, "Integration: processed the session.")
            else:
                svc.stop_session(s, nurse, clock, sid, "patient distressed, sent to crisis team")
    return visit
