"""Questionnaire responses (every item answer kept, with the total and band) and the schedule
that says which questionnaires are due.

Source: issue 6, items 1-2 and "Bad input": an answer outside the item's range, a missing item
or a score dated in the future is refused with the reason and nothing is stored. Validation,
scoring and bands are clinical/scales.py's; what is due is clinical/questionnaire_schedule.py's.
Staff (prescribers and nurses) record responses and assign questionnaires; a patient answers
through a self-report link (services/self_report.py), which stores through ``store_response``.
The services write no audit rows: the web layer audits every read and write.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ketaclinic.clinical import questionnaire_schedule as schedule_rules
from ketaclinic.clinical import scales
from ketaclinic.policy import DEFAULT, Policy
from ketaclinic.services import safety, who_may
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import InvalidInput
from ketaclinic.services.patients import get_patient
from ketaclinic.services.vitals import as_utc, check_not_future
from ketaclinic.store.models import (
    QuestionnaireAssignment,
    QuestionnaireResponse,
    SafetyAlert,
    TreatmentSession,
)

WRITERS = who_may.OBSERVATIONS  # prescribers and nurses (issue 6 brief: clinical staff)
# Dosing sessions still ahead of their dose (a questionnaire is due before them), and those that
# took place; cancelled and stopped-before-dosing sessions count as neither.
NOT_STARTED = frozenset({"scheduled", "checked_in", "pre_dose_check"})
TOOK_PLACE = frozenset({"dosing", "observation", "ready_for_discharge", "discharged"})
EVERY_DAYS_LIMIT = 365


@dataclass(frozen=True)
class Recorded:
    """A stored response, its scoring, and the safety alerts it raised."""

    response: QuestionnaireResponse
    result: scales.ScaleResult
    alerts: list[SafetyAlert]


def known_scale(scale_id: str) -> scales.Scale:
    try:
        return scales.scale(scale_id)
    except scales.UnknownScale:
        raise InvalidInput("scale", f"unknown scale {scale_id!r}") from None


def item_field(item: int) -> str:
    """The form field (and the API's error field) of a 1-based item: ``item_9``."""
    return f"item_{item}"


def scored(scale_id: str, answers: Sequence[object]) -> scales.ScaleResult:
    """The scale's score, or InvalidInput naming the item at fault."""
    known_scale(scale_id)
    try:
        return scales.score(scale_id, answers)
    except scales.InvalidAnswers as bad:
        field = item_field(bad.item) if bad.item is not None else "answers"
        raise InvalidInput(field, str(bad)) from None


def stored_total(result: scales.ScaleResult) -> float:
    """The C-SSRS screener has no sum (its result is a risk level): its total is the level's
    rank, 0 (no risk identified) to 3 (high risk), and its band the level's words."""
    if result.total is not None:
        return float(result.total)
    assert result.band is not None
    return float(scales.CSSRS_RISKS.index(result.band))


def store_response(
    session: Session,
    clock: Clock,
    patient_id: int,
    scale_id: str,
    answers: Sequence[object],
    completed_at: datetime,
    *,
    source: str,
    recorded_by_id: int | None,
    link_id: int | None = None,
    session_id: int | None = None,
) -> Recorded:
    """Validate, score, store and raise the safety alerts; nothing is stored when refused."""
    result = scored(scale_id, answers)
    completed = as_utc(completed_at)
    check_not_future("completed_at", completed, clock)
    if session_id is not None:
        visit = session.get(TreatmentSession, session_id)
        if visit is None or visit.patient_id != patient_id:
            raise InvalidInput("session_id", f"no session {session_id} of this patient")
    response = QuestionnaireResponse(
        patient_id=patient_id,
        scale=result.scale_id,
        answers=json.dumps(list(result.answers)),
        total=stored_total(result),
        band=result.band[:40] if result.band else None,
        completed_at=completed,
        source=source,
        link_id=link_id,
        session_id=session_id,
        state="current",
        recorded_at=clock.now(),
        recorded_by_id=recorded_by_id,
    )
    session.add(response)
    session.flush()
    return Recorded(response, result, safety.raise_alerts(session, clock, response, result))


def record_response(
    session: Session,
    actor: Actor,
    clock: Clock,
    patient_id: int,
    scale: str,
    answers: Sequence[object],
    completed_at: datetime,
    session_id: int | None = None,
) -> Recorded:
    """Staff enter a completed questionnaire (every item answer) for a patient."""
    who_may.require(actor, WRITERS, "record questionnaire responses")
    get_patient(session, patient_id)
    return store_response(
        session,
        clock,
        patient_id,
        scale,
        answers,
        completed_at,
        source="staff",
        recorded_by_id=actor.user_id,
        session_id=session_id,
    )


def answers_of(response: QuestionnaireResponse) -> list[int]:
    found = json.loads(response.answers)
    assert isinstance(found, list)
    return [int(a) for a in found]


def responses_of(
    session: Session, patient_id: int, scale: str | None = None
) -> list[QuestionnaireResponse]:
    """A patient's current responses, oldest first."""
    query = select(QuestionnaireResponse).where(
        QuestionnaireResponse.patient_id == patient_id,
        QuestionnaireResponse.state == "current",
    )
    if scale is not None:
        query = query.where(QuestionnaireResponse.scale == scale)
    return list(
        session.scalars(
            query.order_by(QuestionnaireResponse.completed_at, QuestionnaireResponse.id)
        )
    )


# ---- assignments and what is due --------------------------------------------------------------


def assign(
    session: Session,
    actor: Actor,
    clock: Clock,
    patient_id: int,
    scale: str,
    before_each_session: bool,
    every_days: int | None,
    starts_on: date | None = None,
) -> QuestionnaireAssignment:
    """Assign a scale on a schedule. One schedule per scale: a new one ends the one before."""
    who_may.require(actor, WRITERS, "assign questionnaires")
    get_patient(session, patient_id)
    known_scale(scale)
    if every_days is not None and not 1 <= every_days <= EVERY_DAYS_LIMIT:
        raise InvalidInput("every_days", f"must be between 1 and {EVERY_DAYS_LIMIT} days")
    if not before_each_session and every_days is None:
        raise InvalidInput("every_days", "choose 'before each session', a number of days, or both")
    now = clock.now()
    session.execute(
        update(QuestionnaireAssignment)
        .where(
            QuestionnaireAssignment.patient_id == patient_id,
            QuestionnaireAssignment.scale == scale,
            QuestionnaireAssignment.ended_at.is_(None),
        )
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    row = QuestionnaireAssignment(
        patient_id=patient_id,
        scale=scale,
        before_each_session=before_each_session,
        every_days=every_days,
        starts_on=starts_on or now.date(),
        created_at=now,
        created_by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    return row


def assignments_of(session: Session, patient_id: int) -> list[QuestionnaireAssignment]:
    """The patient's schedules in force."""
    return list(
        session.scalars(
            select(QuestionnaireAssignment)
            .where(
                QuestionnaireAssignment.patient_id == patient_id,
                QuestionnaireAssignment.ended_at.is_(None),
            )
            .order_by(QuestionnaireAssignment.scale)
        )
    )


def due_questionnaires(
    session: Session, clock: Clock, patient_id: int, policy: Policy = DEFAULT
) -> list[schedule_rules.Due]:
    """What the patient's assignments ask for today, overdue first."""
    today = clock.now().date()
    visits = session.scalars(
        select(TreatmentSession).where(
            TreatmentSession.patient_id == patient_id, TreatmentSession.kind == "dosing"
        )
    ).all()
    upcoming = [v.planned_on for v in visits if v.state in NOT_STARTED and v.planned_on >= today]
    held = [v.planned_on for v in visits if v.state in TOOK_PLACE]
    found: list[schedule_rules.Due] = []
    for assignment in assignments_of(session, patient_id):
        completed = [r.completed_at for r in responses_of(session, patient_id, assignment.scale)]
        plan = schedule_rules.Schedule(
            assignment.scale,
            assignment.before_each_session,
            assignment.every_days,
            assignment.starts_on,
        )
        found.extend(
            schedule_rules.due(
                plan, today, upcoming, held, completed, policy.workup.baseline_scale_days
            )
        )
    return schedule_rules.most_pressing_first(found)
