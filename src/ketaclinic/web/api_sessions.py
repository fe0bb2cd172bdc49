"""The JSON API of monitored sessions (issue 5, "Session workflow").

    GET  /api/patients/{patient_id}/sessions              P N F  the patient's visits
    GET  /api/sessions/{session_id}                       P N    the session as the chair sees it
    GET  /api/sessions/{session_id}/checklist             P N    discharge items not met
    POST /api/sessions/{session_id}/check-in              P N F  scheduled -> checked_in
    POST /api/sessions/{session_id}/predose               P N    the pre-dose check
    POST /api/sessions/{session_id}/confirm               P      a prescriber confirms the check
    POST /api/sessions/{session_id}/doses                 P N    a dose or an esketamine device
    POST /api/sessions/{session_id}/end-dosing            P N    dosing -> observation
    POST /api/sessions/{session_id}/vitals                P N    readings, and the alerts raised
    POST /api/sessions/{session_id}/alerts/{alert_id}/acknowledge  P N  with the action taken
    POST /api/sessions/{session_id}/scores                P N    MOAA/S or CADSS
    POST /api/sessions/{session_id}/adverse-events        P N    an adverse event
    POST /api/sessions/{session_id}/ready                 P N    ask again: ready for discharge?
    POST /api/sessions/{session_id}/discharge             P N    (override: prescribers)
    POST /api/sessions/{session_id}/complete              P N    an integration visit done (note)
    POST /api/sessions/{session_id}/cancel                P N F  (front desk: not started only)
    POST /api/sessions/{session_id}/stop                  P N
    GET  /api/board?day=YYYY-MM-DD                        P N    the day's sessions by chair

Every read and write is audited with the patient's id; the services check the roles again.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from ketaclinic.clinical.monitoring import Reason
from ketaclinic.services import sessions as svc
from ketaclinic.services.actor import Actor
from ketaclinic.services.errors import Conflict, NotFound
from ketaclinic.services.session_forms import (
    AdverseEventIn,
    DischargeIn,
    DoseIn,
    PredoseIn,
    VitalsIn,
)
from ketaclinic.store.models import (
    AdverseEvent,
    PredoseCheck,
    SessionAlert,
    SessionDose,
    SessionEvent,
    SessionScore,
    SessionVitals,
    TreatmentSession,
)
from ketaclinic.web.api_common import RowId
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles

router = APIRouter(prefix="/api", tags=["sessions"])
Runner = Annotated[Actor, Depends(require_roles("prescriber", "nurse"))]
Desk = Annotated[Actor, Depends(require_roles("prescriber", "nurse", "front_desk"))]
Prescriber = Annotated[Actor, Depends(require_roles("prescriber"))]

Amount = Decimal | str


# ---- bodies -------------------------------------------------------------------------------------


class CheckInBody(BaseModel):
    chair: str | None = None


class PredoseBody(BaseModel):
    systolic: Amount
    diastolic: Amount
    escort_confirmed: bool
    benzodiazepine_today: bool
    fasting_confirmed: bool | None = Field(
        None, description="esketamine: no food 2 h, drink 30 min"
    )
    last_food_at: datetime | None = None
    last_drink_at: datetime | None = None
    heart_rate: Amount | None = None
    spo2: Amount | None = None
    respiratory_rate: Amount | None = None
    taken_at: datetime | None = None


class ConfirmBody(BaseModel):
    reason: str
    check_id: RowId | None = Field(None, description="default: the session's latest check")


class DoseBody(BaseModel):
    dose_mg: Amount = Field(description="mg; one esketamine device is 28 mg")
    lot: str | None = Field(None, description="lot number, when no ledger lot is named")
    lot_id: RowId | None = Field(None, description="ledger lot: the ledger entry is written too")
    started_at: datetime | None = None
    ended_at: datetime | None = None
    route: str | None = None
    confirm_reason: str | None = Field(None, description="prescriber: a dose outside the plan")


class EndDosingBody(BaseModel):
    at: datetime | None = None


class VitalsBody(BaseModel):
    systolic: Amount | None = None
    diastolic: Amount | None = None
    heart_rate: Amount | None = None
    spo2: Amount | None = None
    respiratory_rate: Amount | None = None
    taken_at: datetime | None = None


class AcknowledgeBody(BaseModel):
    action_taken: str
    infusion_stopped: bool = False


class ScoreBody(BaseModel):
    scale: str = Field(description="moaas or cadss")
    score: Amount
    taken_at: datetime | None = None


class AdverseBody(BaseModel):
    kind: str
    severity: str
    description: str | None = None
    onset_at: datetime | None = None


class DischargeBody(BaseModel):
    alert_and_oriented: bool
    escort_present: bool
    no_driving_acknowledged: bool
    override_reason: str | None = Field(None, description="prescriber: checklist not met")


class ReasonBody(BaseModel):
    reason: str


class NoteBody(BaseModel):
    note: str = Field(description="what was done in the integration session")


# ---- answers ------------------------------------------------------------------------------------


class ReasonOut(BaseModel):
    id: str
    message: str
    source: str

    @classmethod
    def of(cls, r: Reason) -> ReasonOut:
        return cls(id=r.id, message=r.message, source=r.source)


class VisitOut(BaseModel):
    """A session as the schedule shows it (what the front desk may see)."""

    id: int
    plan_id: int
    patient_id: int
    kind: str
    number: int
    planned_on: date
    scheduled_at: datetime | None
    chair: str | None
    state: str
    state_at: datetime

    @classmethod
    def of(cls, s: TreatmentSession) -> VisitOut:
        return cls(
            id=s.id,
            plan_id=s.plan_id,
            patient_id=s.patient_id,
            kind=s.kind,
            number=s.number,
            planned_on=s.planned_on,
            scheduled_at=s.scheduled_at,
            chair=s.chair,
            state=s.state,
            state_at=s.state_at,
        )


class PredoseOut(BaseModel):
    id: int
    session_id: int
    at: datetime
    decision: str
    reasons: list[ReasonOut]
    systolic: float | None
    diastolic: float | None
    pregnancy_test_ok: bool | None
    fasting_confirmed: bool | None
    rems_confirmed: bool | None
    escort_confirmed: bool
    benzodiazepine_today: bool
    confirmed_by_id: int | None
    confirmed_at: datetime | None
    confirmation_reason: str | None

    @classmethod
    def of(cls, c: PredoseCheck) -> PredoseOut:
        return cls(
            id=c.id,
            session_id=c.session_id,
            at=c.at,
            decision=c.decision,
            reasons=[ReasonOut.of(r) for r in svc.reasons_of(c)],
            systolic=c.systolic,
            diastolic=c.diastolic,
            pregnancy_test_ok=c.pregnancy_test_ok,
            fasting_confirmed=c.fasting_confirmed,
            rems_confirmed=c.rems_confirmed,
            escort_confirmed=c.escort_confirmed,
            benzodiazepine_today=c.benzodiazepine_today,
            confirmed_by_id=c.confirmed_by_id,
            confirmed_at=c.confirmed_at,
            confirmation_reason=c.confirmation_reason,
        )


class DoseOut(BaseModel):
    id: int
    drug: str
    route: str
    dose_mg: float
    lot: str
    device_number: int | None
    started_at: datetime
    ended_at: datetime | None
    outside_plan: bool
    confirmed_by_id: int | None
    confirmation_reason: str | None
    ledger_seq: int | None

    @classmethod
    def of(cls, d: SessionDose) -> DoseOut:
        return cls(
            id=d.id,
            drug=d.drug,
            route=d.route,
            dose_mg=d.dose_mg,
            lot=d.lot,
            device_number=d.device_number,
            started_at=d.started_at,
            ended_at=d.ended_at,
            outside_plan=d.outside_plan,
            confirmed_by_id=d.confirmed_by_id,
            confirmation_reason=d.confirmation_reason,
            ledger_seq=d.ledger_seq,
        )


class VitalsOut(BaseModel):
    id: int
    taken_at: datetime
    systolic: float | None
    diastolic: float | None
    heart_rate: float | None
    spo2: float | None
    respiratory_rate: float | None

    @classmethod
    def of(cls, v: SessionVitals) -> VitalsOut:
        return cls(
            id=v.id,
            taken_at=v.taken_at,
            systolic=v.systolic,
            diastolic=v.diastolic,
            heart_rate=v.heart_rate,
            spo2=v.spo2,
            respiratory_rate=v.respiratory_rate,
        )


class AlertOut(BaseModel):
    id: int
    rule: str
    message: str
    source: str
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by_id: int | None
    action_taken: str | None
    infusion_stopped: bool

    @classmethod
    def of(cls, a: SessionAlert) -> AlertOut:
        return cls(
            id=a.id,
            rule=a.rule,
            message=a.message,
            source=a.source,
            raised_at=a.raised_at,
            acknowledged_at=a.acknowledged_at,
            acknowledged_by_id=a.acknowledged_by_id,
            action_taken=a.action_taken,
            infusion_stopped=a.infusion_stopped,
        )


class RecordedVitalsOut(BaseModel):
    vitals: VitalsOut
    alerts: list[AlertOut]
    state: str


class ScoreOut(BaseModel):
    id: int
    scale: str
    score: int
    taken_at: datetime

    @classmethod
    def of(cls, s: SessionScore) -> ScoreOut:
        return cls(id=s.id, scale=s.scale, score=s.score, taken_at=s.taken_at)


class AdverseOut(BaseModel):
    id: int
    kind: str
    severity: str
    description: str | None
    onset_at: datetime

    @classmethod
    def of(cls, e: AdverseEvent) -> AdverseOut:
        return cls(
            id=e.id,
            kind=e.kind,
            severity=e.severity,
            description=e.description,
            onset_at=e.onset_at,
        )


class EventOut(BaseModel):
    at: datetime
    by_id: int | None
    from_state: str
    to_state: str
    reason: str | None

    @classmethod
    def of(cls, e: SessionEvent) -> EventOut:
        return cls(
            at=e.at,
            by_id=e.by_id,
            from_state=e.from_state,
            to_state=e.to_state,
            reason=e.reason,
        )


class SessionOut(VisitOut):
    patient_name: str
    route: str
    planned_mg: float | None
    checked_in_at: datetime | None
    dosing_started_at: datetime | None
    dosing_ended_at: datetime | None
    observation_ends_at: datetime | None
    observation_minutes_left: int | None
    discharged_at: datetime | None
    stop_reason: str | None
    predose: PredoseOut | None
    awaiting_confirmation: bool
    doses: list[DoseOut]
    dosed_mg: float
    vitals: list[VitalsOut]
    alerts: list[AlertOut]
    open_alerts: int
    scores: list[ScoreOut]
    adverse_events: list[AdverseOut]
    events: list[EventOut]
    vitals_due: list[datetime]
    next_vitals_due: datetime | None
    vitals_overdue: list[datetime]
    blockers: list[ReasonOut]
    may_leave: bool = Field(
        description="the recorded discharge checklist passes now (the state may still say "
        "observation until the next write or 'ready')"
    )

    @classmethod
    def of_summary(cls, s: svc.SessionSummary) -> SessionOut:
        row = s.session
        return cls(
            **VisitOut.of(row).model_dump(),
            patient_name=s.patient_name,
            route=s.route,
            planned_mg=row.planned_mg,
            checked_in_at=row.checked_in_at,
            dosing_started_at=row.dosing_started_at,
            dosing_ended_at=row.dosing_ended_at,
            observation_ends_at=row.observation_ends_at,
            observation_minutes_left=s.observation_minutes_left,
            discharged_at=row.discharged_at,
            stop_reason=row.stop_reason,
            predose=PredoseOut.of(s.predose) if s.predose is not None else None,
            awaiting_confirmation=s.awaiting_confirmation,
            doses=[DoseOut.of(d) for d in s.doses],
            dosed_mg=s.dosed_mg,
            vitals=[VitalsOut.of(v) for v in s.vitals],
            alerts=[AlertOut.of(a) for a in s.alerts],
            open_alerts=len(s.open_alerts),
            scores=[ScoreOut.of(x) for x in s.scores],
            adverse_events=[AdverseOut.of(e) for e in s.adverse_events],
            events=[EventOut.of(e) for e in s.events],
            vitals_due=list(s.vitals_due),
            next_vitals_due=s.next_vitals_due,
            vitals_overdue=list(s.vitals_overdue),
            blockers=[ReasonOut.of(b) for b in s.blockers],
            may_leave=s.may_leave,
        )


# ---- routes -------------------------------------------------------------------------------------


def _patient_of(db: Session, session_id: int) -> int:
    return svc.get_treatment_session(db, session_id).patient_id


def _out(db: Session, clock: ClockDep, session_id: int) -> SessionOut:
    return SessionOut.of_summary(svc.session_summary(db, clock, session_id))


@router.get("/patients/{patient_id}/sessions", response_model=list[VisitOut])
def patient_sessions(
    patient_id: RowId, db: SessionDep, actor: Desk, audit: AuditDep
) -> list[VisitOut]:
    """The patient's visits by day: what the schedule shows, no clinical detail."""
    found = svc.sessions_of_patient(db, patient_id)
    audit("read", "sessions", patient_id)
    return [VisitOut.of(s) for s in found]


