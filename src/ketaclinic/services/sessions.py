"""A monitored session at the chair: check-in, the pre-dose check, doses, vitals and alerts,
scores and adverse events, observation and discharge (issue 5, "Session workflow").

Every function is one unit of work in the caller's transaction: a refusal raises before the
caller commits, so nothing of it is kept. Every change of state goes through ``_move``, which asks
clinical.session_states whether the move is allowed and writes the SessionEvent (from, to, who,
when, why). The rules are the clinical modules' (monitoring, dosing, session_checks); this module
gathers their inputs from the rows and stores their answers.

Roles (issue 5; who_may): nurses and prescribers run sessions; the front desk checks patients in
and may cancel a visit that has not started (scheduling); prescribers alone confirm a pre-dose
check, a dose outside the plan and a discharge before the checklist passes. Admins nothing.

The pre-dose screening runs the screening engine on today's record without saving it as a
Screening: a saved one would become the patient's latest, unsigned screening in the chart. The
check keeps the findings that are new since the plan's screening (``PredoseCheck.screening_id``
names that screening, the one compared with).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ketaclinic.clinical import dosing, monitoring, session_checks
from ketaclinic.clinical.findings import Finding, Route
from ketaclinic.clinical.monitoring import Reason, Vitals
from ketaclinic.clinical.session_states import FINAL, IN_CLINIC, transition_refusal
from ketaclinic.clinical.view import age_on
from ketaclinic.policy import DEFAULT, Policy
from ketaclinic.services import ledger, who_may
from ketaclinic.services.actor import Actor, Role
from ketaclinic.services.charting import get_screening, output_of, screening_bundle
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from ketaclinic.services.patients import get_patient
from ketaclinic.services.records import current_records
from ketaclinic.services.screening import screen_bundle
from ketaclinic.services.session_forms import (
    AdverseEventIn,
    DischargeIn,
    DoseIn,
    PredoseIn,
    VitalsIn,
    adverse_event,
    checked_vitals,
    moment,
    number,
)
from ketaclinic.services.session_forms import reason as reason_text
from ketaclinic.services.session_forms import score as checked_score
from ketaclinic.services.vitals import check_text
from ketaclinic.store.models import (
    AdverseEvent,
    Discharge,
    LedgerEntry,
    Patient,
    PlanVersion,
    PredoseCheck,
    RemsEnrolment,
    SessionAlert,
    SessionDose,
    SessionEvent,
    SessionScore,
    SessionVitals,
    TreatmentPlan,
    TreatmentSession,
)

RUN: frozenset[Role] = frozenset({"prescriber", "nurse"})
CHECK_IN: frozenset[Role] = frozenset({"prescriber", "nurse", "front_desk"})
PRESCRIBER: frozenset[Role] = frozenset({"prescriber"})
POLICY: Policy = DEFAULT
# The screening engine knows one oral route for oral and sublingual (spec/screening.md, Routes).
ENGINE_ROUTE: dict[str, Route] = {
    "iv": "iv",
    "esketamine": "esketamine",
    "im": "im",
    "oral": "oral",
    "sublingual": "oral",
}
CHAIR_WIDTH = 40
LOT_WIDTH = 60


class DischargeRefused(Conflict):
    """The discharge checklist is not met and no prescriber overrode it."""

    def __init__(self, blockers: Sequence[Reason]) -> None:
        super().__init__(
            "Discharge refused: " + " ".join(b.message for b in blockers) + " A prescriber may "
            "override with a reason."
        )
        self.blockers = tuple(blockers)


# ---- reading ------------------------------------------------------------------------------------


def get_treatment_session(session: Session, session_id: int) -> TreatmentSession:
    found = session.get(TreatmentSession, session_id)
    if found is None:
        raise NotFound(f"no session {session_id}")
    return found


def sessions_of_patient(session: Session, patient_id: int) -> list[TreatmentSession]:
    """The patient's sessions by day (NotFound for no such patient)."""
    get_patient(session, patient_id)
    query = (
        select(TreatmentSession)
        .where(TreatmentSession.patient_id == patient_id)
        .order_by(TreatmentSession.planned_on, TreatmentSession.kind, TreatmentSession.id)
    )
    return list(session.scalars(query).all())


def _plan(session: Session, row: TreatmentSession) -> TreatmentPlan:
    return session.get_one(TreatmentPlan, row.plan_id)


def _version(session: Session, plan: TreatmentPlan) -> PlanVersion:
    query = select(PlanVersion).where(
        PlanVersion.plan_id == plan.id, PlanVersion.version == plan.version
    )
    found = session.scalars(query).one_or_none()
    if found is None:
        raise NotFound(f"plan {plan.id} has no version {plan.version}")
    return found


def route_of(plan: TreatmentPlan) -> Route:
    route = ENGINE_ROUTE.get(plan.route)
    if route is None:
        raise Conflict(f"plan {plan.id} has an unknown route {plan.route!r}")
    return route


