"""Value sets of spec/screening.md: ranges, prefixes, exceptions and SNOMED CT concepts.

Expected memberships are read from the spec's tables by hand.
"""

from __future__ import annotations

from datetime import date

import pytest

from ketaclinic.clinical import codes
from ketaclinic.clinical.codes import ValueSet, icd10_matches, matches
from ketaclinic.clinical.facts import ICD10, LOINC, RXNORM, SNOMED, Coding, Condition


def icd(code: str) -> tuple[Coding, ...]:
    return (Coding(ICD10, code),)


def sct(code: str) -> tuple[Coding, ...]:
    return (Coding(SNOMED, code),)


@pytest.mark.parametrize(
    ("value_set", "code", "expected"),
    [
        # MDD: F32.0-F32.2, F32.9, F32.A, F33.0-F33.2, F33.8, F33.9, F53.0
        (codes.MDD, "F32.0", True),
        (codes.MDD, "F32.2", True),
        (codes.MDD, "F32.3", False),  # with psychotic features: not in the MDD indication
        (codes.MDD, "F32.4", False),  # partial remission
        (codes.MDD, "F32.A", True),
        (codes.MDD, "F33.8", True),
        (codes.MDD, "F33.40", False),
        (codes.MDD, "F53.0", True),
        # Bipolar depression: F31.30-F31.32, F31.4
        (codes.BIPOLAR_DEPRESSION, "F31.31", True),
        (codes.BIPOLAR_DEPRESSION, "F31.4", True),
        (codes.BIPOLAR_DEPRESSION, "F31.5", False),
        (codes.PTSD, "F43.12", True),
        (codes.PTSD, "F43.20", False),
        (codes.ANXIETY, "F41.0", True),
        (codes.ANXIETY, "F41.9", False),
        # CRPS: G90.50-G90.59, G56.4x, G57.7x
        (codes.CRPS, "G90.512", True),
        (codes.CRPS, "G56.41", True),
        (codes.CRPS, "G56.31", False),
        (codes.CRPS, "G57.73", True),
        (codes.CRPS, "G90.4", False),
        # Neuropathic pain: M79.2, G50.0, G62.x, G63, E08-E13 with .40 or .42, B02.2x
        (codes.NEUROPATHIC_PAIN, "E11.42", True),
        (codes.NEUROPATHIC_PAIN, "E10.40", True),
        (codes.NEUROPATHIC_PAIN, "E11.41", False),
        (codes.NEUROPATHIC_PAIN, "E11.9", False),
        (codes.NEUROPATHIC_PAIN, "B02.23", True),
        (codes.NEUROPATHIC_PAIN, "G62.9", True),
        (codes.NEUROPATHIC_PAIN, "G50.1", False),
        (codes.FIBROMYALGIA, "M79.7", True),
        (codes.FIBROMYALGIA, "M79.1", False),
    ],
)
def test_indication_value_sets(value_set: ValueSet, code: str, expected: bool) -> None:
    assert matches(value_set, icd(code)) is expected