@router.get("/sessions/{session_id}", response_model=SessionOut)
def show(
    session_id: RowId, db: SessionDep, clock: ClockDep, actor: Runner, audit: AuditDep
) -> SessionOut:
    """The session: state, times, pre-dose check, doses, vitals (due, overdue), alerts, scores,
    adverse events, its events, and what keeps the patient from leaving."""
    out = _out(db, clock, session_id)
    audit("read", f"session {session_id}", out.patient_id)
    return out


@router.get("/sessions/{session_id}/checklist", response_model=list[ReasonOut])
def checklist(
    session_id: RowId, db: SessionDep, clock: ClockDep, actor: Runner, audit: AuditDep
) -> list[ReasonOut]:
    """The discharge items the session's records leave unmet (the nurse's attestations are
    given with the discharge)."""
    found = svc.discharge_checklist(db, clock, session_id)
    audit("read", f"session {session_id}: discharge checklist", _patient_of(db, session_id))
    return [ReasonOut.of(r) for r in found]


@router.post("/sessions/{session_id}/check-in", response_model=VisitOut)
def check_in(
    session_id: RowId,
    body: CheckInBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Desk,
    audit: AuditDep,
) -> VisitOut:
    """The patient has arrived (the front desk may do this)."""
    row = svc.check_in(db, actor, clock, session_id, body.chair)
    audit("write", f"session {session_id}: checked in", row.patient_id)
    return VisitOut.of(row)


