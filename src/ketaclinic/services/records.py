"""Adding and correcting clinical records, keeping every version.

Nothing clinical is overwritten or deleted. A correction is a new row that ``supersedes`` the
old one, whose state becomes ``superseded``; a mistake is marked by a new version whose FHIR
status is ``entered-in-error`` (state ``entered_in_error``), as a FHIR server versions a
resource. Only ``state`` of the old row ever changes; ``reason`` says, on the new version, why
it was made. Each new version has its own ``recorded_at``, which is what makes a signed
screening stale.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ketaclinic.services import who_may
from ketaclinic.services.actor import Actor, Role
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Conflict, InvalidInput, NotFound
from ketaclinic.services.patients import get_patient
from ketaclinic.services.record_rows import MODELS, check_fhir, new_row
from ketaclinic.services.records_forms import (
    FORMS,
    JSON,
    KINDS,
    AllergyIn,
    ConditionIn,
    FormValues,
    Kind,
    MedicationIn,
    ObservationIn,
    ProcedureIn,
    outcome_code,
    outcome_concept,
    resource_of,
)
from ketaclinic.services.vitals import check_text
from ketaclinic.store.models import (
    AllergyRecord,
    ClinicalRow,
    ConditionRecord,
    MedicationRecord,
    ObservationRecord,
    ProcedureRecord,
)

Row = TypeVar("Row", bound=ClinicalRow)

WRITERS: dict[Kind, frozenset[Role]] = {
    "condition": who_may.PRESCRIBER,
    "medication": who_may.PRESCRIBER,
    "observation": who_may.OBSERVATIONS,
    "allergy": who_may.PRESCRIBER,
    "procedure": who_may.PRESCRIBER,
}


def patient_ref(patient_id: int) -> str:
    return f"Patient/{patient_id}"


def _kind(value: str) -> Kind:
    for kind in KINDS:
        if value == kind:
            return kind
    raise InvalidInput("kind", f"must be one of {', '.join(KINDS)} (got {value!r})")


def _add(
    session: Session, actor: Actor, clock: Clock, patient_id: int, values: FormValues
) -> ClinicalRow:
    kind = next(k for k, form in FORMS.items() if isinstance(values, form))
    who_may.require(actor, WRITERS[kind], f"record a {kind}")
    get_patient(session, patient_id)
    resource = resource_of(values, patient_ref(patient_id), clock)
    check_fhir(resource)
    row = new_row(resource, patient_id=patient_id, source="form", actor=actor, clock=clock)
    session.add(row)
    session.flush()
    return row


def add_condition(
    session: Session, actor: Actor, clock: Clock, patient_id: int, values: ConditionIn
) -> ConditionRecord:
    return cast(ConditionRecord, _add(session, actor, clock, patient_id, values))


def add_medication(
    session: Session, actor: Actor, clock: Clock, patient_id: int, values: MedicationIn
) -> MedicationRecord:
    """A MedicationStatement: a trial's dose history and outcome from the interview."""
    return cast(MedicationRecord, _add(session, actor, clock, patient_id, values))


def add_observation(
    session: Session, actor: Actor, clock: Clock, patient_id: int, values: ObservationIn
) -> ObservationRecord:
    return cast(ObservationRecord, _add(session, actor, clock, patient_id, values))


def add_allergy(
    session: Session, actor: Actor, clock: Clock, patient_id: int, values: AllergyIn
) -> AllergyRecord:
    return cast(AllergyRecord, _add(session, actor, clock, patient_id, values))


def add_procedure(
    session: Session, actor: Actor, clock: Clock, patient_id: int, values: ProcedureIn
) -> ProcedureRecord:
    return cast(ProcedureRecord, _add(session, actor, clock, patient_id, values))


def get_record(session: Session, kind: str, record_id: int) -> ClinicalRow:
    row = session.get(MODELS[_kind(kind)], record_id)
    if row is None:
        raise NotFound(f"no {kind} {record_id}")
    return row


def _reason(reason: str) -> str:
    return str(check_text("reason", reason, limit=500, required=True))


def _retire(session: Session, row: ClinicalRow, kind: Kind) -> None:
    """current -> superseded, only if still current: of two concurrent corrections of the same
    version, the second finds it superseded and is refused instead of forking the history."""
    model = MODELS[kind]
    changed = session.execute(
        update(model)
        .where(model.id == row.id, model.state == "current")
        .values(state="superseded")
        .execution_options(synchronize_session="fetch")
    )
    if getattr(changed, "rowcount", 1) != 1:
        raise Conflict(f"{kind} {row.id} was changed meanwhile; reload the chart")


def _replace(
    session: Session,
    actor: Actor,
    clock: Clock,
    kind: Kind,
    old: ClinicalRow,
    resource: JSON,
    reason: str,
    state: str = "current",
) -> ClinicalRow:
    check_fhir(resource)
    _retire(session, old, kind)
    row = new_row(
        resource,
        patient_id=old.patient_id,
        source="form",
        actor=actor,
        clock=clock,
        supersedes=old,
        reason=reason,
        state=state,
    )
    session.add(row)
    session.flush()
    return row


def _current(session: Session, actor: Actor, kind: str, record_id: int, doing: str) -> ClinicalRow:
    checked = _kind(kind)
    who_may.require(actor, WRITERS[checked], f"{doing} a {checked}")
    row = get_record(session, checked, record_id)
    if row.state != "current":
        raise Conflict(f"{checked} {record_id} is {row.state.replace('_', ' ')}, not current")
    return row


