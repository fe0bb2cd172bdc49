"""The JSON API for screenings: screen the stored record, list and open screenings, sign and
override. The screening itself is the engine's (``services.charting.screen_patient``), the
same as the command line's; nothing here decides anything clinical."""

from __future__ import annotations

from fastapi import APIRouter

from ketaclinic.services import charting, patients
from ketaclinic.services.vitals import check_not_future
from ketaclinic.web.api_common import (
    ChartReader,
    Prescriber,
    RowId,
    screening_out,
    screening_summary,
)
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep
from ketaclinic.web.schemas import (
    OverrideCreate,
    ScreeningCreate,
    ScreeningOut,
    ScreeningSummaryOut,
)

router = APIRouter(prefix="/api", tags=["screenings"])


@router.post("/patients/{patient_id}/screenings", response_model=ScreeningOut, status_code=201)
def screen(
    patient_id: RowId,
    body: ScreeningCreate,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> ScreeningOut:
    """Screen the patient's current record for a route, as of a day (default today), and save
    the result. Prescribers only."""
    # A screening of a day still to come would read today's record as if it were then.
    check_not_future("as_of", body.as_of, clock)
    screening = charting.screen_patient(db, actor, clock, patient_id, body.route, body.as_of)
    audit("write", f"screening {screening.id}: {body.route} -> {screening.decision}", patient_id)
    return screening_out(db, screening)


@router.get("/patients/{patient_id}/screenings", response_model=list[ScreeningSummaryOut])
def list_screenings(
    patient_id: RowId, db: SessionDep, actor: ChartReader, audit: AuditDep
) -> list[ScreeningSummaryOut]:
    """The patient's screenings, newest first, each with the decision that stands."""
    patients.get_patient(db, patient_id)
    found = charting.screenings_of(db, patient_id)
    audit("read", "screenings", patient_id)
    return [screening_summary(db, s) for s in found]


@router.get("/screenings/{screening_id}", response_model=ScreeningOut)
def open_screening(
    screening_id: RowId, db: SessionDep, actor: ChartReader, audit: AuditDep
) -> ScreeningOut:
    """One screening: the contract's JSON output, the decision that stands (an override with
    its justification), the signature, and whether a record changed since it was signed."""
    screening = charting.get_screening(db, screening_id)
    audit("read", f"screening {screening_id}", screening.patient_id)
    return screening_out(db, screening)


@router.post("/screenings/{screening_id}/sign", response_model=ScreeningOut)
def sign(
    screening_id: RowId, db: SessionDep, clock: ClockDep, actor: Prescriber, audit: AuditDep
) -> ScreeningOut:
    """Sign the screening (prescribers; once: a second signature is a 409)."""
    charting.sign_screening(db, actor, clock, screening_id)
    screening = charting.get_screening(db, screening_id)
    audit("write", f"screening {screening_id}: signed", screening.patient_id)
    return screening_out(db, screening)


@router.post("/screenings/{screening_id}/override", response_model=ScreeningOut)
def override(
    screening_id: RowId,
    body: OverrideCreate,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> ScreeningOut:
    """Put the prescriber's decision in place of the engine's, with a written justification of
    at least 20 characters (prescribers; once)."""
    charting.override_screening(db, actor, clock, screening_id, body.decision, body.justification)
    screening = charting.get_screening(db, screening_id)
    audit("write", f"screening {screening_id}: overridden to {body.decision}", screening.patient_id)
    return screening_out(db, screening)
