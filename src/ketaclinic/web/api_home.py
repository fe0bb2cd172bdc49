"""The JSON API of a plan's home programme (issue 5 item 5): oral or sublingual plans only.

    GET  /api/plans/{plan_id}/home                 P N  checks, prescriptions, check-ins, diary
    POST /api/plans/{plan_id}/home/pdmp            P    a prescription-monitoring check
    POST /api/plans/{plan_id}/home/prescriptions   P    a home prescription (after a PDMP check)
    POST /api/plans/{plan_id}/home/schedule        P N  a check-in due before a home dose
    POST /api/plans/{plan_id}/home/checkins        P N  a check-in's answers (scheduled or not)
    POST /api/plans/{plan_id}/home/doses           P N  a dose in the diary
    GET  /api/plans/{plan_id}/home/missed          P N  scheduled check-ins past due

Patients have no accounts yet: staff enter what a patient reports, with reported_by "patient".
Every read and write is audited with the plan's patient.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from ketaclinic.services import home_programme as home
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.store.models import HomeCheckin, HomeDose, HomePrescription, PdmpCheck
from ketaclinic.web.api_common import RowId
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles

router = APIRouter(prefix="/api/plans/{plan_id}/home", tags=["home programme"])
Clinician = Annotated[Actor, Depends(require_roles("prescriber", "nurse"))]
Prescriber = Annotated[Actor, Depends(require_roles("prescriber"))]


class PdmpIn(BaseModel):
    result: Literal["clear", "concern"]
    note: str | None = Field(default=None, max_length=2000)
    checked_at: datetime | None = None


class PrescriptionIn(BaseModel):
    dose_mg: float
    doses: int


class ScheduleIn(BaseModel):
    due_at: datetime


class CheckinBody(BaseModel):
    sitter_present: bool
    no_driving: bool
    side_effects: str | None = Field(default=None, max_length=2000)
    reported_by: Literal["patient", "staff"] = "staff"
    done_at: datetime | None = None
    checkin_id: RowId | None = None


class DoseBody(BaseModel):
    prescription_id: RowId
    dose_mg: float
    taken_at: datetime | None = None
    reported_by: Literal["patient", "staff"] = "patient"
    note: str | None = Field(default=None, max_length=2000)


class PdmpOut(BaseModel):
    id: int
    checked_at: datetime
    by_id: int | None
    result: str
    note: str | None


class PrescriptionOut(BaseModel):
    id: int
    pdmp_check_id: int
    dose_mg: float
    doses: int
    doses_taken: int
    written_at: datetime


class CheckinOut(BaseModel):
    id: int
    due_at: datetime
    done_at: datetime | None
    sitter_present: bool | None
    no_driving: bool | None
    side_effects: str | None
    reported_by: str | None
    missed: bool


class DoseOut(BaseModel):
    id: int
    prescription_id: int
    checkin_id: int | None
    taken_at: datetime
    dose_mg: float
    reported_by: str
    note: str | None


class HomeOut(BaseModel):
    plan_id: int
    patient_id: int
    route: str
    plan_dose_mg: float | None
    pdmp_checks: list[PdmpOut]
    prescriptions: list[PrescriptionOut]
    checkins: list[CheckinOut]
    doses: list[DoseOut]


def pdmp_out(row: PdmpCheck) -> PdmpOut:
    return PdmpOut(
        id=row.id, checked_at=row.checked_at, by_id=row.by_id, result=row.result, note=row.note
    )


def prescription_out(row: HomePrescription, taken: int) -> PrescriptionOut:
    return PrescriptionOut(
        id=row.id,
        pdmp_check_id=row.pdmp_check_id,
        dose_mg=row.dose_mg,
        doses=row.doses,
        doses_taken=taken,
        written_at=row.written_at,
    )


def checkin_out(row: HomeCheckin, missed: bool) -> CheckinOut:
    return CheckinOut(
        id=row.id,
        due_at=row.due_at,
        done_at=row.done_at,
        sitter_present=row.sitter_present,
        no_driving=row.no_driving,
        side_effects=row.side_effects,
        reported_by=row.reported_by,
        missed=missed,
    )


def dose_out(row: HomeDose) -> DoseOut:
    return DoseOut(
        id=row.id,
        prescription_id=row.prescription_id,
        checkin_id=row.checkin_id,
        taken_at=row.taken_at,
        dose_mg=row.dose_mg,
        reported_by=row.reported_by,
        note=row.note,
    )


def home_out(session: Session, clock: Clock, plan_id: int) -> HomeOut:
    view = home.programme(session, clock, plan_id)
    missed = {c.id for c in view.missed}
    return HomeOut(
        plan_id=view.plan.id,
        patient_id=view.plan.patient_id,
        route=view.plan.route,
        plan_dose_mg=view.plan_dose_mg,
        pdmp_checks=[pdmp_out(c) for c in view.pdmp_checks],
        prescriptions=[prescription_out(p.prescription, p.doses_taken) for p in view.prescriptions],
        checkins=[checkin_out(c, c.id in missed) for c in view.checkins],
        doses=[dose_out(d) for d in view.doses],
    )


def patient_of(session: Session, plan_id: int) -> int:
    return home.get_plan(session, plan_id).patient_id


@router.get("", response_model=HomeOut)
def show(
    plan_id: RowId, db: SessionDep, clock: ClockDep, actor: Clinician, audit: AuditDep
) -> HomeOut:
    out = home_out(db, clock, plan_id)
    audit("read", f"home programme of plan {plan_id}", out.patient_id)
    return out


@router.post("/pdmp", response_model=PdmpOut, status_code=201)
def pdmp(
    plan_id: RowId,
    body: PdmpIn,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> PdmpOut:
    row = home.record_pdmp_check(db, actor, clock, plan_id, body.result, body.note, body.checked_at)
    audit("write", f"PDMP check ({row.result}) for plan {plan_id}", patient_of(db, plan_id))
    return pdmp_out(row)


@router.post("/prescriptions", response_model=PrescriptionOut, status_code=201)
def prescribe(
    plan_id: RowId,
    body: PrescriptionIn,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> PrescriptionOut:
    row = home.write_home_prescription(db, actor, clock, plan_id, body.dose_mg, body.doses)
    words = f"home prescription {row.id}: {row.doses} x {row.dose_mg:g} mg (plan {plan_id})"
    audit("write", words, patient_of(db, plan_id))
    return prescription_out(row, 0)


@router.post("/schedule", response_model=CheckinOut, status_code=201)
def schedule(
    plan_id: RowId,
    body: ScheduleIn,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> CheckinOut:
    row = home.schedule_checkin(db, actor, clock, plan_id, body.due_at)
    words = f"home check-in {row.id} scheduled {row.due_at:%Y-%m-%d %H:%M} (plan {plan_id})"
    audit("write", words, patient_of(db, plan_id))
    return checkin_out(row, False)


@router.post("/checkins", response_model=CheckinOut, status_code=201)
def checkin(
    plan_id: RowId,
    body: CheckinBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> CheckinOut:
    given = home.CheckinIn(
        body.sitter_present,
        body.no_driving,
        body.side_effects,
        body.reported_by,
        body.done_at,
        body.checkin_id,
    )
    row = home.record_checkin(db, actor, clock, plan_id, given)
    audit("write", f"home check-in {row.id} recorded (plan {plan_id})", patient_of(db, plan_id))
    return checkin_out(row, False)


@router.post("/doses", response_model=DoseOut, status_code=201)
def dose(
    plan_id: RowId,
    body: DoseBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> DoseOut:
    given = home.HomeDoseIn(
        body.prescription_id, body.dose_mg, body.taken_at, body.reported_by, body.note
    )
    row = home.record_home_dose(db, actor, clock, plan_id, given)
    words = f"home dose {row.id}: {row.dose_mg:g} mg (plan {plan_id})"
    audit("write", words, patient_of(db, plan_id))
    return dose_out(row)


@router.get("/missed", response_model=list[CheckinOut])
def missed(
    plan_id: RowId, db: SessionDep, clock: ClockDep, actor: Clinician, audit: AuditDep
) -> list[CheckinOut]:
    rows = home.missed_checkins(db, clock, plan_id)
    audit("read", f"missed home check-ins of plan {plan_id}", patient_of(db, plan_id))
    return [checkin_out(c, True) for c in rows]
