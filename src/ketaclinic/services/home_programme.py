"""The home programme of an oral or sublingual plan: PDMP checks, home prescriptions, check-ins
before each home dose, and the dose diary.

Rules are in ``clinical.home_rules``; this module reads and writes the rows. Prescribers record
PDMP checks and write prescriptions; nurses and prescribers schedule and record check-ins and
diary entries. Patients have no accounts yet: what a patient reports (a check-in answered on the
phone, a dose in their paper diary) is entered by staff with ``reported_by="patient"``. The
services write no audit rows: the web and the command line do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketaclinic.clinical import home_rules
from ketaclinic.clinical.home_rules import CheckinFacts, Refusal
from ketaclinic.services import who_may
from ketaclinic.services.actor import Actor, Role
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Conflict, InvalidInput, NotFound
from ketaclinic.services.vitals import as_utc
from ketaclinic.store.models import (
    HomeCheckin,
    HomeDose,
    HomePrescription,
    PdmpCheck,
    PlanVersion,
    TreatmentPlan,
)

PRESCRIBERS: frozenset[Role] = frozenset({"prescriber"})
CLINICIANS: frozenset[Role] = frozenset({"prescriber", "nurse"})
REPORTERS = ("patient", "staff")
NOTE_WIDTH = 1000


def _refused(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise InvalidInput(refusal.field, refusal.message)


def get_plan(session: Session, plan_id: int) -> TreatmentPlan:
    found = session.get(TreatmentPlan, plan_id)
    if found is None:
        raise NotFound(f"no plan {plan_id}")
    return found


def _home_plan(session: Session, plan_id: int, *, writing: bool = True) -> TreatmentPlan:
    """An oral or sublingual plan; for writes, an active one."""
    plan = get_plan(session, plan_id)
    _refused(home_rules.route_goes_home(plan.route))
    if writing and plan.status != "active":
        raise InvalidInput(
            "plan_id", f"the plan is {plan.status.replace('_', ' ')}: nothing goes home on it"
        )
    return plan


def plan_dose_mg(session: Session, plan: TreatmentPlan) -> float | None:
    """The dose of the plan's current version, in mg."""
    return session.scalar(
        select(PlanVersion.dose_mg).where(
            PlanVersion.plan_id == plan.id, PlanVersion.version == plan.version
        )
    )


def _moment(field: str, value: datetime | None, clock: Clock) -> datetime:
    now = clock.now()
    if value is None:
        return now
    # Stored and compared as naive UTC: a time given with an offset is converted first.
    moment = as_utc(value)
    if moment > now:
        raise InvalidInput(field, f"{moment:%Y-%m-%d %H:%M} is in the future")
    return moment


def _note(field: str, value: str | None) -> str | None:
    text = (value or "").strip()
    if len(text) > NOTE_WIDTH:
        raise InvalidInput(field, f"is longer than {NOTE_WIDTH} characters")
    return text or None


def _reporter(value: str) -> str:
    if value not in REPORTERS:
        raise InvalidInput("reported_by", f"must be one of {', '.join(REPORTERS)}")
    return value


# ---- PDMP checks and prescriptions (prescribers) ------------------------------------------------


def record_pdmp_check(
    session: Session,
    actor: Actor,
    clock: Clock,
    plan_id: int,
    result: str,
    note: str | None = None,
    checked_at: datetime | None = None,
) -> PdmpCheck:
    """A prescription-monitoring programme check: ``clear`` or ``concern`` (a concern says what
    was found in the note)."""
    who_may.require(actor, PRESCRIBERS, "record a PDMP check")
    _home_plan(session, plan_id)
    if result not in home_rules.PDMP_RESULTS:
        raise InvalidInput("result", f"must be one of {', '.join(sorted(home_rules.PDMP_RESULTS))}")
    text = _note("note", note)
    if result == "concern" and text is None:
        raise InvalidInput("note", "say what the PDMP showed when it is a concern")
    row = PdmpCheck(
        plan_id=plan_id,
        checked_at=_moment("checked_at", checked_at, clock),
        by_id=actor.user_id,
        result=result,
        note=text,
    )
    session.add(row)
    session.flush()
    return row