@pytest.mark.parametrize(
    ("value_set", "code", "expected"),
    [
        (codes.HYPERTENSIVE_CRISIS, "I16.1", True),
        (codes.HYPERTENSION, "I10", True),
        (codes.HYPERTENSION, "I15.0", True),
        (codes.HYPERTENSION, "I16.0", False),
        (codes.MYOCARDIAL_INFARCTION, "I21.4", True),
        (codes.MYOCARDIAL_INFARCTION, "I21.A1", True),
        (codes.MYOCARDIAL_INFARCTION, "I22.0", True),
        (codes.MYOCARDIAL_INFARCTION, "I25.2", False),
        (codes.UNSTABLE_ANGINA, "I20.0", True),
        (codes.UNSTABLE_ANGINA, "I25.110", True),
        (codes.UNSTABLE_ANGINA, "I25.111", False),
        (codes.UNSTABLE_ANGINA, "I25.790", True),
        (codes.UNSTABLE_ANGINA, "I25.740", False),
        (codes.CORONARY_ARTERY_DISEASE, "I25.10", True),
        (codes.CORONARY_ARTERY_DISEASE, "I25.2", False),
        # Heart disease history: I49 except I49.1 and I49.3
        (codes.HEART_DISEASE, "I49.1", False),
        (codes.HEART_DISEASE, "I49.3", False),
        (codes.HEART_DISEASE, "I49.01", True),
        (codes.HEART_DISEASE, "I49.9", True),
        (codes.HEART_DISEASE, "I25.2", True),
        (codes.HEART_DISEASE, "I07.1", True),
        (codes.HEART_DISEASE, "I33.0", False),
        (codes.HEART_DISEASE, "I35.0", True),
        (codes.HEART_DISEASE, "I43", False),
        (codes.HEART_DISEASE, "I46.9", False),
        (codes.HEART_DISEASE, "I50.9", True),
        # Psychotic disorders, including substance-induced F1x.x5x
        (codes.PSYCHOTIC_DISORDER, "F20.9", True),
        (codes.PSYCHOTIC_DISORDER, "F21", False),
        (codes.PSYCHOTIC_DISORDER, "F31.64", True),
        (codes.PSYCHOTIC_DISORDER, "F31.63", False),
        (codes.PSYCHOTIC_DISORDER, "F10.159", True),
        (codes.PSYCHOTIC_DISORDER, "F12.250", True),
        (codes.PSYCHOTIC_DISORDER, "F19.950", True),
        (codes.PSYCHOTIC_DISORDER, "F10.239", False),  # withdrawal, not psychosis
        (codes.PSYCHOTIC_DISORDER, "F10.180", False),
        (codes.PREGNANCY, "Z34.00", True),
        (codes.PREGNANCY, "Z33.1", True),
        (codes.PREGNANCY, "O09.511", True),
        (codes.PREGNANCY, "O48.0", True),
        (codes.PREGNANCY, "O60.00", False),
        (codes.PREGNANCY, "Z33.2", False),
        (codes.BREASTFEEDING, "Z39.1", True),
        (codes.BREASTFEEDING, "Z39.2", False),
        (codes.ANEURYSMAL_VASCULAR_DISEASE, "I71.4", True),
        (codes.ANEURYSMAL_VASCULAR_DISEASE, "I67.1", True),
        (codes.ANEURYSMAL_VASCULAR_DISEASE, "I67.2", False),
        (codes.ARTERIOVENOUS_MALFORMATION, "Q28.2", True),
        (codes.ARTERIOVENOUS_MALFORMATION, "Q27.30", True),
        (codes.ARTERIOVENOUS_MALFORMATION, "Q28.8", False),
        (codes.INTRACEREBRAL_HEMORRHAGE, "I61.9", True),
        (codes.INTRACEREBRAL_HEMORRHAGE, "I62.00", True),
        (codes.INTRACEREBRAL_HEMORRHAGE, "I69.10", True),
        (codes.INTRACEREBRAL_HEMORRHAGE, "I69.30", False),
        (codes.INTRACEREBRAL_HEMORRHAGE, "I63.9", False),
        (codes.RAISED_INTRACRANIAL_OR_INTRAOCULAR_PRESSURE, "H40.11X1", True),
        (codes.RAISED_INTRACRANIAL_OR_INTRAOCULAR_PRESSURE, "G93.2", True),
        (codes.RAISED_INTRACRANIAL_OR_INTRAOCULAR_PRESSURE, "G93.1", False),
        # Liver: K70.1-K70.9, K71-K74, K75 except K75.81
        (codes.HEPATIC_IMPAIRMENT, "K70.30", True),
        (codes.HEPATIC_IMPAIRMENT, "K70.0", False),
        (codes.HEPATIC_IMPAIRMENT, "K74.60", True),
        (codes.HEPATIC_IMPAIRMENT, "K75.4", True),
        (codes.HEPATIC_IMPAIRMENT, "K75.81", False),
        (codes.HEPATIC_IMPAIRMENT, "K76.0", False),
        # Kidney: N17.x, N18.3x-N18.6, N19
        (codes.RENAL_IMPAIRMENT, "N18.31", True),
        (codes.RENAL_IMPAIRMENT, "N18.4", True),
        (codes.RENAL_IMPAIRMENT, "N18.6", True),
        (codes.RENAL_IMPAIRMENT, "N18.2", False),
        (codes.RENAL_IMPAIRMENT, "N18.9", False),
        (codes.RENAL_IMPAIRMENT, "N17.9", True),
        (codes.HYPERTHYROIDISM, "E05.90", True),
        (codes.HYPERTHYROIDISM, "E03.9", False),
        # Substance use: F10-F16, F18, F19, not F17
        (codes.SUBSTANCE_USE_DISORDER, "F10.20", True),
        (codes.SUBSTANCE_USE_DISORDER, "F16.10", True),
        (codes.SUBSTANCE_USE_DISORDER, "F18.10", True),
        (codes.SUBSTANCE_USE_DISORDER, "F17.210", False),
        (codes.SUBSTANCE_USE_IN_REMISSION, "F10.11", True),
        (codes.SUBSTANCE_USE_IN_REMISSION, "F11.21", True),
        (codes.SUBSTANCE_USE_IN_REMISSION, "F12.91", True),
        (codes.SUBSTANCE_USE_IN_REMISSION, "F10.20", False),
        (codes.SUBSTANCE_USE_IN_REMISSION, "F17.211", False),
        (codes.CURRENT_MANIA, "F30.10", True),
        (codes.CURRENT_MANIA, "F31.13", True),
        (codes.CURRENT_MANIA, "F31.62", True),
        (codes.CURRENT_MANIA, "F31.30", False),
        (codes.SUICIDAL_IDEATION, "R45.851", True),
        (codes.SUICIDAL_IDEATION, "R45.850", False),
        (codes.DISSOCIATIVE_DISORDER, "F44.2", True),
        (codes.DISSOCIATIVE_DISORDER, "F44.81", True),
        (codes.DISSOCIATIVE_DISORDER, "F44.4", False),
        (codes.DISSOCIATIVE_DISORDER, "F48.1", True),
        (codes.SEVERE_PERSONALITY_DISORDER, "F60.3", True),
        (codes.SEVERE_PERSONALITY_DISORDER, "F61", False),
    ],
)
def test_contraindication_value_sets(value_set: ValueSet, code: str, expected: bool) -> None:
    assert matches(value_set, icd(code)) is expected


