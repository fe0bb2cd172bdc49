"""Form values -> checked FHIR R4 resources, one per record type.

Each ``*In`` holds what a form (or the JSON API) sends; ``resource_of`` checks it (InvalidInput
naming the field) and builds the resource the row keeps, the same shape an imported record has,
so the screening engine reads typed-in and imported records alike. Unknown codes are kept as
written: the screening lists them as unrecognised instead of losing them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from ketaclinic.clinical.facts import ICD10, LOINC, RXNORM, SNOMED, TRIAL_OUTCOME
from ketaclinic.clinical.resistance import OUTCOMES
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import InvalidInput
from ketaclinic.services.vitals import (
    DIASTOLIC,
    GAD7_TOTAL,
    HEART_RATE,
    PHQ9_ITEM,
    PHQ9_TOTAL,
    SPO2,
    SYSTOLIC,
    WEIGHT,
    Range,
    as_utc,
    check_not_future,
    check_not_negative,
    check_order,
    check_positive,
    check_text,
)

JSON = dict[str, Any]
Kind = Literal["condition", "medication", "observation", "allergy", "procedure"]
KINDS: tuple[Kind, ...] = ("condition", "medication", "observation", "allergy", "procedure")

UCUM = "http://unitsofmeasure.org"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# Short names a form may use for a code system; a full URL is kept as given.
SYSTEMS = {"icd10": ICD10, "icd-10-cm": ICD10, "snomed": SNOMED, "rxnorm": RXNORM, "loinc": LOINC}
# FHIR R4 value sets (entered-in-error is reached by mark_entered_in_error, not typed in).
CONDITION_STATUSES = ("active", "recurrence", "relapse", "inactive", "remission", "resolved")
CONDITION_VERIFICATIONS = ("confirmed", "unconfirmed", "provisional", "differential", "refuted")
MEDICATION_STATUSES = ("active", "completed", "stopped", "on-hold", "intended", "unknown")
ALLERGY_STATUSES = ("active", "inactive", "resolved")
ALLERGY_VERIFICATIONS = ("confirmed", "unconfirmed", "refuted")
PROCEDURE_STATUSES = ("completed", "in-progress", "stopped", "on-hold", "preparation", "unknown")
PERIOD_UNITS = ("h", "d", "wk", "mo")
# Doses per period: a data-entry limit (issue 4, "Bad input"), not a clinical one; more is a
# typing slip (and past 2**31 - 1, FHIR's positiveInt, no resource could even hold it).
MAX_FREQUENCY = 100
OUTCOME_DISPLAY = {
    "no-response": "No response",
    "partial-response": "Partial response",
    "response": "Response",
    "remission": "Remission",
    "intolerance": "Intolerance",
}
# Condition.severity SNOMED CT 24484000 "Severe" (spec/screening.md, Condition row).
SEVERE = {"system": SNOMED, "code": "24484000", "display": "Severe"}
# Qualitative results (spec/screening.md, Observation row: hCG with SNOMED CT).
RESULTS = {"positive": ("10828004", "Positive"), "negative": ("260385009", "Negative")}
# FHIR `code`: no leading, trailing or doubled whitespace.
_CODE = re.compile(r"^\S+( \S+)*$")


@dataclass(frozen=True)
class Measure:
    """An observation the forms know: its LOINC display, UCUM unit and plausible range."""

    loinc: str
    display: str
    unit: str | None
    category: str
    range: Range | None = None


BLOOD_PRESSURE = "85354-9"
SYSTOLIC_LOINC = "8480-6"
DIASTOLIC_LOINC = "8462-4"
HCG_URINE = "2106-3"
_VITAL, _LAB, _SURVEY = "vital-signs", "laboratory", "survey"
MEASURES: dict[str, Measure] = {
    m.loinc: m
    for m in (
        Measure(
            BLOOD_PRESSURE, "Blood pressure panel with all children optional", "mm[Hg]", _VITAL
        ),
        Measure("8867-4", "Heart rate", "/min", _VITAL, HEART_RATE),
        Measure(
            "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", _VITAL, SPO2
        ),
        Measure("29463-7", "Body weight", "kg", _VITAL, WEIGHT),
        Measure(
            "1742-6",
            "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
            "U/L",
            _LAB,
        ),
        Measure(
            "1920-8",
            "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
            "U/L",
            _LAB,
        ),
        Measure("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", _LAB),
        Measure(
            "33914-3",
            "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or "
            "Plasma by Creatinine-based formula (MDRD)",
            "mL/min/{1.73_m2}",
            _LAB,
        ),
        Measure("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "m[IU]/L", _LAB),
        Measure(HCG_URINE, "Choriogonadotropin (pregnancy test) [Presence] in Urine", None, _LAB),
        Measure(
            "44261-6",
            "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
            "{score}",
            _SURVEY,
            PHQ9_TOTAL,
        ),
        Measure(
            "44260-8",
            "Thoughts that you would be better off dead, or of hurting yourself in some way",
            "{score}",
            _SURVEY,
            PHQ9_ITEM,
        ),
        Measure(
            "70274-6",
            "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
            "{score}",
            _SURVEY,
            GAD7_TOTAL,
        ),
    )
}


@dataclass(frozen=True)
class ConditionIn:
    code: str
    display: str
    system: str = ICD10
    clinical_status: str = "active"
    verification_status: str = "confirmed"
    onset: date | None = None
    abatement: date | None = None
    severe: bool = False


@dataclass(frozen=True)
class MedicationIn:
    """One prescription of a trial, as a prescriber takes it in the interview."""

    name: str
    start: date | None = None
    end: date | None = None
    status: str = "completed"
    rxnorm: str | None = None
    dose_mg: float | None = None
    frequency: int = 1
    period: float = 1
    period_unit: str = "d"
    # A code of http://ketaclinic.org/fhir/CodeSystem/trial-outcome, and/or words.
    outcome: str | None = None
    outcome_text: str | None = None


@dataclass(frozen=True)
class ObservationIn:
    """A vital sign, a lab or a scale total. Blood pressure (85354-9) takes systolic and
    diastolic; a pregnancy test takes ``result`` positive/negative (or a numeric ``value``)."""

    loinc: str
    effective: datetime | date
    value: float | None = None
    systolic: float | None = None
    diastolic: float | None = None
    result: str | None = None
    # For codes the forms do not know: the unit and name as written.
    unit: str | None = None
    display: str | None = None


@dataclass(frozen=True)
class AllergyIn:
    substance: str
    code: str | None = None
    system: str = RXNORM
    clinical_status: str = "active"
    verification_status: str = "confirmed"
    recorded: date | None = None


@dataclass(frozen=True)
class ProcedureIn:
    code: str
    display: str
    system: str = SNOMED
    status: str = "completed"
    performed: date | None = None
    performed_end: date | None = None
    outcome: str | None = None
    outcome_text: str | None = None


FormValues = ConditionIn | MedicationIn | ObservationIn | AllergyIn | ProcedureIn
FORMS: dict[Kind, type[FormValues]] = {
    "condition": ConditionIn,
    "medication": MedicationIn,
    "observation": ObservationIn,
    "allergy": AllergyIn,
    "procedure": ProcedureIn,
}


def _one_of(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInput(field, f"must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _system(field: str, value: str) -> str:
    cleaned = value.strip()
    system = SYSTEMS.get(cleaned.lower(), cleaned)
    if not system.startswith(("http://", "https://", "urn:")):
        raise InvalidInput(field, f"must be a code system URL or one of {', '.join(SYSTEMS)}")
    if len(system) > 100:
        raise InvalidInput(field, "is too long (at most 100 characters)")
    return system


def _code(field: str, value: str | None, *, required: bool) -> str | None:
    code = check_text(field, value, limit=40, required=required)
    if code is not None and not _CODE.match(code):
        raise InvalidInput(field, "cannot hold doubled spaces or line breaks")
    return code


def _concept(system: str, code: str | None, text: str) -> JSON:
    concept: JSON = {"text": text}
    if code is not None:
        concept["coding"] = [{"system": system, "code": code, "display": text}]
    return concept


def _status(system: str, code: str) -> JSON:
    return {"coding": [{"system": system, "code": code}]}


def outcome_concept(code: str | None, text: str | None) -> JSON | None:
    """A trial outcome (spec/screening.md, 'Outcome of a trial'): coded, with words, or both."""
    if code is None and text is None:
        return None
    concept: JSON = {}
    if code is not None:
        concept["coding"] = [
            {"system": TRIAL_OUTCOME, "code": code, "display": OUTCOME_DISPLAY[code]}
        ]
    if text is not None:
        concept["text"] = text
    return concept


def outcome_code(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return _one_of("outcome", value.strip(), tuple(sorted(OUTCOMES)))


def _subject(patient_ref: str) -> JSON:
    return {"reference": patient_ref}


def condition_resource(values: ConditionIn, patient_ref: str, clock: Clock) -> JSON:
    code = _code("code", values.code, required=True)
    display = check_text("display", values.display, limit=300) or str(code)
    status = _one_of("clinical_status", values.clinical_status, CONDITION_STATUSES)
    verification = _one_of(
        "verification_status", values.verification_status, CONDITION_VERIFICATIONS
    )
    check_not_future("onset", values.onset, clock)
    check_not_future("abatement", values.abatement, clock)
    check_order("abatement", values.onset, values.abatement)
    if values.abatement is not None and status in ("active", "recurrence", "relapse"):
        raise InvalidInput("abatement", "a condition that has ended cannot be active")
    resource: JSON = {
        "resourceType": "Condition",
        "clinicalStatus": _status(CONDITION_CLINICAL, status),
        "verificationStatus": _status(CONDITION_VERIFICATION, verification),
        "code": _concept(_system("system", values.system), code, display),
        "subject": _subject(patient_ref),
        "recordedDate": clock.now().date().isoformat(),
    }
    if values.severe:
        resource["severity"] = {"coding": [SEVERE], "text": "Severe"}
    if values.onset is not None:
        resource["onsetDateTime"] = values.onset.isoformat()
    if values.abatement is not None:
        resource["abatementDateTime"] = values.abatement.isoformat()
    return resource


def _dosage(values: MedicationIn) -> JSON | None:
    if values.dose_mg is None:
        return None
    check_positive("dose_mg", values.dose_mg)
    if not 1 <= values.frequency <= MAX_FREQUENCY:
        raise InvalidInput("frequency", f"must be between 1 and {MAX_FREQUENCY}")
    check_positive("period", values.period)
    unit = _one_of("period_unit", values.period_unit, PERIOD_UNITS)
    return {
        "text": f"{values.dose_mg:g} mg, {values.frequency} times every {values.period:g} {unit}",
        "timing": {
            "repeat": {"frequency": values.frequency, "period": values.period, "periodUnit": unit}
        },
        "doseAndRate": [
            {"doseQuantity": {"value": values.dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}}
        ],
    }


def medication_resource(values: MedicationIn, patient_ref: str, clock: Clock) -> JSON:
    name = str(check_text("name", values.name, limit=300, required=True))
    rxnorm = _code("rxnorm", values.rxnorm, required=False)
    status = _one_of("status", values.status, MEDICATION_STATUSES)
    check_not_future("start", values.start, clock)
    check_not_future("end", values.end, clock)
    check_order("end", values.start, values.end)
    outcome = outcome_concept(
        outcome_code(values.outcome), check_text("outcome_text", values.outcome_text, limit=500)
    )
    resource: JSON = {
        "resourceType": "MedicationStatement",
        "status": status,
        "medicationCodeableConcept": _concept(RXNORM, rxnorm, name),
        "subject": _subject(patient_ref),
        "dateAsserted": clock.now().date().isoformat(),
    }
    period = {
        key: day.isoformat()
        for key, day in (("start", values.start), ("end", values.end))
        if day is not None
    }
    if period:
        resource["effectivePeriod"] = period
    if (dosage := _dosage(values)) is not None:
        resource["dosage"] = [dosage]
    if outcome is not None:
        resource["statusReason"] = [outcome]
    return resource


def _quantity(value: float, unit: str | None) -> JSON:
    if unit is None:
        return {"value": value}
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _component(loinc: str, display: str, value: float) -> JSON:
    return {
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}]},
        "valueQuantity": _quantity(value, "mm[Hg]"),
    }


def _blood_pressure(values: ObservationIn) -> JSON:
    if values.systolic is None:
        raise InvalidInput("systolic", "is required")
    if values.diastolic is None:
        raise InvalidInput("diastolic", "is required")
    SYSTOLIC.check("systolic", values.systolic)
    DIASTOLIC.check("diastolic", values.diastolic)
    if values.diastolic >= values.systolic:
        raise InvalidInput("diastolic", "must be below the systolic pressure")
    return {
        "component": [
            _component(SYSTOLIC_LOINC, "Systolic blood pressure", values.systolic),
            _component(DIASTOLIC_LOINC, "Diastolic blood pressure", values.diastolic),
        ]
    }


def _result(result: str | None) -> JSON | None:
    if result is None or not result.strip():
        return None
    code, display = RESULTS[_one_of("result", result.strip().lower(), tuple(RESULTS))]
    return {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": display}


def _observation_value(values: ObservationIn, measure: Measure | None) -> JSON:
    if measure is not None and measure.loinc == BLOOD_PRESSURE:
        return _blood_pressure(values)
    coded = _result(values.result)
    if coded is not None:
        return {"valueCodeableConcept": coded}
    if values.value is None:
        raise InvalidInput("value", "is required")
    if measure is None:
        unit = check_text("unit", values.unit, limit=40)
        return {"valueQuantity": _quantity(values.value, unit)}
    if measure.range is not None:
        measure.range.check("value", values.value)
    else:
        check_not_negative("value", values.value)
    # A numeric hCG is in mIU/mL (spec/screening.md, 'Other readings').
    unit = "m[IU]/mL" if measure.loinc == HCG_URINE else measure.unit
    return {"valueQuantity": _quantity(values.value, unit)}


def _effective(values: ObservationIn, clock: Clock) -> str:
    check_not_future("effective", values.effective, clock)
    if isinstance(values.effective, datetime):
        return as_utc(values.effective).replace(microsecond=0).isoformat() + "Z"
    return values.effective.isoformat()


def observation_resource(values: ObservationIn, patient_ref: str, clock: Clock) -> JSON:
    loinc = str(_code("loinc", values.loinc, required=True))
    measure = MEASURES.get(loinc)
    display = (measure.display if measure else None) or check_text(
        "display", values.display, limit=200
    )
    coding: JSON = {"system": LOINC, "code": loinc}
    if display:
        coding["display"] = display
    resource: JSON = {"resourceType": "Observation", "status": "final"}
    if measure is not None:
        resource["category"] = [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": measure.category}]}
        ]
    resource["code"] = {"coding": [coding], **({"text": display} if display else {})}
    resource["subject"] = _subject(patient_ref)
    resource["effectiveDateTime"] = _effective(values, clock)
    resource.update(_observation_value(values, measure))
    return resource


def allergy_resource(values: AllergyIn, patient_ref: str, clock: Clock) -> JSON:
    substance = str(check_text("substance", values.substance, limit=200, required=True))
    code = _code("code", values.code, required=False)
    status = _one_of("clinical_status", values.clinical_status, ALLERGY_STATUSES)
    verification = _one_of("verification_status", values.verification_status, ALLERGY_VERIFICATIONS)
    check_not_future("recorded", values.recorded, clock)
    return {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": _status(ALLERGY_CLINICAL, status),
        "verificationStatus": _status(ALLERGY_VERIFICATION, verification),
        "code": _concept(_system("system", values.system), code, substance),
        "patient": _subject(patient_ref),
        "recordedDate": (values.recorded or clock.now().date()).isoformat(),
    }


def procedure_resource(values: ProcedureIn, patient_ref: str, clock: Clock) -> JSON:
    code = _code("code", values.code, required=True)
    display = check_text("display", values.display, limit=300) or str(code)
    status = _one_of("status", values.status, PROCEDURE_STATUSES)
    check_not_future("performed", values.performed, clock)
    check_not_future("performed_end", values.performed_end, clock)
    check_order("performed_end", values.performed, values.performed_end)
    if values.performed_end is not None and values.performed is None:
        raise InvalidInput("performed", "is required with an end")
    outcome = outcome_concept(
        outcome_code(values.outcome), check_text("outcome_text", values.outcome_text, limit=500)
    )
    resource: JSON = {
        "resourceType": "Procedure",
        "status": status,
        "code": _concept(_system("system", values.system), code, display),
        "subject": _subject(patient_ref),
    }
    if values.performed is not None and values.performed_end is not None:
        resource["performedPeriod"] = {
            "start": values.performed.isoformat(),
            "end": values.performed_end.isoformat(),
        }
    elif values.performed is not None:
        resource["performedDateTime"] = values.performed.isoformat()
    if outcome is not None:
        resource["outcome"] = outcome
    return resource


def resource_of(values: FormValues, patient_ref: str, clock: Clock) -> JSON:
    """The checked FHIR resource for form values (InvalidInput naming the field)."""
    if isinstance(values, ConditionIn):
        return condition_resource(values, patient_ref, clock)
    if isinstance(values, MedicationIn):
        return medication_resource(values, patient_ref, clock)
    if isinstance(values, ObservationIn):
        return observation_resource(values, patient_ref, clock)
    if isinstance(values, AllergyIn):
        return allergy_resource(values, patient_ref, clock)
    return procedure_resource(values, patient_ref, clock)
