"""What the synthetic population is made of: diagnoses, drugs, tests and procedures.

Every diagnosis code is one that ``clinical/codes.py`` reads (the value set it is meant to fall
in is named beside it, and a test checks each), every SNOMED CT concept is one it lists, and
every drug is a name of ``clinical/medications.py`` (its RxNorm code only where that table has
one), so that a synthetic record never produces an ``unrecognised_code`` note by accident.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketaclinic.clinical import codes
from ketaclinic.clinical.codes import ValueSet


@dataclass(frozen=True)
class Diagnosis:
    icd10: str | None
    snomed: str | None
    display: str
    value_set: ValueSet


def _dx(icd10: str | None, snomed: str | None, display: str, value_set: ValueSet) -> Diagnosis:
    return Diagnosis(icd10, snomed, display, value_set)


MDD = (
    _dx("F33.1", "18818009", "Major depressive disorder, recurrent, moderate", codes.MDD),
    _dx(
        "F33.2",
        "36474008",
        "Major depressive disorder, recurrent severe without psychotic features",
        codes.MDD,
    ),
    _dx("F32.1", "15639000", "Major depressive disorder, single episode, moderate", codes.MDD),
    _dx(
        "F32.2",
        "76441001",
        "Major depressive disorder, single episode, severe without psychotic features",
        codes.MDD,
    ),
    _dx("F32.9", "370143000", "Major depressive disorder, single episode, unspecified", codes.MDD),
    _dx("F33.9", "66344007", "Major depressive disorder, recurrent, unspecified", codes.MDD),
)
BIPOLAR_DEPRESSION = (
    _dx(
        "F31.4",
        "61403008",
        "Bipolar disorder, current episode depressed, severe, without psychotic features",
        codes.BIPOLAR_DEPRESSION,
    ),
    _dx(
        "F31.31",
        "74686005",
        "Bipolar disorder, current episode depressed, mild",
        codes.BIPOLAR_DEPRESSION,
    ),
    _dx(
        "F31.32",
        "66631006",
        "Bipolar disorder, current episode depressed, moderate",
        codes.BIPOLAR_DEPRESSION,
    ),
)
PTSD = (
    _dx("F43.10", "47505003", "Post-traumatic stress disorder, unspecified", codes.PTSD),
    _dx("F43.12", "313182004", "Post-traumatic stress disorder, chronic", codes.PTSD),
)
ANXIETY = (
    _dx("F41.1", "21897009", "Generalized anxiety disorder", codes.ANXIETY),
    _dx("F41.0", "371631005", "Panic disorder without agoraphobia", codes.ANXIETY),
)
CRPS = (
    _dx("G90.511", "128200000", "Complex regional pain syndrome I of right upper limb", codes.CRPS),
    _dx("G90.50", "128200000", "Complex regional pain syndrome I, unspecified", codes.CRPS),
)
NEUROPATHIC_PAIN = (
    _dx("M79.2", "247398009", "Neuralgia and neuritis, unspecified", codes.NEUROPATHIC_PAIN),
    _dx("G50.0", "31681005", "Trigeminal neuralgia", codes.NEUROPATHIC_PAIN),
    _dx(
        "E11.40",
        "368581000119106",
        "Type 2 diabetes mellitus with diabetic neuropathy, unspecified",
        codes.NEUROPATHIC_PAIN,
    ),
    _dx("B02.23", None, "Postherpetic polyneuropathy", codes.NEUROPATHIC_PAIN),
)
FIBROMYALGIA = (_dx("M79.7", "203082005", "Fibromyalgia", codes.FIBROMYALGIA),)
# A depressive disorder that is not major depression (SNOMED CT only, as some records have it):
# psychiatric, but no indication.
OTHER_DEPRESSION = (
    _dx(None, codes.SCT_DEPRESSIVE_DISORDER, "Depressive disorder", codes.PSYCHIATRIC),
)

HYPERTENSION = (_dx("I10", "59621000", "Essential (primary) hypertension", codes.HYPERTENSION),)
HYPERTENSIVE_CRISIS = (
    _dx("I16.1", "706882009", "Hypertensive emergency", codes.HYPERTENSIVE_CRISIS),
)
RECENT_MI = (
    _dx(
        "I21.4",
        "401314000",
        "Non-ST elevation (NSTEMI) myocardial infarction",
        codes.MYOCARDIAL_INFARCTION,
    ),
)
UNSTABLE_ANGINA = (_dx("I20.0", "4557003", "Unstable angina", codes.UNSTABLE_ANGINA),)
CORONARY_DISEASE = (
    _dx(
        "I25.10",
        "53741008",
        "Atherosclerotic heart disease of native coronary artery without angina pectoris",
        codes.CORONARY_ARTERY_DISEASE,
    ),
)
HEART_DISEASE = (
    _dx("I25.2", "1755008", "Old myocardial infarction", codes.HEART_DISEASE),
    _dx("I48.91", "49436004", "Unspecified atrial fibrillation", codes.HEART_DISEASE),
    _dx("I50.9", "84114007", "Heart failure, unspecified", codes.HEART_DISEASE),
)
PSYCHOTIC = (
    _dx("F20.0", "64905009", "Paranoid schizophrenia", codes.PSYCHOTIC_DISORDER),
    _dx("F25.0", "38368003", "Schizoaffective disorder, bipolar type", codes.PSYCHOTIC_DISORDER),
    _dx(
        "F33.3",
        "28475009",
        "Major depressive disorder, recurrent, severe with psychotic symptoms",
        codes.PSYCHOTIC_DISORDER,
    ),
)
PREGNANCY = (
    _dx("Z33.1", "72892002", "Pregnant state, incidental", codes.PREGNANCY),
    _dx(
        "Z34.00",
        "72892002",
        "Encounter for supervision of normal first pregnancy, unspecified trimester",
        codes.PREGNANCY,
    ),
)
BREASTFEEDING = (_dx("Z39.1", "169750002", "Lactating mother", codes.BREASTFEEDING),)
ANEURYSM = (
    _dx(
        "I71.4",
        "233985008",
        "Abdominal aortic aneurysm, without rupture",
        codes.ANEURYSMAL_VASCULAR_DISEASE,
    ),
)
AVM = (
    _dx(
        "Q28.2",
        "703221003",
        "Arteriovenous malformation of cerebral vessels",
        codes.ARTERIOVENOUS_MALFORMATION,
    ),
)
HEMORRHAGE = (
    _dx(
        "I61.9",
        "274100004",
        "Nontraumatic intracerebral hemorrhage, unspecified",
        codes.INTRACEREBRAL_HEMORRHAGE,
    ),
)
RAISED_PRESSURE = (
    _dx(
        "H40.9",
        "23986001",
        "Unspecified glaucoma",
        codes.RAISED_INTRACRANIAL_OR_INTRAOCULAR_PRESSURE,
    ),
)
HEPATIC = (
    _dx(
        "K70.30",
        "420054005",
        "Alcoholic cirrhosis of liver without ascites",
        codes.HEPATIC_IMPAIRMENT,
    ),
    _dx("K74.60", "19943007", "Unspecified cirrhosis of liver", codes.HEPATIC_IMPAIRMENT),
)
RENAL = (
    _dx("N18.31", "433144002", "Chronic kidney disease, stage 3a", codes.RENAL_IMPAIRMENT),
    _dx("N18.4", "431857002", "Chronic kidney disease, stage 4 (severe)", codes.RENAL_IMPAIRMENT),
)
HYPERTHYROIDISM = (
    _dx(
        "E05.90",
        "34486009",
        "Thyrotoxicosis, unspecified without thyrotoxic crisis or storm",
        codes.HYPERTHYROIDISM,
    ),
    _dx(
        "E05.00",
        "353295004",
        "Thyrotoxicosis with diffuse goiter without thyrotoxic crisis or storm",
        codes.HYPERTHYROIDISM,
    ),
)
SUBSTANCE_USE = (
    _dx("F10.20", "66590003", "Alcohol dependence, uncomplicated", codes.SUBSTANCE_USE_DISORDER),
    _dx("F11.20", None, "Opioid dependence, uncomplicated", codes.SUBSTANCE_USE_DISORDER),
    _dx("F12.10", None, "Cannabis abuse, uncomplicated", codes.SUBSTANCE_USE_DISORDER),
)
SUBSTANCE_USE_IN_REMISSION = (
    _dx("F10.21", None, "Alcohol dependence, in remission", codes.SUBSTANCE_USE_IN_REMISSION),
    _dx("F11.21", None, "Opioid dependence, in remission", codes.SUBSTANCE_USE_IN_REMISSION),
)
MANIA = (
    _dx(
        "F31.11",
        "71984005",
        "Bipolar disorder, current episode manic without psychotic features, mild",
        codes.CURRENT_MANIA,
    ),
    _dx(
        "F30.10", None, "Manic episode without psychotic symptoms, unspecified", codes.CURRENT_MANIA
    ),
)
SUICIDAL_IDEATION = (_dx("R45.851", "6471006", "Suicidal ideations", codes.SUICIDAL_IDEATION),)
DISSOCIATIVE = (
    _dx("F44.81", None, "Dissociative identity disorder", codes.DISSOCIATIVE_DISORDER),
    _dx(
        "F44.9",
        "44376007",
        "Dissociative and conversion disorder, unspecified",
        codes.DISSOCIATIVE_DISORDER,
    ),
)
PERSONALITY = (
    _dx("F60.3", "20010003", "Borderline personality disorder", codes.SEVERE_PERSONALITY_DISORDER),
)

ALL_DIAGNOSES: tuple[Diagnosis, ...] = (
    *MDD,
    *BIPOLAR_DEPRESSION,
    *PTSD,
    *ANXIETY,
    *CRPS,
    *NEUROPATHIC_PAIN,
    *FIBROMYALGIA,
    *OTHER_DEPRESSION,
    *HYPERTENSION,
    *HYPERTENSIVE_CRISIS,
    *RECENT_MI,
    *UNSTABLE_ANGINA,
    *CORONARY_DISEASE,
    *HEART_DISEASE,
    *PSYCHOTIC,
    *PREGNANCY,
    *BREASTFEEDING,
    *ANEURYSM,
    *AVM,
    *HEMORRHAGE,
    *RAISED_PRESSURE,
    *HEPATIC,
    *RENAL,
    *HYPERTHYROIDISM,
    *SUBSTANCE_USE,
    *SUBSTANCE_USE_IN_REMISSION,
    *MANIA,
    *SUICIDAL_IDEATION,
    *DISSOCIATIVE,
    *PERSONALITY,
)

# Antidepressant trials: (ingredient, usual single doses in mg), by class. Doses straddle the
# minimum adequate dose of clinical/medications.py so that both adequate and inadequate trials
# occur.
ANTIDEPRESSANTS: dict[str, tuple[tuple[str, tuple[float, ...]], ...]] = {
    "SSRI": (
        ("sertraline", (25, 50, 100, 150)),
        ("fluoxetine", (10, 20, 40)),
        ("escitalopram", (5, 10, 20)),
        ("citalopram", (10, 20, 40)),
        ("paroxetine", (10, 20, 40)),
    ),
    "SNRI": (
        ("venlafaxine", (75, 150, 225)),
        ("duloxetine", (30, 60)),
        ("desvenlafaxine", (25, 50, 100)),
    ),
    "TCA": (("nortriptyline", (25, 50, 75, 100)), ("amitriptyline", (50, 75, 150))),
    "atypical": (
        ("bupropion", (150, 300)),
        ("mirtazapine", (15, 30, 45)),
        ("vortioxetine", (5, 10, 20)),
        ("trazodone", (100, 300)),
    ),
}
BIPOLAR_AGENTS: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("quetiapine", (150, 300)),
    ("lurasidone", (20, 40, 80)),
    ("lamotrigine", (100, 200)),
    ("lithium", (300, 600, 900)),
)
AUGMENTING: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("aripiprazole", (2, 5, 10)),
    ("brexpiprazole", (1, 2)),
)
PAIN_MEDICATIONS: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("gabapentin", (300, 600)),
    ("pregabalin", (75, 150)),
    ("duloxetine", (30, 60)),
    ("naproxen", (250, 500)),
    ("amitriptyline", (10, 25)),
    ("tramadol", (50,)),
)
BENZODIAZEPINES: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("lorazepam", (0.5, 1)),
    ("alprazolam", (0.25, 0.5)),
    ("clonazepam", (0.5, 1)),
)
STIMULANTS: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("methylphenidate", (10, 20)),
    ("Adderall", (10, 20)),
)
OPIOIDS: tuple[tuple[str, tuple[float, ...]], ...] = (("oxycodone", (5, 10)), ("tramadol", (50,)))
MAOI: tuple[tuple[str, tuple[float, ...]], ...] = (("phenelzine", (15,)),)
ANTIHYPERTENSIVES: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("lisinopril", (10, 20)),
    ("amlodipine", (5, 10)),
    ("metoprolol", (25, 50)),
    ("hydrochlorothiazide", (12.5, 25)),
)
ANTITHYROID: tuple[tuple[str, tuple[float, ...]], ...] = (("methimazole", (5, 10)),)
ALLERGENS: tuple[str, ...] = ("codeine", "ibuprofen", "naproxen", "sertraline", "morphine")

# Procedures the engine reads, as (system, code, display); CPT codes from spec/screening.md and
# SNOMED CT concepts from clinical/resistance.py and clinical/screening.py.
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
SNOMED_SYSTEM = "http://snomed.info/sct"
PHYSICAL_EXAM = (SNOMED_SYSTEM, codes.SCT_PHYSICAL_EXAMINATION, "Physical examination procedure")
NERVE_BLOCKS = (
    (CPT_SYSTEM, "64510", "Injection, anesthetic agent; stellate ganglion (cervical sympathetic)"),
    (SNOMED_SYSTEM, "56333001", "Nerve block"),
)
PHYSICAL_THERAPY = (
    (CPT_SYSTEM, "97110", "Therapeutic procedure, therapeutic exercises"),
    (SNOMED_SYSTEM, "91251008", "Physical therapy procedure"),
)
ECT = (
    (CPT_SYSTEM, "90870", "Electroconvulsive therapy"),
    (SNOMED_SYSTEM, "23835007", "Electroconvulsive therapy"),
)
