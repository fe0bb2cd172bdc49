"""One synthetic patient: a Patient and about 20 of their FHIR R4 resources.

A patient is drawn from its own random generator, seeded by the population seed and the
patient's number, so that a population is the same whatever order or process writes it, and
can be written one patient at a time.

The prevalences are those of a referral population (people sent to a ketamine clinic, not the
general public): mostly depression, some pain, and comorbidities frequent enough that every
decision and nearly every finding occurs in a few thousand patients. They are illustrative, not
epidemiology: the rules, not these numbers, are the product.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ketaclinic.clinical import codes, medications
from ketaclinic.clinical.facts import ICD10, LOINC, RXNORM, SNOMED, TRIAL_OUTCOME
from ketaclinic.cohort import synth_catalog as cat
from ketaclinic.cohort.synth_catalog import Diagnosis

Resource = dict[str, Any]
Drug = tuple[str, tuple[float, ...]]

UCUM = "http://unitsofmeasure.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
MRN = "http://ketaclinic.org/fhir/synthetic-mrn"

OUTCOME_TEXTS = {
    "no-response": "ineffective",
    "partial-response": "partial response only",
    "intolerance": "stopped for side effects",
    "response": "good effect",
}
FAMILY = ("Smith", "Garcia", "Nguyen", "Okafor", "Kowalski", "Haddad", "Larsen", "Tanaka")
GIVEN = ("Alex", "Maria", "Sam", "Priya", "Jonas", "Amara", "Lee", "Noor", "Eli", "Rosa")


@dataclass
class _Chart:
    """The resources of one patient as they are drawn."""

    rng: random.Random
    as_of: date
    pid: str
    female: bool = False
    age: int = 40
    resources: list[Resource] = field(default_factory=list)

    @property
    def subject(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.pid}"}

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def days_ago(self, low: int, high: int) -> date:
        return self.as_of - timedelta(days=self.rng.randint(low, high))

    def add(self, resource: Resource) -> None:
        self.resources.append(resource)


def _coded(system: str, code: str, display: str) -> Resource:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _instant(chart: _Chart, day: date) -> str:
    return f"{day.isoformat()}T{chart.rng.randint(8, 17):02d}:{chart.rng.randint(0, 59):02d}:00Z"


def _quantity(value: float, unit: str, code: str | None = None) -> Resource:
    return {"value": value, "unit": unit, "system": UCUM, "code": code or unit}


# --- Patient and diagnoses --------------------------------------------------------------------


def _patient(chart: _Chart) -> Resource:
    rng = chart.rng
    gender = rng.choices(("female", "male", "other", "unknown"), (55, 43, 1, 1))[0]
    chart.female = gender == "female"
    chart.age = rng.randint(14, 17) if chart.chance(0.02) else int(rng.triangular(18, 85, 42))
    born = chart.as_of - timedelta(days=chart.age * 365 + rng.randint(1, 360))
    return {
        "resourceType": "Patient",
        "id": chart.pid,
        "identifier": [{"system": MRN, "value": f"{rng.randint(10**7, 10**8 - 1)}"}],
        "name": [{"family": rng.choice(FAMILY), "given": [rng.choice(GIVEN)]}],
        "gender": gender,
        "birthDate": born.isoformat(),
    }


def _diagnosis_code(chart: _Chart, dx: Diagnosis) -> Resource:
    """ICD-10-CM, SNOMED CT or both, as records from different systems carry them."""
    codings = []
    style = chart.rng.random()
    if dx.icd10 is not None and (dx.snomed is None or style < 0.55 or style >= 0.85):
        codings.append({"system": ICD10, "code": dx.icd10, "display": dx.display})
    if dx.snomed is not None and (dx.icd10 is None or style >= 0.55):
        codings.append({"system": SNOMED, "code": dx.snomed, "display": dx.display})
    return {"coding": codings, "text": dx.display}


def _condition(
    chart: _Chart,
    choices: Sequence[Diagnosis],
    onset: date,
    status: str = "active",
    severe: bool = False,
) -> None:
    condition: Resource = {
        "resourceType": "Condition",
        "id": chart.new_id(),
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status}]},
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
        "category": [
            _coded(
                "http://terminology.hl7.org/CodeSystem/condition-category",
                "problem-list-item",
                "Problem List Item",
            )
        ],
    }
    if severe:
        condition["severity"] = _coded(SNOMED, codes.SCT_SEVERE, "Severe")
    condition["code"] = _diagnosis_code(chart, chart.rng.choice(choices))
    condition["subject"] = chart.subject
    condition["onsetDateTime"] = onset.isoformat()
    condition["recordedDate"] = onset.isoformat()
    if status in ("resolved", "remission", "inactive") and chart.chance(0.5):
        condition["abatementDateTime"] = (
            onset + timedelta(days=chart.rng.randint(30, 200))
        ).isoformat()
    chart.add(condition)


# --- Medications ------------------------------------------------------------------------------


def _outcome(chart: _Chart, failing: float) -> tuple[str, str] | None:
    """(``code`` or ``text``, outcome) or None: a record often says nothing of how it went."""
    rng = chart.rng
    if chart.chance(0.18):
        return None
    if chart.chance(failing):
        outcome = rng.choices(("no-response", "partial-response"), (70, 30))[0]
    else:
        outcome = rng.choices(("response", "remission", "intolerance"), (40, 15, 45))[0]
    if outcome in OUTCOME_TEXTS and chart.chance(0.25):
        return "text", OUTCOME_TEXTS[outcome]
    return "code", outcome


def _drug_concept(chart: _Chart, name: str, unit_mg: float) -> Resource:
    strength = f"{unit_mg:g} MG"
    display = f"{name} {strength} Oral Tablet"
    found = medications.drug(name.lower())
    rxnorm = found.rxnorm if found is not None and found.ingredient == name.lower() else None
    if rxnorm is not None and chart.chance(0.7):
        return {
            "coding": [{"system": RXNORM, "code": rxnorm, "display": name.lower()}],
            "text": display,
        }
    return {"text": display}


def _dosage(chart: _Chart, unit_mg: float) -> Resource:
    frequency = 1 if chart.chance(0.8) else 2
    return {
        "text": f"{unit_mg:g} mg {'once' if frequency == 1 else 'twice'} a day",
        "timing": {"repeat": {"frequency": frequency, "period": 1, "periodUnit": "d"}},
        "doseAndRate": [{"doseQuantity": _quantity(unit_mg, "mg")}],
    }


def _reason(outcome: tuple[str, str] | None) -> Resource | None:
    if outcome is None:
        return None
    how, value = outcome
    if how == "text":
        return {"text": value}
    return {"coding": [{"system": TRIAL_OUTCOME, "code": value}]}


def _medication(
    chart: _Chart,
    drug: Drug,
    start: date,
    end: date | None,
    outcome: tuple[str, str] | None = None,
    dose_index: int | None = None,
) -> None:
    """A MedicationStatement, or (a third of the time) a MedicationRequest for the same course."""
    name, doses = drug
    unit = doses[dose_index if dose_index is not None else chart.rng.randrange(len(doses))]
    status = "active" if end is None else chart.rng.choice(("completed", "stopped"))
    reason = _reason(outcome)
    if chart.chance(0.35):
        request: Resource = {
            "resourceType": "MedicationRequest",
            "id": chart.new_id(),
            "status": status,
        }
        if reason is not None:
            request["statusReason"] = reason
        request |= {
            "intent": "order",
            "medicationCodeableConcept": _drug_concept(chart, name, unit),
            "subject": chart.subject,
            "authoredOn": start.isoformat(),
            "dosageInstruction": [_dosage(chart, unit)],
        }
        if end is not None:
            request["dispenseRequest"] = {
                "validityPeriod": {"start": start.isoformat(), "end": end.isoformat()}
            }
        chart.add(request)
        return
    statement: Resource = {"resourceType": "MedicationStatement", "id": chart.new_id()}
    statement["status"] = status
    if reason is not None:
        statement["statusReason"] = [reason]
    period = {"start": start.isoformat()}
    if end is not None:
        period["end"] = end.isoformat()
    statement |= {
        "medicationCodeableConcept": _drug_concept(chart, name, unit),
        "subject": chart.subject,
        "effectivePeriod": period,
        "dosage": [_dosage(chart, unit)],
    }
    chart.add(statement)


def _ongoing(chart: _Chart, choices: Sequence[Drug], earliest: int = 60) -> None:
    _medication(chart, chart.rng.choice(choices), chart.days_ago(earliest, earliest + 700), None)


def _trial_dose(chart: _Chart, drug: Drug) -> int:
    """Which of the drug's doses: at or above the minimum adequate dose four times in five."""
    name, doses = drug
    found = medications.drug(name)
    minimum = found.minimum_adequate_mg if found is not None else None
    adequate = [i for i, d in enumerate(doses) if minimum is None or d >= minimum]
    low = [i for i in range(len(doses)) if i not in adequate]
    pool = adequate if not low or (adequate and chart.chance(0.8)) else low
    return chart.rng.choice(pool)


