"""Treatment plan pages: the patient's plans, the plan form, the plan, and its consent.

    GET  /patients/{patient_id}/plans       P N  the patient's plans
    GET  /patients/{patient_id}/plans/new   P    the plan form
    POST /patients/{patient_id}/plans       P    make the plan (awaiting consent)
    GET  /plans/{plan_id}                   P N  version, dose, series calendar, cost with billing
                                                 codes, review flag, events, consents
    GET  /plans/{plan_id}/change            P    the form, filled with the current version
    POST /plans/{plan_id}/change            P    a new version with its reason
    POST /plans/{plan_id}/pause|resume|end  P    with a reason
    GET  /plans/{plan_id}/consent           P N  the consent text, typed name, signature canvas
    POST /plans/{plan_id}/consent           P N  both signatures: the plan becomes active
    POST /plans/{plan_id}/consent/withdraw  P N  the plan ends
    GET  /consents/{consent_id}.pdf         P N  the signed consent

A refused form is shown again with the message beside its field (422) or, when the record does
not allow the plan, with every reason and its source (409); nothing is written (savepoint).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.services import consent, patients, plans
from ketaclinic.services.actor import Actor
from ketaclinic.services.errors import Conflict, InvalidInput
from ketaclinic.services.plan_forms import PLAN_ROUTES, parse_plan
from ketaclinic.store.models import Patient
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles
from ketaclinic.web.pages_common import (
    CLINICAL,
    PRESCRIBER,
    Submitted,
    errors_of,
    may,
    staff_names,
)
from ketaclinic.web.templating import render

router = APIRouter(include_in_schema=False)
Clinician = Annotated[Actor, Depends(require_roles(*CLINICAL))]
Prescriber = Annotated[Actor, Depends(require_roles(*PRESCRIBER))]

PLAN_FIELDS = (
    "route", "indication", "start_on", "mg_per_kg", "infusion_minutes", "mg",
    "induction_sessions", "induction_days", "maintenance_sessions", "maintenance_every_days",
    "integration_sessions", "chair",
)  # fmt: skip
ROUTE_CHOICES = [
    ("iv", "IV infusion"),
    ("esketamine", "Esketamine nasal spray"),
    ("im", "IM injection"),
    ("oral", "Oral, at home"),
    ("sublingual", "Sublingual, at home"),
]
INDICATIONS = [
    ("treatment_resistant_depression", "Treatment-resistant depression"),
    ("mdd_with_suicidal_ideation", "MDD with suicidal ideation"),
    ("bipolar_depression", "Bipolar depression"),
    ("ptsd", "PTSD"),
    ("anxiety_disorder", "Anxiety disorder"),
    ("crps", "CRPS"),
    ("neuropathic_pain", "Neuropathic pain"),
    ("fibromyalgia", "Fibromyalgia"),
]
assert [r for r, _ in ROUTE_CHOICES] == list(PLAN_ROUTES)


def _form_values(form: Submitted) -> dict[str, object]:
    values: dict[str, object] = {k: form.raw(k) for k in PLAN_FIELDS}
    values["integration_sessions"] = form.checked("integration_sessions")
    return values


def _plan_form(
    request: Request,
    patient: Patient,
    form: dict[str, str],
    errors: dict[str, str],
    *,
    plan_id: int | None = None,
    refusals: list[Any] | None = None,
    status: int | None = None,
) -> HTMLResponse:
    context = {
        "patient": patient,
        "form": form,
        "errors": errors,
        "refusals": refusals or [],
        "plan_id": plan_id,
        "route_choices": ROUTE_CHOICES,
        "indications": INDICATIONS,
    }
    code = status or (422 if errors else 200)
    return render(request, "plan_form.html", context, code)


def _refused(problem: Conflict) -> list[Any]:
    if isinstance(problem, plans.PlanRefused):
        return list(problem.reasons)
    return [{"id": "conflict", "message": str(problem), "source": ""}]


@router.get("/patients/{patient_id}/plans", response_class=HTMLResponse)
def plan_list(
    request: Request, patient_id: int, db: SessionDep, actor: Clinician, audit: AuditDep
) -> HTMLResponse:
    patient = patients.get_patient(db, patient_id)
    found = [plans.plan_detail(db, p.id) for p in plans.plans_of(db, patient_id)]
    audit("read", "treatment plans", patient_id)
    context = {"patient": patient, "plans": found, "may_plan": may(actor, PRESCRIBER)}
    return render(request, "plans.html", context)


@router.get("/patients/{patient_id}/plans/new", response_class=HTMLResponse)
def new_plan(
    request: Request,
    patient_id: int,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> HTMLResponse:
    patient = patients.get_patient(db, patient_id)
    audit("read", "plan form", patient_id)
    blank = {"route": "iv", "start_on": clock.now().date().isoformat(), "mg_per_kg": "0.5"}
    return _plan_form(request, patient, blank, {})


@router.post("/patients/{patient_id}/plans", response_class=HTMLResponse)
async def make_plan(
    request: Request,
    patient_id: int,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> Response:
    form = await Submitted.of(request)
    patient = patients.get_patient(db, patient_id)
    try:
        with db.begin_nested():
            plan = plans.create_plan(db, actor, clock, patient_id, parse_plan(_form_values(form)))
    except InvalidInput as problem:
        audit("read", "plan form (refused)", patient_id)
        return _plan_form(request, patient, form.values, errors_of(problem))
    except Conflict as problem:
        audit("read", "plan form (refused)", patient_id)
        return _plan_form(request, patient, form.values, {}, refusals=_refused(problem), status=409)
    audit("write", f"plan {plan.id} created ({plan.route})", patient_id)
    return RedirectResponse(f"/plans/{plan.id}", status_code=303)


def _plan_page(
    request: Request,
    db: Session,
    actor: Actor,
    plan_id: int,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    detail = plans.plan_detail(db, plan_id)
    people = staff_names(
        db,
        [e.by_id for e in detail.events]
        + [c.clinician_id for c in detail.consents]
        + [v.created_by_id for v in detail.versions],
    )
    context = {
        "d": detail,
        "patient": patients.get_patient(db, detail.plan.patient_id),
        "people": people,
        "may_plan": may(actor, PRESCRIBER),
        "errors": errors or {},
        "form": {},
    }
    return render(request, "plan.html", context, status)


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
def plan_page(
    request: Request, plan_id: int, db: SessionDep, actor: Clinician, audit: AuditDep
) -> HTMLResponse:
    plan = plans.get_plan(db, plan_id)
    audit("read", f"plan {plan_id}", plan.patient_id)
    return _plan_page(request, db, actor, plan_id)


@router.get("/plans/{plan_id}/change", response_class=HTMLResponse)
def change_form(
    request: Request, plan_id: int, db: SessionDep, actor: Prescriber, audit: AuditDep
) -> HTMLResponse:
    plan = plans.get_plan(db, plan_id)
    values = asdict(plans.request_of(plans.current_version(db, plan)))
    form = {k: "" if v is None else str(v) for k, v in values.items()}
    form["integration_sessions"] = "on" if values["integration_sessions"] else ""
    audit("read", f"plan {plan_id} change form", plan.patient_id)
    return _plan_form(request, patients.get_patient(db, plan.patient_id), form, {}, plan_id=plan_id)


@router.post("/plans/{plan_id}/change", response_class=HTMLResponse)
async def change(
    request: Request,
    plan_id: int,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> Response:
    form = await Submitted.of(request)
    plan = plans.get_plan(db, plan_id)
    patient = patients.get_patient(db, plan.patient_id)
    try:
        with db.begin_nested():
            values = parse_plan(_form_values(form))
            version = plans.change_plan(db, actor, clock, plan_id, values, form.words("reason"))
    except InvalidInput as problem:
        audit("read", f"plan {plan_id} change form (refused)", plan.patient_id)
        return _plan_form(request, patient, form.values, errors_of(problem), plan_id=plan_id)
    except Conflict as problem:
        audit("read", f"plan {plan_id} change form (refused)", plan.patient_id)
        return _plan_form(
            request, patient, form.values, {}, plan_id=plan_id, refusals=_refused(problem),
            status=409,
        )  # fmt: skip
    audit("write", f"plan {plan_id} changed to version {version.version}", plan.patient_id)
    return RedirectResponse(f"/plans/{plan_id}", status_code=303)


async def _move(
    verb: str,
    request: Request,
    plan_id: int,
    db: Session,
    clock: Any,
    actor: Actor,
    audit: Any,
) -> Response:
    form = await Submitted.of(request)
    plan = plans.get_plan(db, plan_id)
    move = {"pause": plans.pause_plan, "resume": plans.resume_plan, "end": plans.end_plan}[verb]
    try:
        with db.begin_nested():
            move(db, actor, clock, plan_id, form.words("reason"))
    except InvalidInput as problem:
        audit("read", f"plan {plan_id} (refused {verb})", plan.patient_id)
        errors = {f"{verb}_reason": problem.message}
        return _plan_page(request, db, actor, plan_id, errors, 422)
    audit("write", f"plan {plan_id} {verb}", plan.patient_id)
    return RedirectResponse(f"/plans/{plan_id}", status_code=303)


@router.post("/plans/{plan_id}/pause", response_class=HTMLResponse)
async def pause(
    request: Request, plan_id: int, db: SessionDep, clock: ClockDep, actor: Prescriber,
    audit: AuditDep,
) -> Response:  # fmt: skip
    return await _move("pause", request, plan_id, db, clock, actor, audit)


@router.post("/plans/{plan_id}/resume", response_class=HTMLResponse)
async def resume(
    request: Request, plan_id: int, db: SessionDep, clock: ClockDep, actor: Prescriber,
    audit: AuditDep,
) -> Response:  # fmt: skip
    return await _move("resume", request, plan_id, db, clock, actor, audit)


@router.post("/plans/{plan_id}/end", response_class=HTMLResponse)
async def end(
    request: Request, plan_id: int, db: SessionDep, clock: ClockDep, actor: Prescriber,
    audit: AuditDep,
) -> Response:  # fmt: skip
    return await _move("end", request, plan_id, db, clock, actor, audit)


# ---- consent ----------------------------------------------------------------------------------


def _consent_page(
    request: Request,
    db: Session,
    plan_id: int,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    plan = plans.get_plan(db, plan_id)
    found = consent.consents_of(db, plan_id)
    standing = consent.standing_consent(db, plan_id)
    # A signed consent shows the text as signed; before that, the text of the current version.
    text = standing.text if standing is not None else consent.consent_text(db, plan_id)
    context = {
        "plan": plan,
        "patient": patients.get_patient(db, plan.patient_id),
        "sections": consent.sections_of(text),
        "consents": found,
        "standing": standing,
        "people": staff_names(db, [c.clinician_id for c in found]),
        "form": form or {},
        "errors": errors or {},
    }
    return render(request, "consent.html", context, status)


@router.get("/plans/{plan_id}/consent", response_class=HTMLResponse)
def consent_page(
    request: Request, plan_id: int, db: SessionDep, actor: Clinician, audit: AuditDep
) -> HTMLResponse:
    plan = plans.get_plan(db, plan_id)
    audit("read", f"plan {plan_id} consent", plan.patient_id)
    return _consent_page(request, db, plan_id)


@router.post("/plans/{plan_id}/consent", response_class=HTMLResponse)
async def sign_consent(
    request: Request,
    plan_id: int,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    form = await Submitted.of(request)
    plan = plans.get_plan(db, plan_id)
    try:
        with db.begin_nested():
            row = consent.sign_consent(
                db, actor, clock, plan_id,
                typed_name=form.text("typed_name"), drawn_png=form.text("signature"),
            )  # fmt: skip
    except InvalidInput as problem:
        audit("read", f"plan {plan_id} consent (refused)", plan.patient_id)
        shown = {k: v for k, v in form.values.items() if k != "signature"}
        return _consent_page(request, db, plan_id, shown, errors_of(problem), 422)
    except Conflict as problem:
        audit("read", f"plan {plan_id} consent (refused)", plan.patient_id)
        return _consent_page(request, db, plan_id, {}, {"typed_name": str(problem)}, 409)
    audit("write", f"plan {plan_id} consent {row.id} signed; plan active", plan.patient_id)
    return RedirectResponse(f"/plans/{plan_id}", status_code=303)


@router.post("/plans/{plan_id}/consent/withdraw", response_class=HTMLResponse)
async def withdraw_consent(
    request: Request,
    plan_id: int,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    form = await Submitted.of(request)
    plan = plans.get_plan(db, plan_id)
    try:
        with db.begin_nested():
            row = consent.withdraw_consent(db, actor, clock, plan_id, form.words("reason"))
    except InvalidInput as problem:
        audit("read", f"plan {plan_id} consent (refused withdrawal)", plan.patient_id)
        return _consent_page(request, db, plan_id, {}, {"reason": problem.message}, 422)
    audit("write", f"plan {plan_id} consent {row.id} withdrawn; plan ended", plan.patient_id)
    return RedirectResponse(f"/plans/{plan_id}", status_code=303)


@router.get("/consents/{consent_id}.pdf")
def consent_pdf(consent_id: int, db: SessionDep, actor: Clinician, audit: AuditDep) -> Response:
    row = consent.get_consent(db, consent_id)
    plan = plans.get_plan(db, row.plan_id)
    pdf = consent.consent_pdf(db, consent_id)
    audit("read", f"consent {consent_id} PDF (plan {plan.id})", plan.patient_id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="consent-{consent_id}.pdf"'},
    )
