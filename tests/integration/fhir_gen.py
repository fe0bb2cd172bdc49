"""Hypothesis strategies for random but valid FHIR R4 screening bundles.

A bundle holds one Patient and that patient's Conditions, MedicationStatements,
Observations, Procedures and AllergyIntolerances, every one valid R4 (checked by
the tests with fhir.resources.R4B) and dated on or before ``AS_OF``. The codes are
drawn from those spec/screening.md reads, plus a few it does not, so that random
records reach most rules. Blood-pressure readings stop three days before ``AS_OF``
so that a test can add the latest two readings itself (``absolute_records``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

AS_OF = date(2026, 11, 1)
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"
TRIAL_OUTCOME = "http://ketaclinic.org/fhir/CodeSystem/trial-outcome"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"

Resource = dict[str, Any]

# Diagnoses: indications, relative contraindications and unrelated codes. The absolute ones
# are left to ``absolute_records`` so that a random patient is not always refused.
DIAGNOSES = [
    ("F33.1", "Major depressive disorder, recurrent, moderate"),
    ("F32.2", "Major depressive disorder, single episode, severe without psychotic features"),
    ("F32.A", "Depression, unspecified"),
    ("F31.4", "Bipolar disorder, current episode depressed, severe, without psychotic features"),
    ("F43.10", "Post-traumatic stress disorder, unspecified"),
    ("F41.1", "Generalized anxiety disorder"),
    ("G90.50", "Complex regional pain syndrome I, unspecified"),
    ("M79.7", "Fibromyalgia"),
    ("M79.2", "Neuralgia and neuritis, unspecified"),
    ("I10", "Essential (primary) hypertension"),
    ("I25.2", "Old myocardial infarction"),
    ("I48.91", "Unspecified atrial fibrillation"),
    ("H40.9", "Unspecified glaucoma"),
    ("K70.30", "Alcoholic cirrhosis of liver without ascites"),
    ("N18.31", "Chronic kidney disease, stage 3a"),
    ("E05.90", "Thyrotoxicosis, unspecified without thyrotoxic crisis or storm"),
    ("F10.20", "Alcohol dependence, uncomplicated"),
    ("F10.21", "Alcohol dependence, in remission"),
    ("F17.210", "Nicotine dependence, cigarettes, uncomplicated"),
    ("F60.3", "Borderline personality disorder"),
    ("F44.81", "Dissociative identity disorder"),
    ("R45.851", "Suicidal ideations"),
    ("I71.4", "Abdominal aortic aneurysm, without rupture"),
    ("J45.909", "Unspecified asthma, uncomplicated"),
    ("E11.9", "Type 2 diabetes mellitus without complications"),
    ("Z00.00", "Encounter for general adult medical examination without abnormal findings"),
]

# (RxNorm ingredient, name, usual single doses in mg).
DRUGS = [
    ("36437", "sertraline", (50, 100, 150, 200)),
    ("4493", "fluoxetine", (10, 20, 40, 60)),
    ("321988", "escitalopram", (5, 10, 20)),
    ("2556", "citalopram", (10, 20, 40)),
    ("39786", "venlafaxine", (75, 150, 225)),
    ("72625", "duloxetine", (30, 60, 120)),
    ("42347", "bupropion", (150, 300, 450)),
    ("15996", "mirtazapine", (15, 30, 45)),
    ("704", "amitriptyline", (25, 75, 150)),
    ("8123", "phenelzine", (15, 45, 60)),
    ("51272", "quetiapine", (100, 300, 600)),
    ("28439", "lamotrigine", (100, 200)),
    ("6448", "lithium", (300, 600, 900)),
    ("89013", "aripiprazole", (2, 5, 10)),
    ("6470", "lorazepam", (0.5, 1, 2)),
    ("596", "alprazolam", (0.25, 0.5, 1)),
    ("7804", "oxycodone", (5, 10)),
    ("10689", "tramadol", (50, 100)),
    ("7243", "naltrexone", (50,)),
    ("6901", "methylphenidate", (10, 20)),
    ("17767", "amlodipine", (5, 10)),
    ("29046", "lisinopril", (10, 20)),
    ("10582", "levothyroxine", (0.05, 0.1)),
    ("25480", "gabapentin", (300, 600)),
    ("187832", "pregabalin", (75, 150)),
    ("5640", "ibuprofen", (400, 600)),
    ("6809", "metformin", (500, 1000)),
]
OUTCOMES = ("no-response", "partial-response", "response", "remission", "intolerance")
OUTCOME_TEXTS = ("ineffective", "partial benefit", "stopped for side effects", "helped a lot")

# (LOINC, display, unit, low, high, decimals)
LABS = [
    ("1742-6", "Alanine aminotransferase", "U/L", 5, 400, 0),
    ("1920-8", "Aspartate aminotransferase", "U/L", 5, 400, 0),
    ("2160-0", "Creatinine", "mg/dL", 0.4, 4.0, 1),
    ("33914-3", "eGFR (MDRD)", "mL/min/{1.73_m2}", 10, 120, 0),
    ("98979-8", "eGFR (CKD-EPI 2021)", "mL/min/{1.73_m2}", 10, 120, 0),
    ("3016-3", "Thyrotropin", "m[IU]/L", 0.01, 8.0, 2),
    ("44261-6", "PHQ-9 total score", "{score}", 0, 27, 0),
    ("70274-6", "GAD-7 total score", "{score}", 0, 21, 0),
    ("8867-4", "Heart rate", "/min", 45, 130, 0),
    ("29463-7", "Body weight", "kg", 40, 150, 1),
    ("59408-5", "Oxygen saturation by pulse oximetry", "%", 85, 100, 0),
]

PROCEDURES = [
    (SNOMED, "5880005", "Physical examination procedure"),
    (CPT, "64510", "Stellate ganglion nerve block"),
    (CPT, "64483", "Transforaminal epidural injection"),
    (CPT, "97110", "Physical therapy: therapeutic exercises"),
    (CPT, "97140", "Manual therapy techniques"),
    (CPT, "90870", "Electroconvulsive therapy"),
    (SNOMED, "80146002", "Appendectomy"),
]

ALLERGENS = [
    (RXNORM, "7980", "penicillin G"),
    (RXNORM, "10180", "sulfamethoxazole"),
    (SNOMED, "256349002", "Peanut"),
]


def days_before(lo: int, hi: int) -> st.SearchStrategy[date]:
    """A day between ``hi`` and ``lo`` days before AS_OF (lo <= hi)."""
    return st.integers(lo, hi).map(lambda n: AS_OF - timedelta(days=n))


def coded(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def instant(day: date, minute: int) -> str:
    return f"{day.isoformat()}T{8 + minute // 60:02d}:{minute % 60:02d}:00Z"


@st.composite
def patients(draw: st.DrawFn) -> Resource:
    gender = draw(st.sampled_from(["female", "male", "other", "unknown"]))
    age_days = draw(st.integers(18 * 366, 85 * 365))
    return {
        "resourceType": "Patient",
        "gender": gender,
        "birthDate": (AS_OF - timedelta(days=age_days)).isoformat(),
    }


@st.composite
def conditions(draw: st.DrawFn) -> Resource:
    code, display = draw(st.sampled_from(DIAGNOSES))
    onset = draw(days_before(1, 3650))
    verification = draw(
        st.sampled_from(["confirmed", "confirmed", "provisional", "refuted", "entered-in-error"])
    )
    condition: Resource = {"resourceType": "Condition"}
    clinical = draw(
        st.sampled_from(["active", "recurrence", "relapse", "inactive", "remission", "resolved"])
    )
    # FHIR invariants con-3 and con-4: no clinical status when entered in error; an
    # abatement only on a condition that is no longer active.
    if verification != "entered-in-error" and draw(st.booleans()):
        condition["clinicalStatus"] = {"coding": [{"system": CLINICAL, "code": clinical}]}
    condition["verificationStatus"] = {"coding": [{"system": VERIFICATION, "code": verification}]}
    if draw(st.booleans()):
        condition["severity"] = coded(SNOMED, "24484000", "Severe")
    condition["code"] = coded(ICD10, code, display)
    condition["onsetDateTime"] = onset.isoformat()
    condition["recordedDate"] = onset.isoformat()
    abated = clinical in {"inactive", "remission", "resolved"} and "clinicalStatus" in condition
    if abated and draw(st.booleans()):
        gap = (AS_OF - onset).days
        condition["abatementDateTime"] = (
            onset + timedelta(days=draw(st.integers(0, gap)))
        ).isoformat()
    return condition


@st.composite
def medication_statements(draw: st.DrawFn) -> Resource:
    rxnorm, name, doses = draw(st.sampled_from(DRUGS))
    start = draw(days_before(1, 1500))
    ongoing = draw(st.booleans())
    statement: Resource = {"resourceType": "MedicationStatement"}
    if ongoing:
        statement["status"] = draw(st.sampled_from(["active", "active", "on-hold", "not-taken"]))
        period = {"start": start.isoformat()}
    else:
        statement["status"] = draw(st.sampled_from(["completed", "stopped", "entered-in-error"]))
        length = draw(st.integers(1, min(200, (AS_OF - start).days)))
        period = {"start": start.isoformat(), "end": (start + timedelta(days=length)).isoformat()}
    outcome = draw(st.sampled_from((None, "code", "text")))
    if outcome == "code":
        code = draw(st.sampled_from(OUTCOMES))
        statement["statusReason"] = [{"coding": [{"system": TRIAL_OUTCOME, "code": code}]}]
    elif outcome == "text":
        statement["statusReason"] = [{"text": draw(st.sampled_from(OUTCOME_TEXTS))}]
    by_code = draw(st.booleans())
    concept: Resource = {"text": name}
    if by_code:
        concept["coding"] = [{"system": RXNORM, "code": rxnorm, "display": name}]
    statement["medicationCodeableConcept"] = concept
    statement["effectivePeriod"] = period
    frequency = draw(st.integers(1, 3))
    statement["dosage"] = [
        {
            "timing": {"repeat": {"frequency": frequency, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": quantity(draw(st.sampled_from(doses)), "mg")}],
        }
    ]
    return statement


def _bp_component(code: str, display: str, value: int) -> Resource:
    return {"code": coded(LOINC, code, display), "valueQuantity": quantity(value, "mm[Hg]")}


@st.composite
def blood_pressures(draw: st.DrawFn) -> list[Resource]:
    """One reading: a panel, or separate systolic and diastolic observations at the same time."""
    day = draw(days_before(3, 200))
    when = instant(day, draw(st.integers(0, 600)))
    systolic = draw(st.integers(90, 200))
    diastolic = draw(st.integers(50, min(130, systolic - 20)))
    status = draw(st.sampled_from(["final", "final", "amended", "entered-in-error"]))
    if draw(st.booleans()):
        panel = draw(st.sampled_from([("85354-9", "Blood pressure panel"), ("55284-4", "BP")]))
        return [
            {
                "resourceType": "Observation",
                "status": status,
                "code": coded(LOINC, *panel),
                "effectiveDateTime": when,
                "component": [
                    _bp_component("8480-6", "Systolic blood pressure", systolic),
                    _bp_component("8462-4", "Diastolic blood pressure", diastolic),
                ],
            }
        ]
    return [
        {
            "resourceType": "Observation",
            "status": status,
            "code": coded(LOINC, code, display),
            "effectiveDateTime": when,
            "valueQuantity": quantity(value, "mm[Hg]"),
        }
        for code, display, value in (
            ("8480-6", "Systolic blood pressure", systolic),
            ("8462-4", "Diastolic blood pressure", diastolic),
        )
    ]


@st.composite
def laboratory(draw: st.DrawFn) -> Resource:
    code, display, unit, low, high, decimals = draw(st.sampled_from(LABS))
    scale = 10**decimals
    value: float = draw(st.integers(int(low * scale), int(high * scale))) / scale
    if decimals == 0:
        value = int(value)
    return {
        "resourceType": "Observation",
        "status": draw(st.sampled_from(["final", "final", "corrected", "cancelled"])),
        "code": coded(LOINC, code, display),
        "effectiveDateTime": draw(days_before(0, 400)).isoformat(),
        "valueQuantity": quantity(value, unit),
    }


@st.composite
def coded_results(draw: st.DrawFn) -> Resource:
    """PHQ-9 item 9 as an integer, or an hCG test read as positive or negative."""
    when = draw(days_before(0, 400)).isoformat()
    if draw(st.booleans()):
        return {
            "resourceType": "Observation",
            "status": "final",
            "code": coded(LOINC, "44260-8", "PHQ-9 item 9"),
            "effectiveDateTime": when,
            "valueInteger": draw(st.integers(0, 3)),
        }
    code = draw(st.sampled_from(["2106-3", "2118-8"]))
    result = draw(st.sampled_from([("260385009", "Negative"), ("10828004", "Positive")]))
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": coded(LOINC, code, "Choriogonadotropin"),
        "effectiveDateTime": when,
        "valueCodeableConcept": coded(SNOMED, *result),
    }


@st.composite
def procedures(draw: st.DrawFn) -> Resource:
    system, code, display = draw(st.sampled_from(PROCEDURES))
    procedure: Resource = {
        "resourceType": "Procedure",
        "status": draw(st.sampled_from(["completed", "completed", "not-done", "in-progress"])),
        "code": coded(system, code, display),
    }
    start = draw(days_before(0, 900))
    if draw(st.booleans()):
        procedure["performedDateTime"] = start.isoformat()
    else:
        end = start + timedelta(days=draw(st.integers(0, (AS_OF - start).days)))
        procedure["performedPeriod"] = {"start": start.isoformat(), "end": end.isoformat()}
    if draw(st.booleans()):
        procedure["outcome"] = {
            "coding": [{"system": TRIAL_OUTCOME, "code": draw(st.sampled_from(OUTCOMES))}]
        }
    return procedure


@st.composite
def allergies(draw: st.DrawFn) -> Resource:
    system, code, display = draw(st.sampled_from(ALLERGENS))
    return {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": "active"}]},
        "verificationStatus": {"coding": [{"system": ALLERGY_VERIFICATION, "code": "confirmed"}]},
        "code": coded(system, code, display),
        "recordedDate": draw(days_before(0, 3000)).isoformat(),
    }


@st.composite
def clinical_records(draw: st.DrawFn) -> list[Resource]:
    """The patient's resources, without ids or subject (``bundle_of`` adds them)."""
    records: list[Resource] = []
    records += draw(st.lists(conditions(), max_size=5))
    records += draw(st.lists(medication_statements(), max_size=6))
    for reading in draw(st.lists(blood_pressures(), max_size=3)):
        records += reading
    records += draw(st.lists(laboratory(), max_size=6))
    records += draw(st.lists(coded_results(), max_size=2))
    records += draw(st.lists(procedures(), max_size=3))
    records += draw(st.lists(allergies(), max_size=1))
    return records


