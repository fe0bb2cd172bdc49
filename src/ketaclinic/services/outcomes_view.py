"""Outcomes as the clinic reads them: one patient's scales over their sessions, and the clinic's
response and remission rates by route and indication (issue 6, items 4 and 5).

Every judgement (baseline, response, remission, relapse, the maintenance suggestion) is made by
``clinical.outcomes``; this module only gathers the rows it judges:

- a score is a *current* QuestionnaireResponse (one marked entered in error is left out), taken
  at its ``completed_at``;
- a session counts from the moment its first dose was given (the earliest SessionDose), or from
  ``dosing_started_at`` when its doses are not recorded yet; a session with neither (scheduled,
  cancelled, an integration visit) was not a dose and does not count. The first of them is the
  "first session" before which the baseline is taken (outcomes.BASELINE_SOURCE).

The clinic's rates read each patient's *latest* score against that patient's baseline: the share
of patients responding or in remission now, not the share who ever did. A patient with no
baseline, or no score after the first session, has not enough data and is counted apart: the
share of patients with enough data is shown beside every rate.

The services write no audit row: the pages and API audit every read (the dashboard names no
patient: it shows aggregates only).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketaclinic.clinical import outcomes
from ketaclinic.clinical.scales import SCALES, Scale
from ketaclinic.services import who_may
from ketaclinic.services.actor import Actor, Role
from ketaclinic.services.patients import get_patient
from ketaclinic.store.models import (
    Patient,
    QuestionnaireResponse,
    SessionDose,
    TreatmentPlan,
    TreatmentSession,
)

# Source: issue 6 and the session brief: prescribers and nurses read outcomes, reports and
# exports; the front desk (demographics only) and admins (no clinical data) do not.
READERS: frozenset[Role] = frozenset({"prescriber", "nurse"})
# The scales with a remission line (clinical.outcomes.REMISSION): the ones the issue names for
# response and remission rates.
RATED_SCALES: tuple[str, ...] = tuple(outcomes.REMISSION)
RATES_SOURCE = (
    "issue 6, item 5: response and remission rates by route and indication, with counts and the "
    "share of patients with enough data; each patient's latest score judged against their "
    "baseline by clinical/outcomes.py"
)


@dataclass(frozen=True)
class DosingSession:
    session_id: int
    plan_id: int
    number: int
    at: datetime


@dataclass(frozen=True)
class ScoreRow:
    response_id: int
    taken: datetime
    total: float
    band: str | None
    answers: tuple[int, ...]
    session_id: int | None
    is_baseline: bool
    # Against the baseline, for scores from the first session on; None otherwise.
    improvement: Fraction | None
    level: outcomes.Level | None


@dataclass(frozen=True)
class ScaleOutcome:
    scale: Scale
    rows: tuple[ScoreRow, ...]
    # None for a scale whose result is not a total (the C-SSRS screener's risk level).
    course: outcomes.Course | None
    # The latest score's level against the baseline; None without a baseline.
    level: outcomes.Level | None
    # Half the baseline: a score above it is no longer a response.
    response_line: Fraction | None
    # Pain NRS and PCL-5 have their own meaningful change (clinical/outcomes.py).
    change_note: str | None


@dataclass(frozen=True)
class PatientOutcomes:
    patient: Patient
    sessions: tuple[DosingSession, ...]
    scales: tuple[ScaleOutcome, ...]

    @property
    def first_session(self) -> datetime | None:
        return self.sessions[0].at if self.sessions else None


@dataclass(frozen=True)
class RateRow:
    route: str
    indication: str
    # None when no patient of the group has a rated scale recorded.
    scale_id: str | None
    # Patients with a plan of this route and indication.
    planned: int
    # Of them, patients who had at least one dose.
    treated: int
    # Of the treated, those with a baseline and a score after the first session on this scale.
    with_data: int
    responders: int
    in_remission: int

    @property
    def share_with_data(self) -> Fraction | None:
        return Fraction(self.with_data, self.treated) if self.treated else None

    @property
    def response_rate(self) -> Fraction | None:
        return Fraction(self.responders, self.with_data) if self.with_data else None

    @property
    def remission_rate(self) -> Fraction | None:
        return Fraction(self.in_remission, self.with_data) if self.with_data else None


def answers_of(row: QuestionnaireResponse) -> tuple[int, ...]:
    return tuple(int(a) for a in orjson.loads(row.answers))


def current_responses(session: Session, patient_id: int) -> list[QuestionnaireResponse]:
    """The patient's current responses, oldest first."""
    return list(
        session.scalars(
            select(QuestionnaireResponse)
            .where(
                QuestionnaireResponse.patient_id == patient_id,
                QuestionnaireResponse.state == "current",
            )
            .order_by(QuestionnaireResponse.completed_at, QuestionnaireResponse.id)
        )
    )


