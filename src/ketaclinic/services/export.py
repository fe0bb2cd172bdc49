"""A patient's whole record as one FHIR R4 Bundle (type ``collection``), for referral partners.

What goes in, in this order: the Patient (demographics, the MRN as identifier, the escort as a
contact); every *current* clinical row (Condition, MedicationStatement or MedicationRequest,
Observation, AllergyIntolerance, Procedure) as the FHIR resource it keeps; the resources of any
later ``SECTIONS`` (see below); and the latest screening as a RiskAssessment.

Ids are the ones a screening already uses (``charting.screening_bundle``): the Patient's id is
the patient's number and each clinical resource's id is its row's id in its table. So the
evidence a stored screening names (``MedicationStatement/12``) is the very resource of the
export, the RiskAssessment's ``basis`` points at it, and screening the export with the engine
gives the stored screening's answer while the record is unchanged. The ids are stable: exporting
again gives the same ids until a record is corrected (a correction is a new row, a new id).
Each entry's ``fullUrl`` is ``{base_url}/{type}/{id}``, so the relative references inside the
resources (``Patient/5``) resolve within the Bundle as R4 describes (Bundle, "Resolving
references in Bundles").

Why one RiskAssessment rather than a DetectedIssue per finding: the screening is one judgement
about one person (a decision with its reasons), which is what RiskAssessment holds (status,
subject, occurrence, a predicted outcome with its rationale, ``basis`` naming the evidence).
DetectedIssue describes one problem with one or more *implicated* resources for an ordering
workflow; a finding list would lose the decision, and the notes and informational findings
(``off_label``) are not issues at all. The findings are kept, each as a note, in the
RiskAssessment.

The service writes no audit row: the caller audits the export (web: the route; command line:
``cli_export``), as for every other read of patient data.

``SECTIONS`` gives the rest of the record, each resource with its ``resourceType`` and an id
unique within its type, its patient referenced as ``Patient/{id}``, exported after the clinical
rows: the sessions as Procedures with their doses as MedicationAdministrations, and the
questionnaire answers with their scores (export_outcomes.py); then the resources received from
other clinics, as they came (received_resources.py), so that an export imported elsewhere and
exported again gives the same resources (services/importing.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.riskassessment import RiskAssessment
from sqlalchemy.orm import Session

from ketaclinic.services import who_may
from ketaclinic.services.actor import Actor, Role
from ketaclinic.services.charting import (
    effective_decision,
    is_stale,
    latest_screening,
    output_of,
    patient_resource,
)
from ketaclinic.services.clock import Clock
from ketaclinic.services.export_outcomes import questionnaire_resources, session_resources
from ketaclinic.services.patients import get_patient
from ketaclinic.services.received_resources import received_resources
from ketaclinic.services.records import current_records, patient_ref
from ketaclinic.store.models import Patient, Screening, User

JSON = dict[str, Any]
# Source: issue 4, "Users and security": nurses and prescribers read the chart; the front desk
# sees demographics only and admins no clinical records. An export is a read of the whole chart.
READERS: frozenset[Role] = frozenset({"prescriber", "nurse"})
# Where the entries' fullUrls live unless the caller names its own server (the web app passes
# its address). The namespace the clinic's code systems and MRN identifier already use.
FHIR_BASE = "http://ketaclinic.org/fhir"
DECISION_SYSTEM = "http://ketaclinic.org/fhir/CodeSystem/screening-decision"
DECISION_DISPLAY = {
    "eligible": "Eligible",
    "eligible_with_precautions": "Eligible with precautions",
    "not_eligible": "Not eligible",
    "needs_information": "Needs information",
}
# HL7 v2 table 0203 "MR" (medical record number) and table 0131 "CP" (contact person), the code
# systems R4 binds Identifier.type and Patient.contact.relationship to.
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
CONTACT_ROLE = "http://terminology.hl7.org/CodeSystem/v2-0131"
# The escort takes the patient home after a ketamine session (no code says "escort").
ESCORT_TEXT = "Escort (accompanies the patient home after a session)"

Section = Callable[[Session, Patient], list[JSON]]


def record_resources(session: Session, patient: Patient) -> list[JSON]:
    """Every current clinical row's resource, with the row's id (as a screening reads it)."""
    resources: list[JSON] = []
    for row in current_records(session, patient.id).all():
        resource: JSON = orjson.loads(row.resource)
        resource["id"] = str(row.id)
        resources.append(resource)
    return resources


SECTIONS: tuple[Section, ...] = (
    record_resources,
    session_resources,
    questionnaire_resources,
    received_resources,
)


def _instant(moment: datetime) -> str:
    """A naive UTC datetime as a FHIR instant / dateTime with its zone."""
    return moment.replace(microsecond=0).isoformat() + "Z"


def export_patient_resource(patient: Patient) -> JSON:
    """The screening's Patient (id, MRN, name, gender, birth date) with how to reach them."""
    resource = patient_resource(patient)
    resource["identifier"] = [
        {
            "use": "usual",
            "type": {
                "coding": [
                    {"system": IDENTIFIER_TYPE, "code": "MR", "display": "Medical record number"}
                ]
            },
            **identifier,
        }
        for identifier in resource["identifier"]
    ]
    telecom = [
        {"system": system, "value": value}
        for system, value in (("phone", patient.phone), ("email", patient.email))
        if value
    ]
    if telecom:
        resource["telecom"] = telecom
    if patient.address:
        resource["address"] = [{"text": patient.address}]
    if patient.escort_name or patient.escort_phone:
        contact: JSON = {
            "relationship": [
                {
                    "coding": [{"system": CONTACT_ROLE, "code": "CP", "display": "Contact person"}],
                    "text": ESCORT_TEXT,
                }
            ]
        }
        if patient.escort_name:
            contact["name"] = {"text": patient.escort_name}
        if patient.escort_phone:
            contact["telecom"] = [{"system": "phone", "value": patient.escort_phone}]
        resource["contact"] = [contact]
    FhirPatient.model_validate(resource)
    return resource


