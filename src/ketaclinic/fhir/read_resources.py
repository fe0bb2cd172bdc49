"""One validated FHIR resource (raw JSON) -> one clinical fact.

Source: spec/screening.md, the "what is read" table. Values are kept as
written; interpreting them (active, ongoing, daily dose) is the rules' job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from ketaclinic.clinical.facts import (
    LOINC,
    RXNORM,
    SNOMED,
    TRIAL_OUTCOME,
    Allergy,
    Coding,
    Component,
    Condition,
    Medication,
    Observation,
    Patient,
    Procedure,
)
from ketaclinic.clinical.medications import (
    ingredient_from_rxnorm,
    ingredient_from_text,
    strength_from_text,
)
from ketaclinic.fhir.errors import Place
from ketaclinic.fhir.values import (
    child,
    children,
    codes_in,
    codings,
    concept_text,
    day_of,
    first_child,
    first_code,
    integer,
    json_text,
    keep,
    moment_of,
    number,
    text,
)

JSON = dict[str, Any]
# Finds a bundled Medication by a literal reference ("Medication/1" or a fullUrl).
MedicationLookup = Callable[[str], JSON | None]

# Condition.severity: SNOMED CT 24484000 "Severe". Source: spec/screening.md, Condition row.
SEVERE = Coding(SNOMED, "24484000")

# Dose units in mg, by UCUM code or as commonly written.
_TO_MG: Mapping[str, float] = {
    "mg": 1.0,
    "milligram": 1.0,
    "milligrams": 1.0,
    "g": 1000.0,
    "gram": 1000.0,
    "grams": 1000.0,
    "mcg": 0.001,
    "ug": 0.001,
    "µg": 0.001,
    "μg": 0.001,
    "microgram": 0.001,
    "micrograms": 0.001,
}
# Units that count tablets or capsules: UCUM annotations, HL7 v3 orderable drug forms
# (TAB, CAP), SNOMED CT units of presentation (732936001 tablet, 732937005 capsule).
_COUNTS = frozenset(
    {
        "tablet",
        "tablets",
        "tab",
        "tabs",
        "capsule",
        "capsules",
        "cap",
        "caps",
        "{tbl}",
        "{tab}",
        "{tablet}",
        "{tablets}",
        "{capsule}",
        "{capsules}",
        "{cap}",
        "732936001",
        "732937005",
    }
)


def read_patient(resource: JSON, ref: str, place: Place) -> Patient:
    return Patient(
        ref=ref,
        birth_date=day_of(resource, "birthDate", place, "birthDate"),
        gender=text(resource, "gender", place, "gender"),
    )


def _onset_day(resource: JSON, place: Place) -> date | None:
    """``onsetDateTime``, else ``onsetPeriod.start``, as a day."""
    written = day_of(resource, "onsetDateTime", place, "onsetDateTime")
    period = child(resource, "onsetPeriod", place, "onsetPeriod")
    if written is None and period is not None:
        written = day_of(period, "start", place, "onsetPeriod.start")
    return written


def read_condition(resource: JSON, ref: str, place: Place) -> Condition:
    code = child(resource, "code", place, "code")
    severity = codings(child(resource, "severity", place, "severity"), place, "severity")
    return Condition(
        ref=ref,
        codings=codings(code, place, "code"),
        text=concept_text(code, place, "code"),
        clinical_status=first_code(resource, "clinicalStatus", place),
        verification_status=first_code(resource, "verificationStatus", place),
        onset=_onset_day(resource, place),
        recorded=day_of(resource, "recordedDate", place, "recordedDate"),
        abatement=day_of(resource, "abatementDateTime", place, "abatementDateTime"),
        severe=any(c.system == SEVERE.system and c.code == SEVERE.code for c in severity),
    )


def _contained(resource: JSON, local_id: str, place: Place) -> JSON | None:
    for item in children(resource, "contained", place, "contained"):
        if item.get("resourceType") == "Medication" and item.get("id") == local_id:
            return item
    return None


def _drug_concept(
    resource: JSON, place: Place, lookup: MedicationLookup
) -> tuple[JSON | None, str, str | None]:
    """The medication's CodeableConcept, the field it was read from, and a reference display."""
    concept = child(resource, "medicationCodeableConcept", place, "medicationCodeableConcept")
    if concept is not None:
        return concept, "medicationCodeableConcept", None
    pointer = child(resource, "medicationReference", place, "medicationReference")
    if pointer is None:
        return None, "medicationReference", None
    display = text(pointer, "display", place, "medicationReference.display")
    target = text(pointer, "reference", place, "medicationReference.reference")
    if not target:
        return None, "medicationReference", display
    medication = (
        _contained(resource, target[1:], place) if target.startswith("#") else lookup(target)
    )
    # A reference that cannot be resolved leaves the drug unknown, as an unnamed one would.
    if medication is None:
        return None, "medicationReference", display
    field = f"medicationReference ({target}).code"
    return child(medication, "code", place, field), field, display


