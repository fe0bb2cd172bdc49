"""The JSON API for patients: register, search, open, the chart, and importing a FHIR bundle.

Every read and write of a patient's data is audited in the request's transaction, so the audit
row commits with what it describes, or not at all.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from ketaclinic.services import charting, importing, patients
from ketaclinic.store.models import Patient
from ketaclinic.web.api_common import (
    MAX_ROW_ID,
    ChartReader,
    Demographics,
    Prescriber,
    RowId,
    screening_summary,
)
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep
from ketaclinic.web.schemas import (
    AllergyOut,
    ChartOut,
    ConditionOut,
    ImportOut,
    MedicationOut,
    ObservationOut,
    PatientCreate,
    PatientOut,
    PatientPage,
    ProcedureOut,
    TrialLineOut,
)

router = APIRouter(prefix="/api", tags=["patients"])


@router.post("/patients", response_model=PatientOut, status_code=201)
def register(
    body: PatientCreate, db: SessionDep, clock: ClockDep, actor: Demographics, audit: AuditDep
) -> PatientOut:
    """Register a patient. A duplicate MRN, a birth date in the future or a missing name is
    refused with 422 naming the field, and nothing is written."""
    patient = patients.register_patient(db, actor, clock, body.values())
    audit("write", "demographics: registered", patient.id)
    return PatientOut.model_validate(patient)


def _search_words(q: str | None, birth_date: date | None, mrn: str | None) -> str:
    given = [
        f"name {q.strip()!r}" if q and q.strip() else "",
        f"born {birth_date.isoformat()}" if birth_date else "",
        f"MRN {mrn.strip()!r}" if mrn and mrn.strip() else "",
    ]
    return ", ".join(word for word in given if word) or "everyone"


@router.get("/patients", response_model=PatientPage)
def search(
    db: SessionDep,
    actor: Demographics,
    audit: AuditDep,
    q: Annotated[str | None, Query(description="Words of the given or family name")] = None,
    birth_date: date | None = None,
    mrn: str | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_ROW_ID)] = 1,
    size: Annotated[int, Query(ge=1, le=patients.MAX_PAGE_SIZE)] = 20,
) -> PatientPage:
    """Patients matching every filter given, by family name, a page at a time."""
    found = patients.search_patients(
        db, text=q, birth_date=birth_date, mrn=mrn, page=page, size=size
    )
    audit("read", f"patient search ({_search_words(q, birth_date, mrn)}): page {page}")
    # Each listed patient's demographics were shown: one row per patient keeps the per-patient
    # audit trail complete.
    for patient in found.items:
        audit("read", "demographics: search result", patient.id)
    return PatientPage(
        items=[PatientOut.model_validate(p) for p in found.items],
        total=found.total,
        page=found.page,
        size=found.size,
        pages=found.pages,
    )


@router.get("/patients/{patient_id}", response_model=PatientOut)
def open_patient(
    patient_id: RowId, db: SessionDep, actor: Demographics, audit: AuditDep
) -> PatientOut:
    """A patient's demographics."""
    patient: Patient = patients.get_patient(db, patient_id)
    audit("read", "demographics", patient.id)
    return PatientOut.model_validate(patient)


@router.get("/patients/{patient_id}/chart", response_model=ChartOut)
def chart(patient_id: RowId, db: SessionDep, actor: ChartReader, audit: AuditDep) -> ChartOut:
    """The chart: diagnoses, trials by drug, vitals, labs and scales (newest first),
    allergies, procedures and the latest screening with the decision that stands."""
    found = charting.chart(db, patient_id)
    audit("read", "chart", patient_id)
    latest = found.latest_screening
    return ChartOut(
        patient=PatientOut.model_validate(found.patient),
        diagnoses=[ConditionOut.model_validate(r) for r in found.diagnoses],
        trials=[
            TrialLineOut(
                ingredient=line.ingredient,
                first_start=line.first_start,
                prescriptions=[MedicationOut.model_validate(r) for r in line.prescriptions],
            )
            for line in found.trials
        ],
        vitals=[ObservationOut.model_validate(r) for r in found.vitals],
        labs=[ObservationOut.model_validate(r) for r in found.labs],
        scales=[ObservationOut.model_validate(r) for r in found.scales],
        allergies=[AllergyOut.model_validate(r) for r in found.allergies],
        procedures=[ProcedureOut.model_validate(r) for r in found.procedures],
        latest_screening=None if latest is None else screening_summary(db, latest.screening),
    )


async def _raw_body(request: Request) -> bytes:
    # The bundle's bytes as sent: its SHA-256 is what recognises a second import.
    return await request.body()


_BUNDLE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A FHIR R4 Bundle holding this patient's records",
        "content": {
            media: {"schema": {"type": "object", "title": "FHIR R4 Bundle"}}
            for media in ("application/fhir+json", "application/json")
        },
    }
}


@router.post("/patients/{patient_id}/import", response_model=ImportOut, openapi_extra=_BUNDLE_BODY)
def import_bundle(
    patient_id: RowId,
    data: Annotated[bytes, Depends(_raw_body)],
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> ImportOut:
    """Import a FHIR R4 Bundle into the record, all or nothing. A bundle the screening engine
    would refuse is refused with 422 and the reason. The same bundle twice creates nothing new,
    and a resource the record already holds is not stored again."""
    result = importing.import_bundle(db, actor, clock, patient_id, data)
    if result.already_imported:
        message = "This bundle was imported before: nothing new was created."
    else:
        message = f"{result.created} records created, {result.unchanged} already in the record."
    audit("write", f"import: {message}", patient_id)
    return ImportOut(
        created=result.created,
        unchanged=result.unchanged,
        already_imported=result.already_imported,
        message=message,
    )
