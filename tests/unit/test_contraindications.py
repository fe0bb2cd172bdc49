"""Every row of the spec's Contraindications table: one case that triggers it, one near miss.

Expected ids and kinds are written by hand from spec/screening.md. Screening date 2026-11-01.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from ketaclinic.clinical.contraindications import blood_pressure_readings, contraindications
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
from ketaclinic.clinical.findings import Finding, Route
from ketaclinic.policy import DEFAULT, Policy

AS_OF = date(2026, 11, 1)


def days_ago(n: int) -> date:
    return AS_OF - timedelta(days=n)


def at(day: date, hour: int = 9) -> Moment:
    return Moment(day, datetime(day.year, day.month, day.day, hour))


def icd(ref: str, code: str, **kw: object) -> Condition:
    return Condition(ref, (Coding(ICD10, code),), **kw)  # type: ignore[arg-type]


def sct(ref: str, code: str, **kw: object) -> Condition:
    return Condition(ref, (Coding(SNOMED, code),), **kw)  # type: ignore[arg-type]


def bp(ref: str, systolic: float, diastolic: float, day: date) -> Observation:
    return Observation(
        ref,
        ("85354-9",),
        at(day),
        components=(Component("8480-6", systolic), Component("8462-4", diastolic)),
    )


def lab(ref: str, code: str, value: float, day: date, unit: str | None = None) -> Observation:
    return Observation(ref, (code,), at(day), value=value, unit=unit)


def coded(ref: str, code: str, value_code: str, day: date) -> Observation:
    return Observation(ref, (code,), at(day), value_codings=(Coding(SNOMED, value_code),))


def taking(ref: str, ingredient: str, **kw: object) -> Medication:
    fields: dict[str, object] = {"status": "active", "start": date(2026, 1, 1)}
    fields.update(kw)
    return Medication(ref, ingredient, ingredient, **fields)  # type: ignore[arg-type]


# A normal, recent blood pressure so that the blood-pressure rules stay quiet unless tested.
CALM = bp("Observation/calm", 120, 80, days_ago(5))


def record(
    *,
    conditions: tuple[Condition, ...] = (),
    medications: tuple[Medication, ...] = (),
    observations: tuple[Observation, ...] = (CALM,),
    allergies: tuple[Allergy, ...] = (),
    birth: date | None = date(1980, 5, 5),
    gender: str = "female",
) -> Record:
    return Record(
        Patient("Patient/p", birth, gender),
        conditions=conditions,
        medications=medications,
        observations=observations,
        allergies=allergies,
    )


def run(rec: Record, route: Route = "iv", policy: Policy = DEFAULT) -> list[Finding]:
    return contraindications(rec, AS_OF, route, policy)


def ids(found: list[Finding]) -> set[tuple[str, str]]:
    return {(f.id, f.kind) for f in found}


def one(found: list[Finding], finding_id: str) -> Finding:
    matching = [f for f in found if f.id == finding_id]
    assert len(matching) == 1, [f.id for f in found]
    return matching[0]


def test_nothing_recorded_but_a_normal_blood_pressure_gives_nothing() -> None:
    assert run(record()) == []


# --- Blood pressure ----


def test_two_readings_above_160_90_are_uncontrolled() -> None:
    rec = record(
        observations=(
            bp("Observation/1", 172, 96, date(2026, 10, 1)),
            bp("Observation/2", 168, 94, date(2026, 10, 20)),
        )
    )
    found = run(rec)
    assert ids(found) == {("uncontrolled_hypertension", "absolute")}
    f = one(found, "uncontrolled_hypertension")
    assert "172/96 on 2026-10-01" in f.message
    assert "168/94 on 2026-10-20" in f.message
    assert "160/90" in f.message
    assert f.evidence == ("Observation/1", "Observation/2")
    assert "Seeds" in f.source and "160" in f.source


def test_160_over_90_twice_is_not_uncontrolled_but_is_elevated() -> None:
    rec = record(
        observations=(
            bp("Observation/1", 160, 90, date(2026, 10, 1)),
            bp("Observation/2", 160, 90, date(2026, 10, 20)),
        )
    )
    assert ids(run(rec)) == {("elevated_blood_pressure", "relative")}


def test_161_over_80_twice_is_uncontrolled() -> None:
    rec = record(
        observations=(
            bp("Observation/1", 161, 80, date(2026, 10, 1)),
            bp("Observation/2", 161, 80, date(2026, 10, 20)),
        )
    )
    assert ids(run(rec)) == {("uncontrolled_hypertension", "absolute")}


def test_diastolic_above_90_twice_is_uncontrolled() -> None:
    rec = record(
        observations=(
            bp("Observation/1", 130, 91, date(2026, 10, 1)),
            bp("Observation/2", 135, 95, date(2026, 10, 20)),
        )
    )
    assert ids(run(rec)) == {("uncontrolled_hypertension", "absolute")}


def test_only_the_latest_two_readings_count() -> None:
    rec = record(
        observations=(
            bp("Observation/1", 175, 100, date(2026, 9, 1)),
            bp("Observation/2", 170, 98, date(2026, 9, 15)),
            bp("Observation/3", 130, 80, date(2026, 10, 20)),
        )
    )
    assert ids(run(rec)) == set()


def test_a_single_high_reading_is_elevated_and_needs_confirmation() -> None:
    rec = record(observations=(bp("Observation/1", 170, 95, date(2026, 10, 20)),))
    found = run(rec)
    assert ids(found) == {
        ("elevated_blood_pressure", "relative"),
        ("blood_pressure_confirmation", "missing"),
    }
    assert one(found, "blood_pressure_confirmation").evidence == ("Observation/1",)


def test_a_high_latest_reading_after_a_normal_one_needs_confirmation() -> None:
    rec = record(
        observations=(
            bp("Observation/1", 120, 80, date(2026, 10, 1)),
            bp("Observation/2", 165, 85, date(2026, 10, 20)),
        )
    )
    assert ids(run(rec)) == {
        ("elevated_blood_pressure", "relative"),
        ("blood_pressure_confirmation", "missing"),
    }


def test_140_over_90_is_not_elevated_141_over_80_is() -> None:
    assert run(record(observations=(bp("Observation/1", 140, 90, days_ago(3)),))) == []
    found = run(record(observations=(bp("Observation/1", 141, 80, days_ago(3)),)))
    assert ids(found) == {("elevated_blood_pressure", "relative")}
    assert "141/80" in one(found, "elevated_blood_pressure").message


def test_no_reading_is_missing_blood_pressure() -> None:
    assert ids(run(record(observations=()))) == {("blood_pressure", "missing")}


def test_a_reading_exactly_90_days_ago_counts_91_does_not() -> None:
    assert run(record(observations=(bp("Observation/1", 120, 80, days_ago(90)),))) == []
    found = run(record(observations=(bp("Observation/1", 120, 80, days_ago(91)),)))
    assert ids(found) == {("blood_pressure", "missing")}


def test_a_high_reading_outside_the_window_does_not_confirm() -> None:
    rec = record(
        observations=(
            bp("Observation/1", 180, 100, days_ago(91)),
            bp("Observation/2", 180, 100, days_ago(10)),
        )
    )
    assert ids(run(rec)) == {
        ("elevated_blood_pressure", "relative"),
        ("blood_pressure_confirmation", "missing"),
    }


def test_active_hypertensive_crisis_is_uncontrolled_without_readings() -> None:
    rec = record(conditions=(icd("Condition/1", "I16.1"),), observations=())
    found = run(rec)
    assert ids(found) == {("uncontrolled_hypertension", "absolute"), ("blood_pressure", "missing")}
    assert one(found, "uncontrolled_hypertension").evidence == ("Condition/1",)


def test_a_resolved_hypertensive_crisis_is_not_uncontrolled() -> None:
    rec = record(conditions=(icd("Condition/1", "I16.1", clinical_status="resolved"),))
    assert run(rec) == []


def test_separate_systolic_and_diastolic_pair_by_the_same_time() -> None:
    day1, day2 = date(2026, 10, 1), date(2026, 10, 10)
    observations = (
        Observation("Observation/s1", ("8480-6",), at(day1, 9), value=165),
        Observation("Observation/d1", ("8462-4",), at(day1, 9), value=95),
        Observation("Observation/s2", ("8480-6",), at(day2, 9), value=170),
        Observation("Observation/d2", ("8462-4",), at(day2, 10), value=99),
    )
    readings = blood_pressure_readings(observations)
    assert [(r.systolic, r.diastolic, r.evidence) for r in readings] == [
        (165, 95, ("Observation/s1", "Observation/d1")),
        (170, None, ("Observation/s2",)),
        (None, 99, ("Observation/d2",)),
    ]
    # Both systolics are above 160: the unpaired one counts for the systolic rule.
    assert ids(run(record(observations=observations))) == {
        ("uncontrolled_hypertension", "absolute")
    }


def test_a_systolic_alone_counts_for_the_systolic_rules_only() -> None:
    rec = record(
        observations=(Observation("Observation/s", ("8480-6",), at(days_ago(2)), value=145),)
    )
    found = run(rec)
    assert ids(found) == {("elevated_blood_pressure", "relative")}
    assert "145/?" in one(found, "elevated_blood_pressure").message


def test_a_diastolic_alone_counts_for_the_diastolic_rules() -> None:
    rec = record(
        observations=(Observation("Observation/d", ("8462-4",), at(days_ago(2)), value=95),)
    )
    found = run(rec)
    # 95 > 90: elevated, and above the uncontrolled diastolic with no second reading.
    assert ids(found) == {
        ("elevated_blood_pressure", "relative"),
        ("blood_pressure_confirmation", "missing"),
    }
    assert "?/95" in one(found, "elevated_blood_pressure").message


def test_a_diastolic_alone_at_90_is_not_elevated() -> None:
    rec = record(
        observations=(Observation("Observation/d", ("8462-4",), at(days_ago(2)), value=90),)
    )
    assert run(rec) == []


def test_blood_pressure_thresholds_come_from_the_policy() -> None:
    policy = replace(
        DEFAULT, blood_pressure=replace(DEFAULT.blood_pressure, uncontrolled_systolic=150)
    )
    rec = record(
        observations=(
            bp("Observation/1", 155, 80, date(2026, 10, 1)),
            bp("Observation/2", 155, 80, date(2026, 10, 20)),
        )
    )
    assert ids(run(rec, policy=policy)) == {("uncontrolled_hypertension", "absolute")}
    assert ids(run(rec)) == {("elevated_blood_pressure", "relative")}


# --- Hypertension treatment ----


def test_active_hypertension_without_an_antihypertensive_is_untreated() -> None:
    found = run(record(conditions=(icd("Condition/1", "I10"),)))
    assert ids(found) == {("untreated_hypertension", "relative")}
    assert one(found, "untreated_hypertension").evidence == ("Condition/1",)


def test_hypertension_on_an_ongoing_antihypertensive_is_treated() -> None:
    rec = record(
        conditions=(icd("Condition/1", "I10"),),
        medications=(taking("MedicationStatement/1", "lisinopril"),),
    )
    assert run(rec) == []


def test_an_antihypertensive_that_has_ended_does_not_treat() -> None:
    rec = record(
        conditions=(icd("Condition/1", "I11.9"),),
        medications=(
            taking("MedicationStatement/1", "amlodipine", status="stopped", end=date(2026, 6, 1)),
        ),
    )
    assert ids(run(rec)) == {("untreated_hypertension", "relative")}


def test_snomed_hypertension_counts_and_inactive_does_not() -> None:
    assert ids(run(record(conditions=(sct("Condition/1", "59621000"),)))) == {
        ("untreated_hypertension", "relative")
    }
    assert run(record(conditions=(icd("Condition/1", "I10", clinical_status="inactive"),))) == []


# --- Heart ----


def test_infarction_within_6_months_is_recent() -> None:
    found = run(record(conditions=(icd("Condition/1", "I21.4", onset=date(2026, 9, 1)),)))
    assert ids(found) == {("recent_myocardial_infarction", "absolute")}
    assert "2026-09-01" in one(found, "recent_myocardial_infarction").message


def test_infarction_exactly_6_months_ago_is_recent() -> None:
    found = run(record(conditions=(icd("Condition/1", "I21.4", onset=date(2026, 5, 1)),)))
    assert ids(found) == {("recent_myocardial_infarction", "absolute")}


def test_infarction_7_months_ago_is_not_recent_but_is_heart_disease_history() -> None:
    found = run(record(conditions=(icd("Condition/1", "I21.4", onset=date(2026, 4, 1)),)))
    assert ids(found) == {("heart_disease_history", "relative")}


def test_snomed_myocardial_infarction_recent() -> None:
    found = run(record(conditions=(sct("Condition/1", "22298006", onset=date(2026, 10, 1)),)))
    assert ids(found) == {("recent_myocardial_infarction", "absolute")}


def test_a_resolved_recent_infarction_still_counts() -> None:
    rec = record(
        conditions=(
            icd("Condition/1", "I22.0", onset=date(2026, 8, 1), clinical_status="resolved"),
        )
    )
    assert ids(run(rec)) == {("recent_myocardial_infarction", "absolute")}


def test_recent_infarction_window_from_policy() -> None:
    policy = replace(DEFAULT, cardiac=replace(DEFAULT.cardiac, recent_infarction_months=12))
    rec = record(conditions=(icd("Condition/1", "I21.4", onset=date(2026, 4, 1)),))
    assert ids(run(rec, policy=policy)) == {("recent_myocardial_infarction", "absolute")}


def test_active_unstable_angina_and_a_resolved_one() -> None:
    assert ids(run(record(conditions=(icd("Condition/1", "I20.0"),)))) == {
        ("unstable_angina", "absolute")
    }
    assert ids(run(record(conditions=(sct("Condition/1", "4557003"),)))) == {
        ("unstable_angina", "absolute")
    }
    resolved = icd("Condition/1", "I20.0", clinical_status="resolved")
    assert ids(run(record(conditions=(resolved,)))) == {("heart_disease_history", "relative")}


def test_severe_coronary_artery_disease_needs_severity_severe() -> None:
    assert ids(run(record(conditions=(icd("Condition/1", "I25.10", severe=True),)))) == {
        ("severe_coronary_artery_disease", "absolute")
    }
    assert ids(run(record(conditions=(icd("Condition/1", "I25.10"),)))) == {
        ("heart_disease_history", "relative")
    }


@pytest.mark.parametrize("code", ["I25.2", "I48.91", "I49.9", "I50.9", "I35.0", "I42.9"])
def test_heart_disease_history(code: str) -> None:
    assert ids(run(record(conditions=(icd("Condition/1", code, clinical_status="resolved"),)))) == {
        ("heart_disease_history", "relative")
    }


@pytest.mark.parametrize("code", ["I49.1", "I49.3", "I46.9", "I51.7"])
def test_not_heart_disease_history(code: str) -> None:
    assert run(record(conditions=(icd("Condition/1", code),))) == []


def test_snomed_atrial_fibrillation_is_heart_disease_history() -> None:
    assert ids(run(record(conditions=(sct("Condition/1", "49436004"),)))) == {
        ("heart_disease_history", "relative")
    }


# --- Psychiatric ----


def test_any_record_of_psychotic_disorder_is_absolute() -> None:
    rec = record(conditions=(icd("Condition/1", "F20.9", clinical_status="resolved"),))
    assert ids(run(rec)) == {("psychotic_disorder", "absolute")}
    assert ids(run(record(conditions=(sct("Condition/1", "58214004"),)))) == {
        ("psychotic_disorder", "absolute")
    }


def test_major_depression_without_psychosis_is_not_psychotic() -> None:
    assert run(record(conditions=(icd("Condition/1", "F32.2"),))) == []


def test_substance_induced_psychotic_disorder() -> None:
    found = run(record(conditions=(icd("Condition/1", "F10.159"),)))
    assert ids(found) == {
        ("psychotic_disorder", "absolute"),
        ("substance_use_disorder", "relative"),
    }


def test_active_substance_use_disorder() -> None:
    assert ids(run(record(conditions=(icd("Condition/1", "F10.20"),)))) == {
        ("substance_use_disorder", "relative")
    }
    assert ids(run(record(conditions=(sct("Condition/1", "7200002"),)))) == {
        ("substance_use_disorder", "relative")
    }


def test_nicotine_is_not_a_substance_use_disorder() -> None:
    assert run(record(conditions=(icd("Condition/1", "F17.210"),))) == []


def test_in_remission_code_gives_the_note_not_the_finding() -> None:
    found = run(record(conditions=(icd("Condition/1", "F10.21"),)))
    assert ids(found) == {("substance_use_in_remission", "note")}


def test_clinical_status_remission_gives_the_note() -> None:
    rec = record(conditions=(icd("Condition/1", "F12.20", clinical_status="remission"),))
    assert ids(run(rec)) == {("substance_use_in_remission", "note")}


def test_resolved_substance_use_gives_nothing() -> None:
    assert run(record(conditions=(icd("Condition/1", "F10.20", clinical_status="resolved"),))) == []


def test_current_mania() -> None:
    assert ids(run(record(conditions=(icd("Condition/1", "F31.13"),)))) == {
        ("current_mania", "relative")
    }
    assert run(record(conditions=(icd("Condition/1", "F31.30"),))) == []
    assert run(record(conditions=(icd("Condition/1", "F31.13", clinical_status="inactive"),))) == []


def test_mania_with_psychosis_is_both() -> None:
    assert ids(run(record(conditions=(icd("Condition/1", "F30.2"),)))) == {
        ("current_mania", "relative"),
        ("psychotic_disorder", "absolute"),
    }


def test_suicidal_ideation_diagnosis() -> None:
    assert ids(run(record(conditions=(icd("Condition/1", "R45.851"),)))) == {
        ("active_suicidality", "relative")
    }
    assert ids(run(record(conditions=(sct("Condition/1", "6471006"),)))) == {
        ("active_suicidality", "relative")
    }
    assert (
        run(record(conditions=(icd("Condition/1", "R45.851", clinical_status="resolved"),))) == []
    )


def test_phq9_item_9_of_1_within_30_days() -> None:
    rec = record(observations=(CALM, lab("Observation/9", "44260-8", 1, days_ago(30))))
    found = run(rec)
    assert ids(found) == {("active_suicidality", "relative")}
    assert one(found, "active_suicidality").evidence == ("Observation/9",)


def test_phq9_item_9_of_0_or_older_than_30_days_does_not_count() -> None:
    assert run(record(observations=(CALM, lab("Observation/9", "44260-8", 0, days_ago(1))))) == []
    assert run(record(observations=(CALM, lab("Observation/9", "44260-8", 2, days_ago(31))))) == []


def test_dissociative_disorder_any_record() -> None:
    rec = record(conditions=(icd("Condition/1", "F44.81", clinical_status="resolved"),))
    assert ids(run(rec)) == {("dissociative_disorder", "relative")}
    assert ids(run(record(conditions=(icd("Condition/1", "F48.1"),)))) == {
        ("dissociative_disorder", "relative")
    }
    assert run(record(conditions=(icd("Condition/1", "F44.4"),))) == []


def test_severe_personality_disorder_active_only() -> None:
    assert ids(run(record(conditions=(icd("Condition/1", "F60.3"),)))) == {
        ("severe_personality_disorder", "relative")
    }
    assert run(record(conditions=(icd("Condition/1", "F60.3", clinical_status="inactive"),))) == []


# --- Allergy, pregnancy, breastfeeding, age ----


def test_ketamine_allergy_by_rxnorm_or_name() -> None:
    by_code = Allergy("AllergyIntolerance/1", (Coding(RXNORM, "6130", "ketamine"),))
    by_name = Allergy("AllergyIntolerance/2", (), text="Esketamine")
    for allergy in (by_code, by_name):
        found = run(record(allergies=(allergy,)))
        assert ids(found) == {("ketamine_allergy", "absolute")}
        assert one(found, "ketamine_allergy").evidence == (allergy.ref,)
    other = Allergy("AllergyIntolerance/3", (), text="Ketorolac")
    assert run(record(allergies=(other,))) == []


def test_active_pregnancy_diagnosis() -> None:
    assert ids(run(record(conditions=(icd("Condition/1", "Z34.00"),)))) == {
        ("pregnancy", "absolute")
    }
    assert ids(run(record(conditions=(sct("Condition/1", "72892002"),)))) == {
        ("pregnancy", "absolute")
    }
    resolved = icd("Condition/1", "Z34.00", clinical_status="resolved")
    assert run(record(conditions=(resolved,))) == []


def test_positive_hcg_with_no_later_negative() -> None:
    positive = coded("Observation/h1", "2106-3", "10828004", date(2026, 10, 1))
    found = run(record(observations=(CALM, positive)))
    assert ids(found) == {("pregnancy", "absolute")}
    assert one(found, "pregnancy").evidence == ("Observation/h1",)


def test_positive_hcg_then_a_negative_one() -> None:
    positive = coded("Observation/h1", "2106-3", "10828004", date(2026, 10, 1))
    negative = coded("Observation/h2", "2118-8", "260385009", date(2026, 10, 15))
    assert run(record(observations=(CALM, positive, negative))) == []


def test_numeric_hcg_above_25_is_positive_25_is_not() -> None:
    high = lab("Observation/h", "2118-8", 26, date(2026, 10, 1), "m[IU]/mL")
    assert ids(run(record(observations=(CALM, high)))) == {("pregnancy", "absolute")}
    low = lab("Observation/h", "2118-8", 25, date(2026, 10, 1), "m[IU]/mL")
    assert run(record(observations=(CALM, low))) == []


def test_a_positive_test_stands_280_days_not_281() -> None:
    within = coded("Observation/h", "2106-3", "10828004", days_ago(280))
    assert ids(run(record(observations=(CALM, within)))) == {("pregnancy", "absolute")}
    beyond = coded("Observation/h", "2106-3", "10828004", days_ago(281))
    assert run(record(observations=(CALM, beyond))) == []


def test_pregnancy_status_pregnant() -> None:
    status = coded("Observation/s", "82810-3", "77386006", date(2026, 10, 20))
    assert ids(run(record(observations=(CALM, status)))) == {("pregnancy", "absolute")}
    not_pregnant = coded("Observation/s2", "82810-3", "60001007", date(2026, 10, 25))
    assert run(record(observations=(CALM, status, not_pregnant))) == []


def test_breastfeeding() -> None:
    assert ids(run(record(conditions=(icd("Condition/1", "Z39.1"),)))) == {
        ("breastfeeding", "absolute")
    }
    assert run(record(conditions=(icd("Condition/1", "Z39.2"),))) == []


def test_under_18_is_absolute_on_esketamine_relative_otherwise() -> None:
    rec = record(birth=date(2008, 11, 2))  # 17 on 2026-11-01
    assert ids(run(rec, "esketamine")) == {("under_18", "absolute")}
    for route in ("iv", "im", "oral"):
        assert ids(run(rec, route)) == {("under_18", "relative")}


def test_no_birth_date_is_missing_information_not_an_assumed_adult() -> None:
    for route in ("esketamine", "iv"):
        assert ids(run(record(birth=None), route)) == {("birth_date", "missing")}


def test_eighteenth_birthday_on_the_screening_date_is_adult() -> None:
    assert run(record(birth=date(2008, 11, 1)), "esketamine") == []


# --- Label contraindications, route-aware ------------------------------------------------------


@pytest.mark.parametrize(
    ("finding_id", "code", "status"),
    [
        ("aneurysmal_vascular_disease", "I71.4", None),
        ("arteriovenous_malformation", "Q28.2", "resolved"),
        ("intracerebral_hemorrhage_history", "I61.9", "resolved"),
        ("intracerebral_hemorrhage_history", "I69.10", None),
    ],
)
def test_label_contraindications_by_route(finding_id: str, code: str, status: str | None) -> None:
    rec = record(conditions=(icd("Condition/1", code, clinical_status=status),))
    assert ids(run(rec, "esketamine")) == {(finding_id, "absolute")}
    assert ids(run(rec, "iv")) == {(finding_id, "relative")}


def test_label_contraindication_near_misses() -> None:
    inactive_aneurysm = icd("Condition/1", "I71.4", clinical_status="inactive")
    assert run(record(conditions=(inactive_aneurysm,)), "esketamine") == []
    assert run(record(conditions=(icd("Condition/1", "Q28.8"),)), "esketamine") == []
    assert run(record(conditions=(icd("Condition/1", "I69.30"),)), "esketamine") == []


def test_raised_intracranial_or_intraocular_pressure() -> None:
    for condition in (icd("Condition/1", "H40.9"), sct("Condition/1", "23986001")):
        assert ids(run(record(conditions=(condition,)))) == {
            ("raised_intracranial_or_intraocular_pressure", "relative")
        }
    assert run(record(conditions=(icd("Condition/1", "G93.1"),))) == []


# --- Liver, kidney, thyroid ----


def test_liver_disease_code() -> None:
    assert ids(run(record(conditions=(icd("Condition/1", "K70.30"),)))) == {
        ("hepatic_impairment", "relative")
    }
    assert run(record(conditions=(icd("Condition/1", "K75.81"),))) == []


def test_alt_121_is_above_120_alt_120_is_not() -> None:
    high = run(record(observations=(CALM, lab("Observation/a", "1742-6", 121, days_ago(10)))))
    assert ids(high) == {("hepatic_impairment", "relative")}
    assert "121" in one(high, "hepatic_impairment").message
    assert run(record(observations=(CALM, lab("Observation/a", "1742-6", 120, days_ago(10))))) == []


def test_ast_older_than_90_days_and_a_normalised_alt_do_not_count() -> None:
    assert run(record(observations=(CALM, lab("Observation/a", "1920-8", 300, days_ago(91))))) == []
    rec = record(
        observations=(
            CALM,
            lab("Observation/a1", "1742-6", 300, days_ago(40)),
            lab("Observation/a2", "1742-6", 50, days_ago(10)),
        )
    )
    assert run(rec) == []


def test_kidney_disease_code() -> None:
    assert ids(run(record(conditions=(icd("Condition/1", "N18.30"),)))) == {
        ("renal_impairment", "relative")
    }
    assert run(record(conditions=(icd("Condition/1", "N18.2"),))) == []


def test_egfr_59_is_below_60_egfr_60_is_not() -> None:
    low = run(record(observations=(CALM, lab("Observation/e", "33914-3", 59, days_ago(90)))))
    assert ids(low) == {("renal_impairment", "relative")}
    assert run(record(observations=(CALM, lab("Observation/e", "62238-1", 60, days_ago(1))))) == []
    assert run(record(observations=(CALM, lab("Observation/e", "98979-8", 40, days_ago(91))))) == []


def test_active_hyperthyroidism_untreated_and_treated() -> None:
    for condition in (icd("Condition/1", "E05.90"), sct("Condition/1", "34486009")):
        assert ids(run(record(conditions=(condition,)))) == {
            ("untreated_hyperthyroidism", "relative")
        }
    treated = record(
        conditions=(icd("Condition/1", "E05.90"),),
        medications=(taking("MedicationStatement/1", "methimazole"),),
    )
    assert run(treated) == []


def test_suppressed_tsh() -> None:
    low = lab("Observation/t", "3016-3", 0.05, days_ago(180))
    assert ids(run(record(observations=(CALM, low)))) == {("untreated_hyperthyroidism", "relative")}
    at_limit = lab("Observation/t", "3016-3", 0.1, days_ago(10))
    assert run(record(observations=(CALM, at_limit))) == []
    too_old = lab("Observation/t", "3016-3", 0.05, days_ago(181))
    assert run(record(observations=(CALM, too_old))) == []


def test_suppressed_tsh_on_levothyroxine_is_not_hyperthyroidism() -> None:
    rec = record(
        observations=(CALM, lab("Observation/t", "3016-3", 0.05, days_ago(10))),
        medications=(taking("MedicationStatement/1", "levothyroxine"),),
    )
    assert run(rec) == []


def test_levothyroxine_does_not_excuse_an_active_e05() -> None:
    rec = record(
        conditions=(icd("Condition/1", "E05.00"),),
        medications=(taking("MedicationStatement/1", "levothyroxine"),),
    )
    assert ids(run(rec)) == {("untreated_hyperthyroidism", "relative")}


def test_every_finding_names_a_source() -> None:
    rec = record(
        conditions=(icd("Condition/1", "F20.9"), icd("Condition/2", "I10")),
        observations=(),
    )
    for f in run(rec):
        assert f.source
        assert f.message


# --- Observations carrying several codes (the screening looks them up by code, issue 8) ----


def test_an_egfr_carrying_two_egfr_codes_is_one_reading() -> None:
    both = Observation("Observation/e", ("33914-3", "62238-1"), at(days_ago(5)), value=40)
    found = one(run(record(observations=(CALM, both))), "renal_impairment")
    assert found.evidence == ("Observation/e",)
    assert found.message.count("Observation/e") == 1


def test_an_item_9_whose_code_is_written_twice_is_one_reading() -> None:
    twice = Observation("Observation/q", ("44260-8", "44260-8"), at(days_ago(5)), value=2)
    found = one(run(record(observations=(CALM, twice))), "active_suicidality")
    assert found.evidence == ("Observation/q",)
    assert found.message.count("Observation/q") == 1


def test_the_latest_of_two_egfr_codes_decides_whichever_code_it_carries() -> None:
    older_low = Observation("Observation/e1", ("33914-3",), at(days_ago(20)), value=40)
    newer_normal = Observation("Observation/e2", ("62238-1",), at(days_ago(5)), value=75)
    assert run(record(observations=(CALM, older_low, newer_normal))) == []
    assert run(record(observations=(CALM, newer_normal, older_low))) == []


def test_a_panel_with_another_code_still_gives_its_reading() -> None:
    # Any observation with systolic/diastolic components is a reading, whatever its own code.
    panel = Observation(
        "Observation/p",
        ("9279-1",),
        at(days_ago(3)),
        components=(Component("8480-6", 150), Component("8462-4", 85)),
    )
    assert ids(run(record(observations=(panel,)))) == {("elevated_blood_pressure", "relative")}
