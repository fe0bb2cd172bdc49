"""Unknown codes in systems the engine reads become notes (issue 3, SNOMED CT item)."""

from datetime import date

from ketaclinic.clinical.facts import (
    ICD10,
    RXNORM,
    SNOMED,
    Allergy,
    Coding,
    Component,
    Condition,
    Medication,
    Moment,
    Observation,
    Patient,
    Record,
)
from ketaclinic.clinical.unrecognised import unrecognised_codes

DAY = Moment.of_day(date(2026, 10, 1))


def record(**kw: object) -> Record:
    return Record(Patient("Patient/p", date(1980, 1, 1), "male"), **kw)  # type: ignore[arg-type]


def test_an_unknown_snomed_diagnosis_is_a_note_naming_code_and_record() -> None:
    # 44054006 is not in any value set of the engine (written by hand: diabetes type 2).
    c = Condition("Condition/1", (Coding(SNOMED, "44054006", "Diabetes mellitus type 2"),))
    [note] = unrecognised_codes(record(conditions=(c,)))
    assert note.id == "unrecognised_code" and note.kind == "note"
    assert "SNOMED CT 44054006" in note.message
    assert note.evidence == ("Condition/1",)


def test_a_known_snomed_diagnosis_is_not_flagged() -> None:
    c = Condition("Condition/1", (Coding(SNOMED, "370143000"),))  # MDD, the spec's example
    assert unrecognised_codes(record(conditions=(c,))) == []


def test_an_icd10_coding_beside_an_unknown_snomed_one_is_read_so_no_note() -> None:
    c = Condition("Condition/1", (Coding(SNOMED, "44054006"), Coding(ICD10, "E11.9")))
    assert unrecognised_codes(record(conditions=(c,))) == []


def test_icd10_codes_outside_every_value_set_are_not_flagged() -> None:
    c = Condition("Condition/1", (Coding(ICD10, "E11.9"),))
    assert unrecognised_codes(record(conditions=(c,))) == []


def test_an_unknown_loinc_observation_is_flagged_once_with_all_its_records() -> None:
    # 8459-0 (a sitting systolic code) is not one the engine reads.
    o1 = Observation("Observation/1", ("8459-0",), DAY, value=150)
    o2 = Observation("Observation/2", ("8459-0",), DAY, value=155)
    [note] = unrecognised_codes(record(observations=(o1, o2)))
    assert "LOINC 8459-0" in note.message
    assert note.evidence == ("Observation/1", "Observation/2")


def test_a_known_loinc_panel_is_not_flagged() -> None:
    o = Observation("Observation/1", ("85354-9",), DAY, components=(Component("8480-6", 120),))
    assert unrecognised_codes(record(observations=(o,))) == []


def test_an_unreadable_pregnancy_test_result_is_flagged() -> None:
    o = Observation("Observation/1", ("2106-3",), DAY, value_codings=(Coding(SNOMED, "1111"),))
    [note] = unrecognised_codes(record(observations=(o,)))
    assert "SNOMED CT 1111" in note.message


def test_an_unrecognised_medication_is_flagged_and_a_known_one_is_not() -> None:
    unknown = Medication("MedicationStatement/1", None, "Zzyzxol 10 mg")
    known = Medication("MedicationStatement/2", "sertraline", "Zoloft")
    [note] = unrecognised_codes(record(medications=(unknown, known)))
    assert "Zzyzxol" in note.message
    assert note.evidence == ("MedicationStatement/1",)


def test_a_nameless_allergy_with_an_unknown_code_is_flagged_but_ketamine_is_not() -> None:
    nameless = Allergy("AllergyIntolerance/1", (Coding(RXNORM, "999999"),))
    ketamine = Allergy("AllergyIntolerance/2", (Coding(RXNORM, "6130"),))
    named = Allergy("AllergyIntolerance/3", (Coding(RXNORM, "7980", "Penicillin G"),))
    [note] = unrecognised_codes(record(allergies=(nameless, ketamine, named)))
    assert note.evidence == ("AllergyIntolerance/1",)