@router.post("/sessions/{session_id}/predose", response_model=PredoseOut, status_code=201)
def predose(
    session_id: RowId,
    body: PredoseBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Runner,
    audit: AuditDep,
) -> PredoseOut:
    """The pre-dose check: go, confirm (a prescriber must confirm) or stop (the session is
    stopped with the reasons)."""
    check = svc.run_predose_check(db, actor, clock, session_id, PredoseIn(**body.model_dump()))
    patient = _patient_of(db, session_id)
    audit("write", f"session {session_id}: pre-dose check {check.decision}", patient)
    return PredoseOut.of(check)


@router.post("/sessions/{session_id}/confirm", response_model=PredoseOut)
def confirm(
    session_id: RowId,
    body: ConfirmBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> PredoseOut:
    """A prescriber confirms the session's pre-dose check, with the reason."""
    check_id = body.check_id
    if check_id is None:
        latest = svc.latest_predose(db, session_id)
        if latest is None:
            svc.get_treatment_session(db, session_id)
            raise Conflict("No pre-dose check to confirm.")
        check_id = latest.id
    check = db.get(PredoseCheck, check_id)
    if check is None or check.session_id != session_id:
        raise NotFound(f"no pre-dose check {check_id} in session {session_id}")
    confirmed = svc.confirm_predose(db, actor, clock, check_id, body.reason)
    patient = _patient_of(db, session_id)
    audit("write", f"session {session_id}: pre-dose check confirmed", patient)
    return PredoseOut.of(confirmed)


@router.post("/sessions/{session_id}/doses", response_model=DoseOut, status_code=201)
def dose(
    session_id: RowId,
    body: DoseBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Runner,
    audit: AuditDep,
) -> DoseOut:
    """A dose, or one esketamine device; refused when not a number, in the future, too soon
    after the last device, above the hard maximum, or outside the plan without a prescriber."""
    given = svc.record_dose(db, actor, clock, session_id, DoseIn(**body.model_dump()))
    patient = _patient_of(db, session_id)
    audit("write", f"session {session_id}: dose {given.dose_mg:g} mg ({given.lot})", patient)
    return DoseOut.of(given)


@router.post("/sessions/{session_id}/end-dosing", response_model=SessionOut)
def end_dosing(
    session_id: RowId,
    body: EndDosingBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Runner,
    audit: AuditDep,
) -> SessionOut:
    """Dosing is over: observation starts."""
    row = svc.end_dosing(db, actor, clock, session_id, body.at)
    audit("write", f"session {session_id}: dosing ended", row.patient_id)
    return _out(db, clock, session_id)


@router.post("/sessions/{session_id}/vitals", response_model=RecordedVitalsOut, status_code=201)
def vitals(
    session_id: RowId,
    body: VitalsBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Runner,
    audit: AuditDep,
) -> RecordedVitalsOut:
    """A set of readings; the alerts they raise stay open until acknowledged."""
    reading, alerts = svc.record_vitals(db, actor, clock, session_id, VitalsIn(**body.model_dump()))
    row = svc.get_treatment_session(db, session_id)
    audit("write", f"session {session_id}: vitals ({len(alerts)} alerts)", row.patient_id)
    return RecordedVitalsOut(
        vitals=VitalsOut.of(reading), alerts=[AlertOut.of(a) for a in alerts], state=row.state
    )


@router.post("/sessions/{session_id}/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge(
    session_id: RowId,
    alert_id: RowId,
    body: AcknowledgeBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Runner,
    audit: AuditDep,
) -> AlertOut:
    """Close an alert with the action taken; ``infusion_stopped`` ends the infusion."""
    alert = db.get(SessionAlert, alert_id)
    if alert is None or alert.session_id != session_id:
        raise NotFound(f"no alert {alert_id} in session {session_id}")
    done = svc.acknowledge_alert(
        db, actor, clock, alert_id, body.action_taken, body.infusion_stopped
    )
    patient = _patient_of(db, session_id)
    audit("write", f"session {session_id}: alert {alert_id} acknowledged", patient)
    return AlertOut.of(done)


@router.post("/sessions/{session_id}/scores", response_model=ScoreOut, status_code=201)
def score(
    session_id: RowId,
    body: ScoreBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Runner,
    audit: AuditDep,
) -> ScoreOut:
    """MOAA/S (0-5) or CADSS (0-92)."""
    found = svc.record_score(db, actor, clock, session_id, body.scale, body.score, body.taken_at)
    patient = _patient_of(db, session_id)
    audit("write", f"session {session_id}: {found.scale} {found.score}", patient)
    return ScoreOut.of(found)


@router.post("/sessions/{session_id}/adverse-events", response_model=AdverseOut, status_code=201)
def adverse(
    session_id: RowId,
    body: AdverseBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Runner,
    audit: AuditDep,
) -> AdverseOut:
    """Nausea, vomiting, hypertension, agitation, respiratory depression or other; mild,
    moderate or severe."""
    event = svc.record_adverse_event(
        db, actor, clock, session_id, AdverseEventIn(**body.model_dump())
    )
    audit("write", f"session {session_id}: adverse event {event.kind}", event.patient_id)
    return AdverseOut.of(event)


@router.post("/sessions/{session_id}/ready", response_model=SessionOut)
def ready(
    session_id: RowId, db: SessionDep, clock: ClockDep, actor: Runner, audit: AuditDep
) -> SessionOut:
    """Ask again whether the session is ready for discharge (observation time has passed)."""
    row = svc.check_ready(db, actor, clock, session_id)
    audit("write", f"session {session_id}: readiness checked ({row.state})", row.patient_id)
    return _out(db, clock, session_id)


@router.post("/sessions/{session_id}/discharge", response_model=SessionOut)
def discharge(
    session_id: RowId,
    body: DischargeBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Runner,
    audit: AuditDep,
) -> SessionOut:
    """The patient leaves; 409 with the unmet items unless a prescriber overrides."""
    row = svc.discharge(db, actor, clock, session_id, DischargeIn(**body.model_dump()))
    audit("write", f"session {session_id}: discharged", row.patient_id)
    return _out(db, clock, session_id)


@router.post("/sessions/{session_id}/complete", response_model=SessionOut)
def complete(
    session_id: RowId,
    body: NoteBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Runner,
    audit: AuditDep,
) -> SessionOut:
    """An integration (psychotherapy) visit is done, with a note of what was done; 409 for a
    dosing session or a visit not checked in."""
    row = svc.complete_visit(db, actor, clock, session_id, body.note)
    audit("write", f"session {session_id}: visit done", row.patient_id)
    return _out(db, clock, session_id)


@router.post("/sessions/{session_id}/cancel", response_model=VisitOut)
def cancel(
    session_id: RowId,
    body: ReasonBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Desk,
    audit: AuditDep,
) -> VisitOut:
    """Call the visit off before any dose (the front desk: only before check-in)."""
    row = svc.cancel_session(db, actor, clock, session_id, body.reason)
    audit("write", f"session {session_id}: cancelled", row.patient_id)
    return VisitOut.of(row)


@router.post("/sessions/{session_id}/stop", response_model=VisitOut)
def stop(
    session_id: RowId,
    body: ReasonBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Runner,
    audit: AuditDep,
) -> VisitOut:
    """End the session for a clinical reason."""
    row = svc.stop_session(db, actor, clock, session_id, body.reason)
    audit("write", f"session {session_id}: stopped", row.patient_id)
    return VisitOut.of(row)


@router.get("/board", response_model=list[SessionOut])
def board(
    db: SessionDep,
    clock: ClockDep,
    actor: Runner,
    audit: AuditDep,
    day: date | None = None,
) -> list[SessionOut]:
    """The day's sessions (default today) by chair, with timers, vitals due and open alerts."""
    chosen = day or clock.now().date()
    found = svc.board(db, clock, chosen)
    for patient_id in sorted({s.session.patient_id for s in found}):
        audit("read", f"board {chosen.isoformat()}", patient_id)
    if not found:
        audit("read", f"board {chosen.isoformat()} (empty)")
    return [SessionOut.of_summary(s) for s in found]
