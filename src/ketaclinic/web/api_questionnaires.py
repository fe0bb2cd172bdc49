"""The JSON API of questionnaires, self-report links and safety alerts (issue 6).

    GET  /api/patients/{patient_id}/questionnaires     P N  responses (every item answer, total,
                                                            band), ?scale=; what is due or overdue
    POST /api/patients/{patient_id}/questionnaires     P N  a completed questionnaire
    POST /api/patients/{patient_id}/questionnaire-assignments  P N  a scale on a schedule
    POST /api/patients/{patient_id}/self-report-links  P N  a single-use link (the token is in
                                                            this answer only)
    GET  /api/safety-alerts                            P N  open alerts, ?patient_id=
    POST /api/safety-alerts/{alert_id}/acknowledge     P    with the action taken

Refused input answers 422 naming the field (``item_9`` for an item); nothing is stored. Every
route audits its read or write with the patient's id.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from ketaclinic.clinical.questionnaire_schedule import Due
from ketaclinic.services import questionnaires, safety, self_report
from ketaclinic.services.actor import Actor
from ketaclinic.services.patients import get_patient
from ketaclinic.store.models import QuestionnaireResponse, SafetyAlert
from ketaclinic.web.api_common import RowId
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles

router = APIRouter(prefix="/api", tags=["questionnaires"])
Clinician = Annotated[Actor, Depends(require_roles("prescriber", "nurse"))]
Prescriber = Annotated[Actor, Depends(require_roles("prescriber"))]


class ResponseIn(BaseModel):
    scale: str = Field(examples=["phq9"])
    # Judged by clinical/scales.py, which names the item at fault (a bare JSON type error would
    # not say which item of the questionnaire it was).
    answers: list[Any] = Field(examples=[[1, 2, 1, 2, 1, 1, 0, 0, 2]])
    completed_at: datetime
    session_id: RowId | None = None


class AlertOut(BaseModel):
    id: int
    patient_id: int
    response_id: int
    rule: str
    message: str
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by_id: int | None
    action_taken: str | None

    @classmethod
    def of(cls, row: SafetyAlert) -> AlertOut:
        return cls(
            id=row.id,
            patient_id=row.patient_id,
            response_id=row.response_id,
            rule=row.rule,
            message=row.message,
            raised_at=row.raised_at,
            acknowledged_at=row.acknowledged_at,
            acknowledged_by_id=row.acknowledged_by_id,
            action_taken=row.action_taken,
        )


class ResponseOut(BaseModel):
    id: int
    patient_id: int
    scale: str
    answers: list[int]
    total: float
    band: str | None
    completed_at: datetime
    source: str
    session_id: int | None
    recorded_at: datetime

    @classmethod
    def of(cls, row: QuestionnaireResponse) -> ResponseOut:
        return cls(
            id=row.id,
            patient_id=row.patient_id,
            scale=row.scale,
            answers=questionnaires.answers_of(row),
            total=row.total,
            band=row.band,
            completed_at=row.completed_at,
            source=row.source,
            session_id=row.session_id,
            recorded_at=row.recorded_at,
        )


class RecordedOut(ResponseOut):
    alerts: list[AlertOut]


class DueOut(BaseModel):
    scale: str
    status: str
    due_on: date
    reason: str
    source: str

    @classmethod
    def of(cls, due: Due) -> DueOut:
        return cls(
            scale=due.scale_id,
            status=due.status,
            due_on=due.due_on,
            reason=due.reason,
            source=due.source,
        )


class QuestionnairesOut(BaseModel):
    responses: list[ResponseOut]
    due: list[DueOut]


class AssignmentIn(BaseModel):
    scale: str = Field(examples=["phq9"])
    before_each_session: bool = False
    every_days: int | None = Field(default=None, examples=[14])
    starts_on: date | None = None


class AssignmentOut(BaseModel):
    id: int
    patient_id: int
    scale: str
    before_each_session: bool
    every_days: int | None
    starts_on: date


class LinkIn(BaseModel):
    scale: str = Field(examples=["phq9"])


class LinkOut(BaseModel):
    id: int
    patient_id: int
    scale: str
    path: str
    url: str
    created_at: datetime
    expires_at: datetime


class Acknowledgement(BaseModel):
    action_taken: str = Field(examples=["Called the patient; safety plan reviewed"])


@router.get("/patients/{patient_id}/questionnaires", response_model=QuestionnairesOut)
def list_questionnaires(
    patient_id: RowId,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
    scale: Annotated[str | None, Query(description="only this scale, e.g. phq9")] = None,
) -> QuestionnairesOut:
    get_patient(db, patient_id)
    rows = questionnaires.responses_of(db, patient_id, scale)
    due = questionnaires.due_questionnaires(db, clock, patient_id)
    audit("read", "questionnaires" + (f" ({scale})" if scale else ""), patient_id)
    return QuestionnairesOut(
        responses=[ResponseOut.of(r) for r in rows], due=[DueOut.of(d) for d in due]
    )


@router.post("/patients/{patient_id}/questionnaires", response_model=RecordedOut, status_code=201)
def record_questionnaire(
    patient_id: RowId,
    body: ResponseIn,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> RecordedOut:
    done = questionnaires.record_response(
        db, actor, clock, patient_id, body.scale, body.answers, body.completed_at, body.session_id
    )
    row = done.response
    audit("write", f"questionnaire {row.id}: {row.scale} recorded", patient_id)
    for alert in done.alerts:
        audit("write", f"safety alert {alert.id} raised: {alert.rule}", patient_id)
    return RecordedOut(
        **ResponseOut.of(row).model_dump(), alerts=[AlertOut.of(a) for a in done.alerts]
    )


@router.post(
    "/patients/{patient_id}/questionnaire-assignments",
    response_model=AssignmentOut,
    status_code=201,
)
def assign_questionnaire(
    patient_id: RowId,
    body: AssignmentIn,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> AssignmentOut:
    row = questionnaires.assign(
        db,
        actor,
        clock,
        patient_id,
        body.scale,
        body.before_each_session,
        body.every_days,
        body.starts_on,
    )
    audit("write", f"questionnaire assignment {row.id}: {row.scale}", patient_id)
    return AssignmentOut(
        id=row.id,
        patient_id=row.patient_id,
        scale=row.scale,
        before_each_session=row.before_each_session,
        every_days=row.every_days,
        starts_on=row.starts_on,
    )


@router.post("/patients/{patient_id}/self-report-links", response_model=LinkOut, status_code=201)
def send_self_report_link(
    patient_id: RowId,
    body: LinkIn,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> LinkOut:
    sent = self_report.send_link(db, actor, clock, patient_id, body.scale)
    link = sent.link
    audit("write", f"self-report link {link.id}: {link.scale} sent", patient_id)
    return LinkOut(
        id=link.id,
        patient_id=link.patient_id,
        scale=link.scale,
        path=sent.path,
        url=str(request.base_url).rstrip("/") + sent.path,
        created_at=link.created_at,
        expires_at=link.expires_at,
    )


@router.get("/safety-alerts", response_model=list[AlertOut])
def list_safety_alerts(
    db: SessionDep,
    actor: Clinician,
    audit: AuditDep,
    patient_id: Annotated[RowId | None, Query(description="one patient's open alerts")] = None,
) -> list[AlertOut]:
    if patient_id is not None:
        get_patient(db, patient_id)
    alerts = safety.open_alerts(db, patient_id)
    if patient_id is not None:
        audit("read", "open safety alerts", patient_id)
    else:
        # The dashboard shows several patients' alerts: one row per patient shown.
        audit("read", "open safety alerts (dashboard)")
        for shown in sorted({a.patient_id for a in alerts}):
            audit("read", "open safety alerts (dashboard)", shown)
    return [AlertOut.of(a) for a in alerts]


@router.post("/safety-alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge_safety_alert(
    alert_id: RowId,
    body: Acknowledgement,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> AlertOut:
    alert = safety.acknowledge_alert(db, actor, clock, alert_id, body.action_taken)
    audit("write", f"safety alert {alert.id}: acknowledged", alert.patient_id)
    return AlertOut.of(alert)