def _evidence(output: JSON) -> list[str]:
    """Every resource the screening names, in the order it first names them."""
    named: list[str] = []
    groups: list[list[JSON]] = [
        output["indications"],
        output["findings"],
        output["treatment_resistance"]["trials"],
        output["pain_resistance"]["treatments"],
        output["workup"],
    ]
    for group in groups:
        for item in group:
            for ref in item.get("evidence") or []:
                if ref not in named:
                    named.append(ref)
    return named


def _signer(session: Session, screening: Screening) -> str | None:
    signature = screening.signature
    if signature is None:
        return None
    user = session.get(User, signature.signed_by_id)
    who = user.full_name if user is not None else f"user {signature.signed_by_id}"
    return f"Signed by {who} on {_instant(signature.signed_at)}."


def _rationale(output: JSON, screening: Screening) -> str:
    decided = effective_decision(screening)
    words = [
        f"Screened for ketamine therapy by the {output['route']} route as of "
        f"{output['as_of']}: {DECISION_DISPLAY[decided.engine_decision].lower()}."
    ]
    if decided.overridden:
        words.append(
            f"Overridden by the prescriber: {DECISION_DISPLAY[decided.decision].lower()}, "
            f"because: {decided.justification}"
        )
    indications = ", ".join(i["id"] for i in output["indications"]) or "none"
    words.append(f"Indications: {indications}.")
    findings = "; ".join(f"{f['kind']}:{f['id']}" for f in output["findings"]) or "none"
    words.append(f"Findings: {findings}.")
    words.append(f"Workup complete: {'yes' if output['workup_complete'] else 'no'}.")
    return " ".join(words)


def _notes(session: Session, output: JSON, screening: Screening, dropped: list[str]) -> list[JSON]:
    texts = [
        f"{f['kind']} {f['id']}: {f['message']} (source: {f['source']})" for f in output["findings"]
    ]
    if dropped:
        texts.append(
            "Evidence no longer in the current record (corrected or marked in error since the "
            f"screening): {', '.join(dropped)}."
        )
    signed = _signer(session, screening)
    if signed:
        texts.append(signed)
    if is_stale(session, screening):
        texts.append("The record has changed since this screening was signed.")
    return [{"text": text} for text in texts]


def screening_resource(
    session: Session, screening: Screening, patient: Patient, exported: set[str]
) -> JSON:
    """The screening as a RiskAssessment; ``basis`` names the exported evidence."""
    output = output_of(screening)
    decided = effective_decision(screening)
    evidence = _evidence(output)
    basis = [ref for ref in evidence if ref in exported]
    dropped = [ref for ref in evidence if ref not in exported]
    resource: JSON = {
        "resourceType": "RiskAssessment",
        "id": str(screening.id),
        # An override changes a final result: R4's "amended".
        "status": "amended" if decided.overridden else "final",
        "code": {"text": f"Ketamine therapy screening ({output['route']} route)"},
        "method": {
            "text": f"ketaclinic screening engine {screening.engine_version}, policy "
            f"{screening.policy_name} (sha256 {screening.policy_sha256})"
        },
        "subject": {"reference": patient_ref(patient.id)},
        "occurrenceDateTime": _instant(screening.created_at),
        "prediction": [
            {
                "outcome": {
                    "coding": [
                        {
                            "system": DECISION_SYSTEM,
                            "code": decided.decision,
                            "display": DECISION_DISPLAY[decided.decision],
                        }
                    ],
                    "text": DECISION_DISPLAY[decided.decision],
                },
                "rationale": _rationale(output, screening),
            }
        ],
    }
    if basis:
        resource["basis"] = [{"reference": ref} for ref in basis]
    notes = _notes(session, output, screening, dropped)
    if notes:
        resource["note"] = notes
    RiskAssessment.model_validate(resource)
    return resource


def _entry(base_url: str, resource: JSON) -> JSON:
    return {
        "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
    }


def export_patient(
    session: Session,
    actor: Actor,
    clock: Clock,
    patient_id: int,
    *,
    base_url: str = FHIR_BASE,
    sections: Sequence[Section] = SECTIONS,
) -> JSON:
    """The patient's record as an R4 Bundle (see the module docstring). Prescribers and nurses
    (and the command line); the caller audits it."""
    who_may.require(actor, READERS, "export patient records")
    patient = get_patient(session, patient_id)
    base = base_url.rstrip("/")
    resources = [export_patient_resource(patient)]
    for section in sections:
        resources.extend(section(session, patient))
    exported: set[str] = set()
    for resource in resources:
        ref = f"{resource['resourceType']}/{resource['id']}"
        if ref in exported:
            # Two sections giving the same id is a defect: the fullUrls would clash.
            raise ValueError(f"{ref} is exported twice")
        exported.add(ref)
    screening = latest_screening(session, patient_id)
    if screening is not None:
        resources.append(screening_resource(session, screening, patient, exported))
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _instant(clock.now()),
        "entry": [_entry(base, resource) for resource in resources],
    }