def _depression_trials(chart: _Chart, bipolar: bool) -> None:
    """Zero to four antidepressant courses, one after another, the last sometimes ongoing."""
    rng = chart.rng
    count = rng.choices((0, 1, 2, 3, 4), (10, 20, 35, 25, 10))[0]
    classes = rng.sample(sorted(cat.ANTIDEPRESSANTS), min(count, 4))
    start = chart.days_ago(400, 2400)
    for n, drug_class in enumerate(classes):
        drug = rng.choice(cat.ANTIDEPRESSANTS[drug_class])
        if bipolar and chart.chance(0.5):
            drug = rng.choice(cat.BIPOLAR_AGENTS)
        weeks = rng.choice((4, 8, 10, 12, 16, 26, 40))
        end = start + timedelta(weeks=weeks)
        dose = _trial_dose(chart, drug)
        last = n == len(classes) - 1
        if last and (end >= chart.as_of or chart.chance(0.3)):
            outcome = _outcome(chart, 0.75) if chart.chance(0.3) else None
            _medication(chart, drug, start, None, outcome, dose)
            if chart.chance(0.15):
                _medication(chart, rng.choice(cat.AUGMENTING), start + timedelta(weeks=4), None)
            return
        if end >= chart.as_of:
            end = chart.as_of - timedelta(days=1)
        _medication(chart, drug, start, end, _outcome(chart, 0.75), dose)
        start = end + timedelta(days=rng.randint(1, 90))
        if start >= chart.as_of:
            return


