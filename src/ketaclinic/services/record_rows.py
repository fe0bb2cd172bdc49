"""A FHIR resource -> a clinical row: typed columns, hash, who and when.

The typed columns are read from the resource by the same readers the screening engine uses
(``fhir.read_resources``), so the chart shows what the engine reads, for typed-in and imported
records alike. The resource itself is kept as written; the columns only serve the chart.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.procedure import Procedure

from ketaclinic.clinical import facts
from ketaclinic.fhir.errors import Place
from ketaclinic.fhir.read_resources import (
    read_allergy,
    read_condition,
    read_medication,
    read_observation,
    read_procedure,
)
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.records_forms import JSON, SYSTOLIC_LOINC, Kind
from ketaclinic.store.models import (
    AllergyRecord,
    ClinicalRow,
    ConditionRecord,
    MedicationRecord,
    ObservationRecord,
    ProcedureRecord,
)

MODELS: dict[Kind, type[ClinicalRow]] = {
    "condition": ConditionRecord,
    "medication": MedicationRecord,
    "observation": ObservationRecord,
    "allergy": AllergyRecord,
    "procedure": ProcedureRecord,
}
KIND_OF_TYPE: dict[str, Kind] = {
    "Condition": "condition",
    "MedicationStatement": "medication",
    "MedicationRequest": "medication",
    "Observation": "observation",
    "AllergyIntolerance": "allergy",
    "Procedure": "procedure",
}
FHIR_MODELS: dict[str, Any] = {
    "Condition": Condition,
    "MedicationStatement": MedicationStatement,
    "MedicationRequest": MedicationRequest,
    "Observation": Observation,
    "AllergyIntolerance": AllergyIntolerance,
    "Procedure": Procedure,
}
# Where a resource names its patient (R4).
SUBJECT_KEY = {"AllergyIntolerance": "patient"}


def canonical_sha256(resource: JSON) -> str:
    """SHA-256 of the resource with sorted keys, leaving out ``meta`` (the server's version and
    update time change between exports of the same record) and ``id``."""
    content = {k: v for k, v in resource.items() if k not in ("meta", "id")}
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _cut(value: str | None, limit: int) -> str | None:
    """Fit a column: imported displays can be longer than the chart needs."""
    return None if value is None else value[:limit]


def _first_coding(codings: tuple[facts.Coding, ...]) -> facts.Coding | None:
    for system in (facts.ICD10, facts.SNOMED, facts.RXNORM, facts.CPT, facts.LOINC):
        for coding in codings:
            if coding.system == system:
                return coding
    return codings[0] if codings else None


def _named(text: str | None, coding: facts.Coding | None, fallback: str) -> str:
    if text:
        return text
    if coding is not None:
        return coding.display or coding.code
    return fallback


def _display(resource: JSON) -> str | None:
    code = resource.get("code")
    if not isinstance(code, dict):
        return None
    if isinstance(code.get("text"), str):
        return str(code["text"])
    for coding in code.get("coding") or []:
        if isinstance(coding, dict) and isinstance(coding.get("display"), str):
            return str(coding["display"])
    return None


def _outcome_words(resource: JSON, key: str) -> str | None:
    """The outcome's words, kept for the chart even when a code says the outcome."""
    found = resource.get(key)
    for concept in found if isinstance(found, list) else [found]:
        if isinstance(concept, dict) and isinstance(concept.get("text"), str):
            return str(concept["text"])
    return None


def _condition(resource: JSON, place: Place) -> dict[str, Any]:
    fact = read_condition(resource, "", place)
    coding = _first_coding(fact.codings)
    return {
        "system": _cut(coding.system if coding else None, 100),
        "code": _cut(coding.code if coding else None, 40),
        "display": _cut(_named(fact.text, coding, "unnamed condition"), 300),
        "clinical_status": _cut(fact.clinical_status, 20),
        "onset": fact.onset or fact.recorded,
        "abatement": fact.abatement,
    }