def latest_pdmp_check(session: Session, plan_id: int) -> PdmpCheck | None:
    return session.scalars(
        select(PdmpCheck)
        .where(PdmpCheck.plan_id == plan_id)
        .order_by(PdmpCheck.checked_at.desc(), PdmpCheck.id.desc())
    ).first()


def write_home_prescription(
    session: Session, actor: Actor, clock: Clock, plan_id: int, dose_mg: float, doses: int
) -> HomePrescription:
    """A home prescription of ``doses`` doses of ``dose_mg``: refused without a clear PDMP check
    recorded within the window before it and not used by another prescription, and above the
    plan's dose."""
    who_may.require(actor, PRESCRIBERS, "write a home prescription")
    plan = _home_plan(session, plan_id)
    _refused(home_rules.prescription_dose_problem(dose_mg, doses, plan_dose_mg(session, plan)))
    now = clock.now()
    check = latest_pdmp_check(session, plan_id)
    used = check is not None and (
        session.scalar(
            select(HomePrescription.id).where(HomePrescription.pdmp_check_id == check.id)
        )
        is not None
    )
    _refused(
        home_rules.pdmp_check_problem(
            check.checked_at if check else None, check.result if check else None, used, now
        )
    )
    assert check is not None  # the rule refuses a missing check
    row = HomePrescription(
        plan_id=plan_id,
        pdmp_check_id=check.id,
        dose_mg=dose_mg,
        doses=doses,
        written_at=now,
        by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    return row


# ---- check-ins and the diary (nurses and prescribers) ------------------------------------------


def schedule_checkin(
    session: Session, actor: Actor, clock: Clock, plan_id: int, due_at: datetime
) -> HomeCheckin:
    """A check-in due before a home dose."""
    who_may.require(actor, CLINICIANS, "schedule a home check-in")
    _home_plan(session, plan_id)
    row = HomeCheckin(plan_id=plan_id, due_at=as_utc(due_at))
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class CheckinIn:
    sitter_present: bool
    no_driving: bool
    side_effects: str | None = None
    reported_by: str = "staff"
    done_at: datetime | None = None
    checkin_id: int | None = None  # the scheduled check-in answered; None: an unscheduled one


def record_checkin(
    session: Session, actor: Actor, clock: Clock, plan_id: int, given: CheckinIn
) -> HomeCheckin:
    """The answers of a check-in: a scheduled one, or one made without a schedule."""
    who_may.require(actor, CLINICIANS, "record a home check-in")
    _home_plan(session, plan_id)
    reported_by = _reporter(given.reported_by)
    done_at = _moment("done_at", given.done_at, clock)
    side_effects = _note("side_effects", given.side_effects)
    if given.checkin_id is None:
        row = HomeCheckin(plan_id=plan_id, due_at=done_at)
        session.add(row)
    else:
        found = session.get(HomeCheckin, given.checkin_id)
        if found is None or found.plan_id != plan_id:
            raise NotFound(f"no check-in {given.checkin_id} on plan {plan_id}")
        if found.done_at is not None:
            raise Conflict(f"check-in {found.id} was already recorded")
        row = found
    row.done_at = done_at
    row.sitter_present = given.sitter_present
    row.no_driving = given.no_driving
    row.side_effects = side_effects
    row.reported_by = reported_by
    row.recorded_by_id = actor.user_id
    session.flush()
    return row


@dataclass(frozen=True)
class HomeDoseIn:
    prescription_id: int
    dose_mg: float
    taken_at: datetime | None = None
    reported_by: str = "patient"
    note: str | None = None


def _checkin_facts(session: Session, plan_id: int) -> list[CheckinFacts]:
    used = set(
        session.scalars(
            select(HomeDose.checkin_id).where(
                HomeDose.plan_id == plan_id, HomeDose.checkin_id.is_not(None)
            )
        )
    )
    rows = session.scalars(select(HomeCheckin).where(HomeCheckin.plan_id == plan_id))
    return [
        CheckinFacts(c.id, c.done_at, c.sitter_present, c.no_driving, c.id in used) for c in rows
    ]


def record_home_dose(
    session: Session, actor: Actor, clock: Clock, plan_id: int, given: HomeDoseIn
) -> HomeDose:
    """A dose in the diary: refused without a passing check-in that day before it, above the
    plan's or the prescription's dose, or beyond the prescription's count."""
    who_may.require(actor, CLINICIANS, "record a home dose")
    plan = _home_plan(session, plan_id)
    reported_by = _reporter(given.reported_by)
    taken_at = _moment("taken_at", given.taken_at, clock)
    note = _note("note", given.note)
    prescription = session.get(HomePrescription, given.prescription_id)
    if prescription is None or prescription.plan_id != plan_id:
        raise InvalidInput("prescription_id", f"no prescription {given.prescription_id} here")
    if taken_at < prescription.written_at:
        raise InvalidInput(
            "taken_at",
            f"is before the prescription was written ({prescription.written_at:%Y-%m-%d %H:%M})",
        )
    taken = session.scalar(
        select(func.count())
        .select_from(HomeDose)
        .where(HomeDose.prescription_id == prescription.id)
    )
    _refused(
        home_rules.home_dose_problem(
            given.dose_mg,
            plan_dose_mg(session, plan),
            prescription.dose_mg,
            taken or 0,
            prescription.doses,
        )
    )
    checkin_id = home_rules.checkin_for_dose(_checkin_facts(session, plan_id), taken_at)
    if checkin_id is None:
        raise InvalidInput(
            "checkin",
            "no passing check-in (sitter present, no driving) recorded that day before the dose",
        )
    row = HomeDose(
        plan_id=plan_id,
        prescription_id=prescription.id,
        checkin_id=checkin_id,
        taken_at=taken_at,
        dose_mg=given.dose_mg,
        reported_by=reported_by,
        note=note,
        recorded_at=clock.now(),
        recorded_by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    return row


def missed_checkins(session: Session, clock: Clock, plan_id: int) -> list[HomeCheckin]:
    """Scheduled check-ins past their due time and not done."""
    get_plan(session, plan_id)
    now = clock.now()
    rows = session.scalars(
        select(HomeCheckin).where(HomeCheckin.plan_id == plan_id).order_by(HomeCheckin.due_at)
    )
    return [c for c in rows if home_rules.checkin_missed(c.due_at, c.done_at, now)]


# ---- the whole programme ------------------------------------------------------------------------


@dataclass(frozen=True)
class PrescriptionLine:
    prescription: HomePrescription
    doses_taken: int

    @property
    def doses_left(self) -> int:
        return max(0, self.prescription.doses - self.doses_taken)


@dataclass(frozen=True)
class HomeProgramme:
    plan: TreatmentPlan
    plan_dose_mg: float | None
    pdmp_checks: list[PdmpCheck]
    prescriptions: list[PrescriptionLine]
    checkins: list[HomeCheckin]
    missed: list[HomeCheckin]
    doses: list[HomeDose]


def programme(session: Session, clock: Clock, plan_id: int) -> HomeProgramme:
    """Everything of the plan's home programme, newest first (check-ins by due time)."""
    plan = _home_plan(session, plan_id, writing=False)
    prescriptions = list(
        session.scalars(
            select(HomePrescription)
            .where(HomePrescription.plan_id == plan_id)
            .order_by(HomePrescription.written_at.desc(), HomePrescription.id.desc())
        )
    )
    doses = list(
        session.scalars(
            select(HomeDose)
            .where(HomeDose.plan_id == plan_id)
            .order_by(HomeDose.taken_at.desc(), HomeDose.id.desc())
        )
    )
    return HomeProgramme(
        plan=plan,
        plan_dose_mg=plan_dose_mg(session, plan),
        pdmp_checks=list(
            session.scalars(
                select(PdmpCheck)
                .where(PdmpCheck.plan_id == plan_id)
                .order_by(PdmpCheck.checked_at.desc(), PdmpCheck.id.desc())
            )
        ),
        prescriptions=[
            PrescriptionLine(p, sum(1 for d in doses if d.prescription_id == p.id))
            for p in prescriptions
        ],
        checkins=list(
            session.scalars(
                select(HomeCheckin)
                .where(HomeCheckin.plan_id == plan_id)
                .order_by(HomeCheckin.due_at.desc(), HomeCheckin.id.desc())
            )
        ),
        missed=missed_checkins(session, clock, plan_id),
        doses=doses,
    )