def _pain_treatments(chart: _Chart) -> None:
    """Nerve blocks, physical therapy and pain medicines, each tried or not."""
    rng = chart.rng
    if chart.chance(0.55):
        _procedure(chart, rng.choice(cat.NERVE_BLOCKS), chart.days_ago(60, 900), 0.65)
    if chart.chance(0.6):
        _procedure(chart, rng.choice(cat.PHYSICAL_THERAPY), chart.days_ago(60, 900), 0.6)
    if chart.chance(0.7):
        start = chart.days_ago(200, 1200)
        end = start + timedelta(weeks=rng.choice((2, 6, 10, 20)))
        _medication(chart, rng.choice(cat.PAIN_MEDICATIONS), start, end, _outcome(chart, 0.65))


# --- Observations -----------------------------------------------------------------------------


def _observation(
    chart: _Chart,
    category: str,
    loinc: str,
    display: str,
    when: str,
    value: Resource,
) -> None:
    chart.add(
        {
            "resourceType": "Observation",
            "id": chart.new_id(),
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": category}]}],
            "code": _coded(LOINC, loinc, display),
            "subject": chart.subject,
            "effectiveDateTime": when,
            **value,
        }
    )


def _blood_pressure(chart: _Chart, day: date, systolic: int, diastolic: int) -> None:
    when = _instant(chart, day)
    parts = (
        (codes.SYSTOLIC, "Systolic blood pressure", systolic),
        (codes.DIASTOLIC, "Diastolic blood pressure", diastolic),
    )
    if chart.chance(0.75):
        components = [
            {"code": _coded(LOINC, code, name), "valueQuantity": _quantity(v, "mm[Hg]")}
            for code, name, v in parts
        ]
        _observation(
            chart, "vital-signs", "85354-9", "Blood pressure panel", when, {"component": components}
        )
        return
    for code, name, v in parts:
        _observation(
            chart, "vital-signs", code, name, when, {"valueQuantity": _quantity(v, "mm[Hg]")}
        )