def _medication(resource: JSON, place: Place) -> dict[str, Any]:
    # Bundled Medications were made contained on import, so no lookup is needed here.
    fact = read_medication(resource, "", place, lambda _target: None)
    return {
        "resource_type": place.resource_type,
        "name": _cut(fact.name, 300),
        "ingredient": _cut(fact.ingredient, 100),
        "status": _cut(fact.status, 20),
        "dose_mg": fact.dose_mg,
        "frequency": fact.frequency,
        "period": fact.period,
        "period_unit": _cut(fact.period_unit, 5),
        "start": fact.start,
        "end": fact.end,
        "outcome": _cut(fact.outcome_code, 30),
        "outcome_text": _cut(_outcome_words(resource, "statusReason") or fact.outcome_text, 500),
    }


def _observation(resource: JSON, place: Place) -> dict[str, Any]:
    fact = read_observation(resource, "", place)
    loinc = fact.codes[0] if fact.codes else None
    parts = {c.code: c.value for c in fact.components}
    coded = fact.value_codings[0] if fact.value_codings else None
    value_text = fact.value_text or (coded.display or coded.code if coded else None)
    return {
        "loinc": _cut(loinc, 20),
        "display": _cut(_display(resource) or loinc or "unnamed observation", 200),
        "value": fact.value,
        "value_text": _cut(value_text, 200),
        "unit": _cut(fact.unit, 40),
        "systolic": parts.get(SYSTOLIC_LOINC, fact.value if loinc == SYSTOLIC_LOINC else None),
        "diastolic": parts.get("8462-4", fact.value if loinc == "8462-4" else None),
        "effective_at": fact.when.at if fact.when else None,
    }


def _allergy(resource: JSON, place: Place) -> dict[str, Any]:
    fact = read_allergy(resource, "", place)
    coding = _first_coding(fact.codings)
    return {
        "substance": _cut(_named(fact.text, coding, "unnamed substance"), 200),
        "system": _cut(coding.system if coding else None, 100),
        "code": _cut(coding.code if coding else None, 40),
        "verification_status": _cut(fact.verification_status, 20),
        "recorded_date": fact.recorded,
    }


def _procedure(resource: JSON, place: Place) -> dict[str, Any]:
    fact = read_procedure(resource, "", place)
    coding = _first_coding(fact.codings)
    return {
        "system": _cut(coding.system if coding else None, 100),
        "code": _cut(coding.code if coding else None, 40),
        "display": _cut(_named(fact.text, coding, "unnamed procedure"), 300),
        "status": _cut(fact.status, 20),
        "performed": fact.performed,
        "outcome": _cut(fact.outcome_code, 30),
    }


_COLUMNS = {
    "condition": _condition,
    "medication": _medication,
    "observation": _observation,
    "allergy": _allergy,
    "procedure": _procedure,
}


def columns_of(resource: JSON) -> dict[str, Any]:
    """The typed columns of a (valid) resource, read as the engine reads it."""
    kind = KIND_OF_TYPE[resource["resourceType"]]
    return _COLUMNS[kind](resource, Place(0, resource["resourceType"]))


def new_row(
    resource: JSON,
    *,
    patient_id: int,
    source: str,
    actor: Actor,
    clock: Clock,
    supersedes: ClinicalRow | None = None,
    reason: str | None = None,
    state: str = "current",
) -> ClinicalRow:
    """A clinical row (not yet added) standing for ``resource``."""
    model: Any = MODELS[KIND_OF_TYPE[resource["resourceType"]]]
    row: ClinicalRow = model(
        patient_id=patient_id,
        state=state,
        supersedes_id=None if supersedes is None else supersedes.id,
        resource=orjson.dumps(resource).decode(),
        content_sha256=canonical_sha256(resource),
        source=source,
        recorded_at=clock.now(),
        recorded_by_id=actor.user_id,
        reason=reason,
        **columns_of(resource),
    )
    return row


def check_fhir(resource: JSON) -> None:
    """The R4 structure of a resource built here; a failure is a defect, not bad input."""
    FHIR_MODELS[resource["resourceType"]].model_validate(resource)
