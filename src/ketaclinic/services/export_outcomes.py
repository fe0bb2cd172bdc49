"""The export's sections for outcomes and treatment (issue 6 item 7, issue 8 item 1), plugged
into ``services.export.SECTIONS``:

- ``questionnaire_resources``: each current questionnaire response as a QuestionnaireResponse
  (every item answer) and an Observation of its score (the total, or the C-SSRS screener's risk
  level, with one component per item), coded with the scale's LOINC codes where
  clinical/scales.py knows them and always with the clinic's own scale code;
- ``session_resources``: each session that took place (or was stopped or cancelled after it was
  booked) as a Procedure, and each dose given as a MedicationAdministration part of it.

Ids: these rows live in tables of their own, so their ids are prefixed (``qr-5``, ``score-5``,
``session-7``, ``dose-9``) to stay apart from the clinical rows' plain numbers, which are the ids
of the same resource types (Observation/12, Procedure/3) in the export. Sessions still only
scheduled are plans, not procedures: they are not exported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as FhirResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.clinical.facts import LOINC, RXNORM
from ketaclinic.clinical.scales import SCALES, Scale
from ketaclinic.store.models import (
    Patient,
    QuestionnaireResponse,
    SessionDose,
    TreatmentSession,
)

JSON = dict[str, Any]
SCALE_SYSTEM = "http://ketaclinic.org/fhir/CodeSystem/rating-scale"
QUESTIONNAIRE_BASE = "http://ketaclinic.org/fhir/Questionnaire"
SESSION_KIND_SYSTEM = "http://ketaclinic.org/fhir/CodeSystem/session-kind"
# HL7 observation-category "survey": assessment tool or survey instrument results.
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
UCUM = "http://unitsofmeasure.org"
# clinical-facts.md: "RxNorm ingredient ketamine 6130 (working value)". No esketamine code is
# given there, so esketamine is named in words only.
DRUG_CODES: dict[str, JSON] = {
    "ketamine": {
        "coding": [{"system": RXNORM, "code": "6130", "display": "ketamine"}],
        "text": "ketamine",
    },
}
# Session states (store/models.py TreatmentSession) -> Procedure.status (R4 event-status).
PROCEDURE_STATUS = {
    "checked_in": "in-progress",
    "pre_dose_check": "in-progress",
    "dosing": "in-progress",
    "observation": "in-progress",
    "ready_for_discharge": "in-progress",
    "discharged": "completed",
    "stopped": "stopped",
    "cancelled": "not-done",
}
SESSION_WORDS = {
    "dosing": "Ketamine therapy dosing session",
    "integration": "Integration (psychotherapy) session after ketamine dosing",
}


def _instant(moment: datetime) -> str:
    """A naive UTC datetime as a FHIR dateTime with its zone."""
    return moment.replace(microsecond=0).isoformat() + "Z"


def _scale_code(rating: Scale, loinc: str | None, text: str) -> JSON:
    coding: list[JSON] = []
    if loinc is not None:
        coding.append({"system": LOINC, "code": loinc})
    coding.append({"system": SCALE_SYSTEM, "code": rating.id, "display": rating.name})
    return {"coding": coding, "text": text}


def _item_code(rating: Scale, number: int) -> JSON:
    item = rating.items[number - 1]
    coding: list[JSON] = []
    if item.loinc is not None:
        coding.append({"system": LOINC, "code": item.loinc})
    coding.append({"system": SCALE_SYSTEM, "code": f"{rating.id}-{number}", "display": item.label})
    return {"coding": coding, "text": f"{rating.name} item {number}: {item.label}"}


def response_ids(row: QuestionnaireResponse) -> tuple[str, str]:
    """(QuestionnaireResponse id, Observation id) of one stored response."""
    return f"qr-{row.id}", f"score-{row.id}"


def session_id_of(session_id: int) -> str:
    return f"session-{session_id}"


def questionnaire_response(row: QuestionnaireResponse, rating: Scale, patient: Patient) -> JSON:
    answers = [int(a) for a in orjson.loads(row.answers)]
    resource: JSON = {
        "resourceType": "QuestionnaireResponse",
        "id": response_ids(row)[0],
        "questionnaire": f"{QUESTIONNAIRE_BASE}/{rating.id}",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient.id}"},
        "authored": _instant(row.completed_at),
        "item": [
            {
                "linkId": str(item.number),
                "text": item.label,
                "answer": [{"valueInteger": answer}],
            }
            for item, answer in zip(rating.items, answers, strict=True)
        ],
    }
    if row.source == "link":
        # Answered by the patient on the self-report page.
        resource["source"] = {"reference": f"Patient/{patient.id}"}
    FhirResponse.model_validate(resource)
    return resource


def score_observation(
    row: QuestionnaireResponse, rating: Scale, patient: Patient, *, in_session: bool = False
) -> JSON:
    """The score; ``in_session``: its session is exported too, as the Procedure it is part of."""
    answers = [int(a) for a in orjson.loads(row.answers)]
    response_id, observation_id = response_ids(row)
    resource: JSON = {
        "resourceType": "Observation",
        "id": observation_id,
        "status": "final",
        "category": [
            {"coding": [{"system": CATEGORY_SYSTEM, "code": "survey", "display": "Survey"}]}
        ],
        "code": _scale_code(rating, rating.loinc_total, f"{rating.name} total score"),
        "subject": {"reference": f"Patient/{patient.id}"},
        "effectiveDateTime": _instant(row.completed_at),
    }
    if in_session and row.session_id is not None:
        resource["partOf"] = [{"reference": f"Procedure/{session_id_of(row.session_id)}"}]
    if rating.total_range is None:
        # The C-SSRS screener's result is a risk level, not a sum.
        resource["code"] = _scale_code(rating, None, f"{rating.name} risk level")
        resource["valueCodeableConcept"] = {"text": row.band or "not recorded"}
    else:
        total = row.total
        resource["valueQuantity"] = {
            "value": int(total) if float(total).is_integer() else total,
            "unit": "{score}",
            "system": UCUM,
            "code": "{score}",
        }
        if row.band:
            resource["interpretation"] = [{"text": row.band}]
    resource["derivedFrom"] = [{"reference": f"QuestionnaireResponse/{response_id}"}]
    resource["component"] = [
        {"code": _item_code(rating, item.number), "valueInteger": answer}
        for item, answer in zip(rating.items, answers, strict=True)
    ]
    Observation.model_validate(resource)
    return resource


def questionnaire_resources(session: Session, patient: Patient) -> list[JSON]:
    """Each current response as a QuestionnaireResponse and its score Observation."""
    rows = session.scalars(
        select(QuestionnaireResponse)
        .where(
            QuestionnaireResponse.patient_id == patient.id,
            QuestionnaireResponse.state == "current",
        )
        .order_by(QuestionnaireResponse.completed_at, QuestionnaireResponse.id)
    )
    exported_sessions = set(
        session.scalars(
            select(TreatmentSession.id).where(
                TreatmentSession.patient_id == patient.id,
                TreatmentSession.state.in_(tuple(PROCEDURE_STATUS)),
            )
        )
    )
    resources: list[JSON] = []
    for row in rows:
        rating = SCALES.get(row.scale)
        if rating is None:
            continue
        resources.append(questionnaire_response(row, rating, patient))
        resources.append(
            score_observation(row, rating, patient, in_session=row.session_id in exported_sessions)
        )
    return resources


def session_procedure(row: TreatmentSession, patient: Patient) -> JSON:
    kind = SESSION_WORDS.get(row.kind, f"{row.kind} session")
    resource: JSON = {
        "resourceType": "Procedure",
        "id": session_id_of(row.id),
        "status": PROCEDURE_STATUS[row.state],
        "code": {
            "coding": [{"system": SESSION_KIND_SYSTEM, "code": row.kind, "display": kind}],
            "text": f"{kind} {row.number}",
        },
        "subject": {"reference": f"Patient/{patient.id}"},
    }
    start = row.checked_in_at or row.dosing_started_at
    end = row.discharged_at
    if row.state == "stopped":
        end = row.state_at
    if start is not None:
        period: JSON = {"start": _instant(start)}
        if end is not None:
            period["end"] = _instant(end)
        resource["performedPeriod"] = period
    if row.stop_reason and row.state in ("stopped", "cancelled"):
        resource["statusReason"] = {"text": row.stop_reason}
    Procedure.model_validate(resource)
    return resource


def dose_administration(dose: SessionDose, patient: Patient) -> JSON:
    drug = DRUG_CODES.get(dose.drug, {"text": dose.drug})
    resource: JSON = {
        "resourceType": "MedicationAdministration",
        "id": f"dose-{dose.id}",
        "partOf": [{"reference": f"Procedure/{session_id_of(dose.session_id)}"}],
        "status": "completed",
        "medicationCodeableConcept": drug,
        "subject": {"reference": f"Patient/{patient.id}"},
        "dosage": {
            "route": {"text": dose.route},
            "dose": {"value": dose.dose_mg, "unit": "mg", "system": UCUM, "code": "mg"},
        },
    }
    if dose.ended_at is not None:
        resource["effectivePeriod"] = {
            "start": _instant(dose.started_at),
            "end": _instant(dose.ended_at),
        }
    else:
        resource["effectiveDateTime"] = _instant(dose.started_at)
    notes = [f"lot {dose.lot}"]
    if dose.device_number is not None:
        notes.append(f"device {dose.device_number}")
    if dose.outside_plan:
        notes.append(f"outside the plan, confirmed: {dose.confirmation_reason or 'no reason'}")
    resource["note"] = [{"text": "; ".join(notes)}]
    MedicationAdministration.model_validate(resource)
    return resource


def session_resources(session: Session, patient: Patient) -> list[JSON]:
    """Sessions that took place (or were stopped or cancelled) and their doses."""
    sessions = list(
        session.scalars(
            select(TreatmentSession)
            .where(
                TreatmentSession.patient_id == patient.id,
                TreatmentSession.state.in_(tuple(PROCEDURE_STATUS)),
            )
            .order_by(TreatmentSession.planned_on, TreatmentSession.id)
        )
    )
    resources = [session_procedure(row, patient) for row in sessions]
    if sessions:
        doses = session.scalars(
            select(SessionDose)
            .where(SessionDose.session_id.in_([row.id for row in sessions]))
            .order_by(SessionDose.started_at, SessionDose.id)
        )
        resources.extend(dose_administration(dose, patient) for dose in doses)
    return resources
