"""Terminology: the ICD-10-CM value sets, SNOMED CT concepts and LOINC codes the rules read.

Source: spec/screening.md (Indications, Contraindications, Observation and Workup tables).
SNOMED CT concepts are those for the same disorders, each confirmed (code and meaning) in public
material named beside its group; a concept not listed here is not guessed at, and the rules with
no confirmed concept are listed with the concepts.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache

from ketaclinic.clinical.facts import ICD10, RXNORM, SNOMED, Coding, Condition
from ketaclinic.clinical.view import is_active

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
    # Answers by code: a population repeats the same few hundred codes, and matching a code
    # against every pattern was the hottest part of screening (bench/cohort.py profile).
    _icd10_answers: dict[str, bool] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.words:
            joined = "|".join(re.escape(w) for w in self.words)
            object.__setattr__(self, "_phrases", re.compile(rf"\b(?:{joined})", re.IGNORECASE))

    def has_icd10(self, code: str) -> bool:
        known = self._icd10_answers.get(code)
        if known is None:
            known = any(icd10_matches(p, code) for p in self.icd10) and not any(
                icd10_matches(p, code) for p in self.icd10_except
            )
            self._icd10_answers[code] = known
        return known

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
    for coding in codings:
        if value_set.has(coding):
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


# --- SNOMED CT concepts -------------------------------------------------------------------------
# Every concept below was confirmed, code and meaning, in public material named beside its group
# (no SNOMED CT release was at hand). A concept is put in the set of the ICD-10-CM codes it is the
# same disorder as: psychotic depression goes to the psychotic set and not to MDD, bipolar
# depression to its own set, an old infarction to heart disease and not to recent infarction.
# Abbreviations of the sources:
#   VSAC <oid>: NLM Value Set Authority Center expansion, as published in the cqframework eCQM
#     content repositories (ecqm-content-r4-2021, ecqm-content-qicore-2022/2025) as
#     input/vocabulary/valueset/external/valueset-<oid>.json.
#   tx.fhir.org: the SNOMED CT pages of the HL7 terminology server (tx-dev.fhir.org/snomed).
#
# No SNOMED CT concept confirmed for (these rules read ICD-10-CM, the record's words or
# observations only):
#   - substance use disorder *in remission* (F1x.11, F1x.21, F1x.91): a SNOMED-coded use disorder
#     in remission is still noted through its clinical status "remission";
#   - suicidal ideation beyond 6471006 itself (no descendant could be confirmed);
#   - raised intracranial pressure other than hydrocephalus (G93.2 benign intracranial
#     hypertension, G93.6 cerebral oedema) and ocular hypertension without glaucoma (H40.0x);
#   - peripheral arteriovenous malformation (Q27.3x) and precerebral AVM (Q28.0-Q28.1);
#   - dissociative disorders other than 44376007 (amnesia, fugue, identity, depersonalisation);
#   - CRPS type I/II other than 128200000, postherpetic neuralgia, polyneuropathy (G62);
#   - bipolar II depression (F31.81 in ICD-10-CM, not an indication code of the spec);
#   - hepatic failure, alcoholic hepatitis, autoimmune hepatitis (sources disagreed on codes);
#   - ketamine allergy (read by RxNorm 6130 or by name, which covers a SNOMED display).
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

# Major depressive disorder, not psychotic, not in remission, not bipolar (F32.0-F32.2, F32.9,
# F33.0-F33.2, F33.8, F33.9, F53.0). VSAC 2.16.840.1.113883.3.526.3.1491 "Major Depressive
# Disorder Active", less its psychotic and partial-remission members.
SCT_MDD_CONCEPTS: tuple[str, ...] = (
    SCT_MAJOR_DEPRESSIVE_DISORDER,
    SCT_MAJOR_DEPRESSION_SINGLE_EPISODE,
    SCT_RECURRENT_MAJOR_DEPRESSION,
    "268621008",  # Recurrent major depressive episodes
    "14183003",  # Chronic major depressive disorder, single episode
    "2618002",  # Chronic recurrent major depressive disorder
    "87512008",  # Mild major depression
    "79298009",  # Mild major depression, single episode
    "40379007",  # Mild recurrent major depression
    "191610000",  # Recurrent major depressive episodes, mild
    "720455008",  # Minimal major depression
    "720454007",  # Minimal major depression single episode
    "720451004",  # Minimal recurrent major depression
    "832007",  # Moderate major depression
    "15639000",  # Moderate major depression, single episode
    "18818009",  # Moderate recurrent major depression
    "191611001",  # Recurrent major depressive episodes, moderate
    "719592004",  # Moderately severe major depression
    "720453001",  # Moderately severe major depression single episode
    "720452006",  # Moderately severe recurrent major depression
    "450714000",  # Severe major depression
    "251000119105",  # Severe major depression, single episode
    "281000119103",  # Severe recurrent major depression
    "75084000",  # Severe major depression without psychotic features
    "76441001",  # Severe major depression, single episode, without psychotic features
    "36474008",  # Severe recurrent major depression without psychotic features
    "320751009",  # Major depression, melancholic type
    "63778009",  # Major depressive disorder, single episode with melancholic features
    "319768000",  # Recurrent major depressive disorder with melancholic features
    "42925002",  # Major depressive disorder, single episode with atypical features
    "38694004",  # Recurrent major depressive disorder with atypical features
    "69392006",  # Major depressive disorder, single episode with catatonic features
    "39809009",  # Recurrent major depressive disorder with catatonic features
    "25922000",  # Major depressive disorder, single episode with postpartum onset
    "71336009",  # Recurrent major depressive disorder with postpartum onset
    "10811121000119102",  # Major depressive disorder in mother complicating childbirth
    "10811161000119107",  # Major depressive disorder in mother complicating pregnancy
    "16265951000119109",  # Mild MDD co-occurrent with anxiety single episode
    "16266831000119100",  # Moderate MDD co-occurrent with anxiety single episode
    "16266991000119108",  # Severe MDD co-occurrent with anxiety single episode
    "16264621000119109",  # Recurrent mild MDD co-occurrent with anxiety
    "16264901000119109",  # Recurrent moderate MDD co-occurrent with anxiety
    "16264821000119108",  # Recurrent severe MDD co-occurrent with anxiety
)
# Major depression with psychotic features (F32.3, F33.3): psychotic_disorder, not MDD.
# VSAC 2.16.840.1.113883.3.526.3.1491, its psychotic members.
SCT_PSYCHOTIC_DEPRESSION_CONCEPTS: tuple[str, ...] = (
    "726772006",  # Major depression with psychotic features
    "73867007",  # Severe major depression with psychotic features
    "33736005",  # ... with psychotic features, mood-congruent
    "60099002",  # ... with psychotic features, mood-incongruent
    "430852001",  # Severe major depression, single episode, with psychotic features
    "191604000",  # Single major depressive episode, severe, with psychosis
    "77911002",  # ... single episode, with psychotic features, mood-congruent
    "20250007",  # ... single episode, with psychotic features, mood-incongruent
    "28475009",  # Severe recurrent major depression with psychotic features
    "191613003",  # Recurrent major depressive episodes, severe, with psychosis
    "33078009",  # ... recurrent ... with psychotic features, mood-congruent
    "15193003",  # ... recurrent ... with psychotic features, mood-incongruent
)
# Bipolar disorder, current episode depressed, without psychotic features (F31.30-F31.32,
# F31.4). VSAC 2.16.840.1.113883.3.600.450 "Bipolar Diagnosis".
SCT_BIPOLAR_DEPRESSION_CONCEPTS: tuple[str, ...] = (
    "191627008",  # Bipolar affective disorder, current episode depression
    "191629006",  # Bipolar affective disorder, currently depressed, mild
    "191630001",  # Bipolar affective disorder, currently depressed, moderate
    "49468007",  # Depressed bipolar I disorder
    "74686005",  # Mild depressed bipolar I disorder
    "66631006",  # Moderate depressed bipolar I disorder
    "261000119107",  # Severe depressed bipolar I disorder
    "61403008",  # Severe depressed bipolar I disorder without psychotic features
    "51637008",  # Chronic bipolar I disorder, most recent episode depressed
    "29929003",  # Bipolar I disorder, most recent episode depressed with atypical features
    "75752004",  # ... most recent episode depressed with melancholic features
    "21900002",  # ... most recent episode depressed with catatonic features
    "87203005",  # ... most recent episode depressed with postpartum onset
)
# Manic, hypomanic or mixed episode without psychotic features (F30.0-F30.1x, F31.0, F31.1x,
# F31.60-F31.63). VSAC 2.16.840.1.113883.3.600.450 "Bipolar Diagnosis".
SCT_MANIA_CONCEPTS: tuple[str, ...] = (
    "191618007",  # Bipolar affective disorder, current episode manic
    "191620005",  # Bipolar affective disorder, currently manic, mild
    "191621009",  # Bipolar affective disorder, currently manic, moderate
    "68569003",  # Manic bipolar I disorder
    "71984005",  # Mild manic bipolar I disorder
    "82998009",  # Moderate manic bipolar I disorder
    "23741000119105",  # Severe manic bipolar I disorder
    "162004",  # Severe manic bipolar I disorder without psychotic features
    "17782008",  # Bipolar I disorder, most recent episode manic with catatonic features
    "55516002",  # Bipolar I disorder, most recent episode manic with postpartum onset
    "9340000",  # Bipolar I disorder, single manic episode
    "41552001",  # Mild bipolar I disorder, single manic episode
    "28884001",  # Moderate bipolar I disorder, single manic episode
    "14495005",  # Severe bipolar I disorder, single manic episode without psychotic features
    "1499003",  # Bipolar I disorder, single manic episode with postpartum onset
    "87950005",  # Bipolar I disorder, single manic episode with catatonic features
    "31446002",  # Bipolar I disorder, most recent episode hypomanic
    "48937005",  # Bipolar II disorder, most recent episode hypomanic
    "192362008",  # Bipolar affective disorder, current episode mixed
    "191636007",  # Mixed bipolar affective disorder
    "191638008",  # Mixed bipolar affective disorder, mild
    "191639000",  # Mixed bipolar affective disorder, moderate
    "16506000",  # Mixed bipolar I disorder
    "43769008",  # Mild mixed bipolar I disorder
    "40926005",  # Moderate mixed bipolar I disorder
    "271000119101",  # Severe mixed bipolar I disorder
    "46229002",  # Severe mixed bipolar I disorder without psychotic features
    "65042007",  # Bipolar I disorder, most recent episode mixed with postpartum onset
    "73471000",  # Bipolar I disorder, most recent episode mixed with catatonic features
)
# Manic or mixed episode with psychotic features that ICD-10-CM files under mania as well as
# psychosis (F30.2 is in F30.x, F31.64 in F31.6x): both sets. VSAC 2.16.840.1.113883.3.600.450.
SCT_PSYCHOTIC_MANIA_CONCEPTS: tuple[str, ...] = (
    "41832009",  # Severe bipolar I disorder, single manic episode with psychotic features
    "13581000",  # ... single manic episode with psychotic features, mood-congruent
    "86058007",  # ... single manic episode with psychotic features, mood-incongruent
    "10981006",  # Severe mixed bipolar I disorder with psychotic features
    "64731001",  # ... mixed ... with psychotic features, mood-congruent
    "10875004",  # ... mixed ... with psychotic features, mood-incongruent
    "191641004",  # Mixed bipolar affective disorder, severe, with psychosis
)
# Bipolar disorder with psychotic features filed under psychosis only (F31.2, F31.5; bipolar II
# with psychotic features, which is psychotic whatever its ICD-10-CM code).
# VSAC 2.16.840.1.113883.3.600.450.
SCT_PSYCHOTIC_BIPOLAR_CONCEPTS: tuple[str, ...] = (
    "191623007",  # Bipolar affective disorder, currently manic, severe, with psychosis
    "28663008",  # Severe manic bipolar I disorder with psychotic features
    "78640000",  # ... manic ... with psychotic features, mood-congruent
    "33380008",  # ... manic ... with psychotic features, mood-incongruent
    "59617007",  # Severe depressed bipolar I disorder with psychotic features
    "54761006",  # ... depressed ... with psychotic features, mood-congruent
    "26203008",  # ... depressed ... with psychotic features, mood-incongruent
    "30520009",  # Severe bipolar II disorder, MRE major depressive with psychotic features
    "19300006",  # ... bipolar II ... with psychotic features, mood-congruent
    "20960007",  # ... bipolar II ... with psychotic features, mood-incongruent
    "4441000",  # Severe bipolar disorder with psychotic features
    "70546001",  # Severe bipolar disorder with psychotic features, mood-congruent
    "26530004",  # Severe bipolar disorder with psychotic features, mood-incongruent
)
# Schizophrenia, schizophreniform, schizoaffective, brief and other psychotic disorders (F20,
# F23, F25, F28, F29). VSAC 2.16.840.1.113883.3.464.1003.105.12.1104 "Schizophrenia or Psychotic
# Disorder", less its latent and borderline schizophrenia, prodrome and schizotypal members
# (F21, not in the spec's list).
SCT_SCHIZOPHRENIA_SPECTRUM_CONCEPTS: tuple[str, ...] = (
    SCT_SCHIZOPHRENIA,
    SCT_SCHIZOAFFECTIVE_DISORDER,
    SCT_PSYCHOTIC_DISORDER,
    "191526005",  # Schizophrenic disorders
    "83746006",  # Chronic schizophrenia
    "16990005",  # Subchronic schizophrenia
    "111482003",  # Subchronic schizophrenia with acute exacerbations
    "191530008",  # Acute exacerbation of subchronic schizophrenia
    "191531007",  # Acute exacerbation of chronic schizophrenia
    "268617001",  # Acute schizophrenic episode
    "416340002",  # Late onset schizophrenia
    "4926007",  # Schizophrenia in remission
    "191527001",  # Simple schizophrenia
    "191577003",  # Cenesthopathic schizophrenia
    "64905009",  # Paranoid schizophrenia
    "31658008",  # Chronic paranoid schizophrenia
    "79866005",  # Subchronic paranoid schizophrenia
    "191554003",  # Acute exacerbation of subchronic paranoid schizophrenia
    "191555002",  # Acute exacerbation of chronic paranoid schizophrenia
    "63181006",  # Paranoid schizophrenia in remission
    "35252006",  # Disorganized schizophrenia
    "12939007",  # Chronic disorganized schizophrenia
    "27387000",  # Subchronic disorganized schizophrenia
    "14291003",  # Subchronic disorganized schizophrenia with acute exacerbations
    "35218008",  # Chronic disorganized schizophrenia with acute exacerbation
    "31373002",  # Disorganized schizophrenia in remission
    "191536002",  # Subchronic hebephrenic schizophrenia
    "191537006",  # Chronic hebephrenic schizophrenia
    "191538001",  # Acute exacerbation of subchronic hebephrenic schizophrenia
    "191539009",  # Acute exacerbation of chronic hebephrenic schizophrenia
    "191540006",  # Hebephrenic schizophrenia in remission
    "191542003",  # Catatonic schizophrenia
    "68995007",  # Chronic catatonic schizophrenia
    "42868002",  # Subchronic catatonic schizophrenia
    "191547009",  # Acute exacerbation of subchronic catatonic schizophrenia
    "191548004",  # Acute exacerbation of chronic catatonic schizophrenia
    "111483008",  # Catatonic schizophrenia in remission
    "111484002",  # Undifferentiated schizophrenia
    "29599000",  # Chronic undifferentiated schizophrenia
    "85861002",  # Subchronic undifferentiated schizophrenia
    "7025000",  # Subchronic undifferentiated schizophrenia with acute exacerbations
    "79204003",  # Chronic undifferentiated schizophrenia with acute exacerbations
    "39610001",  # Undifferentiated schizophrenia in remission
    "26025008",  # Residual schizophrenia
    "71103003",  # Chronic residual schizophrenia
    "76566000",  # Subchronic residual schizophrenia
    "30336007",  # Chronic residual schizophrenia with acute exacerbations
    "70814008",  # Subchronic residual schizophrenia with acute exacerbations
    "51133006",  # Residual schizophrenia in remission
    "88975006",  # Schizophreniform disorder
    "36158005",  # Schizophreniform disorder with good prognostic features
    "55736003",  # Schizophreniform disorder without good prognostic features
    "38368003",  # Schizoaffective disorder, bipolar type
    "84760002",  # Schizoaffective disorder, depressive type
    "270901009",  # Schizoaffective disorder, mixed type
    "271428004",  # Schizoaffective disorder, manic type
    "191567000",  # Schizoaffective schizophrenia
    "191569002",  # Subchronic schizoaffective schizophrenia
    "191570001",  # Chronic schizoaffective schizophrenia
    "191571002",  # Acute exacerbation of subchronic schizoaffective schizophrenia
    "191572009",  # Acute exacerbation of chronic schizoaffective schizophrenia
    "191574005",  # Schizoaffective schizophrenia in remission
    "5464005",  # Brief reactive psychosis
    "231489001",  # Acute transient psychotic disorder
    "278853003",  # Acute schizophrenia-like psychotic disorder
    "231437006",  # Reactive psychoses
    "191680007",  # Psychogenic paranoid psychosis
    "268624000",  # Acute paranoid reaction
)
# Substance-induced psychotic disorder (F1x.x5x), which ICD-10-CM also files under the
# substance's use disorder (F10-F16, F19): both sets.
# VSAC 2.16.840.1.113883.3.464.1003.106.12.1001 "Alcohol and Drug Dependence".
SCT_SUBSTANCE_PSYCHOSIS_CONCEPTS: tuple[str, ...] = (
    "42344001",  # Alcohol-induced psychosis
    "61144001",  # Alcohol-induced psychotic disorder with delusions
    "7052005",  # Alcohol hallucinosis
    "723927004",  # Psychotic disorder caused by alcohol with schizophreniform symptoms
    "723936000",  # Psychotic disorder caused by cannabis
    "63649001",  # Cannabis delusional disorder
    "724655005",  # Psychotic disorder caused by opioid
    "724689006",  # Psychotic disorder caused by cocaine
    "6348008",  # Cocaine-induced psychotic disorder with hallucinations
    "30491001",  # Cocaine delusional disorder
    "735750005",  # Psychotic disorder with schizophreniform symptoms caused by cocaine
    "51443000",  # Amphetamine-induced psychotic disorder with hallucinations
    "32358001",  # Amphetamine delusional disorder
    "762325009",  # Psychotic disorder caused by stimulant
    "762326005",  # Psychotic disorder with hallucinations caused by stimulant
    "762327001",  # Psychotic disorder with delusions caused by stimulant
    "724706006",  # Psychotic disorder caused by methylenedioxymethamphetamine
    "724696008",  # Psychotic disorder caused by hallucinogen
    "50933003",  # Hallucinogen delusional disorder
    "288461000119105",  # Psychosis caused by inhalant
    "63983005",  # Inhalant-induced psychotic disorder with hallucinations
    "75122001",  # Inhalant-induced psychotic disorder with delusions
    "724702008",  # Psychotic disorder caused by volatile inhalant
    "47664006",  # Sedative/hypnotic/anxiolytic-induced psychotic disorder with hallucinations
    "724675001",  # Psychotic disorder caused by anxiolytic
)
# Use disorders of alcohol, opioids, cannabis, sedatives, cocaine, stimulants, hallucinogens,
# inhalants (F10-F16, F18, F19); never nicotine (F17).
# VSAC 2.16.840.1.113883.3.464.1003.106.12.1001 "Alcohol and Drug Dependence".
SCT_SUBSTANCE_USE_CONCEPTS: tuple[str, ...] = (
    SCT_ALCOHOLISM,
    "66590003",  # Alcohol dependence
    "713583005",  # Mild alcohol dependence
    "714829008",  # Moderate alcohol dependence
    "713862009",  # Severe alcohol dependence
    "15167005",  # Harmful pattern of use of alcohol (alcohol abuse); public SQL code list
    "5602001",  # Opioid abuse
    "75544000",  # Opioid dependence
    "724653003",  # Opioid dependence with current use
    "426001001",  # Fentanyl dependence
    "703845008",  # Buprenorphine dependence
    "37344009",  # Cannabis abuse
    "85005007",  # Cannabis dependence
    "723933008",  # Cannabis dependence with current use
    "64386003",  # Sedative abuse
    "427327003",  # Sedative dependence
    "724656006",  # Hypnotic dependence
    "78267003",  # Cocaine abuse
    "31956009",  # Cocaine dependence
    "724688003",  # Cocaine dependence with current use
    "84758004",  # Amphetamine abuse
    "838527002",  # Amfetamine and amfetamine derivative drug dependence
    "699449003",  # Methamphetamine abuse
    "426873000",  # Methamphetamine dependence
    "441527004",  # Stimulant abuse
    "442406005",  # Stimulant dependence
    "74851005",  # Hallucinogen abuse
    "38247002",  # Hallucinogen dependence
    "724695007",  # Hallucinogen dependence with current use
    "7071007",  # Phencyclidine abuse
    "70340006",  # Inhalant abuse
    "5002000",  # Inhalant dependence
)
# Post-traumatic stress disorder (F43.10-F43.12): 47505003 in public SNOMED concept lists
# (several), 313182004 "Chronic post-traumatic stress disorder" in two public code lists.
SCT_PTSD_CONCEPTS: tuple[str, ...] = (SCT_PTSD, "313182004")
# Generalised anxiety (F41.1) and panic disorder (F41.0); not 197480006 "Anxiety disorder"
# (F41.9). Public SNOMED concept lists (several repositories agree).
SCT_ANXIETY_CONCEPTS: tuple[str, ...] = (SCT_GENERALIZED_ANXIETY_DISORDER, SCT_PANIC_DISORDER)
# Complex regional pain syndrome: Belgian eHealth value set be-vs-diagnostic-imaging-indication.
SCT_CRPS_CONCEPTS: tuple[str, ...] = ("128200000",)
# Neuropathic pain: 247398009 "Neuropathic pain (finding)" (several public concept lists; M79.2
# neuralgia), 31681005 "Trigeminal neuralgia" (Gravitate Health FHIR examples; G50.0),
# 368581000119106 "Neuropathy due to type 2 diabetes mellitus" (Synthea; E11.40).
SCT_NEUROPATHIC_PAIN_CONCEPTS: tuple[str, ...] = ("247398009", "31681005", "368581000119106")
# 706882009 "Hypertensive crisis (disorder)": Thai core FHIR IG examples (I16.x).
SCT_HYPERTENSIVE_CRISIS_CONCEPTS: tuple[str, ...] = ("706882009",)
# Myocardial infarction, acute or recent (I21, I22).
# VSAC 2.16.840.1.113883.3.526.3.403 "Myocardial Infarction", less its old/past and silent
# members (those are I25.2, heart_disease_history).
SCT_MI_CONCEPTS: tuple[str, ...] = (
    SCT_MYOCARDIAL_INFARCTION,
    "57054005",  # Acute myocardial infarction
    "401303003",  # Acute ST segment elevation myocardial infarction
    "401314000",  # Acute non-ST segment elevation myocardial infarction
    "304914007",  # Acute Q wave myocardial infarction
    "307140009",  # Acute non-Q wave infarction
    "314207007",  # Non-Q wave myocardial infarction
    "394710008",  # First myocardial infarction
    "194856005",  # Subsequent myocardial infarction
    "428752002",  # Recent myocardial infarction
    "418044006",  # Myocardial infarction in recovery phase
    "371068009",  # Myocardial infarction with complication
    "129574000",  # Postoperative myocardial infarction
    "70422006",  # Acute subendocardial infarction
    "54329005",  # Acute myocardial infarction of anterior wall
    "52035003",  # Acute anteroapical myocardial infarction
    "62695002",  # Acute anteroseptal myocardial infarction
    "70211005",  # Acute myocardial infarction of anterolateral wall
    "73795002",  # Acute myocardial infarction of inferior wall
    "65547006",  # Acute myocardial infarction of inferolateral wall
    "58612006",  # Acute myocardial infarction of lateral wall
    "15990001",  # Acute myocardial infarction of posterolateral wall
    "233838001",  # Acute posterior myocardial infarction
    "194802003",  # True posterior myocardial infarction
    "79009004",  # Acute myocardial infarction of septum
    "233835003",  # Acute widespread myocardial infarction
    "194809007",  # Acute atrial infarction
    "10273003",  # Acute infarction of papillary muscle
    "30277009",  # Rupture of ventricle due to acute myocardial infarction
    "42531007",  # Microinfarct of heart
    "428196007",  # Mixed myocardial ischemia and infarction
)
# Old myocardial infarction (I25.2): history only. 1755008 "Old myocardial infarction" and
# 233843008 "Silent myocardial infarction" (public code lists), 32574007 "Past myocardial
# infarction diagnosed on ECG ..." (VSAC 2.16.840.1.113883.3.526.3.403), 399211009 "History of
# myocardial infarction (situation)" (Synthea; mapped to I25.2 in a public crosswalk).
SCT_OLD_MI_CONCEPTS: tuple[str, ...] = ("1755008", "233843008", "32574007", "399211009")
# Other heart disease (rest of I20-I25, I48, I50): 414545008 ischaemic heart disease (public
# SNOMED->ICD-10 crosswalk, I25.9), 49436004 atrial fibrillation and 84114007 heart failure
# (public concept lists), 88805009 "Chronic congestive heart failure" (Synthea), 42343007
# "Congestive heart failure" (public concept list).
SCT_OTHER_HEART_DISEASE_CONCEPTS: tuple[str, ...] = (
    SCT_ISCHEMIC_HEART_DISEASE,
    SCT_ATRIAL_FIBRILLATION,
    SCT_HEART_FAILURE,
    "88805009",
    "42343007",
)
# Breastfeeding (Z39.1): 169750002 "Mother currently breast-feeding" (NHS alert list, FHIR
# ConceptMap), 413712001 "Breastfeeding (mother) (finding)" (Medizininformatik-Initiative
# examples).
SCT_BREASTFEEDING_CONCEPTS: tuple[str, ...] = ("169750002", "413712001")
# Aneurysm (I71, I72, I67.1): 67362008 aortic aneurysm and 233985008 abdominal aortic aneurysm
# (several public code lists), 128609009 "Intracranial aneurysm" (stroke registry FHIR IG,
# hemorrhagic-stroke bleeding reason value set).
SCT_ANEURYSM_CONCEPTS: tuple[str, ...] = ("67362008", "233985008", "128609009")
# Arteriovenous malformation of cerebral vessels (Q28.2-Q28.3): 703221003 "Congenital
# intracranial vascular malformation" (same stroke registry value set).
SCT_AVM_CONCEPTS: tuple[str, ...] = ("703221003",)
# Non-traumatic intracranial haemorrhage (I60-I62). VSAC 2.16.840.1.113883.3.117.1.7.1.212
# "Hemorrhagic Stroke", less its haemorrhagic *infarction* members (I63).
SCT_INTRACRANIAL_HEMORRHAGE_CONCEPTS: tuple[str, ...] = (
    "274100004",  # Cerebral hemorrhage
    "449020009",  # Intraparenchymal hemorrhage of brain
    "73020009",  # Cerebral hemisphere hemorrhage
    "20908003",  # Subcortical cerebral hemorrhage
    "49422009",  # Cortical hemorrhage
    "230710000",  # Lobar cerebral hemorrhage
    "230709005",  # Massive supratentorial cerebral hemorrhage
    "195165005",  # Basal ganglia hemorrhage
    "195167002",  # External capsule hemorrhage
    "52201006",  # Internal capsule hemorrhage
    "230711001",  # Thalamic hemorrhage
    "230712008",  # Lacunar hemorrhage
    "95454007",  # Brain stem hemorrhage
    "7713009",  # Intrapontine hemorrhage
    "75038005",  # Cerebellar hemorrhage
    "276722003",  # Intracerebellar and posterior fossa hemorrhage
    "23276006",  # Ventricular hemorrhage
    "425957003",  # Non-traumatic intracerebral ventricular hemorrhage
    "195168007",  # Intracerebral hemorrhage with intraventricular hemorrhage
    "195169004",  # Intracerebral hemorrhage, multiple localized
    "28318001",  # Basilar hemorrhage
    "42429001",  # Cerebromeningeal hemorrhage
    "270907008",  # Spontaneous intracranial subarachnoid hemorrhage
    "195155004",  # Subarachnoid hemorrhage from carotid siphon and bifurcation
    "195160000",  # Intracranial subarachnoid hemorrhage from vertebral artery
    "276277008",  # Subarachnoid hemorrhage from multiple aneurysms
    "276278003",  # ... from anterior cerebral artery aneurysm
    "276280009",  # ... from middle cerebral artery aneurysm
    "276281008",  # ... from posterior cerebral artery aneurysm
    "276282001",  # ... from anterior communicating artery aneurysm
    "276283006",  # ... from posterior communicating artery aneurysm
    "276284000",  # ... from basilar artery aneurysm
    "276285004",  # ... from posterior inferior cerebellar artery aneurysm
    "276286003",  # ... from carotid artery aneurysm
)
# Glaucoma (H40.x): VSAC 2.16.840.1.113883.3.526.3.1423 "Glaucoma", its common members (not
# congenital glaucoma, which is Q15.0). Hydrocephalus (G91.x): 230745008 (stroke registry IG).
SCT_RAISED_PRESSURE_CONCEPTS: tuple[str, ...] = (
    SCT_GLAUCOMA,
    "84494001",  # Open-angle glaucoma
    "77075001",  # Primary open angle glaucoma
    "787051000",  # Open-angle glaucoma of left eye
    "787052007",  # Open-angle glaucoma of right eye
    "50485007",  # Low tension glaucoma
    "46168003",  # Pigmentary glaucoma
    "392291006",  # Angle-closure glaucoma
    "392288006",  # Primary angle-closure glaucoma
    "30041005",  # Acute angle-closure glaucoma
    "95717004",  # Secondary glaucoma
    "21928008",  # Secondary open-angle glaucoma
    "21571006",  # Secondary angle-closure glaucoma
    "1654001",  # Corticosteroid-induced glaucoma
    "232086000",  # Neovascular glaucoma
    "230745008",  # Hydrocephalus
)
# Liver disease of K70.1-K74: 19943007 "Cirrhosis of liver" (several public lists), 716203000
# "Decompensated cirrhosis of liver" (hepatitis FHIR IG example), 420054005 "Alcoholic cirrhosis"
# (public SQL code list). Not 197321007 steatosis (K76.0) nor viral hepatitis (B18).
SCT_HEPATIC_CONCEPTS: tuple[str, ...] = ("19943007", "716203000", "420054005")
# Kidney disease of N17, N18.3-N18.6, N19: CKD stage 3/4/5 and end-stage renal disease (Synthea
# and the German GECCO/num-codex code lists), 14669001 "Acute renal failure syndrome" (GECCO
# FHIR IG). Not CKD stages 1-2 (431855005, 431856006: N18.1-N18.2).
SCT_RENAL_CONCEPTS: tuple[str, ...] = (
    "433144002",  # Chronic kidney disease stage 3
    "431857002",  # Chronic kidney disease stage 4
    "433146000",  # Chronic kidney disease stage 5
    "46177005",  # End-stage renal disease
    "14669001",  # Acute renal failure syndrome
)
# Hyperthyroidism (E05): 34486009 (public value sets), 353295004 "Graves' disease" (public
# concept list).
SCT_HYPERTHYROIDISM_CONCEPTS: tuple[str, ...] = (SCT_HYPERTHYROIDISM, "353295004")
# Dissociative disorder (F44.9): 44376007 "Dissociative disorder" (NHS ECDS code lists).
SCT_DISSOCIATIVE_CONCEPTS: tuple[str, ...] = ("44376007",)
# Personality disorder (F60): 33449004 "Personality disorder" (NHS ECDS code lists); borderline,
# emotionally unstable and histrionic personality disorder from
# VSAC 2.16.840.1.113883.3.67.1.101.1.246 "Personality Disorder Emotionally Labile".
SCT_PERSONALITY_DISORDER_CONCEPTS: tuple[str, ...] = (
    "33449004",  # Personality disorder
    "20010003",  # Borderline personality disorder
    "191765005",  # Emotionally unstable personality disorder
    "55341008",  # Histrionic personality disorder
)

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
    snomed=SCT_MDD_CONCEPTS,
    source=_IND,
)
BIPOLAR_DEPRESSION = _set(
    "bipolar disorder, current episode depressed",
    ["F31.30-F31.32", "F31.4"],
    snomed=SCT_BIPOLAR_DEPRESSION_CONCEPTS,
    source=_IND,
)
PTSD = _set(
    "post-traumatic stress disorder", ["F43.10-F43.12"], snomed=SCT_PTSD_CONCEPTS, source=_IND
)
ANXIETY = _set(
    "generalised anxiety or panic disorder",
    ["F41.1", "F41.0"],
    snomed=SCT_ANXIETY_CONCEPTS,
    source=_IND,
)
CRPS = _set(
    "complex regional pain syndrome",
    ["G90.50-G90.59", "G56.4x", "G57.7x"],
    snomed=SCT_CRPS_CONCEPTS,
    source=_IND,
)
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
    snomed=SCT_NEUROPATHIC_PAIN_CONCEPTS,
    source=_IND,
)
FIBROMYALGIA = _set("fibromyalgia", ["M79.7"], snomed=[SCT_FIBROMYALGIA], source=_IND)

# --- Contraindications (one per row of the spec's table) -------------------------------------
_CI = f"{SPEC}, Contraindications"
HYPERTENSIVE_CRISIS = _set(
    "hypertensive crisis", ["I16.x"], snomed=SCT_HYPERTENSIVE_CRISIS_CONCEPTS, source=_CI
)
HYPERTENSION = _set(
    "hypertension",
    ["I10-I15"],
    snomed=[SCT_HYPERTENSIVE_DISORDER, SCT_ESSENTIAL_HYPERTENSION],
    source=_CI,
)
MYOCARDIAL_INFARCTION = _set(
    "myocardial infarction", ["I21.x", "I22.x"], snomed=SCT_MI_CONCEPTS, source=_CI
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
# I20-I25 holds the infarction, angina and coronary codes above too: the rule reports as history
# those records that did not make one of the absolute findings (an infarction out of the window).
HEART_DISEASE = _set(
    "heart disease",
    ["I20-I25", "I05-I09", "I34-I37", "I42", "I44-I45", "I47", "I48", "I49", "I50"],
    except_=["I49.1", "I49.3"],
    snomed=[
        *SCT_MI_CONCEPTS,
        *SCT_OLD_MI_CONCEPTS,
        SCT_PREINFARCTION_SYNDROME,
        SCT_CORONARY_ARTERIOSCLEROSIS,
        *SCT_OTHER_HEART_DISEASE_CONCEPTS,
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
    snomed=[
        *SCT_SCHIZOPHRENIA_SPECTRUM_CONCEPTS,
        *SCT_PSYCHOTIC_DEPRESSION_CONCEPTS,
        *SCT_PSYCHOTIC_MANIA_CONCEPTS,
        *SCT_PSYCHOTIC_BIPOLAR_CONCEPTS,
        *SCT_SUBSTANCE_PSYCHOSIS_CONCEPTS,
    ],
    source=_CI,
)
PREGNANCY = _set(
    "pregnancy",
    ["Z33.1", "Z34.x", "O09-O48"],
    snomed=[SCT_NORMAL_PREGNANCY, SCT_PREGNANT],
    source=_CI,
)
BREASTFEEDING = _set("breastfeeding", ["Z39.1"], snomed=SCT_BREASTFEEDING_CONCEPTS, source=_CI)
ANEURYSMAL_VASCULAR_DISEASE = _set(
    "aneurysmal vascular disease",
    ["I71.x", "I72.x", "I67.1"],
    snomed=SCT_ANEURYSM_CONCEPTS,
    source=_CI,
)
ARTERIOVENOUS_MALFORMATION = _set(
    "arteriovenous malformation", ["Q28.0-Q28.3", "Q27.3x"], snomed=SCT_AVM_CONCEPTS, source=_CI
)
INTRACEREBRAL_HEMORRHAGE = _set(
    "intracranial haemorrhage",
    ["I60-I62", "I69.0x-I69.2x"],
    snomed=SCT_INTRACRANIAL_HEMORRHAGE_CONCEPTS,
    source=_CI,
)
RAISED_INTRACRANIAL_OR_INTRAOCULAR_PRESSURE = _set(
    "raised intracranial or intraocular pressure",
    ["H40.x", "G91.x", "G93.2", "G93.6"],
    snomed=SCT_RAISED_PRESSURE_CONCEPTS,
    source=_CI,
)
HEPATIC_IMPAIRMENT = _set(
    "liver disease",
    ["K70.1-K70.9", "K71-K74", "K75"],
    except_=["K75.81"],
    snomed=SCT_HEPATIC_CONCEPTS,
    source=_CI,
)
RENAL_IMPAIRMENT = _set(
    "kidney disease", ["N17.x", "N18.3x-N18.6", "N19"], snomed=SCT_RENAL_CONCEPTS, source=_CI
)
HYPERTHYROIDISM = _set(
    "hyperthyroidism", ["E05.x"], snomed=SCT_HYPERTHYROIDISM_CONCEPTS, source=_CI
)
# F17 (nicotine) is left out on purpose: the spec says "not F17".
SUBSTANCE_USE_DISORDER = _set(
    "substance use disorder",
    ["F10-F16", "F18", "F19"],
    snomed=[*SCT_SUBSTANCE_USE_CONCEPTS, *SCT_SUBSTANCE_PSYCHOSIS_CONCEPTS],
    source=_CI,
)
# No SNOMED CT "in remission" concept was confirmed: a SNOMED-coded use disorder in remission is
# noted through its clinical status instead.
SUBSTANCE_USE_IN_REMISSION = _set(
    "substance use disorder in remission",
    ["F1x.11", "F1x.21", "F1x.91"],
    except_=["F17"],
    source=_CI,
)
CURRENT_MANIA = _set(
    "mania",
    ["F30.x", "F31.0", "F31.1x", "F31.6x"],
    snomed=[*SCT_MANIA_CONCEPTS, *SCT_PSYCHOTIC_MANIA_CONCEPTS],
    source=_CI,
)
SUICIDAL_IDEATION = _set(
    "suicidal ideation", ["R45.851"], snomed=[SCT_SUICIDAL_IDEATION], source=_CI
)
DISSOCIATIVE_DISORDER = _set(
    "dissociative disorder",
    ["F44.0-F44.3", "F44.8x", "F44.9", "F48.1"],
    snomed=SCT_DISSOCIATIVE_CONCEPTS,
    source=_CI,
)
SEVERE_PERSONALITY_DISORDER = _set(
    "personality disorder", ["F60.x"], snomed=SCT_PERSONALITY_DISORDER_CONCEPTS, source=_CI
)

# --- Workup -----------------------------------------------------------------------------------
# A psychiatric diagnosis (baseline rating scale): the whole F chapter of ICD-10-CM ("Mental,
# behavioural and neurodevelopmental disorders"), and the psychiatric SNOMED CT concepts above.
PSYCHIATRIC_ICD10_PREFIXES: tuple[str, ...] = ("F",)
PSYCHIATRIC = _set(
    "psychiatric diagnosis",
    PSYCHIATRIC_ICD10_PREFIXES,
    snomed=sorted(
        MDD.snomed
        | BIPOLAR_DEPRESSION.snomed
        | PTSD.snomed
        | ANXIETY.snomed
        | PSYCHOTIC_DISORDER.snomed
        | SUBSTANCE_USE_DISORDER.snomed
        | CURRENT_MANIA.snomed
        | DISSOCIATIVE_DISORDER.snomed
        | SEVERE_PERSONALITY_DISORDER.snomed
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


# --- A record's conditions by value set ------------------------------------------------------
# A screening asks of every condition whether it is in some thirty sets, and a population repeats
# the same few hundred codings. Matching every condition against every set, rule by rule, was the
# largest part of screening (bench/cohort.py profile, issue 8). So the sets that hold a list of
# codings are worked out once per distinct list (kept, bounded), and a record's conditions are
# grouped by set once, so that each rule is one look-up. Only sets read by code alone are grouped:
# a set that also reads phrases depends on the text, and is matched as before.
CODED_SETS: tuple[ValueSet, ...] = tuple(vs for vs in _VALUE_SETS if not vs.words)
_CODED_BY_NAME: dict[str, ValueSet] = {vs.name: vs for vs in CODED_SETS}
if len(_CODED_BY_NAME) != len(CODED_SETS):
    raise ValueError("value sets read by code must have distinct names")


@lru_cache(maxsize=16384)
def _sets_holding(key: tuple[tuple[str, str], ...]) -> frozenset[str]:
    codings = [Coding(system, code) for system, code in key]
    return frozenset(vs.name for vs in CODED_SETS if any(vs.has(c) for c in codings))


def sets_holding(codings: Sequence[Coding]) -> frozenset[str]:
    """Names of the sets of ``CODED_SETS`` that hold any of ``codings`` (as ``matches`` says).

    Keyed by (system, code) alone, which is all that ``ValueSet.has`` reads.
    """
    if len(codings) == 1:  # the usual case, without building a list first
        return _sets_holding(((codings[0].system, codings[0].code),))
    return _sets_holding(tuple([(c.system, c.code) for c in codings]))


def coded_names(*value_sets: ValueSet) -> frozenset[str]:
    """The names of ``value_sets``, each of which must be one of ``CODED_SETS`` (checked), for
    testing ``ConditionsBySet.held`` in one step."""
    for vs in value_sets:
        if _CODED_BY_NAME.get(vs.name) is not vs:
            raise ValueError(f"{vs.name!r} is not a value set read by code alone")
    return frozenset(vs.name for vs in value_sets)


class ConditionsBySet:
    """One record's conditions grouped by the value sets that hold them, in the record's order."""

    def __init__(self, conditions: Iterable[Condition]) -> None:
        self._conditions = tuple(conditions)
        self._by_name: dict[str, list[Condition]] = {}
        for c in self._conditions:
            for name in sets_holding(c.codings):
                self._by_name.setdefault(name, []).append(c)
        # Names of the sets of CODED_SETS that hold at least one condition: a rule whose sets are
        # not among them (``coded_names``) can stop at once, as most rules do for most records.
        self.held = frozenset(self._by_name)

    def matching(
        self, value_set: ValueSet, *, active_on: date | None = None
    ) -> Sequence[Condition]:
        """The conditions ``matches(value_set, c.codings, c.text)`` holds for, in order; only
        those active on ``active_on`` (``view.is_active``) when it is given."""
        if _CODED_BY_NAME.get(value_set.name) is value_set:
            found: Sequence[Condition] = self._by_name.get(value_set.name, ())
        else:
            found = [c for c in self._conditions if matches(value_set, c.codings, c.text)]
        if not found or active_on is None:
            return found
        return [c for c in found if is_active(c, active_on)]


class _LastGrouped:
    """The conditions last grouped and their grouping, as one pair (see ``grouped``)."""

    pair: tuple[tuple[Condition, ...], ConditionsBySet] | None = None


_LAST_GROUPED = _LastGrouped()


def grouped(conditions: tuple[Condition, ...]) -> ConditionsBySet:
    """``conditions`` grouped by value set: the same object again for the same tuple.

    A screening groups one record's conditions for its indications and again for its
    contraindications, and the as-of view hands both the same tuple, so the second grouping is
    the first one (issue 8). Only the last pair is kept; it holds the tuple, so that identity is
    never reused while it is compared, and it is replaced in one assignment, so another thread
    sees the old pair or the new one, never half of each.
    """
    pair = _LAST_GROUPED.pair
    if pair is not None and pair[0] is conditions:
        return pair[1]
    found = ConditionsBySet(conditions)
    _LAST_GROUPED.pair = (conditions, found)
    return found


def first_label(codings: Sequence[Coding], text: str | None = None) -> str:
    """A short name for a coded record in a message: "F33.2 (Major depression...)"."""
    for c in codings:
        if c.system in (ICD10, SNOMED):
            shown = c.display or text
            prefix = "ICD-10-CM" if c.system == ICD10 else "SNOMED CT"
            return f"{prefix} {c.code}" + (f" ({shown})" if shown else "")
    named = text or next((c.display for c in codings if c.display), None)
    return named or (codings[0].code if codings else "unnamed record")