REFERENCE_STYLES = ("relative", "urn")


def bundle_of(patient: Resource, records: list[Resource], style: str = "relative") -> Resource:
    """A collection Bundle: ids by position, every resource pointing at the patient.

    ``relative``: fullUrl http://example.org/fhir/Type/id, references "Patient/id".
    ``urn``: fullUrl urn:uuid:..., references to the patient's fullUrl.
    """
    patient = {**patient, "id": "gen-patient"}
    entries: list[tuple[str, Resource]] = []
    resources = [patient] + [{**r, "id": f"gen-{i}"} for i, r in enumerate(records, 1)]
    for resource in resources:
        if style == "urn":
            name = f"{resource['resourceType']}/{resource['id']}"
            url = uuid.uuid5(uuid.NAMESPACE_URL, name).urn
        else:
            url = f"http://example.org/fhir/{resource['resourceType']}/{resource['id']}"
        entries.append((url, resource))
    patient_url = entries[0][0]
    reference = {"reference": patient_url if style == "urn" else "Patient/gen-patient"}
    out = []
    for url, resource in entries:
        if resource["resourceType"] == "AllergyIntolerance":
            resource = {**resource, "patient": reference}
        elif resource["resourceType"] != "Patient":
            resource = {**resource, "subject": reference}
        out.append({"fullUrl": url, "resource": resource})
    return {"resourceType": "Bundle", "type": "collection", "entry": out}