def _ingredient(codes: tuple[Coding, ...], names: list[str]) -> str | None:
    """By RxNorm code where known, else by name. Source: spec/screening.md, "Ingredient"."""
    for coding in codes:
        if coding.system == RXNORM and (found := ingredient_from_rxnorm(coding.code)):
            return found
    for name in names:
        if found := ingredient_from_text(name):
            return found
    return None


# Dose in mg, dose in units, frequency, period, period unit.
_Dose = tuple[float | None, float | None, int | None, float | None, str | None]
# A population repeats the same few dosages ("300 mg once a day"): each is read once and kept by
# its JSON text (see values.json_text), at most values.TEXTS_KEPT of them.
_doses_read: dict[bytes, _Dose] = {}


def _dose(dosage: JSON | None, place: Place, field: str) -> _Dose:
    if dosage is None:
        return None, None, None, None, None
    written = json_text(dosage)
    if written is None:
        return _read_dose(dosage, place, field)
    known = _doses_read.get(written)
    if known is None:
        # Read (or refused, naming the field) before anything is kept.
        known = keep(_doses_read, written, _read_dose(dosage, place, field))
    return known


def _read_dose(dosage: JSON, place: Place, field: str) -> _Dose:
    dose_mg = dose_units = None
    rate = first_child(dosage, "doseAndRate", place, f"{field}.doseAndRate")
    quantity = (
        None
        if rate is None
        else child(rate, "doseQuantity", place, f"{field}.doseAndRate[0].doseQuantity")
    )
    if quantity is not None:
        where = f"{field}.doseAndRate[0].doseQuantity"
        value = number(quantity, "value", place, f"{where}.value")
        units = [
            text(quantity, "code", place, f"{where}.code"),
            text(quantity, "unit", place, f"{where}.unit"),
        ]
        for unit in (u.strip().lower() for u in units if u):
            if value is not None and unit in _TO_MG:
                dose_mg = value * _TO_MG[unit]
                break
            if value is not None and unit in _COUNTS:
                dose_units = value
                break
    timing = child(dosage, "timing", place, f"{field}.timing")
    repeat = None if timing is None else child(timing, "repeat", place, f"{field}.timing.repeat")
    if repeat is None:
        return dose_mg, dose_units, None, None, None
    where = f"{field}.timing.repeat"
    return (
        dose_mg,
        dose_units,
        integer(repeat, "frequency", place, f"{where}.frequency"),
        number(repeat, "period", place, f"{where}.period"),
        text(repeat, "periodUnit", place, f"{where}.periodUnit"),
    )


def _concepts(resource: JSON, key: str, place: Place) -> list[JSON]:
    """A CodeableConcept element that is repeating in one resource type and single in another."""
    found = resource.get(key)
    if isinstance(found, dict):
        return [found]
    return children(resource, key, place, key)


