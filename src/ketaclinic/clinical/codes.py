"""Terminology: the ICD-10-CM value sets, SNOMED CT concepts and LOINC codes the rules read.

Source: spec/screening.md (Indications, Contraindications, Observation and Workup tables).
SNOMED CT concepts are only those for the same disorders that are certain (the spec's own
examples and well-established concept ids); a concept not listed here is not guessed at.

Value sets are written in the spec's own notation, so each line can be checked against the
table it comes from:

- ``F41.1``: that code and every code below it (ICD-10-CM codes are hierarchical);
- ``G56.4x``, ``I21.x``: a trailing ``x`` is the same as the bare prefix;
- ``F1x.x5x``: an inner ``x`` stands for exactly one character;
- ``F32.0-F32.2``, ``I10-I15``, ``N18.3x-N18.6``: a range, compared position by position on
  the length of each bound, so children of the bounds are inside.

Codes and patterns are compared without the dot and case-insensitively (the ``x`` of a pattern is
lower-case so that the literal ``X`` placeholder of real codes is never taken for a wildcard).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from ketaclinic.clinical.facts import ICD10, RXNORM, SNOMED, Coding

SPEC = "spec/screening.md"


def normalise(code: str) -> str:
    """An ICD-10-CM code as compared here: upper case, no dot, no spaces."""
    return code.strip().replace(".", "").replace(" ", "").upper()


@dataclass(frozen=True)
class _Range:
    low: str
    high: str

    def holds(self, code: str) -> bool:
        if len(code) < max(len(self.low), len(self.high)):
            return False
        return code[: len(self.low)] >= self.low and code[: len(self.high)] <= self.high


def _bound(text: str) -> str:
    return normalise(text.rstrip("x"))


@cache
def _compiled(pattern: str) -> _Range | re.Pattern[str]:
    text = pattern.strip()
    if "-" in text:
        low, high = text.split("-", 1)
        return _Range(_bound(low), _bound(high))
    body = text.replace(".", "").rstrip("x")
    # Only the lower-case x of a pattern is a wildcard; everything else is literal.
    regex = "".join("." if ch == "x" else re.escape(ch.upper()) for ch in body)
    return re.compile(regex)


def icd10_matches(pattern: str, code: str) -> bool:
    """Whether an ICD-10-CM ``code`` (with or without the dot) is in ``pattern``."""
    rule = _compiled(pattern)
    plain = normalise(code)
    if isinstance(rule, _Range):
        return rule.holds(plain)
    return rule.match(plain) is not None


@dataclass(frozen=True)
class ValueSet:
    """A named set of codes: ICD-10-CM patterns minus exceptions, exact codes, and phrases."""

    name: str
    icd10: tuple[str, ...] = ()
    icd10_except: tuple[str, ...] = ()
    snomed: frozenset[str] = frozenset()
    # Exact codes of other systems, as (system, code).
    other: frozenset[tuple[str, str]] = frozenset()
    # Phrases that count when written in the record's text or a coding's display.
    words: tuple[str, ...] = ()
    source: str = SPEC
    _phrases: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.words:
            joined = "|".join(re.escape(w) for w in self.words)
            object.__setattr__(self, "_phrases", re.compile(rf"\b(?:{joined})", re.IGNORECASE))

    def has_icd10(self, code: str) -> bool:
        if not any(icd10_matches(p, code) for p in self.icd10):
            return False
        return not any(icd10_matches(p, code) for p in self.icd10_except)

    def has(self, coding: Coding) -> bool:
        if coding.system == ICD10:
            return self.has_icd10(coding.code)
        if coding.system == SNOMED:
            return coding.code.strip() in self.snomed
        return (coding.system, coding.code.strip()) in self.other

    def in_text(self, text: str | None) -> bool:
        if not text or self._phrases is None:
            return False
        return self._phrases.search(text) is not None


def matches(value_set: ValueSet, codings: Sequence[Coding], text: str | None = None) -> bool:
    """Whether any coding is in ``value_set``, or (for sets that read text) a phrase is written.

    Diagnosis sets read codes only: a phrase such as "psychosis" in free text may be a negation.
    """
    if any(value_set.has(c) for c in codings):
        return True
    if not value_set.words:
        return False
    return value_set.in_text(text) or any(value_set.in_text(c.display) for c in codings)


def _set(
    name: str,
    icd10: Sequence[str] = (),
    *,
    except_: Sequence[str] = (),
    snomed: Sequence[str] = (),
    source: str = SPEC,
) -> ValueSet:
    return ValueSet(name, tuple(icd10), tuple(except_), frozenset(snomed), source=source)


# --- SNOMED CT concepts (certain ones only) -------------------------------------------------
SCT_MAJOR_DEPRESSIVE_DISORDER = "370143000"  # spec example
SCT_MAJOR_DEPRESSION_SINGLE_EPISODE = "36923009"
SCT_RECURRENT_MAJOR_DEPRESSION = "66344007"
SCT_DEPRESSIVE_DISORDER = "35489007"
SCT_BIPOLAR_DISORDER = "13746004"
SCT_PTSD = "47505003"
SCT_GENERALIZED_ANXIETY_DISORDER = "21897009"
SCT_PANIC_DISORDER = "371631005"
SCT_FIBROMYALGIA = "203082005"
SCT_MYOCARDIAL_INFARCTION = "22298006"  # spec example
SCT_PREINFARCTION_SYNDROME = "4557003"  # unstable angina
SCT_CORONARY_ARTERIOSCLEROSIS = "53741008"
SCT_ISCHEMIC_HEART_DISEASE = "414545008"
SCT_ATRIAL_FIBRILLATION = "49436004"
SCT_HEART_FAILURE = "84114007"
SCT_HYPERTENSIVE_DISORDER = "38341003"
SCT_ESSENTIAL_HYPERTENSION = "59621000"
SCT_SCHIZOPHRENIA = "58214004"
SCT_SCHIZOAFFECTIVE_DISORDER = "68890003"
SCT_PSYCHOTIC_DISORDER = "69322001"
SCT_NORMAL_PREGNANCY = "72892002"  # spec example
SCT_PREGNANT = "77386006"  # spec: pregnancy status value "pregnant"
SCT_NOT_PREGNANT = "60001007"
SCT_GLAUCOMA = "23986001"
SCT_HYPERTHYROIDISM = "34486009"
SCT_ALCOHOLISM = "7200002"
SCT_SUICIDAL_IDEATION = "6471006"
SCT_POSITIVE = "10828004"  # spec: hCG positive
SCT_NEGATIVE = "260385009"  # spec: hCG negative
SCT_PHYSICAL_EXAMINATION = "5880005"  # spec: physical exam procedure
SCT_SEVERE = "24484000"  # spec: Condition.severity severe

# --- LOINC: observations the screening reads (spec "Observation" row) ------------------------
BP_PANELS = ("85354-9", "55284-4")
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"
HEART_RATE = "8867-4"
SPO2 = ("59408-5", "2708-6")
WEIGHT = "29463-7"
PHQ9_TOTAL = "44261-6"
PHQ9_ITEM9 = "44260-8"
GAD7_TOTAL = "70274-6"
ALT = "1742-6"
AST = "1920-8"
CREATININE = "2160-0"
EGFR = ("33914-3", "62238-1", "98979-8", "48642-3", "48643-1")
TSH = "3016-3"
LITHIUM = "14334-7"
URINALYSIS = "24356-8"
HCG = ("2106-3", "2118-8")  # urine, serum
PREGNANCY_STATUS = "82810-3"
ECG = "11524-6"

# RxNorm ingredient ketamine (clinical-facts.md: working value); names for allergies without it.
KETAMINE_RXNORM = "6130"

# --- Indications ------------------------------------------------------------------------------
_IND = f"{SPEC}, Indications"
MDD = _set(
    "major depressive disorder",
    ["F32.0-F32.2", "F32.9", "F32.A", "F33.0-F33.2", "F33.8", "F33.9", "F53.0"],
    snomed=[
        SCT_MAJOR_DEPRESSIVE_DISORDER,
        SCT_MAJOR_DEPRESSION_SINGLE_EPISODE,
        SCT_RECURRENT_MAJOR_DEPRESSION,
    ],
    source=_IND,
)
BIPOLAR_DEPRESSION = _set(
    "bipolar disorder, current episode depressed", ["F31.30-F31.32", "F31.4"], source=_IND
)
PTSD = _set("post-traumatic stress disorder", ["F43.10-F43.12"], snomed=[SCT_PTSD], source=_IND)
ANXIETY = _set(
    "generalised anxiety or panic disorder",
    ["F41.1", "F41.0"],
    snomed=[SCT_GENERALIZED_ANXIETY_DISORDER, SCT_PANIC_DISORDER],
    source=_IND,
)
CRPS = _set("complex regional pain syndrome", ["G90.50-G90.59", "G56.4x", "G57.7x"], source=_IND)
NEUROPATHIC_PAIN = _set(
    "neuropathic pain",
    [
        "M79.2",
        "G50.0",
        "G62.x",
        "G63",
        # Diabetes (E08-E13) with neuropathy (.40) or polyneuropathy (.42); there is no E12.
        *(f"E{n}.{d}" for n in ("08", "09", "10", "11", "13") for d in ("40", "42")),
        "B02.2x",
    ],
    source=_IND,
)
FIBROMYALGIA = _set("fibromyalgia", ["M79.7"], snomed=[SCT_FIBROMYALGIA], source=_IND)

# --- Contraindications (one per row of the spec's table) -------------------------------------
_CI = f"{SPEC}, Contraindications"
HYPERTENSIVE_CRISIS = _set("hypertensive crisis", ["I16.x"], source=_CI)
HYPERTENSION = _set(
    "hypertension",
    ["I10-I15"],
    snomed=[SCT_HYPERTENSIVE_DISORDER, SCT_ESSENTIAL_HYPERTENSION],
    source=_CI,
)
MYOCARDIAL_INFARCTION = _set(
    "myocardial infarction", ["I21.x", "I22.x"], snomed=[SCT_MYOCARDIAL_INFARCTION], source=_CI
)
UNSTABLE_ANGINA = _set(
    "unstable angina",
    [
        "I20.0",
        "I25.110",
        "I25.700",
        "I25.710",
        "I25.720",
        "I25.730",
        "I25.750",
        "I25.760",
        "I25.790",
    ],
    snomed=[SCT_PREINFARCTION_SYNDROME],
    source=_CI,
)
CORONARY_ARTERY_DISEASE = _set(
    "atherosclerotic heart disease", ["I25.1x"], snomed=[SCT_CORONARY_ARTERIOSCLEROSIS], source=_CI
)
HEART_DISEASE = _set(
    "heart disease",
    ["I20-I25", "I05-I09", "I34-I37", "I42", "I44-I45", "I47", "I48", "I49", "I50"],
    except_=["I49.1", "I49.3"],
    snomed=[
        SCT_MYOCARDIAL_INFARCTION,
        SCT_PREINFARCTION_SYNDROME,
        SCT_CORONARY_ARTERIOSCLEROSIS,
        SCT_ISCHEMIC_HEART_DISEASE,
        SCT_ATRIAL_FIBRILLATION,
        SCT_HEART_FAILURE,
    ],
    source=_CI,
)
PSYCHOTIC_DISORDER = _set(
    "psychotic disorder",
    [
        *("F20", "F22", "F23", "F24", "F25", "F28", "F29"),
        *("F30.2", "F31.2", "F31.5", "F31.64", "F32.3", "F33.3", "F53.1", "F06.0", "F06.2"),
        # Substance-induced psychotic disorder: F10.15x, F10.25x, F10.95x, ... F19.95x.
        "F1x.x5x",
    ],
    snomed=[SCT_SCHIZOPHRENIA, SCT_SCHIZOAFFECTIVE_DISORDER, SCT_PSYCHOTIC_DISORDER],
    source=_CI,
)
PREGNANCY = _set(
    "pregnancy",
    ["Z33.1", "Z34.x", "O09-O48"],
    snomed=[SCT_NORMAL_PREGNANCY, SCT_PREGNANT],
    source=_CI,
)
BREASTFEEDING = _set("breastfeeding", ["Z39.1"], source=_CI)
ANEURYSMAL_VASCULAR_DISEASE = _set(
    "aneurysmal vascular disease", ["I71.x", "I72.x", "I67.1"], source=_CI
)
ARTERIOVENOUS_MALFORMATION = _set(
    "arteriovenous malformation", ["Q28.0-Q28.3", "Q27.3x"], source=_CI
)
INTRACEREBRAL_HEMORRHAGE = _set(
    "intracranial haemorrhage", ["I60-I62", "I69.0x-I69.2x"], source=_CI
)
RAISED_INTRACRANIAL_OR_INTRAOCULAR_PRESSURE = _set(
    "raised intracranial or intraocular pressure",
    ["H40.x", "G91.x", "G93.2", "G93.6"],
    snomed=[SCT_GLAUCOMA],
    source=_CI,
)
HEPATIC_IMPAIRMENT = _set(
    "liver disease", ["K70.1-K70.9", "K71-K74", "K75"], except_=["K75.81"], source=_CI
)
RENAL_IMPAIRMENT = _set("kidney disease", ["N17.x", "N18.3x-N18.6", "N19"], source=_CI)
HYPERTHYROIDISM = _set("hyperthyroidism", ["E05.x"], snomed=[SCT_HYPERTHYROIDISM], source=_CI)
# F17 (nicotine) is left out on purpose: the spec says "not F17".
SUBSTANCE_USE_DISORDER = _set(
    "substance use disorder", ["F10-F16", "F18", "F19"], snomed=[SCT_ALCOHOLISM], source=_CI
)
SUBSTANCE_USE_IN_REMISSION = _set(
    "substance use disorder in remission",
    ["F1x.11", "F1x.21", "F1x.91"],
    except_=["F17"],
    source=_CI,
)
CURRENT_MANIA = _set("mania", ["F30.x", "F31.0", "F31.1x", "F31.6x"], source=_CI)
SUICIDAL_IDEATION = _set(
    "suicidal ideation", ["R45.851"], snomed=[SCT_SUICIDAL_IDEATION], source=_CI
)
DISSOCIATIVE_DISORDER = _set(
    "dissociative disorder", ["F44.0-F44.3", "F44.8x", "F44.9", "F48.1"], source=_CI
)
SEVERE_PERSONALITY_DISORDER = _set("personality disorder", ["F60.x"], source=_CI)

# --- Workup -----------------------------------------------------------------------------------
# A psychiatric diagnosis (baseline rating scale): the whole F chapter of ICD-10-CM ("Mental,
# behavioural and neurodevelopmental disorders"), and the psychiatric SNOMED CT concepts above.
PSYCHIATRIC_ICD10_PREFIXES: tuple[str, ...] = ("F",)
PSYCHIATRIC = _set(
    "psychiatric diagnosis",
    PSYCHIATRIC_ICD10_PREFIXES,
    snomed=sorted(
        MDD.snomed
        | PTSD.snomed
        | ANXIETY.snomed
        | PSYCHOTIC_DISORDER.snomed
        | SUBSTANCE_USE_DISORDER.snomed
        | {SCT_DEPRESSIVE_DISORDER, SCT_BIPOLAR_DISORDER}
    ),
    source=f"{SPEC}, Workup: baseline scale when a psychiatric diagnosis is present",
)
PHYSICAL_EXAM = ValueSet(
    "physical examination",
    snomed=frozenset({SCT_PHYSICAL_EXAMINATION}),
    words=("physical exam",),
    source=f"{SPEC}, Workup: Procedure SNOMED 5880005, or 'physical exam' in the text",
)
KETAMINE = ValueSet(
    "ketamine or esketamine",
    other=frozenset({(RXNORM, KETAMINE_RXNORM)}),
    words=("ketamine", "esketamine", "ketalar", "spravato"),
    source=f"{SPEC}: AllergyIntolerance to ketamine or esketamine, by RxNorm 6130 or by name",
)

_VALUE_SETS: tuple[ValueSet, ...] = (
    MDD,
    BIPOLAR_DEPRESSION,
    PTSD,
    ANXIETY,
    CRPS,
    NEUROPATHIC_PAIN,
    FIBROMYALGIA,
    HYPERTENSIVE_CRISIS,
    HYPERTENSION,
    MYOCARDIAL_INFARCTION,
    UNSTABLE_ANGINA,
    CORONARY_ARTERY_DISEASE,
    HEART_DISEASE,
    PSYCHOTIC_DISORDER,
    PREGNANCY,
    BREASTFEEDING,
    ANEURYSMAL_VASCULAR_DISEASE,
    ARTERIOVENOUS_MALFORMATION,
    INTRACEREBRAL_HEMORRHAGE,
    RAISED_INTRACRANIAL_OR_INTRAOCULAR_PRESSURE,
    HEPATIC_IMPAIRMENT,
    RENAL_IMPAIRMENT,
    HYPERTHYROIDISM,
    SUBSTANCE_USE_DISORDER,
    SUBSTANCE_USE_IN_REMISSION,
    CURRENT_MANIA,
    SUICIDAL_IDEATION,
    DISSOCIATIVE_DISORDER,
    SEVERE_PERSONALITY_DISORDER,
    PSYCHIATRIC,
    PHYSICAL_EXAM,
)
# Every SNOMED CT concept the engine reads, so a reader can flag the ones it does not know.
KNOWN_SNOMED: frozenset[str] = frozenset(
    {
        *(code for vs in _VALUE_SETS for code in vs.snomed),
        SCT_POSITIVE,
        SCT_NEGATIVE,
        SCT_NOT_PREGNANT,
        SCT_SEVERE,
    }
)
KNOWN_LOINC: frozenset[str] = frozenset(
    {
        *BP_PANELS,
        SYSTOLIC,
        DIASTOLIC,
        HEART_RATE,
        *SPO2,
        WEIGHT,
        PHQ9_TOTAL,
        PHQ9_ITEM9,
        GAD7_TOTAL,
        ALT,
        AST,
        CREATININE,
        *EGFR,
        TSH,
        LITHIUM,
        URINALYSIS,
        *HCG,
        PREGNANCY_STATUS,
        ECG,
    }
)


def first_label(codings: Sequence[Coding], text: str | None = None) -> str:
    """A short name for a coded record in a message: "F33.2 (Major depression...)"."""
    for c in codings:
        if c.system in (ICD10, SNOMED):
            shown = c.display or text
            prefix = "ICD-10-CM" if c.system == ICD10 else "SNOMED CT"
            return f"{prefix} {c.code}" + (f" ({shown})" if shown else "")
    named = text or next((c.display for c in codings if c.display), None)
    return named or (codings[0].code if codings else "unnamed record")