@st.composite
def bundles(draw: st.DrawFn, style: str | None = None) -> Resource:
    """A random valid bundle: one patient and up to a few dozen of their records."""
    chosen = style or draw(st.sampled_from(REFERENCE_STYLES))
    return bundle_of(draw(patients()), draw(clinical_records()), chosen)


def _condition(code: str, display: str, onset: date, status: str = "active") -> Resource:
    return {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status}]},
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
        "code": coded(ICD10, code, display),
        "onsetDateTime": onset.isoformat(),
        "recordedDate": onset.isoformat(),
    }


def _high_bp(days: int) -> Resource:
    day = AS_OF - timedelta(days=days)
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": coded(LOINC, "85354-9", "Blood pressure panel"),
        "effectiveDateTime": instant(day, 60),
        "component": [
            _bp_component("8480-6", "Systolic blood pressure", 175),
            _bp_component("8462-4", "Diastolic blood pressure", 100),
        ],
    }


# Each gives the records that, by spec/screening.md "Contraindications", make an absolute
# contraindication on every route, whatever else the record holds.
ABSOLUTE: dict[str, Callable[[], list[Resource]]] = {
    # "any record of F20": even in remission.
    "psychotic_disorder": lambda: [
        _condition("F20.0", "Paranoid schizophrenia", AS_OF - timedelta(days=2000), "remission")
    ],
    "ketamine_allergy": lambda: [
        {
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": "active"}]},
            "verificationStatus": {
                "coding": [{"system": ALLERGY_VERIFICATION, "code": "confirmed"}]
            },
            "code": coded(RXNORM, "6130", "ketamine"),
            "recordedDate": (AS_OF - timedelta(days=400)).isoformat(),
        }
    ],
    "pregnancy": lambda: [
        _condition("Z33.1", "Pregnant state, incidental", AS_OF - timedelta(days=60))
    ],
    # The latest two readings within 90 days: random readings stop 3 days before AS_OF.
    "uncontrolled_hypertension": lambda: [_high_bp(2), _high_bp(1)],
    "recent_myocardial_infarction": lambda: [
        _condition("I21.9", "Acute myocardial infarction, unspecified", AS_OF - timedelta(days=30))
    ],
    "breastfeeding": lambda: [
        _condition(
            "Z39.1",
            "Encounter for care and examination of lactating mother",
            AS_OF - timedelta(days=60),
        )
    ],
}


@st.composite
def with_absolute(draw: st.DrawFn) -> tuple[str, Resource]:
    """(contraindication id, bundle): a random bundle plus the records of one absolute rule."""
    finding = draw(st.sampled_from(sorted(ABSOLUTE)))
    patient = draw(patients())
    if finding in {"pregnancy", "breastfeeding"}:
        patient = {**patient, "gender": "female"}
    records = draw(clinical_records())
    extra = ABSOLUTE[finding]()
    at = draw(st.integers(0, len(records)))
    style = draw(st.sampled_from(REFERENCE_STYLES))
    return finding, bundle_of(patient, records[:at] + extra + records[at:], style)
