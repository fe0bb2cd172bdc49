"""The demo clinic's patients: invented people whose charts show every decision and most findings.

Each chart is written by hand, with every date counted back from the seeding day, so that a
screening as of that day gives the decision written beside it on any day the clinic is seeded.
The expected decisions are worked out from spec/screening.md (rules and decision order) and
clinical-facts.md (minimum adequate doses, drug classes), not taken from the engine's output.

Shared by most charts ("routine workup"): a physical exam 10 days ago; blood pressure 14 and 3
days ago, below 140/90; ALT, AST, creatinine and eGFR 12 days ago, normal; for a psychiatric
diagnosis a PHQ-9 10 days ago with item 9 = 0; for women aged 12-55 a negative urine hCG 3 days
ago. A depression trial counts as failed and adequate when it ran for at least 6 weeks at or
above the minimum adequate dose (sertraline 50, venlafaxine 150, escitalopram 10, ... mg) with
the outcome no-response or partial-response. The names, phone numbers (555-01xx, a range kept
for fiction) and people are invented.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from ketaclinic.clinical.facts import SNOMED
from ketaclinic.demo.fhir_builders import (
    CONTACT_ROLE,
    MRN_SYSTEM,
    Chart,
    born,
    collection,
)

Sex = Literal["female", "male"]
DemoRoute = Literal["iv", "esketamine"]
Decision = Literal["eligible", "eligible_with_precautions", "not_eligible", "needs_information"]

ELIGIBLE: Decision = "eligible"
PRECAUTIONS: Decision = "eligible_with_precautions"
NOT_ELIGIBLE: Decision = "not_eligible"
NEEDS_INFORMATION: Decision = "needs_information"


@dataclass(frozen=True)
class DemoPatient:
    mrn: str
    given_name: str
    family_name: str
    birth_date: date
    sex: Sex
    phone: str
    escort_name: str
    escort_phone: str
    bundle: dict[str, Any]
    route: DemoRoute
    expected_decision: Decision
    summary: str


@dataclass(frozen=True)
class _Person:
    given: str
    family: str
    sex: Sex
    age: int
    escort: str
    decision: Decision
    route: DemoRoute
    summary: str
    chart: Callable[[Chart], None]


_PEOPLE: list[_Person] = []


def _patient(
    name: str,
    sex: Sex,
    age: int,
    escort: str,
    decision: Decision,
    *,
    route: DemoRoute = "iv",
) -> Callable[[Callable[[Chart], None]], Callable[[Chart], None]]:
    """Enrol the chart below as the next demo patient; its docstring is the summary line."""

    def enrol(chart: Callable[[Chart], None]) -> Callable[[Chart], None]:
        given, family = name.split(" ", 1)
        summary = (chart.__doc__ or "").strip().removesuffix(".")
        _PEOPLE.append(_Person(given, family, sex, age, escort, decision, route, summary, chart))
        return chart

    return enrol


# --- shared pieces --------------------------------------------------------------------------


def _routine(
    c: Chart,
    *,
    psychiatric: bool = True,
    pregnancy_test: bool = False,
    bp: tuple[tuple[int, int], ...] = ((126, 80), (122, 78)),
    bp_days: tuple[int, ...] = (14, 3),
    labs_days: int = 12,
    alt: float = 24,
    ast: float = 22,
    egfr: float = 94,
    phq9: tuple[int, int] = (18, 0),
    hcg_days: int = 3,
) -> None:
    """The routine pre-treatment workup, with the values a chart changes passed in."""
    c.physical_exam(10)
    for n, ((systolic, diastolic), days) in enumerate(zip(bp, bp_days, strict=True), 1):
        c.blood_pressure(f"bp{n}", days, systolic, diastolic)
    c.measurement(
        "alt",
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        labs_days,
        alt,
        "U/L",
    )
    c.measurement(
        "ast",
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        labs_days,
        ast,
        "U/L",
    )
    c.measurement(
        "creatinine",
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        labs_days,
        1.4 if egfr < 60 else 0.9,
        "mg/dL",
    )
    c.measurement(
        "egfr",
        "98979-8",
        "Glomerular filtration rate/1.73 sq M.predicted (CKD-EPI 2021)",
        labs_days,
        egfr,
        "mL/min/1.73m2",
        "mL/min/{1.73_m2}",
    )
    if psychiatric:
        c.phq9(10, *phq9)
    if pregnancy_test:
        c.hcg("hcg", hcg_days, positive=False)


def _mdd(c: Chart, code: str = "F33.1", onset: int = 900) -> None:
    names = {
        "F32.1": "Major depressive disorder, single episode, moderate",
        "F32.2": "Major depressive disorder, single episode, severe without psychotic features",
        "F32.9": "Major depressive disorder, single episode, unspecified",
        "F33.1": "Major depressive disorder, recurrent, moderate",
        "F33.2": "Major depressive disorder, recurrent severe without psychotic features",
    }
    c.condition("mdd", code, names[code], onset)


def _trial(
    c: Chart,
    ingredient: str,
    mg: float,
    start: int,
    weeks: int,
    outcome: str | None,
    *,
    per_day: int = 1,
) -> None:
    """A finished course of ``weeks`` weeks at one dose, started ``start`` days ago."""
    c.statement(
        ingredient, ingredient, mg, start, start - weeks * 7, per_day=per_day, outcome=outcome
    )


def _resistant(c: Chart) -> None:
    """Sertraline 100 mg (SSRI) no response, venlafaxine 225 mg (SNRI) partial: 2 classes."""
    _trial(c, "sertraline", 100, 760, 14, "no-response")
    _trial(c, "venlafaxine", 225, 600, 14, "partial-response")


def _trd(c: Chart, code: str = "F33.1") -> None:
    _mdd(c, code)
    _resistant(c)


# --- the charts, in MRN order (DEMO-0001 first) -------------------------------------------


@_patient("Daniel Okonkwo-Reid", "male", 46, "Adaeze Okonkwo-Reid", ELIGIBLE)
def _p01(c: Chart) -> None:
    """TRD (F33.1), sertraline and venlafaxine failed: eligible."""
    _trd(c)
    _routine(c)


@_patient("Laura Brennock", "female", 38, "Sean Brennock", ELIGIBLE)
def _p02(c: Chart) -> None:
    """TRD (F33.2), escitalopram and duloxetine failed, hCG negative: eligible."""
    _mdd(c, "F33.2")
    _trial(c, "escitalopram", 20, 820, 12, "no-response")
    _trial(c, "duloxetine", 60, 640, 13, "partial-response")
    _routine(c, pregnancy_test=True)


@_patient("Martin Halloway", "male", 58, "Ruth Halloway", PRECAUTIONS)
def _p03(c: Chart) -> None:
    """TRD, lorazepam ongoing: precautions."""
    _trd(c, "F33.2")
    c.statement("lorazepam", "lorazepam", 1, 300, per_day=2)
    _routine(c)


@_patient("Judith Kesselring", "female", 63, "Anna Kesselring", PRECAUTIONS)
def _p04(c: Chart) -> None:
    """TRD, eGFR 55: precautions (renal impairment)."""
    _trd(c)
    _routine(c, egfr=55)


@_patient("Raymond Ortolani", "male", 52, "Lucia Ortolani", PRECAUTIONS)
def _p05(c: Chart) -> None:
    """TRD, blood pressure 150/85: precautions (elevated blood pressure)."""
    _trd(c)
    _routine(c, bp=((146, 84), (150, 85)))


@_patient("Gordon Pryce-Maddox", "male", 55, "Irene Pryce-Maddox", PRECAUTIONS)
def _p06(c: Chart) -> None:
    """TRD, oxycodone ongoing for back pain: precautions (opioid)."""
    _trd(c)
    c.condition("back-pain", "M54.50", "Low back pain, unspecified", 1500)
    c.statement("oxycodone", "oxycodone", 10, 400, per_day=2)
    _routine(c)


@_patient("Hannah Vossberg", "female", 29, "Tobias Vossberg", PRECAUTIONS)
def _p07(c: Chart) -> None:
    """TRD, PHQ-9 item 9 = 1: precautions (active suicidality)."""
    _trd(c, "F33.2")
    _routine(c, pregnancy_test=True, phq9=(19, 1))


@_patient("Colin Merriwether", "male", 44, "Fiona Merriwether", PRECAUTIONS)
def _p08(c: Chart) -> None:
    """TRD, alcohol dependence F10.20: precautions (substance use disorder)."""
    _trd(c)
    c.condition("alcohol", "F10.20", "Alcohol dependence, uncomplicated", 1200)
    _routine(c, alt=38, ast=41)


@_patient("Margaret Lindqvist-Hay", "female", 60, "Oskar Lindqvist-Hay", PRECAUTIONS)
def _p09(c: Chart) -> None:
    """TRD, glaucoma H40.11X0: precautions (intraocular pressure)."""
    _trd(c)
    c.condition(
        "glaucoma",
        "H40.11X0",
        "Primary open-angle glaucoma, stage unspecified",
        2000,
    )
    _routine(c)


@_patient("Simon Achterberg", "male", 41, "Noor Achterberg", PRECAUTIONS)
def _p10(c: Chart) -> None:
    """TRD, ALT 150 U/L: precautions (hepatic impairment)."""
    _trd(c)
    _routine(c, alt=150, ast=96)


@_patient("Teresa Vidal-Ocampo", "female", 36, "Marco Vidal-Ocampo", PRECAUTIONS)
def _p11(c: Chart) -> None:
    """TRD, TSH 0.05 untreated: precautions (hyperthyroidism)."""
    _trd(c)
    c.measurement(
        "tsh",
        "3016-3",
        "Thyrotropin [Units/volume] in Serum or Plasma",
        12,
        0.05,
        "mIU/L",
        "m[IU]/L",
    )
    _routine(c, pregnancy_test=True)


@_patient("Walter Brandenstein", "male", 68, "Greta Brandenstein", PRECAUTIONS)
def _p12(c: Chart) -> None:
    """TRD, atrial fibrillation I48.91 with ECG: precautions (heart disease)."""
    _trd(c)
    c.condition("af", "I48.91", "Unspecified atrial fibrillation", 1100)
    c.statement("metoprolol", "metoprolol", 50, 1090, per_day=2)
    c.ecg(12, "Atrial fibrillation with controlled ventricular response, 76/min")
    _routine(c)


@_patient("Eleanor Pricewell", "female", 57, "Thomas Pricewell", PRECAUTIONS)
def _p13(c: Chart) -> None:
    """TRD, phenelzine ongoing: precautions (MAOI)."""
    _trd(c)
    c.statement("phenelzine", "phenelzine", 15, 200, per_day=3)
    _routine(c)


@_patient("Tyler Janszoon", "male", 27, "Megan Janszoon", PRECAUTIONS)
def _p14(c: Chart) -> None:
    """TRD and ADHD, methylphenidate ongoing: precautions (psychostimulant)."""
    _trd(c)
    c.condition(
        "adhd",
        "F90.0",
        "Attention-deficit hyperactivity disorder, predominantly inattentive type",
        3000,
    )
    c.statement("methylphenidate", "methylphenidate", 20, 500, per_day=2)
    _routine(c)


@_patient("Victor Lindgrenson", "male", 49, "Paula Lindgrenson", PRECAUTIONS)
def _p15(c: Chart) -> None:
    """TRD, hypertension I10 with no antihypertensive: precautions."""
    _trd(c)
    c.condition("hypertension", "I10", "Essential (primary) hypertension", 700)
    _routine(c, bp=((138, 88), (136, 86)))


@_patient("Rachel Moreau-Tibbs", "female", 34, "Jean Moreau-Tibbs", PRECAUTIONS)
def _p16(c: Chart) -> None:
    """TRD, dissociative identity disorder F44.81: precautions."""
    _trd(c)
    c.condition("dissociative", "F44.81", "Dissociative identity disorder", 2500)
    _routine(c, pregnancy_test=True)


@_patient("Sophie Kaminska-Lowe", "female", 31, "Piotr Kaminski", PRECAUTIONS)
def _p17(c: Chart) -> None:
    """TRD, borderline personality disorder F60.3: precautions."""
    _trd(c)
    c.condition("personality", "F60.3", "Borderline personality disorder", 3000)
    _routine(c, pregnancy_test=True)


@_patient("Francis Dellamore", "male", 62, "Brigid Dellamore", NOT_ELIGIBLE)
def _p18(c: Chart) -> None:
    """TRD, blood pressure 172/96 twice despite amlodipine: not eligible."""
    _trd(c)
    c.condition("hypertension", "I10", "Essential (primary) hypertension", 2000)
    c.statement("amlodipine", "amlodipine", 10, 1990)
    _routine(c, bp=((172, 96), (172, 96)), bp_days=(20, 6))


@_patient("Adrian Kovacevski", "male", 39, "Mira Kovacevski", NOT_ELIGIBLE)
def _p19(c: Chart) -> None:
    """Resistant MDD but schizophrenia F20.9: not eligible (psychotic disorder)."""
    _mdd(c, "F32.1")
    _resistant(c)
    c.condition("schizophrenia", "F20.9", "Schizophrenia, unspecified", 4000)
    _routine(c)


@_patient("Natalie Ferreira-Lund", "female", 27, "Erik Lund", NOT_ELIGIBLE)
def _p20(c: Chart) -> None:
    """TRD, urine hCG positive 4 days ago: not eligible (pregnancy)."""
    _trd(c, "F32.1")
    c.hcg("hcg", 4, positive=True)
    _routine(c)


@_patient("Padraig Gallenty", "male", 50, "Siobhan Gallenty", NOT_ELIGIBLE)
def _p21(c: Chart) -> None:
    """TRD, ketamine allergy: not eligible."""
    _trd(c)
    c.ketamine_allergy(1500, "Severe agitation and laryngospasm under ketamine anaesthesia")
    _routine(c)


@_patient("Howard Brisbane-Tate", "male", 64, "Lorna Brisbane-Tate", NOT_ELIGIBLE)
def _p22(c: Chart) -> None:
    """TRD, myocardial infarction 2 months ago: not eligible."""
    _trd(c)
    c.condition("mi", "I21.4", "Non-ST elevation (NSTEMI) myocardial infarction", 60)
    c.statement("metoprolol", "metoprolol", 25, 55, per_day=2)
    c.ecg(9, "Sinus rhythm 64/min, T-wave inversion V4-V6")
    _routine(c)


@_patient("Emily Satomura", "female", 32, "Kenji Satomura", NOT_ELIGIBLE)
def _p23(c: Chart) -> None:
    """TRD, breastfeeding Z39.1: not eligible."""
    _trd(c)
    c.condition("lactating", "Z39.1", "Encounter for care and examination of lactating mother", 110)
    _routine(c, pregnancy_test=True)


@_patient("George Whitacre", "male", 67, "Ada Whitacre", NOT_ELIGIBLE, route="esketamine")
def _p24(c: Chart) -> None:
    """TRD on esketamine, abdominal aortic aneurysm I71.4: not eligible."""
    _mdd(c, "F33.1", 2500)
    _trial(c, "paroxetine", 40, 1400, 13, "no-response")
    _trial(c, "nortriptyline", 100, 1000, 13, "no-response")
    c.statement("mirtazapine", "mirtazapine", 30, 150)
    c.condition("aaa", "I71.4", "Abdominal aortic aneurysm, without rupture", 860)
    c.condition("hypertension", "I10", "Essential (primary) hypertension", 4000)
    c.statement("amlodipine", "amlodipine", 10, 3990)
    _routine(c, bp=((132, 82), (128, 80)))


@_patient("Irene Novakova-Bell", "female", 48, "Daniel Bell", NOT_ELIGIBLE)
def _p25(c: Chart) -> None:
    """MDD, sertraline failed but bupropion worked: not eligible (not resistant)."""
    _mdd(c, "F32.1", 800)
    _trial(c, "sertraline", 150, 760, 12, "no-response")
    _trial(c, "bupropion", 150, 640, 16, "response", per_day=2)
    _routine(c, pregnancy_test=True, phq9=(14, 0))


@_patient("Dennis Harlowe", "male", 59, "Carol Harlowe", NOT_ELIGIBLE)
def _p26(c: Chart) -> None:
    """Treated hypertension only, no qualifying diagnosis: not eligible."""
    c.condition("hypertension", "I10", "Essential (primary) hypertension", 2200)
    c.statement("lisinopril", "lisinopril", 20, 2190)
    _routine(c, psychiatric=False, bp=((128, 82), (124, 80)))


@_patient("Carl Engstrand", "male", 53, "Ingrid Engstrand", NEEDS_INFORMATION)
def _p27(c: Chart) -> None:
    """TRD, last blood pressure 4 months ago: needs information (workup incomplete)."""
    _trd(c)
    _routine(c, bp_days=(125, 120))


@_patient("Olivia Grantham-Cole", "female", 42, "Neil Grantham-Cole", NEEDS_INFORMATION)
def _p28(c: Chart) -> None:
    """MDD, two adequate trials without outcomes: needs information."""
    _mdd(c, "F33.1")
    _trial(c, "escitalopram", 20, 760, 15, None)
    _trial(c, "mirtazapine", 45, 600, 14, None)
    _routine(c, pregnancy_test=True)


@_patient("Marcus Reyes-Albright", "male", 33, "Lena Albright", NEEDS_INFORMATION)
def _p29(c: Chart) -> None:
    """MDD with no treatment history recorded: needs information."""
    _mdd(c, "F33.2", 400)
    _routine(c, phq9=(21, 0))


@_patient("Brian Foleyhurst", "male", 57, "Maeve Foleyhurst", NEEDS_INFORMATION)
def _p30(c: Chart) -> None:
    """TRD, a single blood pressure of 168/95: needs information (confirm it)."""
    _trd(c)
    _routine(c, bp=((168, 95),), bp_days=(4,))


@_patient("Stefan Novotny-Park", "male", 47, "Hana Novotny-Park", ELIGIBLE)
def _p31(c: Chart) -> None:
    """CRPS, stellate ganglion block and physiotherapy failed: eligible."""
    c.condition("crps", "G90.512", "Complex regional pain syndrome I of left upper limb", 700)
    c.procedure(
        "physio",
        "97110",
        "Physical therapy: therapeutic exercises",
        600,
        500,
        outcome="no-response",
    )
    c.procedure(
        "stellate-block", "64510", "Stellate ganglion nerve block", 420, outcome="no-response"
    )
    _routine(c, psychiatric=False)


@_patient("Diane Colebrook", "female", 50, "Peter Colebrook", ELIGIBLE)
def _p32(c: Chart) -> None:
    """Fibromyalgia, pregabalin 8 weeks and physiotherapy failed: eligible."""
    c.condition("fibromyalgia", "M79.7", "Fibromyalgia", 1400)
    c.statement("pregabalin", "pregabalin", 150, 500, 444, per_day=2, outcome="no-response")
    c.procedure(
        "physio",
        "97110",
        "Physical therapy: therapeutic exercises",
        400,
        310,
        outcome="no-response",
    )
    _routine(c, psychiatric=False, pregnancy_test=True)


@_patient("Peter Lindholt", "male", 61, "Karin Lindholt", ELIGIBLE)
def _p33(c: Chart) -> None:
    """Neuropathic pain, gabapentin and intercostal nerve block failed: eligible."""
    c.condition("neuralgia", "M79.2", "Neuralgia and neuritis, unspecified", 1000)
    c.statement("gabapentin", "gabapentin", 600, 900, 820, per_day=3, outcome="no-response")
    c.procedure(
        "intercostal-block",
        "64420",
        "Intercostal nerve block, single level",
        500,
        outcome="no-response",
    )
    _routine(c, psychiatric=False)


@_patient("Nathan Colquhoun-Fry", "male", 35, "Jess Colquhoun-Fry", ELIGIBLE)
def _p34(c: Chart) -> None:
    """Bipolar depression, quetiapine and lamotrigine failed: eligible."""
    c.condition(
        "bipolar",
        "F31.4",
        "Bipolar disorder, current episode depressed, severe, without psychotic features",
        700,
    )
    _trial(c, "quetiapine", 300, 680, 11, "no-response")
    _trial(c, "lamotrigine", 200, 560, 13, "partial-response")
    _routine(c)


@_patient("Grace Hollinshed", "female", 33, "Owen Hollinshed", ELIGIBLE)
def _p35(c: Chart) -> None:
    """PTSD, sertraline and venlafaxine failed: eligible."""
    c.condition("ptsd", "F43.10", "Post-traumatic stress disorder, unspecified", 1300)
    _trial(c, "sertraline", 150, 1200, 12, "no-response")
    _trial(c, "venlafaxine", 225, 1000, 13, "no-response")
    _routine(c, pregnancy_test=True)


@_patient("Amira Haddadin", "female", 40, "Yusuf Haddadin", ELIGIBLE)
def _p36(c: Chart) -> None:
    """Generalised anxiety, escitalopram and duloxetine failed: eligible."""
    c.condition("gad", "F41.1", "Generalized anxiety disorder", 1600)
    _trial(c, "escitalopram", 20, 1000, 10, "no-response")
    _trial(c, "duloxetine", 60, 800, 12, "partial-response")
    c.gad7(10, 16)
    _routine(c, pregnancy_test=True, phq9=(9, 0))


@_patient("Jordan Millbrook", "male", 24, "Carla Millbrook", PRECAUTIONS, route="esketamine")
def _p37(c: Chart) -> None:
    """MDD with suicidal ideation on esketamine, no oral antidepressant: precautions."""
    _mdd(c, "F32.2", 80)
    _routine(c, phq9=(22, 2))


@_patient("Kwame Osei-Barnes", "male", 45, "Abena Osei-Barnes", ELIGIBLE)
def _p38(c: Chart) -> None:
    """TRD coded in SNOMED CT (18818009): eligible."""
    c.condition("mdd", "18818009", "Moderate recurrent major depression", 1100, system=SNOMED)
    _trial(c, "fluoxetine", 40, 1000, 12, "no-response")
    _trial(c, "duloxetine", 60, 800, 13, "no-response")
    _routine(c)


@_patient("Claire Duboisier", "female", 45, "Luc Duboisier", ELIGIBLE)
def _p39(c: Chart) -> None:
    """TRD from prescriptions (MedicationRequest): eligible."""
    _mdd(c, "F33.1", 1000)
    c.request("citalopram", "citalopram", 40, 900, 802, outcome="no-response")
    c.request("bupropion", "bupropion", 150, 700, 595, per_day=2, outcome="partial-response")
    _routine(c, pregnancy_test=True)


@_patient("Samuel Parkhurst", "male", 38, "Jin Parkhurst", ELIGIBLE)
def _p40(c: Chart) -> None:
    """TRD, tinnitus coded with an unknown SNOMED code: eligible (unrecognised code)."""
    _trd(c)
    c.condition("tinnitus", "60862001", "Tinnitus", 900, system=SNOMED)
    _routine(c)


@_patient("Lucas Bergmann-Shaw", "male", 51, "Elin Bergmann-Shaw", ELIGIBLE)
def _p41(c: Chart) -> None:
    """TRD, blood tests 5 months old: eligible (workup incomplete)."""
    _trd(c)
    _routine(c, labs_days=150)


@_patient("Mia Castellanos-Ruiz", "female", 29, "Diego Castellanos-Ruiz", ELIGIBLE)
def _p42(c: Chart) -> None:
    """TRD, pregnancy test 20 days old: eligible (workup incomplete)."""
    _trd(c)
    _routine(c, pregnancy_test=True, hcg_days=20)


@_patient("Ethan Rowcliffe", "male", 17, "Sarah Rowcliffe", PRECAUTIONS)
def _p43(c: Chart) -> None:
    """TRD at 17 on IV: precautions (under 18)."""
    _mdd(c, "F32.2", 500)
    _trial(c, "fluoxetine", 40, 450, 10, "no-response")
    _trial(c, "bupropion", 300, 300, 10, "no-response")
    _routine(c)


@_patient("Robert Klinefelt", "male", 54, "June Klinefelt", ELIGIBLE)
def _p44(c: Chart) -> None:
    """TRD, alcohol dependence in remission F10.21: eligible (noted)."""
    _trd(c)
    c.condition("alcohol", "F10.21", "Alcohol dependence, in remission", 3000)
    _routine(c)


@_patient("Helen Marchetti", "female", 44, "Paolo Marchetti", ELIGIBLE, route="esketamine")
def _p45(c: Chart) -> None:
    """TRD on esketamine with bupropion ongoing: eligible."""
    _trd(c, "F33.2")
    c.statement("bupropion", "bupropion", 300, 200)
    _routine(c, pregnancy_test=True)


def _phone(number: int) -> str:
    return f"503-555-{100 + number:04d}"


def _patient_resource(
    pid: str, mrn: str, person: _Person, birth: date, phone: str, escort_phone: str
) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": MRN_SYSTEM, "value": mrn}],
        "name": [{"family": person.family, "given": [person.given]}],
        "telecom": [{"system": "phone", "value": phone, "use": "mobile"}],
        "gender": person.sex,
        "birthDate": birth.isoformat(),
        "contact": [
            {
                "relationship": [
                    {
                        "coding": [
                            {"system": CONTACT_ROLE, "code": "C", "display": "Emergency Contact"}
                        ]
                    }
                ],
                "name": {"text": person.escort},
                "telecom": [{"system": "phone", "value": escort_phone}],
            }
        ],
    }


def _demo_patient(today: date, number: int, person: _Person) -> DemoPatient:
    mrn = f"DEMO-{number:04d}"
    pid = f"demo{number:02d}"
    # Birthdays spread over the year, the same for a given MRN whatever the seeding day.
    birth = born(today, person.age, (number * 53) % 360)
    phone, escort_phone = _phone(number), _phone(50 + number)
    chart = Chart(today, pid)
    person.chart(chart)
    patient = _patient_resource(pid, mrn, person, birth, phone, escort_phone)
    return DemoPatient(
        mrn=mrn,
        given_name=person.given,
        family_name=person.family,
        birth_date=birth,
        sex=person.sex,
        phone=phone,
        escort_name=person.escort,
        escort_phone=escort_phone,
        bundle=collection(f"{pid}-record", [patient, *chart.resources]),
        route=person.route,
        expected_decision=person.decision,
        summary=person.summary,
    )


def demo_patients(today: date) -> list[DemoPatient]:
    """The demo clinic's patients, their records dated back from ``today`` (deterministic)."""
    return [_demo_patient(today, n, person) for n, person in enumerate(_PEOPLE, 1)]
