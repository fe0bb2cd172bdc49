"""The patient list (search by name, birth date or MRN, paged) and registering a patient.

Routes and roles: see pages_clinic.py.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.services import patients
from ketaclinic.services.actor import Actor
from ketaclinic.services.errors import InvalidInput
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles
from ketaclinic.web.pages_common import CLINICAL, DEMOGRAPHICS, Submitted, errors_of, may
from ketaclinic.web.templating import render

router = APIRouter(include_in_schema=False)
Registrar = Annotated[Actor, Depends(require_roles(*DEMOGRAPHICS))]
PAGE_SIZE = 20


@router.get("/patients", response_class=HTMLResponse)
def patient_list(
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Registrar,
    audit: AuditDep,
    name: str = "",
    birth_date: str = "",
    mrn: str = "",
    page: str = "1",
    registered: str = "",
) -> HTMLResponse:
    query = Submitted({"name": name, "birth_date": birth_date, "mrn": mrn, "page": page})
    errors: dict[str, str] = {}
    found: patients.Page[Any] | None = None
    try:
        found = patients.search_patients(
            db,
            text=query.text("name"),
            birth_date=query.day("birth_date"),
            mrn=query.text("mrn"),
            page=query.whole("page") or 1,
            size=PAGE_SIZE,
        )
    except InvalidInput as problem:
        errors = errors_of(problem)
    # Each patient shown is a read of that patient's demographics.
    for patient in found.items if found else []:
        audit("read", "patient list", patient.id)
    filters = {k: v for k, v in (("name", name), ("birth_date", birth_date), ("mrn", mrn)) if v}
    context = {
        "form": query.values,
        "errors": errors,
        "found": found,
        "open_chart": may(actor, CLINICAL),
        "may_register": True,
        "registered": registered,
        "today": clock.now().date(),
        "page_link": lambda number: "/patients?" + urlencode({**filters, "page": number}),
    }
    return render(request, "patients.html", context, 422 if errors else 200)


@router.get("/patients/new", response_class=HTMLResponse)
def new_patient_form(request: Request, actor: Registrar) -> HTMLResponse:
    return render(request, "patient_new.html", {"form": {"sex": ""}, "errors": {}})


@router.post("/patients", response_class=HTMLResponse)
async def register_patient(
    request: Request, db: SessionDep, clock: ClockDep, actor: Registrar, audit: AuditDep
) -> Response:
    form = await Submitted.of(request)
    try:
        values = patients.PatientIn(
            mrn=form.words("mrn"),
            given_name=form.words("given_name"),
            family_name=form.words("family_name"),
            birth_date=_required_day(form, "birth_date"),
            sex=form.raw("sex"),
            phone=form.text("phone"),
            email=form.text("email"),
            address=form.text("address"),
            escort_name=form.text("escort_name"),
            escort_phone=form.text("escort_phone"),
        )
        with db.begin_nested():
            patient = patients.register_patient(db, actor, clock, values)
    except InvalidInput as problem:
        context = {"form": form.values, "errors": errors_of(problem)}
        return render(request, "patient_new.html", context, 422)
    audit("write", "patient registered", patient.id)
    if may(actor, CLINICAL):
        return RedirectResponse(f"/patients/{patient.id}", status_code=303)
    target = "/patients?" + urlencode({"mrn": patient.mrn, "registered": patient.mrn})
    return RedirectResponse(target, status_code=303)


def _required_day(form: Submitted, name: str) -> date:
    day = form.day(name)
    if day is None:
        raise InvalidInput(name, "is required")
    return day
