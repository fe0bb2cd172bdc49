"""Resources received from other clinics: the types an imported bundle holds that the clinic
keeps no records of its own for, kept as they came and exported again as they came.

Which types (``RECEIVED_TYPES``): those the clinic's own export gives that are neither records
nor the screening: MedicationAdministration (a dose given at a session, export_outcomes.py) and
QuestionnaireResponse (a questionnaire's answers). Without them, an export imported by another
clinic and exported again would lose the doses and the answers, and the references to them (a
score's ``derivedFrom``, a dose's ``partOf``) would point at nothing. The RiskAssessment is a
screening, which is run again rather than imported; types the clinic never exports (Encounter,
Claim...) are still passed over, as before.

They are not made into sessions, doses or questionnaire responses of this clinic: those are
what happened here, checked and signed here (a dose is in the controlled-substance ledger, an
answer can raise a safety alert), and a dose given elsewhere is neither. So they are shown apart
on the chart ("Received from other clinics") and the screening engine never reads them (it
reads no MedicationAdministration nor QuestionnaireResponse): keeping them changes no screening.

In an export a received resource has the id ``received-{row id}`` (apart from the records'
plain numbers and the prefixes of export_outcomes.py); its content is the stored resource as
it came, its subject and its references to the other resources of its bundle pointed at this
record's (services/importing.py).

A received resource is the other clinic's word and is not edited here. One kept by mistake (say,
another patient's) is marked entered in error as a clinical row is: a new version whose FHIR
``status`` is ``entered-in-error`` (state ``entered_in_error``), the old one ``superseded``. It
leaves the chart and the export, and its content hash stays known, so a re-import does not bring
it back.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ketaclinic.services import who_may
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Conflict, NotFound
from ketaclinic.services.patients import get_patient
from ketaclinic.services.record_rows import canonical_sha256
from ketaclinic.services.vitals import check_text
from ketaclinic.store.models import Patient, ReceivedResource

JSON = dict[str, Any]
RECEIVED_TYPES: frozenset[str] = frozenset({"MedicationAdministration", "QuestionnaireResponse"})
ID_PREFIX = "received-"
# The chart's words for each type.
TYPE_WORDS = {
    "MedicationAdministration": "Medication given",
    "QuestionnaireResponse": "Questionnaire answers",
}


def received_id(row: ReceivedResource) -> str:
    return f"{ID_PREFIX}{row.id}"


def received_name(row: ReceivedResource) -> str:
    """``Type/id`` of the row's resource in an export (what references to it say)."""
    return f"{row.resource_type}/{received_id(row)}"


def new_received(
    resource: JSON,
    *,
    patient_id: int,
    import_id: int,
    actor: Actor,
    clock: Clock,
    supersedes: ReceivedResource | None = None,
    reason: str | None = None,
    state: str = "current",
) -> ReceivedResource:
    """A received row (not yet added) standing for ``resource``."""
    return ReceivedResource(
        patient_id=patient_id,
        resource_type=resource["resourceType"],
        resource=orjson.dumps(resource).decode(),
        content_sha256=canonical_sha256(resource),
        import_id=import_id,
        state=state,
        supersedes_id=None if supersedes is None else supersedes.id,
        recorded_at=clock.now(),
        recorded_by_id=actor.user_id,
        reason=reason,
    )


def current_received(session: Session, patient_id: int) -> list[ReceivedResource]:
    """The patient's current received resources, in the order they were received."""
    return list(
        session.scalars(
            select(ReceivedResource)
            .where(ReceivedResource.patient_id == patient_id, ReceivedResource.state == "current")
            .order_by(ReceivedResource.id)
        )
    )


def received_resources(session: Session, patient: Patient) -> list[JSON]:
    """The export's section (services/export.py ``SECTIONS``): each current received resource
    as it came, with its export id."""
    resources: list[JSON] = []
    for row in current_received(session, patient.id):
        resource: JSON = orjson.loads(row.resource)
        resource["id"] = received_id(row)
        resources.append(resource)
    return resources


