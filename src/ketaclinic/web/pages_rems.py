"""The esketamine REMS pages (issue 5 item 4).

    GET  /rems                                P N  certifications, enrolments, forms due, forms
    POST /rems/site                           P    the site's REMS certification
    POST /rems/enrolments                     P N  a patient's REMS enrolment
    POST /rems/sessions/{session_id}/form     P N  fill (or refill) the session's form
    GET  /rems/forms/{form_id}                P N  the form, with its submit form
    POST /rems/forms/{form_id}/submit         P N  marked sent, with the REMS's reference
    GET  /rems/forms/{form_id}/pdf            P N  the form printed
    GET  /rems/forms/{form_id}/csv            P N  the form as CSV
    GET  /rems/overdue                        P N  sessions whose form is overdue (over 7 days)

A refused form is shown again (422) with the message beside its field and nothing written (the
service runs in a savepoint that is rolled back). Every read and write is audited with the
patient it concerns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.services import rems
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import InvalidInput
from ketaclinic.web.api_rems import csv_response, form_words, pdf_response
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles
from ketaclinic.web.pages_common import Submitted, errors_of, required
from ketaclinic.web.templating import render

router = APIRouter(include_in_schema=False)
Filler = Annotated[Actor, Depends(require_roles("prescriber", "nurse"))]
Certifier = Annotated[Actor, Depends(require_roles("prescriber"))]
DONE = {
    "site": "Site certification recorded.",
    "enrol": "Patient enrolment recorded.",
    "built": "Form filled from the session.",
    "submitted": "Form marked as submitted.",
}


def _overview(session: Session, clock: Clock, audit: AuditDep | None) -> dict[str, Any]:
    """What the page shows; audited when first shown (a refused form shown again is not a new
    read, and a refusal writes nothing)."""
    rows = rems.enrolments(session)
    due = rems.forms_due(session, clock)
    forms = rems.all_forms(session)[:50]
    patients = {f.id: rems.patient_of_form(session, f) for f in forms}
    if audit is not None:
        audit("read", "REMS overview")
        shown = [r.patient_id for r in rows] + [d.patient_id for d in due] + [*patients.values()]
        for patient_id in dict.fromkeys(p for p in shown if p is not None):
            audit("read", "REMS overview", patient_id)
    return {
        "site": rems.site_certification(session),
        "enrolments": [r for r in rows if r.kind == "patient"],
        "sites": [r for r in rows if r.kind == "site"],
        "due": due,
        "forms": forms,
        "form_patients": patients,
        "today": clock.now().date(),
    }


def _page(
    request: Request,
    session: Session,
    clock: Clock,
    actor: Actor,
    audit: AuditDep | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    values: dict[str, Any] = {
        **_overview(session, clock, audit),
        "may_certify": actor.role == "prescriber",
        "forms_in": {},
        "errors": {},
        "done": DONE.get(request.query_params.get("done", ""), ""),
    }
    values.update(context)
    return render(request, "rems.html", values, status)


@router.get("/rems", response_class=HTMLResponse)
def rems_page(
    request: Request, db: SessionDep, clock: ClockDep, actor: Filler, audit: AuditDep
) -> HTMLResponse:
    return _page(request, db, clock, actor, audit)


async def _write(
    name: str,
    request: Request,
    db: Session,
    clock: Clock,
    actor: Actor,
    audit: AuditDep,
    write: Callable[[Submitted], tuple[str, int | None, str]],
) -> Response:
    """Run ``write``; it answers (what to audit, the patient, where to go next)."""
    form = await Submitted.of(request)
    try:
        with db.begin_nested():
            words, patient_id, then = write(form)
    except InvalidInput as problem:
        return _page(
            request,
            db,
            clock,
            actor,
            None,
            422,
            forms_in={name: form.values},
            errors={name: errors_of(problem)},
        )
    audit("write", words, patient_id)
    return RedirectResponse(then, status_code=303)


@router.post("/rems/site", response_class=HTMLResponse)
async def certify_site(
    request: Request, db: SessionDep, clock: ClockDep, actor: Certifier, audit: AuditDep
) -> Response:
    def write(form: Submitted) -> tuple[str, int | None, str]:
        row = rems.record_site_certification(
            db,
            actor,
            clock,
            form.words("reference"),
            required("certified_on", form.day("certified_on")),
        )
        return f"REMS site certification {row.reference}", None, "/rems?done=site"

    return await _write("site", request, db, clock, actor, audit, write)


@router.post("/rems/enrolments", response_class=HTMLResponse)
async def enrol(
    request: Request, db: SessionDep, clock: ClockDep, actor: Filler, audit: AuditDep
) -> Response:
    def write(form: Submitted) -> tuple[str, int | None, str]:
        row = rems.record_patient_enrolment(
            db,
            actor,
            clock,
            required("patient_id", form.whole("patient_id")),
            form.words("reference"),
            required("enrolled_on", form.day("enrolled_on")),
        )
        return f"REMS patient enrolment {row.reference}", row.patient_id, "/rems?done=enrol"

    return await _write("enrol", request, db, clock, actor, audit, write)


@router.post("/rems/sessions/{session_id}/form", response_class=HTMLResponse)
async def build(
    session_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Filler,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> tuple[str, int | None, str]:
        built = rems.build_form(db, actor, clock, session_id, ready_at=form.moment("ready_at"))
        patient_id = rems.patient_of_form(db, built)
        words = form_words(built.id, f"filled from session {session_id}")
        return words, patient_id, f"/rems/forms/{built.id}?done=built"

    return await _write("build", request, db, clock, actor, audit, write)


def _form_page(
    request: Request,
    db: Session,
    clock: Clock,
    form_id: int,
    audit: AuditDep | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    view = rems.form_view(db, clock, form_id)
    if audit is not None:
        audit("read", form_words(form_id, "read"), view.patient_id)
    values: dict[str, Any] = {
        "view": view,
        "form_in": {},
        "errors": {},
        "done": DONE.get(request.query_params.get("done", ""), ""),
    }
    values.update(context)
    return render(request, "rems_form.html", values, status)


@router.get("/rems/forms/{form_id}", response_class=HTMLResponse)
def form_page(
    form_id: int, request: Request, db: SessionDep, clock: ClockDep, actor: Filler, audit: AuditDep
) -> HTMLResponse:
    return _form_page(request, db, clock, form_id, audit)


@router.post("/rems/forms/{form_id}/submit", response_class=HTMLResponse)
async def submit(
    form_id: int, request: Request, db: SessionDep, clock: ClockDep, actor: Filler, audit: AuditDep
) -> Response:
    form = await Submitted.of(request)
    try:
        with db.begin_nested():
            done = rems.submit_form(db, actor, clock, form_id, form.words("reference"))
    except InvalidInput as problem:
        return _form_page(
            request, db, clock, form_id, None, 422, form_in=form.values, errors=errors_of(problem)
        )
    words = form_words(form_id, f"submitted ({done.submission_reference})")
    audit("write", words, rems.patient_of_form(db, done))
    return RedirectResponse(f"/rems/forms/{form_id}?done=submitted", status_code=303)


@router.get("/rems/forms/{form_id}/pdf")
def form_pdf(
    form_id: int, db: SessionDep, clock: ClockDep, actor: Filler, audit: AuditDep
) -> Response:
    return pdf_response(db, clock, form_id, audit)


@router.get("/rems/forms/{form_id}/csv")
def form_csv(form_id: int, db: SessionDep, actor: Filler, audit: AuditDep) -> Response:
    return csv_response(db, form_id, audit)


@router.get("/rems/overdue", response_class=HTMLResponse)
def overdue_page(
    request: Request, db: SessionDep, clock: ClockDep, actor: Filler, audit: AuditDep
) -> HTMLResponse:
    rows = rems.overdue_forms(db, clock)
    audit("read", "REMS forms overdue")
    for patient_id in dict.fromkeys(r.patient_id for r in rows):
        audit("read", "REMS form overdue", patient_id)
    return render(request, "rems_overdue.html", {"rows": rows, "today": clock.now().date()})
