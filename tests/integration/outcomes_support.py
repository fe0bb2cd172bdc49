"""Rows for the outcome tests, inserted directly (plans, sessions, doses, questionnaire answers),
so the tests stand on the tables alone, not on the services that usually write them."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.orm import Session

from ketaclinic.clinical.scales import SCALES, score
from ketaclinic.services.charting import screen_patient
from ketaclinic.store.models import (
    AdverseEvent,
    QuestionnaireResponse,
    SessionDose,
    TreatmentPlan,
    TreatmentSession,
)
from tests.integration.services_support import NOW, Clinic

TRD = "treatment_resistant_depression"


def answers_for(scale_id: str, total: int) -> list[int]:
    """Answers adding up to ``total``, filling items from the first; PHQ-9 item 9 last, so it
    stays 0 (no safety alert involved) unless the total needs it (above 24)."""
    items = SCALES[scale_id].items
    usable = sorted(items, key=lambda i: scale_id == "phq9" and i.number == 9)
    answers = [0] * len(items)
    left = total
    for item in usable:
        given = min(item.high, left)
        answers[item.number - 1] = given
        left -= given
    assert left == 0, f"{total} is more than {scale_id} can hold here"
    return answers


def add_response(
    s: Session,
    patient_id: int,
    scale_id: str,
    at: datetime,
    *,
    total: int | None = None,
    answers: list[int] | None = None,
    session_id: int | None = None,
    state: str = "current",
    source: str = "staff",
) -> QuestionnaireResponse:
    given = answers if answers is not None else answers_for(scale_id, total or 0)
    result = score(scale_id, given)
    row = QuestionnaireResponse(
        patient_id=patient_id,
        scale=scale_id,
        answers=json.dumps(list(result.answers)),
        total=float(result.total) if result.total is not None else 0.0,
        band=result.band,
        completed_at=at,
        source=source,
        session_id=session_id,
        state=state,
        recorded_at=at,
    )
    s.add(row)
    s.flush()
    return row


def add_plan(
    s: Session,
    clinic: Clinic,
    patient_id: int,
    route: str = "iv",
    indication: str = TRD,
    status: str = "active",
) -> TreatmentPlan:
    screening = screen_patient(s, clinic.prescriber, clinic.clock, patient_id, "iv")
    plan = TreatmentPlan(
        patient_id=patient_id,
        route=route,
        indication=indication,
        screening_id=screening.id,
        status=status,
        version=1,
        integration_sessions=False,
        created_at=NOW,
    )
    s.add(plan)
    s.flush()
    return plan


def add_session(
    s: Session,
    plan: TreatmentPlan,
    number: int,
    at: datetime,
    *,
    state: str = "discharged",
    dose_mg: float | None = 35.0,
    drug: str = "ketamine",
    dose_at: datetime | None = None,
    kind: str = "dosing",
) -> TreatmentSession:
    """A session on ``at``; with ``dose_mg`` a dose started at ``dose_at`` (default ``at``)."""
    dosed = dose_mg is not None
    row = TreatmentSession(
        plan_id=plan.id,
        patient_id=plan.patient_id,
        kind=kind,
        number=number,
        planned_on=at.date(),
        state=state,
        state_at=at,
        checked_in_at=at if state != "scheduled" and state != "cancelled" else None,
        dosing_started_at=(dose_at or at) if dosed else None,
        discharged_at=at.replace(hour=at.hour + 2) if state == "discharged" else None,
        stop_reason="patient unwell" if state in ("cancelled", "stopped") else None,
        created_at=NOW,
    )
    s.add(row)
    s.flush()
    if dosed:
        assert dose_mg is not None
        s.add(
            SessionDose(
                session_id=row.id,
                drug=drug,
                route=plan.route,
                dose_mg=dose_mg,
                lot=f"LOT-{row.id}",
                started_at=dose_at or at,
                ended_at=(dose_at or at).replace(minute=40),
                outside_plan=False,
                recorded_at=dose_at or at,
            )
        )
        s.flush()
    return row


def add_adverse_event(
    s: Session, session: TreatmentSession, kind: str, severity: str, at: datetime, text: str
) -> AdverseEvent:
    event = AdverseEvent(
        session_id=session.id,
        patient_id=session.patient_id,
        kind=kind,
        severity=severity,
        description=text,
        onset_at=at,
        recorded_at=at,
    )
    s.add(event)
    s.flush()
    return event