@pytest.mark.parametrize("written", ["F32.1", "F321", "f32.1", " f32.1 "])
def test_codes_with_or_without_the_dot_in_any_case(written: str) -> None:
    assert matches(codes.MDD, icd(written))


def test_a_category_alone_is_inside_its_prefix_but_not_a_short_fragment_inside_a_range() -> None:
    assert matches(codes.MYOCARDIAL_INFARCTION, icd("I21"))
    assert not matches(codes.PREGNANCY, icd("O4"))


def test_capital_x_placeholder_of_a_real_code_is_not_a_wildcard() -> None:
    assert icd10_matches("T40.7X1", "T40.7X1A")
    assert not icd10_matches("T40.7X1", "T40.701A")


@pytest.mark.parametrize(
    ("value_set", "code"),
    [
        (codes.MDD, "370143000"),
        (codes.MYOCARDIAL_INFARCTION, "22298006"),
        (codes.HEART_DISEASE, "22298006"),
        (codes.PREGNANCY, "72892002"),
        (codes.PREGNANCY, "77386006"),
        (codes.PTSD, "47505003"),
        (codes.ANXIETY, "21897009"),
        (codes.FIBROMYALGIA, "203082005"),
        (codes.PSYCHOTIC_DISORDER, "58214004"),
        (codes.HYPERTHYROIDISM, "34486009"),
        (codes.RAISED_INTRACRANIAL_OR_INTRAOCULAR_PRESSURE, "23986001"),
        (codes.SUICIDAL_IDEATION, "6471006"),
    ],
)
def test_snomed_concepts_for_the_same_disorders(value_set: ValueSet, code: str) -> None:
    assert matches(value_set, sct(code))


def test_snomed_near_misses() -> None:
    assert not matches(codes.MDD, sct("22298006"))
    assert not matches(codes.PREGNANCY, sct("370143000"))


def test_the_system_matters() -> None:
    assert not matches(codes.MDD, (Coding(LOINC, "F32.1"),))
    assert not matches(codes.MDD, (Coding(SNOMED, "F32.1"),))
    assert not matches(codes.MDD, (Coding(ICD10, "370143000"),))


def test_any_coding_of_several_may_match() -> None:
    assert matches(codes.MDD, (Coding(SNOMED, "1234"), Coding(ICD10, "F33.1")))


