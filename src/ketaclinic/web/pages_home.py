"""The home programme page of an oral or sublingual plan (issue 5 item 5).

    GET  /plans/{plan_id}/home                 P N  PDMP checks, prescriptions, check-ins (missed
                                                    ones flagged), the dose diary; the forms
    POST /plans/{plan_id}/home/pdmp            P    a prescription-monitoring check
    POST /plans/{plan_id}/home/prescriptions   P    a home prescription
    POST /plans/{plan_id}/home/schedule        P N  a check-in due before a home dose
    POST /plans/{plan_id}/home/checkins        P N  a check-in's answers
    POST /plans/{plan_id}/home/doses           P N  a dose in the diary

Patients have no accounts yet: staff enter what a patient reports ("reported by the patient").
A refused form is shown again (422) with the message beside its field and nothing written.
Every read and write is audited with the plan's patient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.services import home_programme as home
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import InvalidInput
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles
from ketaclinic.web.pages_common import Submitted, errors_of, required
from ketaclinic.web.templating import render

router = APIRouter(include_in_schema=False)
Clinician = Annotated[Actor, Depends(require_roles("prescriber", "nurse"))]
Prescriber = Annotated[Actor, Depends(require_roles("prescriber"))]
DONE = {
    "pdmp": "PDMP check recorded.",
    "prescriptions": "Home prescription written.",
    "schedule": "Check-in scheduled.",
    "checkins": "Check-in recorded.",
    "doses": "Dose recorded in the diary.",
}


def _page(
    request: Request,
    db: Session,
    clock: Clock,
    actor: Actor,
    plan_id: int,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    view = home.programme(db, clock, plan_id)
    values: dict[str, Any] = {
        "view": view,
        "missed_ids": {c.id for c in view.missed},
        "may_prescribe": actor.role == "prescriber",
        "forms_in": {},
        "errors": {},
        "done": DONE.get(request.query_params.get("done", ""), ""),
        "now": clock.now(),
    }
    values.update(context)
    return render(request, "home_programme.html", values, status)


@router.get("/plans/{plan_id}/home", response_class=HTMLResponse)
def home_page(
    plan_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> HTMLResponse:
    page = _page(request, db, clock, actor, plan_id)
    audit("read", f"home programme of plan {plan_id}", home.get_plan(db, plan_id).patient_id)
    return page


async def _write(
    name: str,
    plan_id: int,
    request: Request,
    db: Session,
    clock: Clock,
    actor: Actor,
    audit: AuditDep,
    write: Callable[[Submitted], str],
) -> Response:
    form = await Submitted.of(request)
    try:
        with db.begin_nested():
            words = write(form)
    except InvalidInput as problem:
        # A refusal about no field of the form (the PDMP check, the check-in) is shown in the
        # form's summary under its own name.
        errors = {name: errors_of(problem)}
        return _page(
            request, db, clock, actor, plan_id, 422, forms_in={name: form.values}, errors=errors
        )
    audit("write", f"{words} (plan {plan_id})", home.get_plan(db, plan_id).patient_id)
    return RedirectResponse(f"/plans/{plan_id}/home?done={name}", status_code=303)


@router.post("/plans/{plan_id}/home/pdmp", response_class=HTMLResponse)
async def pdmp(
    plan_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        row = home.record_pdmp_check(
            db,
            actor,
            clock,
            plan_id,
            form.raw("result"),
            form.text("note"),
            form.moment("checked_at"),
        )
        return f"PDMP check ({row.result})"

    return await _write("pdmp", plan_id, request, db, clock, actor, audit, write)


@router.post("/plans/{plan_id}/home/prescriptions", response_class=HTMLResponse)
async def prescribe(
    plan_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        row = home.write_home_prescription(
            db,
            actor,
            clock,
            plan_id,
            required("dose_mg", form.number("dose_mg")),
            required("doses", form.whole("doses")),
        )
        return f"home prescription {row.id}: {row.doses} x {row.dose_mg:g} mg"

    return await _write("prescriptions", plan_id, request, db, clock, actor, audit, write)


@router.post("/plans/{plan_id}/home/schedule", response_class=HTMLResponse)
async def schedule(
    plan_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        row = home.schedule_checkin(
            db, actor, clock, plan_id, required("due_at", form.moment("due_at"))
        )
        return f"home check-in {row.id} scheduled {row.due_at:%Y-%m-%d %H:%M}"

    return await _write("schedule", plan_id, request, db, clock, actor, audit, write)


@router.post("/plans/{plan_id}/home/checkins", response_class=HTMLResponse)
async def checkin(
    plan_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        given = home.CheckinIn(
            sitter_present=form.checked("sitter_present"),
            no_driving=form.checked("no_driving"),
            side_effects=form.text("side_effects"),
            reported_by=form.raw("reported_by") or "staff",
            done_at=form.moment("done_at"),
            checkin_id=form.whole("checkin_id"),
        )
        row = home.record_checkin(db, actor, clock, plan_id, given)
        return f"home check-in {row.id} recorded"

    return await _write("checkins", plan_id, request, db, clock, actor, audit, write)


@router.post("/plans/{plan_id}/home/doses", response_class=HTMLResponse)
async def dose(
    plan_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        given = home.HomeDoseIn(
            prescription_id=required("prescription_id", form.whole("prescription_id")),
            dose_mg=required("dose_mg", form.number("dose_mg")),
            taken_at=form.moment("taken_at"),
            reported_by=form.raw("reported_by") or "patient",
            note=form.text("note"),
        )
        row = home.record_home_dose(db, actor, clock, plan_id, given)
        return f"home dose {row.id}: {row.dose_mg:g} mg"

    return await _write("doses", plan_id, request, db, clock, actor, audit, write)