def _blood_pressures(chart: _Chart, hypertensive: bool) -> None:
    """Readings within 90 days: none, normal, raised, or high (confirmed or not)."""
    rng = chart.rng
    kind = rng.choices(
        ("none", "normal", "raised", "high_twice", "high_once"),
        (7, 66, 18, 5, 4) if hypertensive else (7, 80, 9, 2, 2),
    )[0]
    if kind == "none":
        if chart.chance(0.5):
            _blood_pressure(
                chart, chart.days_ago(120, 400), rng.randint(110, 135), rng.randint(65, 85)
            )
        return
    if kind == "high_once":
        _blood_pressure(chart, chart.days_ago(1, 60), rng.randint(165, 190), rng.randint(85, 105))
        return
    days = sorted(
        rng.sample(range(1, 88), rng.randint(2, 3) if kind == "high_twice" else rng.randint(1, 3)),
        reverse=True,
    )
    for day in days:
        if kind == "normal":
            reading = rng.randint(104, 138), rng.randint(62, 88)
        elif kind == "raised":
            reading = rng.randint(142, 158), rng.randint(78, 89)
        else:
            reading = rng.randint(164, 188), rng.randint(92, 108)
        _blood_pressure(chart, chart.as_of - timedelta(days=day), *reading)


def _lab(chart: _Chart, loinc: str, name: str, value: float, unit: str, day: date) -> None:
    _observation(
        chart,
        "laboratory",
        loinc,
        name,
        _instant(chart, day),
        {"valueQuantity": _quantity(value, unit)},
    )


def _laboratory(chart: _Chart, liver: bool, kidney: bool, thyroid: bool) -> None:
    rng = chart.rng
    if chart.chance(0.75):
        day = chart.days_ago(2, 80) if chart.chance(0.85) else chart.days_ago(100, 300)
        high = (liver and chart.chance(0.4)) or chart.chance(0.02)
        _lab(
            chart,
            codes.ALT,
            "Alanine aminotransferase",
            rng.randint(125, 260) if high else rng.randint(9, 45),
            "U/L",
            day,
        )
        _lab(chart, codes.AST, "Aspartate aminotransferase", rng.randint(10, 40), "U/L", day)
    if chart.chance(0.75):
        day = chart.days_ago(2, 80) if chart.chance(0.85) else chart.days_ago(100, 300)
        low = (kidney and chart.chance(0.6)) or chart.chance(0.03)
        _lab(
            chart,
            codes.CREATININE,
            "Creatinine",
            round(rng.uniform(1.6, 3.2) if low else rng.uniform(0.6, 1.2), 2),
            "mg/dL",
            day,
        )
        egfr = rng.choice(codes.EGFR[:2])
        _lab(
            chart,
            egfr,
            "Glomerular filtration rate/1.73 sq M.predicted",
            rng.randint(22, 58) if low else rng.randint(62, 118),
            "mL/min/{1.73_m2}",
            day,
        )
    if thyroid or chart.chance(0.1):
        low = thyroid and chart.chance(0.6)
        _lab(
            chart,
            codes.TSH,
            "Thyrotropin",
            round(rng.uniform(0.01, 0.08) if low else rng.uniform(0.5, 4.2), 2),
            "m[IU]/L",
            chart.days_ago(5, 150),
        )
    if chart.chance(0.2):
        _observation(
            chart,
            "laboratory",
            codes.URINALYSIS,
            "Urinalysis complete panel",
            _instant(chart, chart.days_ago(5, 150)),
            {"valueString": "No abnormality detected"},
        )


