"""Screening from the chart (the Screen button), the screening page, sign and override.

The page shows what the engine saved (the contract's JSON, services/charting.output_of): the
decision first, then every finding in plain words with its evidence and source, the trial
table, staging and the workup checklist. Nothing is re-decided here.

Routes and roles: see pages_clinic.py. Nurses see the page without the sign and override forms,
and a POST from them is refused (403).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.services import charting, patients
from ketaclinic.services.actor import Actor
from ketaclinic.services.errors import InvalidInput
from ketaclinic.store.models import Screening
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles
from ketaclinic.web.pages_chart import screening_people
from ketaclinic.web.pages_common import (
    CLINICAL,
    DECISION_WORDS,
    KIND_OF_RESOURCE,
    PRESCRIBER,
    Submitted,
    errors_of,
    may,
)
from ketaclinic.web.templating import render

router = APIRouter(include_in_schema=False)
Clinician = Annotated[Actor, Depends(require_roles(*CLINICAL))]
Prescriber = Annotated[Actor, Depends(require_roles(*PRESCRIBER))]

# Findings by weight, the ones that decide first (spec/screening.md, "Decision").
KIND_ORDER = ("absolute", "indication", "missing", "relative", "interaction", "note")
WORKUP_WORDS = {
    "physical_exam": "Physical examination",
    "blood_pressure": "Blood pressure",
    "liver_function": "Liver function (ALT or AST)",
    "renal_function": "Kidney function (creatinine or eGFR)",
    "thyroid": "Thyroid (TSH)",
    "urinalysis": "Urinalysis",
    "pregnancy_test": "Pregnancy test",
    "ecg": "ECG",
    "baseline_scale": "Baseline rating scale (PHQ-9 or GAD-7)",
}
WORKUP_STATUS_WORDS = {
    "done": "Done",
    "missing": "Missing",
    "stale": "Too old: repeat",
    "not_required": "Not required",
}
RESISTANCE_WORDS = {
    "resistant": "Resistant",
    "not_resistant": "Not shown to be resistant",
    "unknown": "Unknown",
    "not_applicable": "Not applicable",
}


def evidence_link(ref: str) -> tuple[str, str | None]:
    """``Condition/12`` -> its label and the history page of row 12 (None for the patient)."""
    resource_type, _, row_id = ref.partition("/")
    kind = KIND_OF_RESOURCE.get(resource_type)
    if kind is None or not row_id.isdigit():
        return ref, None
    return ref, f"/records/{kind}/{row_id}/history"


def sorted_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rank = {kind: index for index, kind in enumerate(KIND_ORDER)}
    return sorted(findings, key=lambda f: rank.get(str(f.get("kind")), len(rank)))


def _page(
    request: Request,
    db: Session,
    actor: Actor,
    screening: Screening,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    output = charting.output_of(screening)
    effective = charting.effective_decision(screening)
    context = {
        "screening": screening,
        "patient": patients.get_patient(db, screening.patient_id),
        "output": output,
        "effective": effective,
        "stale": charting.is_stale(db, screening),
        "people": screening_people(db, [screening]),
        "findings": sorted_findings(output.get("findings", [])),
        "evidence_link": evidence_link,
        "may_sign": may(actor, PRESCRIBER),
        "workup_words": WORKUP_WORDS,
        "workup_status_words": WORKUP_STATUS_WORDS,
        "resistance_words": RESISTANCE_WORDS,
        "override_choices": [(d, w) for d, w in DECISION_WORDS.items() if d != screening.decision],
        "minimum_justification": charting.MINIMUM_JUSTIFICATION,
        "form": form or {},
        "errors": errors or {},
    }
    return render(request, "screening.html", context, 422 if errors else 200)


@router.post("/patients/{patient_id}/screenings", response_class=HTMLResponse)
async def screen(
    request: Request,
    patient_id: int,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> Response:
    form = await Submitted.of(request)
    screening = charting.screen_patient(db, actor, clock, patient_id, form.raw("route") or "iv")
    # Screening reads the whole record and writes the result: both are audited.
    audit("read", f"record for screening {screening.id}", patient_id)
    audit("write", f"screening {screening.id} ({screening.route})", patient_id)
    return RedirectResponse(f"/screenings/{screening.id}", status_code=303)


@router.get("/screenings/{screening_id}", response_class=HTMLResponse)
def screening_page(
    request: Request, screening_id: int, db: SessionDep, actor: Clinician, audit: AuditDep
) -> HTMLResponse:
    screening = charting.get_screening(db, screening_id)
    audit("read", f"screening {screening_id}", screening.patient_id)
    return _page(request, db, actor, screening)


@router.post("/screenings/{screening_id}/sign", response_class=HTMLResponse)
def sign(
    request: Request,
    screening_id: int,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> Response:
    signature = charting.sign_screening(db, actor, clock, screening_id)
    audit("write", f"sign screening {screening_id}", signature.screening.patient_id)
    return RedirectResponse(f"/screenings/{screening_id}", status_code=303)


@router.post("/screenings/{screening_id}/override", response_class=HTMLResponse)
async def override(
    request: Request,
    screening_id: int,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> Response:
    screening = charting.get_screening(db, screening_id)
    form = await Submitted.of(request)
    try:
        with db.begin_nested():
            charting.override_screening(
                db, actor, clock, screening_id, form.raw("decision"), form.raw("justification")
            )
    except InvalidInput as problem:
        audit("read", f"screening {screening_id} (override refused)", screening.patient_id)
        return _page(request, db, actor, screening, form.values, errors_of(problem))
    audit("write", f"override screening {screening_id}", screening.patient_id)
    return RedirectResponse(f"/screenings/{screening_id}", status_code=303)