def _rows(session: Session, model: Any, session_id: int, *order: Any) -> list[Any]:
    query = select(model).where(model.session_id == session_id).order_by(*order, model.id)
    return list(session.scalars(query).all())


def doses_of(session: Session, session_id: int) -> list[SessionDose]:
    rows: list[SessionDose] = _rows(session, SessionDose, session_id, SessionDose.started_at)
    return rows


def vitals_of(session: Session, session_id: int) -> list[SessionVitals]:
    rows: list[SessionVitals] = _rows(session, SessionVitals, session_id, SessionVitals.taken_at)
    return rows


def alerts_of(session: Session, session_id: int) -> list[SessionAlert]:
    rows: list[SessionAlert] = _rows(session, SessionAlert, session_id, SessionAlert.raised_at)
    return rows


def scores_of(session: Session, session_id: int) -> list[SessionScore]:
    rows: list[SessionScore] = _rows(session, SessionScore, session_id, SessionScore.taken_at)
    return rows


def adverse_events_of(session: Session, session_id: int) -> list[AdverseEvent]:
    rows: list[AdverseEvent] = _rows(session, AdverseEvent, session_id, AdverseEvent.onset_at)
    return rows


def events_of(session: Session, session_id: int) -> list[SessionEvent]:
    rows: list[SessionEvent] = _rows(session, SessionEvent, session_id, SessionEvent.at)
    return rows