def _pregnancy_test(chart: _Chart, positive: bool) -> None:
    result = (codes.SCT_POSITIVE, "Positive") if positive else (codes.SCT_NEGATIVE, "Negative")
    code = chart.rng.choice(codes.HCG)
    _observation(
        chart,
        "laboratory",
        code,
        "Choriogonadotropin",
        _instant(chart, chart.days_ago(0, 6) if not positive else chart.days_ago(10, 60)),
        {"valueCodeableConcept": _coded(SNOMED, *result)},
    )


def _scales(chart: _Chart, psychiatric: bool, anxiety: bool, suicidal: bool) -> None:
    rng = chart.rng
    if psychiatric and chart.chance(0.85):
        day = chart.days_ago(1, 25) if chart.chance(0.8) else chart.days_ago(40, 200)
        when = _instant(chart, day)
        _observation(
            chart,
            "survey",
            codes.PHQ9_TOTAL,
            "PHQ-9 total score",
            when,
            {"valueInteger": rng.randint(6, 26)},
        )
        if suicidal or chart.chance(0.35):
            item9 = rng.randint(1, 3) if suicidal else 0
            _observation(
                chart,
                "survey",
                codes.PHQ9_ITEM9,
                "Thoughts that you would be better off dead",
                when,
                {"valueInteger": item9},
            )
    if anxiety and chart.chance(0.8):
        _observation(
            chart,
            "survey",
            codes.GAD7_TOTAL,
            "GAD-7 total score",
            _instant(chart, chart.days_ago(1, 25)),
            {"valueInteger": rng.randint(8, 21)},
        )


def _vitals(chart: _Chart) -> None:
    when = _instant(chart, chart.days_ago(1, 60))
    rng = chart.rng
    _observation(
        chart,
        "vital-signs",
        codes.WEIGHT,
        "Body weight",
        when,
        {"valueQuantity": _quantity(round(rng.uniform(48, 125), 1), "kg")},
    )
    _observation(
        chart,
        "vital-signs",
        codes.HEART_RATE,
        "Heart rate",
        when,
        {"valueQuantity": _quantity(rng.randint(55, 100), "/min", "/min")},
    )


# --- Procedures, allergies and what the engine does not read --------------------------------


def _procedure(
    chart: _Chart, code: tuple[str, str, str], day: date, failing: float | None = None
) -> None:
    procedure: Resource = {
        "resourceType": "Procedure",
        "id": chart.new_id(),
        "status": "completed",
        "code": _coded(*code),
        "subject": chart.subject,
        "performedDateTime": day.isoformat(),
    }
    if failing is not None:
        outcome = _reason(_outcome(chart, failing))
        if outcome is not None:
            procedure["outcome"] = outcome
    chart.add(procedure)


def _allergy(chart: _Chart, ketamine: bool) -> None:
    if ketamine:
        code: Resource = (
            _coded(RXNORM, codes.KETAMINE_RXNORM, "ketamine")
            if chart.chance(0.6)
            else {"text": "Ketalar"}
        )
    else:
        name = chart.rng.choice(cat.ALLERGENS)
        found = medications.drug(name)
        rxnorm = found.rxnorm if found else None
        code = _coded(RXNORM, rxnorm, name) if rxnorm else {"text": name}
    chart.add(
        {
            "resourceType": "AllergyIntolerance",
            "id": chart.new_id(),
            "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": "active"}]},
            "verificationStatus": {
                "coding": [{"system": ALLERGY_VERIFICATION, "code": "confirmed"}]
            },
            "code": code,
            "patient": chart.subject,
            "recordedDate": chart.days_ago(100, 3000).isoformat(),
        }
    )