def _dosing_moments(
    session: Session, patient_ids: Sequence[int] | None = None
) -> list[DosingSession]:
    first_dose = (
        select(SessionDose.session_id, func.min(SessionDose.started_at).label("first"))
        .group_by(SessionDose.session_id)
        .subquery()
    )
    query = select(TreatmentSession, first_dose.c.first).outerjoin(
        first_dose, first_dose.c.session_id == TreatmentSession.id
    )
    if patient_ids is not None:
        query = query.where(TreatmentSession.patient_id.in_(patient_ids))
    found: list[DosingSession] = []
    for row, first in session.execute(query):
        at = first or row.dosing_started_at
        if at is not None:
            found.append(DosingSession(row.id, row.plan_id, row.number, at))
    return sorted(found, key=lambda s: (s.at, s.session_id))


def dosing_sessions(session: Session, patient_id: int) -> list[DosingSession]:
    """The patient's sessions at which a dose was given, in time order."""
    return _dosing_moments(session, [patient_id])


def _score(row: QuestionnaireResponse) -> outcomes.Score:
    return outcomes.Score(row.completed_at, row.total)


def _change_note(scale_id: str, course: outcomes.Course) -> str | None:
    if course.baseline is None or course.latest is None:
        return None
    start, latest = course.baseline.total, course.latest.total
    if scale_id == "pain_nrs":
        relieved = outcomes.is_meaningful_pain_relief(start, latest)
        return (
            f"{'meaningful' if relieved else 'no meaningful'} pain relief (a drop of 30 % or "
            "more is meaningful)"
        )
    if scale_id == "pcl5":
        return f"PCL-5: {outcomes.pcl5_change(start, latest)} (10 points or more is meaningful)"
    return None


def scale_outcome(
    rating: Scale, rows: Sequence[QuestionnaireResponse], sessions: Sequence[datetime]
) -> ScaleOutcome:
    """One scale's scores with what clinical.outcomes makes of them."""
    ordered = sorted(rows, key=lambda r: (r.completed_at, r.id))
    if rating.total_range is None:
        plain = tuple(
            ScoreRow(
                r.id,
                r.completed_at,
                r.total,
                r.band,
                answers_of(r),
                r.session_id,
                False,
                None,
                None,
            )
            for r in ordered
        )
        return ScaleOutcome(rating, plain, None, None, None, None)
    scores = [_score(r) for r in ordered]
    course = outcomes.course(rating.id, scores, sessions)
    first = min(sessions) if sessions else None
    start = course.baseline
    table: list[ScoreRow] = []
    for row, score in zip(ordered, scores, strict=True):
        judged = start is not None and first is not None and score.taken >= first
        table.append(
            ScoreRow(
                response_id=row.id,
                taken=row.completed_at,
                total=row.total,
                band=row.band,
                answers=answers_of(row),
                session_id=row.session_id,
                is_baseline=start is not None and score == start,
                improvement=outcomes.improvement(start.total, score.total)
                if judged and start is not None
                else None,
                level=outcomes.level(rating.id, start.total, score.total)
                if judged and start is not None
                else None,
            )
        )
    latest_level = (
        outcomes.level(rating.id, start.total, course.latest.total)
        if start is not None and course.latest is not None
        else None
    )
    return ScaleOutcome(
        scale=rating,
        rows=tuple(table),
        course=course,
        level=latest_level,
        response_line=outcomes.response_line(start.total) if start is not None else None,
        change_note=_change_note(rating.id, course),
    )


def _by_scale(rows: Iterable[QuestionnaireResponse]) -> dict[str, list[QuestionnaireResponse]]:
    grouped: dict[str, list[QuestionnaireResponse]] = {}
    for row in rows:
        if row.scale in SCALES:
            grouped.setdefault(row.scale, []).append(row)
    return grouped