def correct_record(
    session: Session,
    actor: Actor,
    clock: Clock,
    kind: str,
    record_id: int,
    new_values: FormValues,
    reason: str,
) -> ClinicalRow:
    """A new version of a current record; the old one is kept, superseded."""
    checked = _kind(kind)
    if not isinstance(new_values, FORMS[checked]):
        raise InvalidInput("kind", f"the values are not those of a {checked}")
    old = _current(session, actor, checked, record_id, "correct")
    why = _reason(reason)
    resource = resource_of(new_values, patient_ref(old.patient_id), clock)
    return _replace(session, actor, clock, checked, old, resource, why)


# Where each resource type says "entered in error" (FHIR R4).
def _in_error(resource: JSON) -> JSON:
    marked = copy.deepcopy(resource)
    kind = marked["resourceType"]
    if kind in ("Condition", "AllergyIntolerance"):
        system = (
            "http://terminology.hl7.org/CodeSystem/condition-ver-status"
            if kind == "Condition"
            else "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
        )
        marked["verificationStatus"] = {"coding": [{"system": system, "code": "entered-in-error"}]}
        # R4 invariants con-5 / ait-1: no clinical status on an entered-in-error record.
        marked.pop("clinicalStatus", None)
    else:
        marked["status"] = "entered-in-error"
    return marked


def mark_entered_in_error(
    session: Session, actor: Actor, clock: Clock, kind: str, record_id: int, reason: str
) -> ClinicalRow:
    """A last version saying the record was a mistake; it leaves the chart and the screening."""
    checked = _kind(kind)
    old = _current(session, actor, checked, record_id, "mark in error")
    why = _reason(reason)
    resource = _in_error(orjson.loads(old.resource))
    return _replace(session, actor, clock, checked, old, resource, why, state="entered_in_error")


def record_trial_outcome(
    session: Session,
    actor: Actor,
    clock: Clock,
    record_id: int,
    outcome: str | None,
    outcome_text: str | None = None,
    reason: str = "trial outcome taken in the interview",
) -> MedicationRecord:
    """A new version of a medication with its outcome, keeping everything else it says.

    Imported prescriptions rarely carry an outcome; this is how a prescriber documents it
    without retyping (and possibly losing) the imported dose and dates.
    """
    old = _current(session, actor, "medication", record_id, "record the outcome of")
    code = outcome_code(outcome)
    words = check_text("outcome_text", outcome_text, limit=500)
    if code is None and words is None:
        raise InvalidInput("outcome", "give an outcome or describe it")
    resource: JSON = orjson.loads(old.resource)
    resource["statusReason"] = [outcome_concept(code, words)]
    row = _replace(session, actor, clock, "medication", old, resource, _reason(reason))
    return cast(MedicationRecord, row)


def record_history(session: Session, kind: str, record_id: int) -> list[ClinicalRow]:
    """Every version of the record, oldest first, whichever version ``record_id`` names."""
    checked = _kind(kind)
    model = MODELS[checked]
    row = get_record(session, checked, record_id)
    chain = [row]
    while chain[0].supersedes_id is not None:
        older = session.get(model, chain[0].supersedes_id)
        if older is None:
            break
        chain.insert(0, older)
    while True:
        newer = session.scalars(
            select(model).where(model.supersedes_id == chain[-1].id).order_by(model.id).limit(1)
        ).first()
        if newer is None:
            return chain
        chain.append(newer)


@dataclass(frozen=True)
class CurrentRecords:
    conditions: list[ConditionRecord] = field(default_factory=list)
    medications: list[MedicationRecord] = field(default_factory=list)
    observations: list[ObservationRecord] = field(default_factory=list)
    allergies: list[AllergyRecord] = field(default_factory=list)
    procedures: list[ProcedureRecord] = field(default_factory=list)

    def all(self) -> list[ClinicalRow]:
        return [
            *self.conditions,
            *self.medications,
            *self.observations,
            *self.allergies,
            *self.procedures,
        ]


def _current_of(session: Session, model: type[Row], patient_id: int) -> list[Row]:
    query: Any = (
        select(model)
        .where(model.patient_id == patient_id, model.state == "current")
        .order_by(model.id)
    )
    return list(session.scalars(query).all())


def current_records(session: Session, patient_id: int) -> CurrentRecords:
    """Every current row of the patient, by type (what the chart shows and screening reads)."""
    get_patient(session, patient_id)
    return CurrentRecords(
        conditions=_current_of(session, ConditionRecord, patient_id),
        medications=_current_of(session, MedicationRecord, patient_id),
        observations=_current_of(session, ObservationRecord, patient_id),
        allergies=_current_of(session, AllergyRecord, patient_id),
        procedures=_current_of(session, ProcedureRecord, patient_id),
    )


def patient_records(
    session: Session, kind: str, patient_id: int, *, history: bool = False
) -> list[ClinicalRow]:
    """The patient's records of one kind, oldest first: the current ones, or with ``history``
    every version (superseded and entered in error too), for the API's ``?include=history``."""
    checked = _kind(kind)
    get_patient(session, patient_id)
    model = MODELS[checked]
    query: Any = select(model).where(model.patient_id == patient_id)
    if not history:
        query = query.where(model.state == "current")
    return list(session.scalars(query.order_by(model.id)).all())