def _encounter(chart: _Chart, day: date) -> None:
    chart.add(
        {
            "resourceType": "Encounter",
            "id": chart.new_id(),
            "status": "finished",
            "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
            "subject": chart.subject,
            "period": {"start": _instant(chart, day), "end": _instant(chart, day)},
        }
    )


def _claim(chart: _Chart, day: date) -> None:
    chart.add(
        {
            "resourceType": "Claim",
            "id": chart.new_id(),
            "status": "active",
            "type": {"coding": [{"system": CLAIM_TYPE, "code": "professional"}]},
            "use": "claim",
            "patient": chart.subject,
            "created": day.isoformat(),
            "provider": {"display": "Synthetic Clinic"},
            "priority": {"coding": [{"system": PROCESS_PRIORITY, "code": "normal"}]},
            "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "Self-pay"}}],
            "total": {"value": round(chart.rng.uniform(80, 400), 2), "currency": "USD"},
        }
    )


# --- One patient ------------------------------------------------------------------------------

PRIMARY: tuple[tuple[str, float], ...] = (
    ("mdd", 47),
    ("bipolar", 8),
    ("ptsd", 7),
    ("anxiety", 7),
    ("crps", 5),
    ("neuropathic", 6),
    ("fibromyalgia", 5),
    ("other_depression", 5),
    ("none", 7),
)
PRIMARY_DIAGNOSES: dict[str, tuple[Diagnosis, ...]] = {
    "mdd": cat.MDD,
    "bipolar": cat.BIPOLAR_DEPRESSION,
    "ptsd": cat.PTSD,
    "anxiety": cat.ANXIETY,
    "crps": cat.CRPS,
    "neuropathic": cat.NEUROPATHIC_PAIN,
    "fibromyalgia": cat.FIBROMYALGIA,
    "other_depression": cat.OTHER_DEPRESSION,
}
# Comorbid diagnoses: (prevalence, diagnoses, clinical status, severe).
COMORBID: tuple[tuple[float, tuple[Diagnosis, ...], str, bool], ...] = (
    (0.007, cat.HYPERTENSIVE_CRISIS, "active", False),
    (0.005, cat.UNSTABLE_ANGINA, "active", False),
    (0.006, cat.CORONARY_DISEASE, "active", True),
    (0.03, cat.HEART_DISEASE, "active", False),
    (0.02, cat.PSYCHOTIC, "active", False),
    (0.01, cat.ANEURYSM, "active", False),
    (0.005, cat.AVM, "active", False),
    (0.005, cat.HEMORRHAGE, "resolved", False),
    (0.03, cat.RAISED_PRESSURE, "active", False),
    (0.04, cat.SUBSTANCE_USE, "active", False),
    (0.03, cat.SUBSTANCE_USE_IN_REMISSION, "active", False),
    (0.015, cat.DISSOCIATIVE, "active", False),
    (0.04, cat.PERSONALITY, "active", False),
)