def patient_outcomes(session: Session, actor: Actor, patient_id: int) -> PatientOutcomes:
    """Every scale the patient answered, in the order of ``SCALES``, with its course."""
    who_may.require(actor, READERS, "read outcomes")
    return outcomes_of(session, patient_id)


def outcomes_of(session: Session, patient_id: int) -> PatientOutcomes:
    """``patient_outcomes`` for a caller that has checked the reader's role itself (reports)."""
    patient = get_patient(session, patient_id)
    sessions = dosing_sessions(session, patient_id)
    moments = [s.at for s in sessions]
    grouped = _by_scale(current_responses(session, patient_id))
    scales = tuple(
        scale_outcome(rating, grouped[scale_id], moments)
        for scale_id, rating in SCALES.items()
        if scale_id in grouped
    )
    return PatientOutcomes(patient, tuple(sessions), scales)


def clinic_rates(session: Session, actor: Actor) -> list[RateRow]:
    """Response and remission rates by route, indication and rated scale (RATES_SOURCE).

    A patient with two plans of the same route and indication counts once, from the first dose
    of either; a patient with plans of two kinds counts in both groups, each from its own first
    dose.
    """
    who_may.require(actor, READERS, "read outcome rates")
    plans = list(session.scalars(select(TreatmentPlan)))
    groups: dict[tuple[str, str], dict[int, set[int]]] = {}
    for plan in plans:
        groups.setdefault((plan.route, plan.indication), {}).setdefault(plan.patient_id, set()).add(
            plan.id
        )
    patient_ids = sorted({plan.patient_id for plan in plans})
    doses_by_plan: dict[int, list[datetime]] = {}
    for dosing in _dosing_moments(session, patient_ids):
        doses_by_plan.setdefault(dosing.plan_id, []).append(dosing.at)
    scores: dict[int, dict[str, list[outcomes.Score]]] = {}
    if patient_ids:
        for row in session.scalars(
            select(QuestionnaireResponse).where(
                QuestionnaireResponse.patient_id.in_(patient_ids),
                QuestionnaireResponse.state == "current",
                QuestionnaireResponse.scale.in_(RATED_SCALES),
            )
        ):
            scores.setdefault(row.patient_id, {}).setdefault(row.scale, []).append(_score(row))
    found: list[RateRow] = []
    for (route, indication), members in sorted(groups.items()):
        treated: dict[int, list[datetime]] = {}
        for patient_id, plan_ids in members.items():
            moments = [at for plan_id in plan_ids for at in doses_by_plan.get(plan_id, [])]
            if moments:
                treated[patient_id] = moments
        measured = [s for s in RATED_SCALES if any(s in scores.get(p, {}) for p in treated)]
        if not measured:
            found.append(RateRow(route, indication, None, len(members), len(treated), 0, 0, 0))
        for scale_id in measured:
            with_data = responders = remitting = 0
            for patient_id, moments in treated.items():
                taken = scores.get(patient_id, {}).get(scale_id, [])
                course = outcomes.course(scale_id, taken, moments)
                if course.baseline is None or course.latest is None:
                    continue
                with_data += 1
                responders += course.response
                remitting += bool(course.remission)
            found.append(
                RateRow(
                    route,
                    indication,
                    scale_id,
                    len(members),
                    len(treated),
                    with_data,
                    responders,
                    remitting,
                )
            )
    return found


LEVEL_WORDS: dict[str, str] = {
    "remission": "in remission",
    "response": "response (a drop of 50 % or more)",
    "neither": "no response",
}


def percent(share: Fraction) -> int:
    """A share as a whole percentage, halves rounded up (11/20 -> 55, 1/8 -> 13)."""
    return int(share * 100 + Fraction(1, 2)) if share >= 0 else -int(-share * 100 + Fraction(1, 2))


def change_words(improvement: Fraction | None) -> str:
    """How a score stands against the baseline, in words."""
    if improvement is None:
        return ""
    if improvement == 0:
        return "same as baseline"
    if improvement > 0:
        return f"{percent(improvement)} % lower than baseline"
    return f"{percent(-improvement)} % higher than baseline"


def rate_words(part: int, whole: int) -> str:
    """'3 of 5 (60 %)', or '0 of 0' when there is no one to count."""
    if whole == 0:
        return f"{part} of 0"
    return f"{part} of {whole} ({percent(Fraction(part, whole))} %)"
