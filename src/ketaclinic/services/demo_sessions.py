"""Today's sessions in the demo clinic, so that the nurse board has something to show.

Called after ``demo_clinic.seed`` (which creates the demo users and patients): a few eligible
demo patients get a signed screening, a plan and a signed consent, and their first sessions are
brought, through the services, to the states a morning at the clinic has - one discharged, one
in observation with an open blood-pressure alert, one on an esketamine observation, one being
dosed, one checked in and one not yet arrived. Earlier steps run on a clock set back in time
(never ahead of the real one), so the board's timers, vitals due and alerts are live when the
demo opens. Done once: a database that already has treatment sessions is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.services import charting, consent, plans, records, rems, users
from ketaclinic.services import sessions as svc
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock, FixedClock
from ketaclinic.services.errors import Conflict, InvalidInput
from ketaclinic.services.plan_forms import PlanIn
from ketaclinic.services.records_forms import ObservationIn
from ketaclinic.services.session_forms import DischargeIn, DoseIn, PredoseIn, VitalsIn
from ketaclinic.store.db import transaction
from ketaclinic.store.models import Patient, RemsEnrolment, TreatmentSession, User

# The earliest step happens this long before now; on a clinic day that starts later than this
# after midnight (UTC) the sessions are only scheduled.
EARLIEST_MINUTES = 180
CALM = VitalsIn(systolic=124, diastolic=78, heart_rate=74, spo2=98, respiratory_rate=14)
ELIGIBLE = ("eligible", "eligible_with_precautions")
WEIGHT = "29463-7"  # LOINC body weight


@dataclass(frozen=True)
class Staff:
    prescriber: Actor
    nurse: Actor


@dataclass(frozen=True)
class Visit:
    """A demo patient's first session today, with the route of its plan."""

    session_id: int
    route: str
    planned_mg: float


def _staff(session: Session) -> Staff | None:
    found = {
        u.username: users.actor_for(u, "127.0.0.1")
        for u in session.scalars(select(User).where(User.username.in_(("prescriber", "nurse"))))
    }
    if "prescriber" not in found or "nurse" not in found:
        return None
    return Staff(found["prescriber"], found["nurse"])


def _planned(
    factory: sessionmaker[Session],
    staff: Staff,
    clock: Clock,
    route: str,
    chair: str | None,
    taken: set[int],
) -> Visit | None:
    """The next demo patient the engine calls eligible for ``route``, with a plan and consent;
    None when no one is left. A patient the plan rules refuse is skipped for this route."""
    unfit: set[int] = set()
    with factory() as reading:
        candidates = list(
            reading.scalars(
                select(Patient.id).where(Patient.mrn.like("DEMO-%")).order_by(Patient.mrn)
            )
        )
    for patient_id in candidates:
        if patient_id in taken or patient_id in unfit:
            continue
        try:
            with transaction(factory) as session:
                if route in ("iv", "im"):
                    _weigh(session, staff, clock, patient_id)
                screening = charting.screen_patient(
                    session, staff.prescriber, clock, patient_id, route
                )
                if screening.decision not in ELIGIBLE:
                    raise _Skip
                charting.sign_screening(session, staff.prescriber, clock, screening.id)
                values = PlanIn(
                    route=route,
                    indication="treatment_resistant_depression",
                    start_on=clock.now().date(),
                    mg_per_kg=0.5 if route == "iv" else None,
                    infusion_minutes=40 if route == "iv" else None,
                    mg=56.0 if route == "esketamine" else None,
                    chair=chair,
                )
                plan = plans.create_plan(session, staff.prescriber, clock, patient_id, values)
                patient = session.get_one(Patient, patient_id)
                consent.sign_consent(
                    session,
                    staff.nurse,
                    clock,
                    plan.id,
                    typed_name=f"{patient.given_name} {patient.family_name}",
                )
                first = session.scalars(
                    select(TreatmentSession)
                    .where(TreatmentSession.plan_id == plan.id, TreatmentSession.kind == "dosing")
                    .order_by(TreatmentSession.planned_on, TreatmentSession.number)
                ).first()
                if first is None or first.planned_on != clock.now().date():
                    raise _Skip
                taken.add(patient_id)
                return Visit(first.id, route, first.planned_mg or 0.0)
        except (_Skip, Conflict, InvalidInput):
            unfit.add(patient_id)
    return None


def _weigh(session: Session, staff: Staff, clock: Clock, patient_id: int) -> None:
    """A weight taken this morning (the demo records have none): IV doses are per kg."""
    kg = 62 + (patient_id * 7) % 30
    at = clock.now() - timedelta(minutes=10)
    weight = ObservationIn(WEIGHT, at, value=kg)
    records.add_observation(session, staff.nurse, clock, patient_id, weight)


class _Skip(Exception):
    """This demo patient does not fit; the transaction is rolled back."""


def _step(
    factory: sessionmaker[Session], now: datetime, minutes_ago: int, do: Callable[..., object]
) -> None:
    """One service call as of ``minutes_ago`` before now, in a transaction of its own."""
    with transaction(factory) as session:
        do(session, FixedClock(now - timedelta(minutes=minutes_ago)))