def latest_predose(session: Session, session_id: int) -> PredoseCheck | None:
    query = (
        select(PredoseCheck)
        .where(PredoseCheck.session_id == session_id)
        .order_by(PredoseCheck.at.desc(), PredoseCheck.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def reasons_of(check: PredoseCheck) -> list[Reason]:
    return [Reason(r["id"], r["message"], r["source"]) for r in orjson.loads(check.reasons)]


def _reasons_json(reasons: Sequence[Reason]) -> str:
    return orjson.dumps(
        [{"id": r.id, "message": r.message, "source": r.source} for r in reasons]
    ).decode()


# ---- moving between states ----------------------------------------------------------------------


def _move(
    session: Session,
    actor: Actor,
    row: TreatmentSession,
    target: str,
    at: datetime,
    why: str | None = None,
    data: dict[str, Any] | None = None,
) -> SessionEvent:
    """The one way a session changes state: refused (Conflict) when the move is not allowed."""
    refusal = transition_refusal(row.state, target, why, kind=row.kind)
    if refusal is not None:
        raise Conflict(refusal.message)
    event = SessionEvent(
        session_id=row.id,
        at=at,
        by_id=actor.user_id,
        from_state=row.state,
        to_state=target,
        reason=why[:500] if why else None,
        data=orjson.dumps(data).decode() if data else None,
    )
    session.add(event)
    row.state, row.state_at = target, at
    session.flush()
    return event


def _refuse_unless(row: TreatmentSession, target: str) -> None:
    """Conflict when ``row`` could not move to ``target`` now (checked before any work)."""
    refusal = transition_refusal(row.state, target, "checking", kind=row.kind)
    if refusal is not None:
        raise Conflict(refusal.message)


def _in_clinic(row: TreatmentSession, doing: str) -> None:
    if row.state not in IN_CLINIC:
        raise Conflict(
            f"The session is {row.state.replace('_', ' ')}: {doing} only while the patient is "
            "in the clinic (checked in to ready for discharge)."
        )


# ---- check-in -----------------------------------------------------------------------------------


def check_in(
    session: Session, actor: Actor, clock: Clock, session_id: int, chair: str | None = None
) -> TreatmentSession:
    """The patient has arrived: scheduled -> checked_in, optionally at a chair."""
    who_may.require(actor, CHECK_IN, "check patients in")
    row = get_treatment_session(session, session_id)
    _refuse_unless(row, "checked_in")
    now = clock.now()
    if row.planned_on > now.date():
        raise Conflict(
            f"Session {row.id} is planned for {row.planned_on.isoformat()}, not today: a session "
            "in the future cannot be checked in."
        )
    plan = _plan(session, row)
    if plan.status != "active":
        raise Conflict(f"The plan is {plan.status.replace('_', ' ')}: its sessions do not run.")
    seat = check_text("chair", chair, limit=CHAIR_WIDTH)
    if seat is not None:
        row.chair = seat
    row.checked_in_at = now
    _move(session, actor, row, "checked_in", now, data={"chair": row.chair})
    return row


# ---- before the dose ----------------------------------------------------------------------------


def _findings(output: dict[str, Any]) -> list[Finding]:
    return [
        Finding(f["id"], f["kind"], f["message"], tuple(f.get("evidence", ())), f["source"])
        for f in output.get("findings", [])
    ]


def _workup_status(output: dict[str, Any], test: str) -> str | None:
    for item in output.get("workup", []):
        if item.get("test") == test:
            status: str = item.get("status")
            return status
    return None


def rems_recorded(session: Session, patient_id: int, on: date) -> tuple[bool, bool]:
    """(the site's certification, the patient's enrolment) recorded on or before ``on``."""

    def exists(*where: Any) -> bool:
        query = select(func.count()).select_from(RemsEnrolment).where(*where)
        return bool(session.scalar(query))

    site = exists(RemsEnrolment.kind == "site", RemsEnrolment.enrolled_on <= on)
    patient = exists(
        RemsEnrolment.kind == "patient",
        RemsEnrolment.patient_id == patient_id,
        RemsEnrolment.enrolled_on <= on,
    )
    return site, patient


def _add_vitals(
    session: Session, actor: Actor, clock: Clock, row: TreatmentSession, v: Vitals, at: datetime
) -> tuple[SessionVitals, list[SessionAlert]]:
    reading = SessionVitals(
        session_id=row.id,
        taken_at=at,
        systolic=v.systolic,
        diastolic=v.diastolic,
        heart_rate=v.heart_rate,
        spo2=v.spo2,
        respiratory_rate=v.respiratory_rate,
        recorded_at=clock.now(),
        recorded_by_id=actor.user_id,
    )
    session.add(reading)
    session.flush()
    alerts = [
        SessionAlert(
            session_id=row.id,
            vitals_id=reading.id,
            rule=a.id,
            message=a.message[:300],
            source=a.source[:300],
            raised_at=at,
            infusion_stopped=False,
        )
        for a in monitoring.vital_alerts(v, POLICY.monitoring)
    ]
    session.add_all(alerts)
    session.flush()
    return reading, alerts


def run_predose_check(
    session: Session, actor: Actor, clock: Clock, session_id: int, data: PredoseIn
) -> PredoseCheck:
    """The checks before dosing: today's screening against the plan's, blood pressure,
    pregnancy test, fasting and REMS (esketamine), escort; benzodiazepine today recorded.

    checked_in -> pre_dose_check; a ``stop`` moves on to stopped with the reasons; a
    ``confirm`` waits for a prescriber (confirm_predose). The check may be run again while the
    session is in pre_dose_check (a blood pressure retaken); the latest one counts.
    """
    who_may.require(actor, RUN, "run a pre-dose check")
    row = get_treatment_session(session, session_id)
    if row.state != "pre_dose_check":
        _refuse_unless(row, "pre_dose_check")
    if row.kind != "dosing":
        raise Conflict("An integration session has no dose and no pre-dose check.")
    pressure = checked_vitals(data, need_pressure=True)
    taken = moment("taken_at", data.taken_at, clock)
    food = moment("last_food_at", data.last_food_at, clock) if data.last_food_at else None
    drink = moment("last_drink_at", data.last_drink_at, clock) if data.last_drink_at else None
    now = clock.now()
    today = now.date()
    plan = _plan(session, row)
    route = route_of(plan)
    patient = get_patient(session, row.patient_id)
    bundle = screening_bundle(patient, current_records(session, patient.id))
    output = screen_bundle(bundle, route=route, as_of=today, policy=POLICY)
    baseline = _findings(output_of(get_screening(session, plan.screening_id)))
    new = session_checks.new_findings(_findings(output), baseline)
    outcome = monitoring.predose_check(
        route, pressure, age_on(patient.birth_date, today), new, POLICY, POLICY.monitoring
    )
    site, enrolled = rems_recorded(session, patient.id, today)
    stops = [
        problem
        for problem in (
            session_checks.pregnancy_test_problem(_workup_status(output, "pregnancy_test")),
            session_checks.fasting_problem(route, now, data.fasting_confirmed, food, drink),
            session_checks.escort_problem(data.escort_confirmed),
        )
        if problem is not None
    ]
    stops.extend(session_checks.rems_problems(route, site, enrolled))
    outcome = session_checks.with_stops(outcome, stops)
    check = PredoseCheck(
        session_id=row.id,
        at=now,
        by_id=actor.user_id,
        screening_id=plan.screening_id,
        systolic=pressure.systolic,
        diastolic=pressure.diastolic,
        pregnancy_test_ok=_workup_status(output, "pregnancy_test") not in ("missing", "stale"),
        fasting_confirmed=data.fasting_confirmed,
        rems_confirmed=(site and enrolled) if route == "esketamine" else None,
        escort_confirmed=bool(data.escort_confirmed),
        benzodiazepine_today=bool(data.benzodiazepine_today),
        decision=outcome.decision,
        reasons=_reasons_json(outcome.reasons),
    )
    session.add(check)
    session.flush()
    _add_vitals(session, actor, clock, row, pressure, taken)
    if row.state == "checked_in":
        _move(
            session,
            actor,
            row,
            "pre_dose_check",
            now,
            data={"check_id": check.id, "decision": outcome.decision},
        )
    if outcome.decision == "stop":
        why = " ".join(r.message for r in outcome.reasons)
        row.stop_reason = why[:500]
        _move(session, actor, row, "stopped", now, why, {"check_id": check.id})
    return check


def confirm_predose(
    session: Session, actor: Actor, clock: Clock, check_id: int, reason: str
) -> PredoseCheck:
    """A prescriber weighs a ``confirm`` check (elevated blood pressure on esketamine, a new
    relative contraindication) and lets the dose go ahead, with the reason."""
    who_may.require(actor, PRESCRIBER, "confirm a pre-dose check", system=False)
    check = session.get(PredoseCheck, check_id)
    if check is None:
        raise NotFound(f"no pre-dose check {check_id}")
    text = reason_text("reason", reason)
    row = get_treatment_session(session, check.session_id)
    if check.decision != "confirm":
        raise Conflict(f"The pre-dose check said {check.decision}: there is nothing to confirm.")
    if check.confirmed_at is not None:
        raise Conflict("The pre-dose check is already confirmed.")
    latest = latest_predose(session, row.id)
    if row.state != "pre_dose_check" or latest is None or latest.id != check.id:
        raise Conflict("Only the latest check of a session awaiting its dose can be confirmed.")
    check.confirmed_by_id = actor.user_id
    check.confirmed_at = clock.now()
    check.confirmation_reason = text
    session.flush()
    return check


def _cleared(check: PredoseCheck | None) -> None:
    if check is None:
        raise Conflict("No pre-dose check yet: run it before the first dose.")
    if check.decision == "confirm" and check.confirmed_at is None:
        raise Conflict("The pre-dose check awaits a prescriber's confirmation.")
    if check.decision not in ("go", "confirm"):
        raise Conflict(f"The pre-dose check said {check.decision}: no dose.")


# ---- the dose -----------------------------------------------------------------------------------


def _hard_limit_refusal(route: Route, total_mg: float, version: PlanVersion) -> str | None:
    """Why the dosing module refuses the session's total on this route, or None. The total is
    checked per kg against the plan's weight, as of that weight's own day (its age was judged
    when the plan was made)."""
    weight = (
        dosing.Weight(version.weight_kg, version.weight_on)
        if version.weight_kg is not None and version.weight_on is not None
        else None
    )
    try:
        if route == "oral":
            dosing.oral_dose(total_mg, weight, version.weight_on or date.min, POLICY.dosing)
        elif weight is None:
            return "The plan has no weight to check this dose per kg against."
        elif route == "iv":
            per_kg = total_mg / weight.kg
            dosing.iv_dose(
                per_kg, weight, weight.measured_on, version.infusion_minutes, POLICY.dosing
            )
        elif route == "im":
            dosing.im_dose(total_mg / weight.kg, weight, weight.measured_on, POLICY.dosing)
    except dosing.DoseRefused as refused:
        return str(refused)
    return None


def _outside_plan_confirmed(
    actor: Actor, note: dosing.DoseNote | None, confirm_reason: str | None
) -> str | None:
    """The prescriber's reason for a dose outside the plan; refusals otherwise."""
    given = reason_text("confirm_reason", confirm_reason, required=False)
    if note is None:
        return None
    if given is None:
        field_name = "confirm_reason" if actor.role == "prescriber" else "dose_mg"
        raise InvalidInput(field_name, note.message)
    if actor.role != "prescriber":
        raise Forbidden("Only a prescriber may confirm a dose outside the plan.")
    return given


def record_dose(
    session: Session, actor: Actor, clock: Clock, session_id: int, data: DoseIn
) -> SessionDose:
    """One dose: an infusion or injection, an oral dose, or one 28 mg esketamine device.

    The first dose moves pre_dose_check -> dosing; on esketamine the first device starts the
    2-hour observation clock. Refused: a dose that is not a positive number, a time in the
    future, a device under 5 minutes after the previous one, a dose above the route's hard
    maximum; a dose outside the plan unless a prescriber confirms it with a reason. With a
    ledger ``lot_id`` the controlled-substance ledger entry is written in the same transaction.
    """
    who_may.require(actor, RUN, "record doses")
    row = get_treatment_session(session, session_id)
    if row.state != "dosing":
        _refuse_unless(row, "dosing")
    if row.kind != "dosing":
        raise Conflict("An integration session has no dose.")
    _cleared(latest_predose(session, row.id))
    mg = number("dose_mg", data.dose_mg)
    if mg <= 0:
        raise InvalidInput("dose_mg", f"must be more than 0 (got {mg:g})")
    plan = _plan(session, row)
    route = route_of(plan)
    if data.route is not None and ENGINE_ROUTE.get(data.route.strip().lower()) != route:
        raise InvalidInput("route", f"the plan's route is {plan.route}, not {data.route!r}")
    started = moment("started_at", data.started_at, clock)
    ended = moment("ended_at", data.ended_at, clock) if data.ended_at else None
    if ended is not None and ended < started:
        raise InvalidInput("ended_at", "cannot be before the start")
    if row.checked_in_at is not None and started < row.checked_in_at:
        raise InvalidInput("started_at", "cannot be before the patient checked in")
    if data.lot_id is not None:
        lot_number: str | None = ledger.get_lot(session, data.lot_id).lot_number
    else:
        lot_number = check_text("lot", data.lot, limit=LOT_WIDTH, required=True)
    assert lot_number is not None
    earlier = doses_of(session, row.id)
    given = sum(d.dose_mg for d in earlier)
    version = _version(session, plan)
    device: int | None = None
    if route == "esketamine":
        note = session_checks.device_problem(mg, given)
        if note is not None:
            raise InvalidInput("dose_mg", note.message)
        if earlier:
            too_soon = dosing.device_too_soon(earlier[-1].started_at, started, POLICY.dosing)
            if too_soon is not None:
                raise InvalidInput("started_at", too_soon.message)
        device = len(earlier) + 1
    else:
        refused = _hard_limit_refusal(route, given + mg, version)
        if refused is not None:
            raise InvalidInput("dose_mg", refused)
    planned = row.planned_mg if row.planned_mg is not None else version.dose_mg
    if planned is None:
        off_plan: dosing.DoseNote | None = dosing.DoseNote(
            "no_planned_dose", "The plan gives no dose for this session.", "issue 5"
        )
    else:
        off_plan = session_checks.outside_plan(route, given, mg, planned)
    confirmation = _outside_plan_confirmed(actor, off_plan, data.confirm_reason)
    predicted_seq: int | None = None
    if data.lot_id is not None:
        # session_doses rows are never updated, so the ledger entry's number is known before the
        # dose is written; the ledger takes the next one under its lock, and a different number
        # (another entry in between) refuses the whole unit of work.
        last = session.scalar(select(func.max(LedgerEntry.seq)))
        predicted_seq = int(last or 0) + 1
    dose = SessionDose(
        session_id=row.id,
        drug="esketamine" if route == "esketamine" else "ketamine",
        route=plan.route,
        dose_mg=mg,
        lot=lot_number,
        device_number=device,
        started_at=started,
        ended_at=ended,
        outside_plan=off_plan is not None,
        confirmed_by_id=actor.user_id if confirmation else None,
        confirmation_reason=confirmation,
        ledger_seq=predicted_seq,
        recorded_at=clock.now(),
        recorded_by_id=actor.user_id,
    )
    session.add(dose)
    session.flush()
    if data.lot_id is not None:
        entry = ledger.administer(
            session,
            actor,
            clock,
            data.lot_id,
            row.patient_id,
            Decimal(str(mg)),
            session_ref=row.id,
            dose_ref=dose.id,
        )
        if entry.entry.seq != predicted_seq:
            raise Conflict("The ledger moved on while the dose was recorded: record it again.")
    if row.state == "pre_dose_check":
        row.dosing_started_at = started
        if route == "esketamine":
            row.observation_ends_at = monitoring.observation_ends_at(
                route, started, started, POLICY.monitoring
            )
        _move(session, actor, row, "dosing", started, data={"dose_id": dose.id})
    return dose


def end_dosing(
    session: Session, actor: Actor, clock: Clock, session_id: int, at: datetime | None = None
) -> TreatmentSession:
    """The infusion or the last device is done: dosing -> observation, whose end is set by
    route (monitoring.observation_ends_at: esketamine 2 hours from the first device)."""
    who_may.require(actor, RUN, "end dosing")
    row = get_treatment_session(session, session_id)
    _refuse_unless(row, "observation")
    return _end_dosing(session, actor, clock, row, moment("at", at, clock), None)


def _end_dosing(
    session: Session,
    actor: Actor,
    clock: Clock,
    row: TreatmentSession,
    at: datetime,
    why: str | None,
) -> TreatmentSession:
    started = row.dosing_started_at
    assert started is not None, "a session in dosing has its first dose"
    last = doses_of(session, row.id)[-1].started_at
    if at < last:
        raise InvalidInput("at", f"cannot be before the last dose ({last.isoformat()})")
    route = route_of(_plan(session, row))
    row.dosing_ended_at = at
    row.observation_ends_at = monitoring.observation_ends_at(route, started, at, POLICY.monitoring)
    _move(session, actor, row, "observation", at, why)
    _settle(session, actor, clock, row)
    return row


# ---- during the session -------------------------------------------------------------------------


def record_vitals(
    session: Session, actor: Actor, clock: Clock, session_id: int, data: VitalsIn
) -> tuple[SessionVitals, list[SessionAlert]]:
    """A set of readings, and the alerts it raises (monitoring.vital_alerts); an alert on a
    session ready for discharge sends it back to observation."""
    who_may.require(actor, RUN, "record session vitals")
    row = get_treatment_session(session, session_id)
    _in_clinic(row, "vitals are recorded")
    values = checked_vitals(data)
    taken = moment("taken_at", data.taken_at, clock)
    if row.checked_in_at is not None and taken < row.checked_in_at:
        raise InvalidInput("taken_at", "cannot be before the patient checked in")
    reading, alerts = _add_vitals(session, actor, clock, row, values, taken)
    _settle(session, actor, clock, row)
    return reading, alerts


def acknowledge_alert(
    session: Session,
    actor: Actor,
    clock: Clock,
    alert_id: int,
    action_taken: str,
    infusion_stopped: bool = False,
) -> SessionAlert:
    """A nurse closes an alert with the action taken; stopping the infusion is recorded as such
    and ends dosing now (the observation period runs from here)."""
    who_may.require(actor, RUN, "acknowledge alerts")
    alert = session.get(SessionAlert, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    action = reason_text("action_taken", action_taken)
    if alert.acknowledged_at is not None:
        raise Conflict("The alert is already acknowledged.")
    row = get_treatment_session(session, alert.session_id)
    now = clock.now()
    if infusion_stopped and (row.state != "dosing" or route_of(_plan(session, row)) != "iv"):
        raise InvalidInput("infusion_stopped", "no infusion is running in this session")
    alert.acknowledged_at = now
    alert.acknowledged_by_id = actor.user_id
    alert.action_taken = action
    alert.infusion_stopped = infusion_stopped
    session.flush()
    if infusion_stopped:
        _end_dosing(session, actor, clock, row, now, f"Infusion stopped: {action}")
    else:
        _settle(session, actor, clock, row)
    return alert


def record_score(
    session: Session,
    actor: Actor,
    clock: Clock,
    session_id: int,
    scale: str,
    score: object,
    taken_at: datetime | None = None,
) -> SessionScore:
    """Sedation (MOAA/S 0-5) or dissociation (CADSS 0-92)."""
    who_may.require(actor, RUN, "record session scores")
    row = get_treatment_session(session, session_id)
    _in_clinic(row, "scores are recorded")
    name, value = checked_score(scale, score)
    taken = moment("taken_at", taken_at, clock)
    found = SessionScore(
        session_id=row.id,
        scale=name,
        score=value,
        taken_at=taken,
        recorded_at=clock.now(),
        recorded_by_id=actor.user_id,
    )
    session.add(found)
    session.flush()
    _settle(session, actor, clock, row)
    return found


def record_adverse_event(
    session: Session, actor: Actor, clock: Clock, session_id: int, data: AdverseEventIn
) -> AdverseEvent:
    """Nausea, vomiting, hypertension, agitation, respiratory depression or other, with its
    severity; from check-in on, also after the session ends (a call the next day)."""
    who_may.require(actor, RUN, "record adverse events")
    row = get_treatment_session(session, session_id)
    if row.state in ("scheduled", "cancelled"):
        raise Conflict(f"The session is {row.state}: the patient was not seen.")
    kind, severity, description = adverse_event(data)
    onset = moment("onset_at", data.onset_at, clock)
    event = AdverseEvent(
        session_id=row.id,
        patient_id=row.patient_id,
        kind=kind,
        severity=severity,
        description=description,
        onset_at=onset,
        recorded_at=clock.now(),
        recorded_by_id=actor.user_id,
    )
    session.add(event)
    session.flush()
    return event


# ---- observation and discharge ------------------------------------------------------------------


def _latest(readings: Sequence[SessionVitals]) -> tuple[Vitals, Vitals | None]:
    """The latest value of each sign, and the blood pressure before the latest one."""
    values: dict[str, float | None] = dict.fromkeys(
        ("systolic", "diastolic", "heart_rate", "spo2", "respiratory_rate")
    )
    for r in readings:
        for name in values:
            if getattr(r, name) is not None:
                values[name] = getattr(r, name)
    pressures = [r for r in readings if r.systolic is not None and r.diastolic is not None]
    previous = (
        Vitals(pressures[-2].systolic, pressures[-2].diastolic) if len(pressures) > 1 else None
    )
    return Vitals(**values), previous


def _checklist(
    session: Session, now: datetime, row: TreatmentSession, attested: DischargeIn | None
) -> list[Reason]:
    if row.observation_ends_at is None or row.dosing_ended_at is None:
        return [
            Reason(
                "dosing_not_over",
                "Dosing has not ended: observation starts when it does.",
                "issue 5: observation from the end of dosing",
            )
        ]
    check = latest_predose(session, row.id)
    baseline = Vitals(check.systolic, check.diastolic) if check is not None else Vitals()
    latest, previous = _latest(vitals_of(session, row.id))
    moaas = [s.score for s in scores_of(session, row.id) if s.scale == "moaas"]
    blockers = monitoring.discharge_blockers(
        route_of(_plan(session, row)),
        now,
        row.observation_ends_at,
        baseline,
        latest,
        moaas[-1] if moaas else None,
        attested.alert_and_oriented if attested else True,
        attested.escort_present if attested else True,
        attested.no_driving_acknowledged if attested else True,
        previous,
        POLICY.monitoring,
    )
    found = list(blockers if attested else session_checks.recorded_blockers(blockers))
    still_open = sum(1 for a in alerts_of(session, row.id) if a.acknowledged_at is None)
    open_alerts = session_checks.open_alerts_reason(still_open)
    if open_alerts is not None:
        found.append(open_alerts)
    return found


def discharge_checklist(
    session: Session, clock: Clock, session_id: int, attested: DischargeIn | None = None
) -> list[Reason]:
    """The discharge items not met (monitoring.discharge_blockers and open alerts). Without
    ``attested`` only the items the session's records decide (time, blood pressure, vitals,
    MOAA/S, alerts); with it also alert and oriented, escort and no driving."""
    row = get_treatment_session(session, session_id)
    return _checklist(session, clock.now(), row, attested)


def _settle(session: Session, actor: Actor, clock: Clock, row: TreatmentSession) -> None:
    """observation -> ready_for_discharge once the recorded checklist passes; back when a new
    reading or score undoes it."""
    if row.state not in ("observation", "ready_for_discharge"):
        return
    now = clock.now()
    blockers = _checklist(session, now, row, None)
    if row.state == "observation" and not blockers:
        _move(session, actor, row, "ready_for_discharge", now, "Discharge checklist met.")
    elif row.state == "ready_for_discharge" and blockers:
        why = " ".join(b.message for b in blockers)
        _move(session, actor, row, "observation", now, why)


def check_ready(session: Session, actor: Actor, clock: Clock, session_id: int) -> TreatmentSession:
    """Ask again whether a session in observation is ready for discharge (time has passed)."""
    who_may.require(actor, RUN, "check discharge readiness")
    row = get_treatment_session(session, session_id)
    if row.state not in ("observation", "ready_for_discharge"):
        _refuse_unless(row, "ready_for_discharge")
    _settle(session, actor, clock, row)
    return row


def discharge(
    session: Session, actor: Actor, clock: Clock, session_id: int, data: DischargeIn
) -> TreatmentSession:
    """The patient leaves: refused (DischargeRefused) while any checklist item is unmet, unless
    a prescriber overrides with a reason. The Discharge row keeps the checklist as it stood."""
    who_may.require(actor, RUN, "discharge patients")
    row = get_treatment_session(session, session_id)
    if row.kind != "dosing":
        raise Conflict(
            "An integration session has no discharge checklist: record the visit as done, "
            "with a note of what was done."
        )
    _refuse_unless(row, "discharged")
    override = reason_text("override_reason", data.override_reason, required=False)
    if override is not None and actor.role != "prescriber":
        raise Forbidden("Only a prescriber may override the discharge checklist.")
    now = clock.now()
    blockers = _checklist(session, now, row, data)
    if blockers and override is None:
        raise DischargeRefused(blockers)
    session.add(
        Discharge(
            session_id=row.id,
            at=now,
            by_id=actor.user_id,
            alert_and_oriented=data.alert_and_oriented,
            escort_present=data.escort_present,
            no_driving_acknowledged=data.no_driving_acknowledged,
            blockers=_reasons_json(blockers),
            override_reason=override if blockers else None,
            override_by_id=actor.user_id if blockers and override else None,
        )
    )
    if blockers:
        why = f"Override by a prescriber: {override}"
    else:
        why = "Discharge checklist met."
        if row.state == "observation":
            _move(session, actor, row, "ready_for_discharge", now, why)
    row.discharged_at = now
    _move(session, actor, row, "discharged", now, why)
    return row


def complete_visit(
    session: Session, actor: Actor, clock: Clock, session_id: int, note: str
) -> TreatmentSession:
    """An integration (psychotherapy) visit is done: checked_in -> discharged, with a note of
    what was done kept as the move's reason. Dosing sessions leave by the discharge checklist
    (``discharge``), never this way."""
    who_may.require(actor, RUN, "record integration visits")
    row = get_treatment_session(session, session_id)
    if row.kind != "integration":
        raise Conflict(
            "Only an integration session is recorded as a visit done; a dosing session is "
            "discharged when its checklist passes."
        )
    text = reason_text("note", note)
    _refuse_unless(row, "discharged")
    now = clock.now()
    row.discharged_at = now
    _move(session, actor, row, "discharged", now, text)
    return row


def cancel_session(
    session: Session, actor: Actor, clock: Clock, session_id: int, reason: str
) -> TreatmentSession:
    """Call a visit off before any dose; the front desk only while it is still scheduled."""
    who_may.require(actor, CHECK_IN, "cancel sessions")
    row = get_treatment_session(session, session_id)
    if actor.role == "front_desk" and row.state != "scheduled":
        raise Forbidden("The front desk cancels only sessions that have not started.")
    text = reason_text("reason", reason)
    _refuse_unless(row, "cancelled")
    now = clock.now()
    row.stop_reason = text
    _move(session, actor, row, "cancelled", now, text)
    return row


def stop_session(
    session: Session, actor: Actor, clock: Clock, session_id: int, reason: str
) -> TreatmentSession:
    """End a session for a clinical reason (the patient unwell, sent to emergency care)."""
    who_may.require(actor, RUN, "stop sessions")
    row = get_treatment_session(session, session_id)
    text = reason_text("reason", reason)
    _refuse_unless(row, "stopped")
    now = clock.now()
    if row.state == "dosing" and row.dosing_ended_at is None:
        row.dosing_ended_at = now
    row.stop_reason = text
    _move(session, actor, row, "stopped", now, text)
    return row


# ---- what the nurse sees ------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionSummary:
    """A session as the chair and the board show it, as of ``now``."""

    session: TreatmentSession
    patient: Patient
    route: str
    now: datetime
    predose: PredoseCheck | None
    doses: list[SessionDose]
    vitals: list[SessionVitals]
    alerts: list[SessionAlert]
    scores: list[SessionScore]
    adverse_events: list[AdverseEvent]
    events: list[SessionEvent]
    discharge: Discharge | None
    predose_reasons: list[Reason] = field(default_factory=list)
    vitals_due: tuple[datetime, ...] = ()
    next_vitals_due: datetime | None = None
    vitals_overdue: tuple[datetime, ...] = ()
    blockers: list[Reason] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.session.id

    @property
    def state(self) -> str:
        return self.session.state

    @property
    def chair(self) -> str | None:
        return self.session.chair

    @property
    def patient_name(self) -> str:
        return f"{self.patient.given_name} {self.patient.family_name}"

    @property
    def open_alerts(self) -> list[SessionAlert]:
        return [a for a in self.alerts if a.acknowledged_at is None]

    @property
    def observation_ends_at(self) -> datetime | None:
        return self.session.observation_ends_at

    @property
    def observation_minutes_left(self) -> int | None:
        """Whole minutes until observation may end (0 once it may), while observing."""
        ends = self.session.observation_ends_at
        if ends is None or self.session.state in FINAL:
            return None
        return max(0, int((ends - self.now).total_seconds() // 60 + 0.999))

    @property
    def may_leave(self) -> bool:
        """The recorded discharge checklist passes now (observation time over, blood pressure,
        vitals, MOAA/S, no open alert), read at this moment: the stored state may still say
        observation until the next write or check_ready moves it. The nurse still confirms
        alert and oriented, escort and no driving at discharge."""
        return self.session.state in ("observation", "ready_for_discharge") and not self.blockers

    @property
    def awaiting_confirmation(self) -> bool:
        p = self.predose
        return (
            self.session.state == "pre_dose_check"
            and p is not None
            and p.decision == "confirm"
            and p.confirmed_at is None
        )

    @property
    def dosed_mg(self) -> float:
        return sum(d.dose_mg for d in self.doses)


def _schedule(
    route: Route, row: TreatmentSession, version: PlanVersion | None, now: datetime
) -> tuple[datetime, ...]:
    """The due times of vitals (monitoring.vitals_due), from the first dose; before the end of
    an IV dose the end is taken from the plan's infusion time (or now, if later)."""
    started = row.dosing_started_at
    if started is None:
        return ()
    ends = row.observation_ends_at
    if ends is None:
        minutes = (version.infusion_minutes if version else None) or 0
        expected = max(started + timedelta(minutes=minutes), now)
        ends = monitoring.observation_ends_at(route, started, expected, POLICY.monitoring)
    return monitoring.vitals_due(route, started, ends, POLICY.monitoring)


def _summary(session: Session, now: datetime, row: TreatmentSession) -> SessionSummary:
    plan = _plan(session, row)
    route = route_of(plan)
    vitals = vitals_of(session, row.id)
    due = _schedule(route, row, _version(session, plan), now)
    taken = [v.taken_at for v in vitals]
    watching = row.state in ("dosing", "observation", "ready_for_discharge")
    predose = latest_predose(session, row.id)
    return SessionSummary(
        session=row,
        patient=session.get_one(Patient, row.patient_id),
        route=plan.route,
        now=now,
        predose=predose,
        doses=doses_of(session, row.id),
        vitals=vitals,
        alerts=alerts_of(session, row.id),
        scores=scores_of(session, row.id),
        adverse_events=adverse_events_of(session, row.id),
        events=events_of(session, row.id),
        discharge=session.scalars(select(Discharge).where(Discharge.session_id == row.id)).first(),
        predose_reasons=reasons_of(predose) if predose is not None else [],
        vitals_due=due,
        next_vitals_due=session_checks.next_vitals_due(due, taken, now) if watching else None,
        vitals_overdue=session_checks.vitals_overdue(due, taken, now) if watching else (),
        blockers=_checklist(session, now, row, None) if watching else [],
    )


def session_summary(session: Session, clock: Clock, session_id: int) -> SessionSummary:
    """State, times, doses, vitals, alerts, scores, the vitals due and overdue, observation's
    end and what still keeps the patient from leaving."""
    return _summary(session, clock.now(), get_treatment_session(session, session_id))


def board(session: Session, clock: Clock, day: date) -> list[SessionSummary]:
    """The day's sessions (planned for it, or checked in on it), by chair then time."""
    start = datetime.combine(day, datetime.min.time())
    query = select(TreatmentSession).where(
        or_(
            TreatmentSession.planned_on == day,
            (TreatmentSession.checked_in_at >= start)
            & (TreatmentSession.checked_in_at < start + timedelta(days=1)),
        )
    )
    rows = list(session.scalars(query).all())
    rows.sort(
        key=lambda r: (
            r.chair is None,
            r.chair or "",
            r.scheduled_at or r.checked_in_at or start,
            r.id,
        )
    )
    now = clock.now()
    return [_summary(session, now, r) for r in rows]
