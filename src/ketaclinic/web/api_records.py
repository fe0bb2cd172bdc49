"""The JSON API for clinical records: add and list each kind, correct, mark entered in error,
read a record's history, and record a trial's outcome.

Nothing is overwritten: a correction or a mark of error is a new version, and the old one is
kept (``GET ...?include=history`` and ``/history`` show them). Each route audits the read or
write in the request's transaction.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from ketaclinic.services import records
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.records_forms import FormValues, Kind
from ketaclinic.store.models import ClinicalRow
from ketaclinic.web.api_common import (
    ChartReader,
    ObservationWriter,
    Prescriber,
    RecordWriter,
    RowId,
    fields_under,
    record_out,
)
from ketaclinic.web.deps import AuditDep, Auditor, ClockDep, SessionDep
from ketaclinic.web.schemas import (
    AllergyCreate,
    AllergyOut,
    AnyRecordOut,
    ConditionCreate,
    ConditionOut,
    Correction,
    EnteredInError,
    MedicationCreate,
    MedicationOut,
    ObservationCreate,
    ObservationOut,
    ProcedureCreate,
    ProcedureOut,
    RecordOut,
    TrialOutcome,
)

router = APIRouter(prefix="/api", tags=["records"])

Include = Annotated[
    Literal["history"] | None,
    Query(description="history: superseded and entered-in-error versions too"),
]


def _listed(db: Session, kind: Kind, patient_id: int, include: str | None) -> list[ClinicalRow]:
    return records.patient_records(db, kind, patient_id, history=include == "history")


def _read(audit: Auditor, kind: Kind, patient_id: int, include: str | None) -> None:
    audit("read", f"{kind} records" + (" with history" if include else ""), patient_id)


def _added(audit: Auditor, kind: Kind, row: ClinicalRow) -> None:
    audit("write", f"{kind} {row.id}: added", row.patient_id)


# --- conditions -----------------------------------------------------------------------------


@router.post("/patients/{patient_id}/conditions", response_model=ConditionOut, status_code=201)
def add_condition(
    patient_id: RowId,
    body: ConditionCreate,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> RecordOut:
    """A diagnosis (ICD-10-CM or SNOMED CT). Prescribers only."""
    row = records.add_condition(db, actor, clock, patient_id, body.values())
    _added(audit, "condition", row)
    return record_out("condition", row)


@router.get("/patients/{patient_id}/conditions", response_model=list[ConditionOut])
def list_conditions(
    patient_id: RowId, db: SessionDep, actor: ChartReader, audit: AuditDep, include: Include = None
) -> list[RecordOut]:
    found = _listed(db, "condition", patient_id, include)
    _read(audit, "condition", patient_id, include)
    return [record_out("condition", r) for r in found]


# --- medications ----------------------------------------------------------------------------


@router.post("/patients/{patient_id}/medications", response_model=MedicationOut, status_code=201)
def add_medication(
    patient_id: RowId,
    body: MedicationCreate,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> RecordOut:
    """One prescription of a trial: drug, dates, dose and, when known, the outcome."""
    row = records.add_medication(db, actor, clock, patient_id, body.values())
    _added(audit, "medication", row)
    return record_out("medication", row)


@router.get("/patients/{patient_id}/medications", response_model=list[MedicationOut])
def list_medications(
    patient_id: RowId, db: SessionDep, actor: ChartReader, audit: AuditDep, include: Include = None
) -> list[RecordOut]:
    found = _listed(db, "medication", patient_id, include)
    _read(audit, "medication", patient_id, include)
    return [record_out("medication", r) for r in found]


# --- observations ---------------------------------------------------------------------------


@router.post("/patients/{patient_id}/observations", response_model=ObservationOut, status_code=201)
def add_observation(
    patient_id: RowId,
    body: ObservationCreate,
    db: SessionDep,
    clock: ClockDep,
    actor: ObservationWriter,
    audit: AuditDep,
) -> RecordOut:
    """A vital sign, lab or scale total (nurses and prescribers). Implausible values (a
    systolic outside 50-300 mmHg, ...) and future times are refused with 422."""
    row = records.add_observation(db, actor, clock, patient_id, body.values())
    _added(audit, "observation", row)
    return record_out("observation", row)


@router.get("/patients/{patient_id}/observations", response_model=list[ObservationOut])
def list_observations(
    patient_id: RowId, db: SessionDep, actor: ChartReader, audit: AuditDep, include: Include = None
) -> list[RecordOut]:
    found = _listed(db, "observation", patient_id, include)
    _read(audit, "observation", patient_id, include)
    return [record_out("observation", r) for r in found]


# --- allergies ------------------------------------------------------------------------------


@router.post("/patients/{patient_id}/allergies", response_model=AllergyOut, status_code=201)
def add_allergy(
    patient_id: RowId,
    body: AllergyCreate,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> RecordOut:
    row = records.add_allergy(db, actor, clock, patient_id, body.values())
    _added(audit, "allergy", row)
    return record_out("allergy", row)


@router.get("/patients/{patient_id}/allergies", response_model=list[AllergyOut])
def list_allergies(
    patient_id: RowId, db: SessionDep, actor: ChartReader, audit: AuditDep, include: Include = None
) -> list[RecordOut]:
    found = _listed(db, "allergy", patient_id, include)
    _read(audit, "allergy", patient_id, include)
    return [record_out("allergy", r) for r in found]


# --- procedures -----------------------------------------------------------------------------


@router.post("/patients/{patient_id}/procedures", response_model=ProcedureOut, status_code=201)
def add_procedure(
    patient_id: RowId,
    body: ProcedureCreate,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> RecordOut:
    row = records.add_procedure(db, actor, clock, patient_id, body.values())
    _added(audit, "procedure", row)
    return record_out("procedure", row)


@router.get("/patients/{patient_id}/procedures", response_model=list[ProcedureOut])
def list_procedures(
    patient_id: RowId, db: SessionDep, actor: ChartReader, audit: AuditDep, include: Include = None
) -> list[RecordOut]:
    found = _listed(db, "procedure", patient_id, include)
    _read(audit, "procedure", patient_id, include)
    return [record_out("procedure", r) for r in found]


# --- corrections: one route per kind, so each body is typed and documented ------------------


def _correct(
    db: Session,
    actor: Actor,
    clock: Clock,
    audit: Auditor,
    kind: Kind,
    record_id: int,
    values: FormValues,
    reason: str,
) -> RecordOut:
    with fields_under("values", {f.name for f in dataclasses.fields(values)}):
        row = records.correct_record(db, actor, clock, kind, record_id, values, reason)
    audit("write", f"{kind} {record_id}: corrected as {kind} {row.id}", row.patient_id)
    return record_out(kind, row)


_CORRECTED = "A new version of a current record; the old one is kept, superseded."


@router.post(
    "/records/condition/{record_id}/correct", response_model=ConditionOut, description=_CORRECTED
)
def correct_condition(
    record_id: RowId,
    body: Correction[ConditionCreate],
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> RecordOut:
    return _correct(
        db, actor, clock, audit, "condition", record_id, body.values.values(), body.reason
    )


@router.post(
    "/records/medication/{record_id}/correct", response_model=MedicationOut, description=_CORRECTED
)
def correct_medication(
    record_id: RowId,
    body: Correction[MedicationCreate],
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> RecordOut:
    return _correct(
        db, actor, clock, audit, "medication", record_id, body.values.values(), body.reason
    )


@router.post(
    "/records/observation/{record_id}/correct",
    response_model=ObservationOut,
    description=_CORRECTED,
)
def correct_observation(
    record_id: RowId,
    body: Correction[ObservationCreate],
    db: SessionDep,
    clock: ClockDep,
    actor: ObservationWriter,
    audit: AuditDep,
) -> RecordOut:
    return _correct(
        db, actor, clock, audit, "observation", record_id, body.values.values(), body.reason
    )


@router.post(
    "/records/allergy/{record_id}/correct", response_model=AllergyOut, description=_CORRECTED
)
def correct_allergy(
    record_id: RowId,
    body: Correction[AllergyCreate],
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> RecordOut:
    return _correct(
        db, actor, clock, audit, "allergy", record_id, body.values.values(), body.reason
    )


@router.post(
    "/records/procedure/{record_id}/correct", response_model=ProcedureOut, description=_CORRECTED
)
def correct_procedure(
    record_id: RowId,
    body: Correction[ProcedureCreate],
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> RecordOut:
    return _correct(
        db, actor, clock, audit, "procedure", record_id, body.values.values(), body.reason
    )


# --- any kind -------------------------------------------------------------------------------


@router.post("/records/{kind}/{record_id}/entered-in-error", response_model=AnyRecordOut)
def mark_entered_in_error(
    kind: Kind,
    record_id: RowId,
    body: EnteredInError,
    db: SessionDep,
    clock: ClockDep,
    actor: RecordWriter,
    audit: AuditDep,
) -> RecordOut:
    """Mark a current record as a mistake: it leaves the chart and later screenings, and stays
    in the history. Observations: nurses and prescribers; other kinds: prescribers."""
    row = records.mark_entered_in_error(db, actor, clock, kind, record_id, body.reason)
    audit("write", f"{kind} {record_id}: entered in error", row.patient_id)
    return record_out(kind, row)


@router.get("/records/{kind}/{record_id}/history", response_model=list[AnyRecordOut])
def history(
    kind: Kind, record_id: RowId, db: SessionDep, actor: ChartReader, audit: AuditDep
) -> list[RecordOut]:
    """Every version of the record, oldest first, whichever version the id names."""
    chain = records.record_history(db, kind, record_id)
    audit("read", f"{kind} {record_id}: history", chain[0].patient_id)
    return [record_out(kind, r) for r in chain]


@router.post("/medications/{record_id}/outcome", response_model=MedicationOut)
def trial_outcome(
    record_id: RowId,
    body: TrialOutcome,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> RecordOut:
    """The outcome of a trial as the prescriber takes it in the interview: a new version of
    the medication keeping its dose and dates."""
    row = records.record_trial_outcome(
        db, actor, clock, record_id, body.outcome, body.outcome_text, reason=body.reason
    )
    audit("write", f"medication {record_id}: outcome recorded as {row.id}", row.patient_id)
    return record_out("medication", row)