def test_diagnosis_sets_do_not_read_free_text() -> None:
    assert not matches(codes.PSYCHOTIC_DISORDER, (), "no history of psychosis or schizophrenia")


def test_physical_exam_by_code_or_text() -> None:
    assert matches(codes.PHYSICAL_EXAM, sct("5880005"))
    assert matches(codes.PHYSICAL_EXAM, (), "Annual Physical Examination")
    assert matches(codes.PHYSICAL_EXAM, (Coding(SNOMED, "1", "Physical exam, brief"),))
    assert not matches(codes.PHYSICAL_EXAM, (), "physical therapy")


def test_ketamine_by_rxnorm_or_name() -> None:
    assert matches(codes.KETAMINE, (Coding(RXNORM, "6130"),))
    assert matches(codes.KETAMINE, (), "Esketamine")
    assert matches(codes.KETAMINE, (), "Spravato nasal spray")
    assert not matches(codes.KETAMINE, (), "Ketorolac")
    assert not matches(codes.KETAMINE, (Coding(RXNORM, "6131"),))


def test_psychiatric_diagnosis_is_the_f_chapter_and_psychiatric_snomed() -> None:
    assert codes.PSYCHIATRIC_ICD10_PREFIXES == ("F",)
    assert matches(codes.PSYCHIATRIC, icd("F41.1"))
    assert matches(codes.PSYCHIATRIC, icd("F90.0"))
    assert not matches(codes.PSYCHIATRIC, icd("G43.909"))
    assert matches(codes.PSYCHIATRIC, sct("370143000"))
    assert matches(codes.PSYCHIATRIC, sct("35489007"))
    assert not matches(codes.PSYCHIATRIC, sct("22298006"))


def test_known_codes_cover_the_spec_examples() -> None:
    for code in ("370143000", "22298006", "72892002", "77386006", "10828004", "260385009"):
        assert code in codes.KNOWN_SNOMED
    assert {"5880005", "24484000"} <= codes.KNOWN_SNOMED
    assert {"85354-9", "8480-6", "44260-8", "2118-8", "82810-3", "11524-6"} <= codes.KNOWN_LOINC


def test_conditions_grouped_by_set_keep_the_record_order_and_the_active_ones() -> None:
    mi_code = Condition("Condition/1", (Coding(ICD10, "I21.4"),), clinical_status="resolved")
    mdd = Condition("Condition/2", (Coding(ICD10, "F33.2"),))
    mi_concept = Condition("Condition/3", (Coding(SNOMED, "22298006"),))
    unknown = Condition("Condition/4", (Coding(SNOMED, "999999999"),))
    grouped = codes.ConditionsBySet((mi_code, mdd, mi_concept, unknown))
    assert list(grouped.matching(codes.MYOCARDIAL_INFARCTION)) == [mi_code, mi_concept]
    on = date(2026, 11, 1)
    assert list(grouped.matching(codes.MYOCARDIAL_INFARCTION, active_on=on)) == [mi_concept]
    assert list(grouped.matching(codes.MDD)) == [mdd]
    assert list(grouped.matching(codes.PREGNANCY)) == []
    assert grouped.held >= {codes.MDD.name, codes.MYOCARDIAL_INFARCTION.name}
    assert codes.PREGNANCY.name not in grouped.held
    # A set outside the engine's tables is matched condition by condition, as ``matches`` does.
    local = ValueSet("local depression list", icd10=("F33.2",))
    assert list(grouped.matching(local)) == [mdd]


def test_coded_names_refuses_a_set_that_reads_words() -> None:
    with pytest.raises(ValueError, match="not a value set read by code alone"):
        codes.coded_names(codes.KETAMINE)


def test_the_grouping_is_always_of_the_conditions_given() -> None:
    mdd = (Condition("Condition/1", (Coding(ICD10, "F33.2"),)),)
    infarction = (Condition("Condition/2", (Coding(ICD10, "I21.4"),)),)
    assert list(codes.grouped(mdd).matching(codes.MDD)) == list(mdd)
    assert list(codes.grouped(infarction).matching(codes.MDD)) == []
    assert list(codes.grouped(infarction).matching(codes.MYOCARDIAL_INFARCTION)) == list(infarction)
    assert list(codes.grouped(mdd).matching(codes.MYOCARDIAL_INFARCTION)) == []
