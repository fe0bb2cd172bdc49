"""Every rule that reads a diagnosis or a procedure, triggered by a SNOMED CT-coded record.

Each case sits next to its ICD-10-CM (or CPT) twin, and both must give the same findings, written
by hand from spec/screening.md. Screening date 2026-11-01. SNOMED CT concepts and where each was
confirmed are listed in ketaclinic.clinical.codes.

Rules with no SNOMED CT case here, and why:
- elevated_blood_pressure, under_18, and the laboratory halves of hepatic_impairment,
  renal_impairment and untreated_hyperthyroidism read LOINC observations or the birth date only;
- ketamine_allergy reads RxNorm 6130 or the allergy's name (a SNOMED display naming ketamine is
  read as a name); no SNOMED CT ketamine-allergy concept was confirmed;
- substance use disorder *in remission* by code: no SNOMED CT "in remission" concept was confirmed,
  so the SNOMED case is a use disorder with clinical status "remission".
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from ketaclinic.clinical import codes
from ketaclinic.clinical.contraindications import contraindications
from ketaclinic.clinical.facts import (
    CPT,
    ICD10,
    SNOMED,
    Coding,
    Component,
    Condition,
    Medication,
    Moment,
    Observation,
    Patient,
    Procedure,
    Record,
)
from ketaclinic.clinical.findings import Route, Screening
from ketaclinic.clinical.screening import screen
from ketaclinic.policy import DEFAULT

AS_OF = date(2026, 11, 1)
PATIENT = Patient("Patient/p", date(1980, 5, 5), "female")
# A normal, recent blood pressure so that the blood-pressure rules stay quiet.
CALM = Observation(
    "Observation/calm",
    ("85354-9",),
    Moment(AS_OF - timedelta(days=5), datetime(2026, 10, 27, 9)),
    components=(Component("8480-6", 120), Component("8462-4", 80)),
)


def condition(system: str, code: str, *, ref: str = "Condition/1", **kw: Any) -> Condition:
    return Condition(ref, (Coding(system, code),), **kw)


def record(
    *conditions: Condition,
    medications: tuple[Medication, ...] = (),
    procedures: tuple[Procedure, ...] = (),
) -> Record:
    return Record(
        PATIENT,
        conditions=conditions,
        medications=medications,
        observations=(CALM,),
        procedures=procedures,
    )


def found(rec: Record, route: Route = "iv") -> set[tuple[str, str]]:
    return {(f.id, f.kind) for f in contraindications(rec, AS_OF, route, DEFAULT)}


# --- Contraindications: one SNOMED CT case per rule, beside its ICD-10-CM twin ----------------

ABS = "absolute"
REL = "relative"
RECENT: dict[str, Any] = {"onset": date(2026, 9, 1)}
# (SNOMED CT concept, ICD-10-CM twin, condition fields, route, expected (id, kind) pairs)
CONTRAINDICATION_CASES = [
    # Hypertensive crisis -> uncontrolled hypertension, whatever the readings.
    ("706882009", "I16.1", {}, "iv", {("uncontrolled_hypertension", ABS)}),
    ("38341003", "I10", {}, "iv", {("untreated_hypertension", REL)}),
    ("401303003", "I21.3", RECENT, "iv", {("recent_myocardial_infarction", ABS)}),
    ("401314000", "I21.4", RECENT, "iv", {("recent_myocardial_infarction", ABS)}),
    ("194856005", "I22.9", RECENT, "iv", {("recent_myocardial_infarction", ABS)}),
    ("4557003", "I20.0", {}, "iv", {("unstable_angina", ABS)}),
    ("53741008", "I25.10", {"severe": True}, "iv", {("severe_coronary_artery_disease", ABS)}),
    # An old infarction is history even with a recent onset date (I25.2 is not I21).
    ("1755008", "I25.2", RECENT, "iv", {("heart_disease_history", REL)}),
    ("399211009", "I25.2", RECENT, "iv", {("heart_disease_history", REL)}),
    ("88805009", "I50.22", {}, "iv", {("heart_disease_history", REL)}),
    ("49436004", "I48.91", {}, "iv", {("heart_disease_history", REL)}),
    # Psychotic depression is a psychotic disorder (and gives no MDD-based finding here).
    ("430852001", "F32.3", {}, "iv", {("psychotic_disorder", ABS)}),
    ("28475009", "F33.3", {}, "iv", {("psychotic_disorder", ABS)}),
    ("64905009", "F20.0", {}, "iv", {("psychotic_disorder", ABS)}),
    ("84760002", "F25.1", {}, "iv", {("psychotic_disorder", ABS)}),
    ("59617007", "F31.5", {}, "iv", {("psychotic_disorder", ABS)}),
    ("28663008", "F31.2", {}, "iv", {("psychotic_disorder", ABS)}),
    # F30.2 is in F30.x and F31.64 in F31.6x: psychotic and current mania both.
    ("41832009", "F30.2", {}, "iv", {("psychotic_disorder", ABS), ("current_mania", REL)}),
    ("10981006", "F31.64", {}, "iv", {("psychotic_disorder", ABS), ("current_mania", REL)}),
    # F12.959 is in F1x.x5x and in F10-F16: psychotic and substance use disorder both.
    (
        "723936000",
        "F12.959",
        {},
        "iv",
        {("psychotic_disorder", ABS), ("substance_use_disorder", REL)},
    ),
    # A psychotic disorder is "any record": a resolved one still counts.
    (
        "58214004",
        "F20.9",
        {"clinical_status": "resolved", "abatement": date(2015, 1, 1)},
        "iv",
        {("psychotic_disorder", ABS)},
    ),
    ("72892002", "Z34.90", {}, "iv", {("pregnancy", ABS)}),
    ("169750002", "Z39.1", {}, "iv", {("breastfeeding", ABS)}),
    ("413712001", "Z39.1", {}, "iv", {("breastfeeding", ABS)}),
    ("233985008", "I71.4", {}, "esketamine", {("aneurysmal_vascular_disease", ABS)}),
    ("128609009", "I67.1", {}, "iv", {("aneurysmal_vascular_disease", REL)}),
    ("703221003", "Q28.2", {}, "esketamine", {("arteriovenous_malformation", ABS)}),
    ("703221003", "Q28.3", {}, "oral", {("arteriovenous_malformation", REL)}),
    (
        "274100004",
        "I61.9",
        {"clinical_status": "resolved", "abatement": date(2019, 3, 1)},
        "esketamine",
        {("intracerebral_hemorrhage_history", ABS)},
    ),
    ("270907008", "I60.9", {}, "im", {("intracerebral_hemorrhage_history", REL)}),
    ("77075001", "H40.1130", {}, "iv", {("raised_intracranial_or_intraocular_pressure", REL)}),
    ("230745008", "G91.9", {}, "iv", {("raised_intracranial_or_intraocular_pressure", REL)}),
    ("19943007", "K74.60", {}, "iv", {("hepatic_impairment", REL)}),
    ("420054005", "K70.30", {}, "iv", {("hepatic_impairment", REL)}),
    ("433146000", "N18.5", {}, "iv", {("renal_impairment", REL)}),
    ("14669001", "N17.9", {}, "iv", {("renal_impairment", REL)}),
    ("353295004", "E05.00", {}, "iv", {("untreated_hyperthyroidism", REL)}),
    ("66590003", "F10.20", {}, "iv", {("substance_use_disorder", REL)}),
    ("75544000", "F11.20", {}, "iv", {("substance_use_disorder", REL)}),
    (
        "66590003",
        "F10.20",
        {"clinical_status": "remission"},
        "iv",
        {("substance_use_in_remission", "note")},
    ),
    ("191620005", "F31.11", {}, "iv", {("current_mania", REL)}),
    ("16506000", "F31.60", {}, "iv", {("current_mania", REL)}),
    ("31446002", "F31.0", {}, "iv", {("current_mania", REL)}),
    ("6471006", "R45.851", {}, "iv", {("active_suicidality", REL)}),
    ("44376007", "F44.9", {}, "iv", {("dissociative_disorder", REL)}),
    ("20010003", "F60.3", {}, "iv", {("severe_personality_disorder", REL)}),
    ("33449004", "F60.9", {}, "iv", {("severe_personality_disorder", REL)}),
]


@pytest.mark.parametrize(
    ("snomed", "icd10", "fields", "route", "expected"),
    CONTRAINDICATION_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in CONTRAINDICATION_CASES],
)
def test_snomed_concept_triggers_the_same_rule_as_its_icd10_twin(
    snomed: str,
    icd10: str,
    fields: dict[str, Any],
    route: Route,
    expected: set[tuple[str, str]],
) -> None:
    assert found(record(condition(SNOMED, snomed, **fields)), route) == expected
    assert found(record(condition(ICD10, icd10, **fields)), route) == expected


def test_snomed_infarction_older_than_six_months_is_history_like_its_icd10_twin() -> None:
    old: dict[str, Any] = {"onset": date(2025, 1, 10)}
    for c in (condition(SNOMED, "401303003", **old), condition(ICD10, "I21.3", **old)):
        assert found(record(c)) == {("heart_disease_history", REL)}


def test_snomed_coronary_disease_not_severe_is_history_like_its_icd10_twin() -> None:
    for c in (condition(SNOMED, "53741008"), condition(ICD10, "I25.10")):
        assert found(record(c)) == {("heart_disease_history", REL)}


def test_snomed_pregnancy_status_observation_valued_pregnant() -> None:
    status = Observation(
        "Observation/preg",
        ("82810-3",),
        Moment(date(2026, 10, 20), datetime(2026, 10, 20, 9)),
        value_codings=(Coding(SNOMED, "77386006"),),
    )
    rec = Record(PATIENT, observations=(CALM, status))
    assert found(rec) == {("pregnancy", ABS)}


# Near misses: a concept of a different disorder, or outside the spec's ICD-10-CM list, gives
# nothing, exactly as its ICD-10-CM twin does.
NEAR_MISSES = [
    ("431856006", "N18.2"),  # chronic kidney disease stage 2: N18.3-N18.6 only
    ("197321007", "K76.0"),  # steatosis of liver: K76 is not in the list
    ("197480006", "F41.9"),  # anxiety disorder, unspecified
    ("370143000", "F33.1"),  # major depression: no contraindication on its own
    ("191630001", "F31.32"),  # bipolar depression, moderate: neither mania nor psychosis
    ("13746004", "F31.9"),  # bipolar disorder, unspecified
    ("59621000", "I10"),  # essential hypertension with an antihypertensive: treated (below)
]


@pytest.mark.parametrize(("snomed", "icd10"), NEAR_MISSES, ids=[n[0] for n in NEAR_MISSES])
def test_snomed_near_miss_gives_nothing_like_its_icd10_twin(snomed: str, icd10: str) -> None:
    lisinopril = Medication(
        "MedicationStatement/bp",
        "lisinopril",
        "lisinopril",
        status="active",
        start=date(2025, 1, 1),
    )
    for c in (condition(SNOMED, snomed), condition(ICD10, icd10)):
        assert found(record(c, medications=(lisinopril,))) == set()


def test_inactive_snomed_diagnosis_that_must_be_active_gives_nothing() -> None:
    past: dict[str, Any] = {"clinical_status": "resolved", "abatement": date(2024, 1, 1)}
    for code in ("19943007", "433146000", "77075001", "191620005", "20010003", "169750002"):
        assert found(record(condition(SNOMED, code, **past))) == set()


def test_value_sets_keep_disorders_apart() -> None:
    psychotic_depression = "430852001"  # severe major depression with psychotic features
    bipolar_depression = "191630001"
    assert not codes.matches(codes.MDD, (Coding(SNOMED, psychotic_depression),))
    assert codes.matches(codes.PSYCHOTIC_DISORDER, (Coding(SNOMED, psychotic_depression),))
    assert not codes.matches(codes.MDD, (Coding(SNOMED, bipolar_depression),))
    assert not codes.MDD.snomed & codes.PSYCHOTIC_DISORDER.snomed
    assert not codes.MDD.snomed & codes.BIPOLAR_DEPRESSION.snomed
    assert not codes.BIPOLAR_DEPRESSION.snomed & codes.CURRENT_MANIA.snomed
    # Old infarction is heart disease, not a recent infarction.
    assert "1755008" not in codes.MYOCARDIAL_INFARCTION.snomed
    assert "1755008" in codes.HEART_DISEASE.snomed
    assert codes.MYOCARDIAL_INFARCTION.snomed <= codes.HEART_DISEASE.snomed
    # Partial remission of major depression is not an active MDD.
    assert "30605009" not in codes.MDD.snomed
    # Every concept the rules read is known, so none of them is flagged as unrecognised.
    assert codes.PSYCHOTIC_DISORDER.snomed <= codes.KNOWN_SNOMED
    assert codes.MDD.snomed <= codes.PSYCHIATRIC.snomed


# --- Indications: the same record coded in SNOMED CT and in ICD-10-CM --------------------------


def failed_trial(ref: str, ingredient: str, mg: float, start: date) -> Medication:
    return Medication(
        ref,
        ingredient,
        ingredient,
        status="completed",
        start=start,
        end=start + timedelta(weeks=10),
        dose_mg=mg,
        frequency=1,
        period=1,
        period_unit="d",
        outcome_code="no-response",
    )


# Sertraline 50 mg and venlafaxine 150 mg, each 10 weeks at exactly the minimum adequate dose,
# both without response: two failed adequate trials of two classes.
TWO_FAILED = (
    failed_trial("MedicationStatement/1", "sertraline", 50, date(2025, 6, 1)),
    failed_trial("MedicationStatement/2", "venlafaxine", 150, date(2025, 10, 1)),
)


def pain_procedure(ref: str, system: str, code: str) -> Procedure:
    return Procedure(
        ref,
        (Coding(system, code),),
        status="completed",
        performed=date(2026, 3, 1),
        outcome_code="no-response",
    )


def screened(dx: Condition, **kw: object) -> Screening:
    return screen(record(dx, **kw), AS_OF, "iv")  # type: ignore[arg-type]


def qualifying(s: Screening) -> set[tuple[str, bool]]:
    return {(i.id, i.on_label) for i in s.indications}


DEPRESSION_INDICATIONS = [
    ("treatment_resistant_depression", "370143000", "F33.1"),
    ("treatment_resistant_depression", "76441001", "F32.2"),
    ("treatment_resistant_depression", "25922000", "F53.0"),
    ("bipolar_depression", "191630001", "F31.32"),
    ("bipolar_depression", "61403008", "F31.4"),
    ("ptsd", "313182004", "F43.12"),
    ("anxiety_disorder", "21897009", "F41.1"),
    ("anxiety_disorder", "371631005", "F41.0"),
]


@pytest.mark.parametrize(("indication", "snomed", "icd10"), DEPRESSION_INDICATIONS)
def test_depression_indications_qualify_from_snomed_like_icd10(
    indication: str, snomed: str, icd10: str
) -> None:
    for system, code in ((SNOMED, snomed), (ICD10, icd10)):
        s = screened(condition(system, code), medications=TWO_FAILED)
        assert qualifying(s) == {(indication, False)}, (system, code)


def test_mdd_with_suicidal_ideation_from_snomed_like_icd10() -> None:
    for system, mdd, si in ((SNOMED, "370143000", "6471006"), (ICD10, "F33.1", "R45.851")):
        rec = record(condition(system, mdd), condition(system, si, ref="Condition/2"))
        s = screen(rec, AS_OF, "esketamine")
        # No trial recorded: TRD does not qualify, MDD with suicidal ideation does; without an
        # oral antidepressant the esketamine label adds its relative finding.
        assert qualifying(s) == {("mdd_with_suicidal_ideation", True)}
        ids = {(f.id, f.kind) for f in s.findings}
        assert ("active_suicidality", "relative") in ids
        assert ("no_concurrent_oral_antidepressant", "relative") in ids


PAIN_INDICATIONS = [
    ("crps", "128200000", "G90.511"),
    ("neuropathic_pain", "247398009", "M79.2"),
    ("neuropathic_pain", "31681005", "G50.0"),
    ("neuropathic_pain", "368581000119106", "E11.40"),
    ("fibromyalgia", "203082005", "M79.7"),
]
SNOMED_BLOCK_AND_PHYSIO = (
    pain_procedure("Procedure/block", SNOMED, "56333001"),  # Nerve block (procedure)
    pain_procedure("Procedure/pt", SNOMED, "91251008"),  # Physical therapy procedure
)
CPT_BLOCK_AND_PHYSIO = (
    pain_procedure("Procedure/block", CPT, "64510"),  # stellate ganglion injection
    pain_procedure("Procedure/pt", CPT, "97110"),  # therapeutic exercise
)


@pytest.mark.parametrize(("indication", "snomed", "icd10"), PAIN_INDICATIONS)
def test_pain_indications_qualify_from_snomed_diagnosis_and_procedures(
    indication: str, snomed: str, icd10: str
) -> None:
    sct = screened(condition(SNOMED, snomed), procedures=SNOMED_BLOCK_AND_PHYSIO)
    icd = screened(condition(ICD10, icd10), procedures=CPT_BLOCK_AND_PHYSIO)
    for s in (sct, icd):
        assert qualifying(s) == {(indication, False)}
        assert s.pain_resistance.status == "resistant"
        assert s.pain_resistance.failed_categories == ("nerve_block", "physical_therapy")


@pytest.mark.parametrize(
    "codes_",
    [
        ("265778005", "91251008"),  # local anaesthetic nerve block, physical therapy
        ("764909009", "183311000"),  # thoracic sympathetic plexus block, passive exercise
        ("789172006", "183311000"),  # erector spinae plane block, passive exercise
    ],
)
def test_snomed_nerve_blocks_and_physiotherapy_count_by_code(codes_: tuple[str, str]) -> None:
    block, physio = codes_
    procedures = (
        pain_procedure("Procedure/block", SNOMED, block),
        pain_procedure("Procedure/pt", SNOMED, physio),
    )
    s = screened(condition(SNOMED, "128200000"), procedures=procedures)
    assert s.pain_resistance.failed_categories == ("nerve_block", "physical_therapy")


def test_snomed_procedure_that_is_no_pain_treatment_does_not_count() -> None:
    # A physical examination (5880005) beside a failed physiotherapy is one category only.
    procedures = (
        pain_procedure("Procedure/exam", SNOMED, "5880005"),
        pain_procedure("Procedure/pt", SNOMED, "91251008"),
    )
    s = screened(condition(SNOMED, "128200000"), procedures=procedures)
    assert s.pain_resistance.status == "not_resistant"
    assert s.pain_resistance.failed_categories == ("physical_therapy",)
    assert qualifying(s) == set()
    assert ("not_treatment_resistant", "indication") in {(f.id, f.kind) for f in s.findings}


def test_snomed_diagnosis_of_another_disorder_is_no_indication() -> None:
    # Generic anxiety disorder (F41.9) and psychotic depression are not indications.
    for code in ("197480006", "430852001"):
        s = screened(condition(SNOMED, code), medications=TWO_FAILED)
        assert qualifying(s) == set()
        assert ("no_qualifying_indication", "indication") in {(f.id, f.kind) for f in s.findings}


# --- Staging: ECT coded in SNOMED CT ---------------------------------------------------------


def ect(system: str, code: str) -> Procedure:
    return Procedure(
        "Procedure/ect", (Coding(system, code),), status="completed", performed=date(2026, 1, 5)
    )


@pytest.mark.parametrize(
    ("system", "code"),
    [(SNOMED, "23835007"), (SNOMED, "1010697006"), (CPT, "90870")],
)
def test_ect_procedure_counts_for_staging(system: str, code: str) -> None:
    s = screened(
        condition(SNOMED, "370143000"), medications=TWO_FAILED, procedures=(ect(system, code),)
    )
    assert s.staging is not None
    # MGH: 1 per failed adequate trial (2), none optimised (both at the minimum), + 3 for ECT.
    assert s.staging.mgh.score == 5.0


def test_without_ect_or_with_another_snomed_procedure_mgh_has_no_ect_points() -> None:
    for procedures in ((), (ect(SNOMED, "5880005"),)):
        s = screened(condition(SNOMED, "370143000"), medications=TWO_FAILED, procedures=procedures)
        assert s.staging is not None
        assert s.staging.mgh.score == 2.0
