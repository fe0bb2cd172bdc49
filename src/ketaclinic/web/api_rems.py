"""The JSON API of the esketamine REMS (issue 5 item 4).

    GET  /api/rems/enrolments                  P N  the site's certifications, patients' enrolments
    POST /api/rems/site                        P    the site's REMS certification
    POST /api/rems/enrolments                  P N  a patient's REMS enrolment
    POST /api/rems/sessions/{session_id}/form  P N  fill (or refill) the session's form
    GET  /api/rems/forms/{form_id}             P N  the form with its version's fields
    POST /api/rems/forms/{form_id}/submit      P N  marked sent to the REMS, with its reference
    GET  /api/rems/forms/{form_id}/pdf         P N  the form printed (WeasyPrint)
    GET  /api/rems/forms/{form_id}/csv         P N  the form as one CSV row under its header
    GET  /api/rems/overdue                     P N  sessions whose form is not submitted in 7 days

Every read and write is audited with the patient it concerns; a refused write raises before the
request's transaction commits, so nothing is recorded.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from ketaclinic.services import rems
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.store.models import RemsEnrolment
from ketaclinic.web.api_common import RowId
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles

router = APIRouter(prefix="/api/rems", tags=["rems"])
Filler = Annotated[Actor, Depends(require_roles("prescriber", "nurse"))]
Certifier = Annotated[Actor, Depends(require_roles("prescriber"))]


class EnrolmentOut(BaseModel):
    id: int
    kind: str
    patient_id: int | None
    reference: str
    enrolled_on: date
    recorded_at: datetime


class SiteIn(BaseModel):
    reference: str = Field(max_length=200)
    certified_on: date


class EnrolmentIn(BaseModel):
    patient_id: RowId
    reference: str = Field(max_length=200)
    enrolled_on: date


class BuildIn(BaseModel):
    ready_at: datetime | None = None


class SubmitIn(BaseModel):
    reference: str = Field(max_length=200)


class FieldOut(BaseModel):
    name: str
    label: str
    value: Any
    text: str


class FormOut(BaseModel):
    id: int
    session_id: int
    patient_id: int
    form_version: str
    session_date: date
    due_on: date
    overdue: bool
    submitted_at: datetime | None
    submission_reference: str | None
    problems: list[str]
    fields: list[FieldOut]


class FormDueOut(BaseModel):
    session_id: int
    patient_id: int
    patient: str
    session_date: date
    form_id: int | None
    overdue: bool


def enrolment_out(row: RemsEnrolment) -> EnrolmentOut:
    return EnrolmentOut(
        id=row.id,
        kind=row.kind,
        patient_id=row.patient_id,
        reference=row.reference,
        enrolled_on=row.enrolled_on,
        recorded_at=row.recorded_at,
    )


def form_out(session: Session, clock: Clock, form_id: int) -> FormOut:
    view = rems.form_view(session, clock, form_id)
    return FormOut(
        id=view.form.id,
        session_id=view.form.session_id,
        patient_id=view.patient_id,
        form_version=view.form.form_version,
        session_date=view.session_date,
        due_on=view.form.due_on,
        overdue=view.overdue,
        submitted_at=view.form.submitted_at,
        submission_reference=view.form.submission_reference,
        problems=view.problems,
        fields=[
            FieldOut(name=f.name, label=f.label, value=view.fields.get(f.name), text=text)
            for f, text in view.rows
        ],
    )


def form_words(form_id: int, doing: str) -> str:
    return f"REMS form {form_id}: {doing}"


@router.get("/enrolments", response_model=list[EnrolmentOut])
def list_enrolments(db: SessionDep, actor: Filler, audit: AuditDep) -> list[EnrolmentOut]:
    rows = rems.enrolments(db)
    audit("read", "REMS enrolments")
    for patient_id in dict.fromkeys(r.patient_id for r in rows if r.patient_id is not None):
        audit("read", "REMS enrolment", patient_id)
    return [enrolment_out(r) for r in rows]


@router.post("/site", response_model=EnrolmentOut, status_code=201)
def certify_site(
    body: SiteIn, db: SessionDep, clock: ClockDep, actor: Certifier, audit: AuditDep
) -> EnrolmentOut:
    row = rems.record_site_certification(db, actor, clock, body.reference, body.certified_on)
    audit("write", f"REMS site certification {row.reference}")
    return enrolment_out(row)


@router.post("/enrolments", response_model=EnrolmentOut, status_code=201)
def enrol(
    body: EnrolmentIn, db: SessionDep, clock: ClockDep, actor: Filler, audit: AuditDep
) -> EnrolmentOut:
    row = rems.record_patient_enrolment(
        db, actor, clock, body.patient_id, body.reference, body.enrolled_on
    )
    audit("write", f"REMS patient enrolment {row.reference}", row.patient_id)
    return enrolment_out(row)


@router.post("/sessions/{session_id}/form", response_model=FormOut)
def build(
    session_id: RowId,
    db: SessionDep,
    clock: ClockDep,
    actor: Filler,
    audit: AuditDep,
    body: BuildIn | None = None,
) -> FormOut:
    form = rems.build_form(
        db, actor, clock, session_id, ready_at=body.ready_at if body is not None else None
    )
    out = form_out(db, clock, form.id)
    audit("write", form_words(form.id, f"filled from session {session_id}"), out.patient_id)
    return out


@router.get("/forms/{form_id}", response_model=FormOut)
def show(
    form_id: RowId, db: SessionDep, clock: ClockDep, actor: Filler, audit: AuditDep
) -> FormOut:
    out = form_out(db, clock, form_id)
    audit("read", form_words(form_id, "read"), out.patient_id)
    return out


@router.post("/forms/{form_id}/submit", response_model=FormOut)
def submit(
    form_id: RowId,
    body: SubmitIn,
    db: SessionDep,
    clock: ClockDep,
    actor: Filler,
    audit: AuditDep,
) -> FormOut:
    rems.submit_form(db, actor, clock, form_id, body.reference)
    out = form_out(db, clock, form_id)
    audit("write", form_words(form_id, f"submitted ({body.reference.strip()})"), out.patient_id)
    return out


def pdf_response(session: Session, clock: Clock, form_id: int, audit: AuditDep) -> Response:
    form = rems.get_form(session, form_id)
    data = rems.form_pdf(session, clock, form_id)
    audit("read", form_words(form_id, "PDF"), rems.patient_of_form(session, form))
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="rems-form-{form_id}.pdf"'},
    )


def csv_response(session: Session, form_id: int, audit: AuditDep) -> Response:
    form = rems.get_form(session, form_id)
    text = rems.form_csv(session, [form_id])
    audit("read", form_words(form_id, "CSV"), rems.patient_of_form(session, form))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="rems-form-{form_id}.csv"'},
    )


# The printed form and its CSV row are documented as what they are, not as JSON.
@router.get(
    "/forms/{form_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The form printed"}},
)
def pdf(
    form_id: RowId, db: SessionDep, clock: ClockDep, actor: Filler, audit: AuditDep
) -> Response:
    return pdf_response(db, clock, form_id, audit)


@router.get(
    "/forms/{form_id}/csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The form as one CSV row"}},
)
def csv(form_id: RowId, db: SessionDep, actor: Filler, audit: AuditDep) -> Response:
    return csv_response(db, form_id, audit)


@router.get("/overdue", response_model=list[FormDueOut])
def overdue(db: SessionDep, clock: ClockDep, actor: Filler, audit: AuditDep) -> list[FormDueOut]:
    rows = rems.overdue_forms(db, clock)
    audit("read", "REMS forms overdue")
    for patient_id in dict.fromkeys(r.patient_id for r in rows):
        audit("read", "REMS form overdue", patient_id)
    return [
        FormDueOut(
            session_id=r.session_id,
            patient_id=r.patient_id,
            patient=r.patient,
            session_date=r.session_date,
            form_id=r.form_id,
            overdue=r.overdue,
        )
        for r in rows
    ]
