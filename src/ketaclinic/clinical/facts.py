"""Plain clinical facts about one person: what the rules read.

These are filled from a FHIR Bundle today (``ketaclinic.fhir``) and from the
clinic's database or bulk files later. Every fact carries ``ref``, the name of
the record it came from (``Condition/1`` or a bundle ``fullUrl``), so that each
finding can name its evidence. Values are kept as written in the record;
interpreting them (is a condition active, what is the daily dose) is the job
of the rules, as of a screening date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
TRIAL_OUTCOME = "http://ketaclinic.org/fhir/CodeSystem/trial-outcome"


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str | None = None


@dataclass(frozen=True)
class Moment:
    """When something happened: the calendar day as written, and an instant to order by.

    ``at`` is naive UTC (a date alone is taken as midnight) so that readings
    from records in different time zones sort and pair correctly.
    """

    day: date
    at: datetime

    @staticmethod
    def of_day(day: date) -> Moment:
        return Moment(day, datetime(day.year, day.month, day.day))


@dataclass(frozen=True)
class Patient:
    ref: str
    birth_date: date | None
    gender: str | None


@dataclass(frozen=True)
class Condition:
    ref: str
    codings: tuple[Coding, ...]
    text: str | None = None
    # FHIR clinicalStatus code (active, recurrence, relapse, inactive, remission, resolved) or None.
    clinical_status: str | None = None
    # FHIR verificationStatus code (refuted and entered-in-error are not read).
    verification_status: str | None = None
    onset: date | None = None
    recorded: date | None = None
    abatement: date | None = None
    severe: bool = False


@dataclass(frozen=True)
class Medication:
    """One MedicationStatement or MedicationRequest, as written."""

    ref: str
    # Ingredient from the drug table (``clinical.medications``), or None when not recognised.
    ingredient: str | None
    name: str
    source: str = "MedicationStatement"  # or MedicationRequest
    status: str | None = None
    start: date | None = None
    end: date | None = None
    # Structured dose per administration in mg, and its timing (FHIR Timing.repeat).
    dose_mg: float | None = None
    frequency: int | None = None
    period: float | None = None
    period_unit: str | None = None
    # A number of tablets or other units per dose, when the dose is not in mg.
    dose_units: float | None = None
    # A strength read from the product name ("fluoxetine 20 MG Oral Capsule" -> 20).
    strength_mg: float | None = None
    # Trial outcome: a code of the trial-outcome system, and/or free text.
    outcome_code: str | None = None
    outcome_text: str | None = None


@dataclass(frozen=True)
class Component:
    code: str
    value: float | None


@dataclass(frozen=True)
class Observation:
    ref: str
    # LOINC codes of the observation (an observation may carry several).
    codes: tuple[str, ...]
    when: Moment | None
    status: str | None = None
    value: float | None = None
    unit: str | None = None
    # Coded value (e.g. SNOMED 10828004 positive).
    value_codings: tuple[Coding, ...] = ()
    value_text: str | None = None
    components: tuple[Component, ...] = ()


@dataclass(frozen=True)
class Allergy:
    ref: str
    codings: tuple[Coding, ...]
    text: str | None = None
    clinical_status: str | None = None
    verification_status: str | None = None
    recorded: date | None = None


@dataclass(frozen=True)
class Procedure:
    ref: str
    codings: tuple[Coding, ...]
    text: str | None = None
    status: str | None = None
    performed: date | None = None
    performed_end: date | None = None
    outcome_code: str | None = None
    outcome_text: str | None = None


@dataclass(frozen=True)
class Record:
    """Everything known about one person, before any as-of view is applied."""

    # view.as_of_view builds a Record field by field: a field added here must be added there.
    patient: Patient
    conditions: tuple[Condition, ...] = ()
    medications: tuple[Medication, ...] = ()
    observations: tuple[Observation, ...] = ()
    allergies: tuple[Allergy, ...] = ()
    procedures: tuple[Procedure, ...] = ()
