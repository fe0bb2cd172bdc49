"""Outcome pages and printed documents (issue 6, items 5 and 6).

    GET /patients/{patient_id}/outcomes             P N  one chart per scale and the scores
    GET /patients/{patient_id}/outcomes/report.pdf  P N  the progress report (WeasyPrint)
    GET /screenings/{screening_id}/letter.pdf       P N  the letter to the referring clinician
    GET /outcomes                                   P N  response and remission rates by route
                                                         and indication, counts only

Roles: prescribers and nurses read outcomes and reports; the front desk and admins get 403.
Every read of a patient's data is audited with the patient's id; the dashboard shows aggregates
only (no name, no id), so its audit row names no patient.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, Response

from ketaclinic.clinical.scales import SCALES
from ketaclinic.services import charting, outcomes_view, reports, who_may
from ketaclinic.services.actor import Actor
from ketaclinic.services.patients import get_patient
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles
from ketaclinic.web.pages_common import CLINICAL
from ketaclinic.web.templating import render, templates
from ketaclinic.web.trajectory_svg import chart_of

router = APIRouter(include_in_schema=False)
Clinician = Annotated[Actor, Depends(require_roles(*CLINICAL))]
templates.env.globals.update(
    LEVEL_WORDS=outcomes_view.LEVEL_WORDS,
    change_words=outcomes_view.change_words,
    rate_words=outcomes_view.rate_words,
)


@router.get("/patients/{patient_id}/outcomes", response_class=HTMLResponse)
def patient_outcomes_page(
    request: Request, patient_id: int, db: SessionDep, actor: Clinician, audit: AuditDep
) -> HTMLResponse:
    outcomes = outcomes_view.patient_outcomes(db, actor, patient_id)
    audit("read", "outcomes", patient_id)
    charts = {s.scale.id: chart_of(s, outcomes.sessions, "page") for s in outcomes.scales}
    return render(request, "outcomes.html", {"outcomes": outcomes, "charts": charts})


def _pdf(data: bytes, name: str) -> Response:
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@router.get("/patients/{patient_id}/outcomes/report.pdf")
def progress_report(
    patient_id: int, db: SessionDep, clock: ClockDep, actor: Clinician, audit: AuditDep
) -> Response:
    # The role is checked by the dependency and again here, as the services do for every read.
    who_may.require(actor, outcomes_view.READERS, "read progress reports")
    patient = get_patient(db, patient_id)
    audit("read", "progress report (PDF)", patient_id)
    data = reports.progress_report_pdf(db, patient_id, clock)
    return _pdf(data, reports.report_file_name("progress", patient.mrn, clock.now()))


@router.get("/screenings/{screening_id}/letter.pdf")
def referral_letter(
    screening_id: int, db: SessionDep, actor: Clinician, audit: AuditDep
) -> Response:
    who_may.require(actor, outcomes_view.READERS, "read referral letters")
    screening = charting.get_screening(db, screening_id)
    audit("read", f"referral letter of screening {screening_id} (PDF)", screening.patient_id)
    patient = get_patient(db, screening.patient_id)
    data = reports.referral_letter_pdf(db, screening_id)
    return _pdf(data, reports.report_file_name("letter", patient.mrn, screening.created_at))


@router.get("/outcomes", response_class=HTMLResponse)
def dashboard(request: Request, db: SessionDep, actor: Clinician, audit: AuditDep) -> HTMLResponse:
    rows = outcomes_view.clinic_rates(db, actor)
    audit("read", "outcomes dashboard (aggregates)")
    names = {scale_id: rating.name for scale_id, rating in SCALES.items()}
    return render(request, "outcomes_dashboard.html", {"rows": rows, "scale_names": names})
