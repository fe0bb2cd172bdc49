"""The patient chart: demographics, diagnoses, the medication-trial timeline and table (with the
inline outcome form), vitals, labs and scales, allergies, procedures, the resources received from
other clinics (when there are any) and the latest screening.

Routes and roles: see pages_clinic.py. Front desk and admins get the 403 page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse

from ketaclinic.services import charting, safety
from ketaclinic.services.actor import Actor
from ketaclinic.services.received_resources import received_lines
from ketaclinic.store.models import MedicationRecord, Screening
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles
from ketaclinic.web.pages_common import CLINICAL, PRESCRIBER, WRITERS, age_on, may, staff_names
from ketaclinic.web.pages_self_report import alert_lines
from ketaclinic.web.pages_timeline import (
    LEGEND,
    dose_words,
    outcome_fill,
    outcome_words,
    trial_timeline,
    weeks_taken,
)
from ketaclinic.web.templating import render

router = APIRouter(include_in_schema=False)
Clinician = Annotated[Actor, Depends(require_roles(*CLINICAL))]


@dataclass(frozen=True)
class TrialRow:
    """One prescription in the trial table, with what the chart says about it."""

    record: MedicationRecord
    ingredient: str
    dose: str
    weeks: float | None
    outcome: str
    fill: str


def trial_rows(chart: charting.Chart, today: date) -> list[TrialRow]:
    return [
        TrialRow(
            row,
            line.ingredient,
            dose_words(row),
            weeks_taken(row, today),
            outcome_words(row),
            outcome_fill(row),
        )
        for line in chart.trials
        for row in line.prescriptions
    ]


def trials_context(chart: charting.Chart, actor: Actor, today: date) -> dict[str, Any]:
    """What templates/_chart_trials.html needs (the chart, and the htmx outcome form's reply)."""
    return {
        "patient": chart.patient,
        "timeline": trial_timeline(chart.trials, today),
        "trial_rows": trial_rows(chart, today),
        "may_prescribe": may(actor, PRESCRIBER),
        "timeline_legend": LEGEND,
    }


def unrecognised_refs(screening: Screening | None) -> set[str]:
    """Records the latest screening could not read a code of (shown as "unrecognised")."""
    if screening is None:
        return set()
    output = charting.output_of(screening)
    return {
        ref
        for finding in output.get("findings", [])
        if finding.get("id") == "unrecognised_code"
        for ref in finding.get("evidence", [])
    }


def screening_people(session: Session, screenings: list[Screening]) -> dict[int, str]:
    ids: list[int | None] = []
    for s in screenings:
        ids.append(s.run_by_id)
        ids.append(s.signature.signed_by_id if s.signature else None)
        ids.append(s.override.overridden_by_id if s.override else None)
    return staff_names(session, ids)


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_chart(
    request: Request,
    patient_id: int,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> HTMLResponse:
    today = clock.now().date()
    chart = charting.chart(db, patient_id)
    audit("read", "chart", patient_id)
    screenings = charting.screenings_of(db, patient_id)
    history = [
        (s, charting.effective_decision(s), charting.is_stale(db, s)) for s in screenings[:10]
    ]
    context = {
        "chart": chart,
        "today": today,
        "now": clock.now(),
        "age": age_on(chart.patient.birth_date, today),
        "may_prescribe": may(actor, PRESCRIBER),
        "may_observe": may(actor, WRITERS["observation"]),
        "screening_history": history,
        "people": screening_people(db, screenings[:10]),
        "unrecognised": unrecognised_refs(screenings[0] if screenings else None),
        "received": received_lines(db, patient_id),
        **trials_context(chart, actor, today),
        # Urgent safety alerts are drawn with the chart itself, never loaded afterwards.
        "lines": alert_lines(db, safety.open_alerts(db, patient_id)),
        "may_acknowledge": actor.role == "prescriber",
        "back": f"/patients/{patient_id}",
    }
    return render(request, "chart.html", context)