def patient_resources(seed: int, index: int, as_of: date) -> list[Resource]:
    """The Patient (first) and the resources of patient ``index`` of population ``seed``."""
    rng = random.Random(f"ketaclinic-synth:{seed}:{index}")
    chart = _Chart(rng, as_of, "")
    chart.pid = chart.new_id()
    chart.add(_patient(chart))

    primary = rng.choices([p for p, _ in PRIMARY], [w for _, w in PRIMARY])[0]
    onset = chart.days_ago(200, 4000)
    if primary in PRIMARY_DIAGNOSES:
        _condition(chart, PRIMARY_DIAGNOSES[primary], onset, severe=chart.chance(0.2))
    if primary == "bipolar" and chart.chance(0.12):
        _condition(chart, cat.MANIA, chart.days_ago(5, 120))
    depressive = primary in ("mdd", "bipolar", "ptsd", "anxiety", "other_depression")
    anxiety = primary == "anxiety" or (primary == "mdd" and chart.chance(0.2))
    if anxiety and primary != "anxiety":
        _condition(chart, cat.ANXIETY, chart.days_ago(200, 3000))
    if depressive:
        _depression_trials(chart, primary == "bipolar")
        if primary in ("mdd", "bipolar") and chart.chance(0.03):
            _procedure(chart, rng.choice(cat.ECT), chart.days_ago(100, 900), 0.7)
    if primary in ("crps", "neuropathic", "fibromyalgia"):
        _pain_treatments(chart)

    hypertensive = chart.chance(0.22 if chart.age >= 40 else 0.08)
    if hypertensive:
        _condition(chart, cat.HYPERTENSION, chart.days_ago(300, 4000))
        if chart.chance(0.7):
            _ongoing(chart, cat.ANTIHYPERTENSIVES)
    mi_recent = chart.chance(0.008)
    if mi_recent:
        _condition(chart, cat.RECENT_MI, chart.days_ago(20, 150), "resolved")
    for prevalence, diagnoses, status, severe in COMORBID:
        if chart.chance(prevalence):
            _condition(chart, diagnoses, chart.days_ago(100, 3000), status, severe)
    liver = chart.chance(0.02)
    if liver:
        _condition(chart, cat.HEPATIC, chart.days_ago(300, 3000))
    kidney = chart.chance(0.03 if chart.age < 60 else 0.08)
    if kidney:
        _condition(chart, cat.RENAL, chart.days_ago(300, 3000))
    thyroid = chart.chance(0.02)
    if thyroid:
        _condition(chart, cat.HYPERTHYROIDISM, chart.days_ago(100, 2000))
        if chart.chance(0.5):
            _ongoing(chart, cat.ANTITHYROID)
    suicidal_code = depressive and chart.chance(0.05)
    if suicidal_code:
        _condition(chart, cat.SUICIDAL_IDEATION, chart.days_ago(3, 60))
    fertile = chart.female and 12 <= chart.age <= 55
    pregnant = fertile and chart.chance(0.03)
    if pregnant and chart.chance(0.7):
        _condition(chart, cat.PREGNANCY, chart.days_ago(20, 150))
    if fertile and not pregnant and chart.chance(0.01):
        _condition(chart, cat.BREASTFEEDING, chart.days_ago(30, 200))

    if chart.chance(0.14):
        _ongoing(chart, cat.BENZODIAZEPINES)
    if chart.chance(0.04):
        _ongoing(chart, cat.STIMULANTS)
    if chart.chance(0.05):
        _ongoing(chart, cat.OPIOIDS)
    if depressive and chart.chance(0.01):
        _ongoing(chart, cat.MAOI)

    _blood_pressures(chart, hypertensive)
    _vitals(chart)
    _laboratory(chart, liver, kidney, thyroid)
    _scales(chart, depressive, anxiety, depressive and chart.chance(0.08))
    if fertile and (pregnant or chart.chance(0.5)):
        _pregnancy_test(chart, pregnant)
    cardiac = mi_recent or any(
        c["resourceType"] == "Condition" and "I2" in str(c["code"]) for c in chart.resources
    )
    if cardiac and chart.chance(0.6):
        when = _instant(chart, chart.days_ago(5, 150))
        _observation(
            chart, "procedure", codes.ECG, "EKG study", when, {"valueString": "Sinus rhythm"}
        )
    if chart.chance(0.65):
        _procedure(chart, cat.PHYSICAL_EXAM, chart.days_ago(1, 80))
    elif chart.chance(0.5):
        _procedure(chart, cat.PHYSICAL_EXAM, chart.days_ago(120, 700))
    if chart.chance(0.25):
        _allergy(chart, ketamine=False)
    if chart.chance(0.01):
        _allergy(chart, ketamine=True)
    for _ in range(rng.randint(2, 3)):
        _encounter(chart, chart.days_ago(1, 700))
    _claim(chart, chart.days_ago(1, 365))
    return chart.resources