def _outcome(concepts: list[JSON], place: Place, field: str) -> tuple[str | None, str | None]:
    """A trial-outcome code, else the text or a display to be read by keywords.

    Source: spec/screening.md, "Outcome of a trial".
    """
    if not concepts:
        return None, None
    coded = [codings(concept, place, field) for concept in concepts]
    for codes in coded:
        for coding in codes:
            if coding.system == TRIAL_OUTCOME:
                return coding.code, None
    for concept in concepts:
        if written := concept_text(concept, place, field):
            return None, written
    for codes in coded:
        for coding in codes:
            if coding.display:
                return None, coding.display
    return None, None


def read_medication(resource: JSON, ref: str, place: Place, lookup: MedicationLookup) -> Medication:
    """A MedicationStatement or a MedicationRequest (spec: "as above, from authoredOn ...")."""
    kind = place.resource_type
    concept, field, display = _drug_concept(resource, place, lookup)
    codes = codings(concept, place, field)
    written = concept_text(concept, place, field)
    displays = [c.display for c in codes if c.display]
    names = [n for n in (written, *displays, display) if n]
    codes_only = [c.code for c in codes]
    name = names[0] if names else (codes_only[0] if codes_only else "unnamed medication")
    if kind == "MedicationRequest":
        start = day_of(resource, "authoredOn", place, "authoredOn")
        dispense = child(resource, "dispenseRequest", place, "dispenseRequest")
        validity = (
            None
            if dispense is None
            else child(dispense, "validityPeriod", place, "dispenseRequest.validityPeriod")
        )
        end = (
            None
            if validity is None
            else day_of(validity, "end", place, "dispenseRequest.validityPeriod.end")
        )
        dosage_key = "dosageInstruction"
    else:
        start = day_of(resource, "effectiveDateTime", place, "effectiveDateTime")
        period = child(resource, "effectivePeriod", place, "effectivePeriod")
        end = None
        if period is not None:
            start = day_of(period, "start", place, "effectivePeriod.start")
            end = day_of(period, "end", place, "effectivePeriod.end")
        dosage_key = "dosage"
    dosage = first_child(resource, dosage_key, place, dosage_key)
    dose_mg, dose_units, frequency, period_length, period_unit = _dose(
        dosage, place, f"{dosage_key}[0]"
    )
    outcome_code, outcome_text = _outcome(
        _concepts(resource, "statusReason", place), place, "statusReason"
    )
    return Medication(
        ref=ref,
        ingredient=_ingredient(codes, names),
        name=name,
        source=kind,
        status=text(resource, "status", place, "status"),
        start=start,
        end=end,
        dose_mg=dose_mg,
        frequency=frequency,
        period=period_length,
        period_unit=period_unit,
        dose_units=dose_units,
        strength_mg=strength_from_text(name),
        outcome_code=outcome_code,
        outcome_text=outcome_text,
    )


def _loinc_codes(concept: JSON | None, place: Place, field: str) -> tuple[str, ...]:
    return codes_in(concept, LOINC, place, field)


def _value(element: JSON, place: Place, field: str) -> float | None:
    """valueQuantity.value, or valueInteger (scores are often written as integers)."""
    quantity = child(element, "valueQuantity", place, f"{field}valueQuantity")
    if quantity is not None:
        return number(quantity, "value", place, f"{field}valueQuantity.value")
    return number(element, "valueInteger", place, f"{field}valueInteger")


# PHQ-9 item questions (clinical-facts.md, "Rating scales") and the scores of their LOINC answer
# list LL358-3 ("over the last 2 weeks"). EHRs often export an item as its coded answer rather
# than as a number; the answer list defines the number, so the score is read from it.
_PHQ9_ITEMS = frozenset(
    {
        "44250-9",
        "44255-8",
        "44259-0",
        "44254-1",
        "44251-7",
        "44258-2",
        "44252-5",
        "44253-3",
        "44260-8",
    }
)
_PHQ9_ANSWER_SCORES: Mapping[str, float] = {
    "LA6568-5": 0.0,  # Not at all
    "LA6569-3": 1.0,  # Several days
    "LA6570-1": 2.0,  # More than half the days
    "LA6571-9": 3.0,  # Nearly every day
}