def _enrol_esketamine(factory: sessionmaker[Session], staff: Staff, clock: Clock, sid: int) -> None:
    with transaction(factory) as session:
        today = clock.now().date()
        if rems.site_certification(session, today) is None:
            rems.record_site_certification(
                session, staff.prescriber, clock, "DEMO-REMS-SITE", today
            )
        patient_id = svc.get_treatment_session(session, sid).patient_id
        enrolled = session.scalar(
            select(func.count())
            .select_from(RemsEnrolment)
            .where(RemsEnrolment.kind == "patient", RemsEnrolment.patient_id == patient_id)
        )
        if not enrolled:
            rems.record_patient_enrolment(
                session, staff.nurse, clock, patient_id, f"DEMO-REMS-{patient_id}", today
            )


def _run(
    factory: sessionmaker[Session], staff: Staff, now: datetime, visit: Visit, story: str
) -> None:
    """Bring one session along its story (minutes before now for each step)."""
    sid, nurse = visit.session_id, staff.nurse
    good = PredoseIn(
        systolic=118, diastolic=76, escort_confirmed=True, benzodiazepine_today=False,
        fasting_confirmed=True if visit.route == "esketamine" else None,
        heart_rate=72, spo2=98, respiratory_rate=14,
    )  # fmt: skip

    def at(minutes_ago: int, do: Callable[[Session, Clock], object]) -> None:
        _step(factory, now, minutes_ago, do)

    def check_in(chair: str | None = None) -> Callable[[Session, Clock], object]:
        return lambda s, c: svc.check_in(s, nurse, c, sid, chair)

    def predose(s: Session, c: Clock) -> object:
        return svc.run_predose_check(s, nurse, c, sid, good)

    def dose(mg: float, lot: str) -> Callable[[Session, Clock], object]:
        return lambda s, c: svc.record_dose(s, nurse, c, sid, DoseIn(mg, lot=lot))

    def vitals(v: VitalsIn) -> Callable[[Session, Clock], object]:
        return lambda s, c: svc.record_vitals(s, nurse, c, sid, v)

    def end(s: Session, c: Clock) -> object:
        return svc.end_dosing(s, nurse, c, sid)

    def moaas(score: int) -> Callable[[Session, Clock], object]:
        return lambda s, c: svc.record_score(s, nurse, c, sid, "moaas", score)

    if story == "discharged":  # IV: in at 07:00-ish, home by now
        at(150, check_in())
        at(150, predose)
        at(150, dose(visit.planned_mg, "KET-DEMO-1"))
        for minutes in (135, 120):
            at(minutes, vitals(CALM))
        at(110, end)
        for minutes in (95, 80, 65):
            at(minutes, vitals(CALM))
        at(50, vitals(CALM))
        at(50, moaas(5))
        clear = DischargeIn(
            alert_and_oriented=True, escort_present=True, no_driving_acknowledged=True
        )
        at(50, lambda s, c: svc.discharge(s, nurse, c, sid, clear))
    elif story == "alert":  # IV observation, a systolic above 180 not yet acknowledged
        at(70, check_in())
        at(65, predose)
        at(65, dose(visit.planned_mg, "KET-DEMO-1"))
        at(50, vitals(CALM))
        at(35, vitals(CALM))
        at(25, end)
        at(20, vitals(VitalsIn(systolic=184, diastolic=96, heart_rate=92, spo2=97)))
        at(20, moaas(4))
    elif story == "esketamine":  # two devices 5 minutes apart, observing 2 hours
        at(65, check_in())
        at(60, predose)
        at(60, dose(28, "ESK-DEMO-1"))
        at(55, dose(28, "ESK-DEMO-1"))
        at(55, end)
        at(30, moaas(4))
        at(20, vitals(VitalsIn(systolic=134, diastolic=84, heart_rate=80, spo2=98)))
    elif story == "dosing":  # an infusion under way
        at(20, check_in())
        at(15, predose)
        at(15, dose(visit.planned_mg, "KET-DEMO-1"))
    elif story == "checked_in":
        at(5, check_in())


# Each story with its route and chair ("scheduled" is left as planned).
STORIES: tuple[tuple[str, str, str | None], ...] = (
    ("discharged", "iv", "Chair 1"),
    ("alert", "iv", "Chair 2"),
    ("esketamine", "esketamine", "Chair 3"),
    ("dosing", "iv", "Chair 4"),
    ("checked_in", "iv", "Chair 1"),
    ("scheduled", "iv", None),
)


def seed_todays_sessions(factory: sessionmaker[Session], clock: Clock) -> int:
    """Plans and today's sessions for a few eligible demo patients; the number of sessions on
    today's board (0 when the clinic already has sessions or no demo staff)."""
    with factory() as session:
        if session.scalar(select(func.count()).select_from(TreatmentSession)):
            return 0
        staff = _staff(session)
    if staff is None:
        return 0
    now = clock.now()
    since_midnight = now - datetime.combine(now.date(), datetime.min.time())
    early = since_midnight < timedelta(minutes=EARLIEST_MINUTES + 5)
    start = clock if early else FixedClock(now - timedelta(minutes=EARLIEST_MINUTES))
    taken: set[int] = set()
    made = 0
    for story, route, chair in STORIES:
        visit = _planned(factory, staff, start, route, chair, taken)
        if visit is None:
            continue
        made += 1
        if route == "esketamine":
            _enrol_esketamine(factory, staff, start, visit.session_id)
        if not early:
            _run(factory, staff, now, visit, story)
    return made