def mark_received_in_error(
    session: Session, actor: Actor, clock: Clock, row_id: int, reason: str
) -> ReceivedResource:
    """A last version saying the received resource was kept by mistake (prescribers)."""
    who_may.require(actor, who_may.PRESCRIBER, "mark a received resource in error")
    old = session.get(ReceivedResource, row_id)
    if old is None:
        raise NotFound(f"no received resource {row_id}")
    if old.state != "current":
        raise Conflict(f"received resource {row_id} is {old.state.replace('_', ' ')}")
    why = str(check_text("reason", reason, limit=500, required=True))
    marked: JSON = copy.deepcopy(orjson.loads(old.resource))
    # Both received types say it with their status (R4: medication-admin-status,
    # questionnaire-answers-status).
    marked["status"] = "entered-in-error"
    get_fhir_model_class(marked["resourceType"]).model_validate(marked)
    # current -> superseded only if still current: of two concurrent marks, the second fails.
    changed = session.execute(
        update(ReceivedResource)
        .where(ReceivedResource.id == old.id, ReceivedResource.state == "current")
        .values(state="superseded")
        .execution_options(synchronize_session="fetch")
    )
    if getattr(changed, "rowcount", 1) != 1:
        raise Conflict(f"received resource {row_id} was changed meanwhile; reload the chart")
    row = new_received(
        marked,
        patient_id=old.patient_id,
        import_id=old.import_id,
        actor=actor,
        clock=clock,
        supersedes=old,
        reason=why,
        state="entered_in_error",
    )
    session.add(row)
    session.flush()
    return row


# --- the chart -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedLine:
    """One received resource as the chart lists it."""

    row: ReceivedResource
    kind: str
    what: str
    when: str | None
    received_at: datetime


def _concept_words(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    if isinstance(concept.get("text"), str):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict):
            named = coding.get("display") or coding.get("code")
            if isinstance(named, str):
                return named
    return None


def _dose_words(resource: JSON) -> str:
    drug = _concept_words(resource.get("medicationCodeableConcept")) or "medication"
    dosage = resource.get("dosage")
    dose = dosage.get("dose") if isinstance(dosage, dict) else None
    if isinstance(dose, dict) and isinstance(dose.get("value"), int | float):
        amount = f"{dose['value']:g}"
        unit = dose.get("unit") or dose.get("code")
        return f"{drug} {amount} {unit}" if isinstance(unit, str) else f"{drug} {amount}"
    return drug


def _answers_words(resource: JSON) -> str:
    questionnaire = resource.get("questionnaire")
    # A canonical URL: its last part names the questionnaire (".../Questionnaire/phq9").
    name = questionnaire.rstrip("/").rsplit("/", 1)[-1] if isinstance(questionnaire, str) else ""
    answered = len(resource.get("item") or [])
    return f"{name or 'questionnaire'}, {answered} item{'s' if answered != 1 else ''} answered"


def _when(resource: JSON) -> str | None:
    for key in ("effectiveDateTime", "authored"):
        if isinstance(resource.get(key), str):
            return str(resource[key])
    period = resource.get("effectivePeriod")
    if isinstance(period, dict) and isinstance(period.get("start"), str):
        return str(period["start"])
    return None


def describe(row: ReceivedResource) -> ReceivedLine:
    resource: JSON = orjson.loads(row.resource)
    if row.resource_type == "MedicationAdministration":
        what = _dose_words(resource)
    elif row.resource_type == "QuestionnaireResponse":
        what = _answers_words(resource)
    else:
        what = _concept_words(resource.get("code")) or row.resource_type
    kind = TYPE_WORDS.get(row.resource_type, row.resource_type)
    return ReceivedLine(row, kind, what, _when(resource), row.recorded_at)


def received_lines(session: Session, patient_id: int) -> list[ReceivedLine]:
    """What the chart's "Received from other clinics" lists."""
    get_patient(session, patient_id)
    return [describe(row) for row in current_received(session, patient_id)]