def _answer_score(codes: tuple[str, ...], answers: tuple[Coding, ...]) -> float | None:
    if not _PHQ9_ITEMS.intersection(codes):
        return None
    for answer in answers:
        if answer.system == LOINC and answer.code in _PHQ9_ANSWER_SCORES:
            return _PHQ9_ANSWER_SCORES[answer.code]
    return None


def read_observation(resource: JSON, ref: str, place: Place) -> Observation:
    when = moment_of(resource, "effectiveDateTime", place, "effectiveDateTime")
    if when is None:
        period = child(resource, "effectivePeriod", place, "effectivePeriod")
        if period is not None:
            when = moment_of(period, "start", place, "effectivePeriod.start")
    if when is None:
        when = moment_of(resource, "effectiveInstant", place, "effectiveInstant")
    if when is None:
        when = moment_of(resource, "issued", place, "issued")
    quantity = child(resource, "valueQuantity", place, "valueQuantity")
    unit = None
    if quantity is not None:
        unit = text(quantity, "unit", place, "valueQuantity.unit") or text(
            quantity, "code", place, "valueQuantity.code"
        )
    coded = child(resource, "valueCodeableConcept", place, "valueCodeableConcept")
    components = []
    for i, part in enumerate(children(resource, "component", place, "component")):
        field = f"component[{i}]."
        codes = _loinc_codes(child(part, "code", place, f"{field}code"), place, f"{field}code")
        if codes:
            components.append(Component(codes[0], _value(part, place, field)))
    observed = _loinc_codes(child(resource, "code", place, "code"), place, "code")
    answers = codings(coded, place, "valueCodeableConcept")
    # _value(resource, place, ""), with the quantity already found.
    value = (
        number(resource, "valueInteger", place, "valueInteger")
        if quantity is None
        else number(quantity, "value", place, "valueQuantity.value")
    )
    return Observation(
        ref=ref,
        codes=observed,
        when=when,
        status=text(resource, "status", place, "status"),
        value=_answer_score(observed, answers) if value is None else value,
        unit=unit,
        value_codings=answers,
        value_text=concept_text(coded, place, "valueCodeableConcept")
        or text(resource, "valueString", place, "valueString"),
        components=tuple(components),
    )


def read_allergy(resource: JSON, ref: str, place: Place) -> Allergy:
    code = child(resource, "code", place, "code")
    return Allergy(
        ref=ref,
        codings=codings(code, place, "code"),
        text=concept_text(code, place, "code"),
        clinical_status=first_code(resource, "clinicalStatus", place),
        verification_status=first_code(resource, "verificationStatus", place),
        recorded=day_of(resource, "recordedDate", place, "recordedDate")
        or day_of(resource, "onsetDateTime", place, "onsetDateTime"),
    )


def read_procedure(resource: JSON, ref: str, place: Place) -> Procedure:
    code = child(resource, "code", place, "code")
    performed = day_of(resource, "performedDateTime", place, "performedDateTime")
    performed_end = None
    period = child(resource, "performedPeriod", place, "performedPeriod")
    if performed is None and period is not None:
        performed = day_of(period, "start", place, "performedPeriod.start")
        performed_end = day_of(period, "end", place, "performedPeriod.end")
    outcome = child(resource, "outcome", place, "outcome")
    outcome_code, outcome_text = _outcome([] if outcome is None else [outcome], place, "outcome")
    return Procedure(
        ref=ref,
        codings=codings(code, place, "code"),
        text=concept_text(code, place, "code"),
        status=text(resource, "status", place, "status"),
        performed=performed,
        performed_end=performed_end,
        outcome_code=outcome_code,
        outcome_text=outcome_text,
    )
