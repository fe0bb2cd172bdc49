"""The demo clinic's patients: valid R4 bundles that screen to their hand-written decisions.

The table below is written by hand from spec/screening.md and clinical-facts.md, from what each
chart holds (see ketaclinic/demo/patients.py), and is kept apart from the module's own
``expected_decision`` so that the two are checked against each other as well as against the
engine. Nothing here is captured from the engine's output.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from ketaclinic.clinical.view import age_on
from ketaclinic.demo import DemoPatient, demo_patients
from ketaclinic.fhir.bundle import read_bundle
from ketaclinic.services.screening import screen_bundle

# Seeding days: an ordinary day, the end of a short February, a leap day.
DAYS = (date(2026, 11, 1), date(2027, 2, 28), date(2028, 2, 29), date(2031, 7, 15))
DECISIONS = {"eligible", "eligible_with_precautions", "not_eligible", "needs_information"}

E, P, N, NI = "eligible", "eligible_with_precautions", "not_eligible", "needs_information"
TRD = "treatment_resistant_depression"

# MRN -> (decision, findings "kind:id" that must be present, indications that must qualify).
# Why, in brief: the decision order of the spec (absolute > no indication > missing > relative or
# interaction > eligible), with notes never counting.
EXPECTED: dict[str, tuple[str, set[str], set[str]]] = {
    # Two failed adequate trials of two classes, nothing else: eligible (off-label note on IV).
    "DEMO-0001": (E, {"note:off_label"}, {TRD}),
    "DEMO-0002": (E, {"note:off_label"}, {TRD}),
    # Lorazepam ongoing: benzodiazepine interaction.
    "DEMO-0003": (P, {"interaction:benzodiazepine"}, {TRD}),
    # eGFR 55 < 60 within 90 days.
    "DEMO-0004": (P, {"relative:renal_impairment"}, {TRD}),
    # 150/85: systolic > 140, not above 160/90.
    "DEMO-0005": (P, {"relative:elevated_blood_pressure"}, {TRD}),
    "DEMO-0006": (P, {"interaction:opioid"}, {TRD}),
    # PHQ-9 item 9 = 1 within 30 days: active suicidality, and MDD with suicidal ideation.
    "DEMO-0007": (P, {"relative:active_suicidality"}, {TRD, "mdd_with_suicidal_ideation"}),
    # F10.20 active: substance use disorder.
    "DEMO-0008": (P, {"relative:substance_use_disorder"}, {TRD}),
    # H40.11X0 glaucoma active.
    "DEMO-0009": (P, {"relative:raised_intracranial_or_intraocular_pressure"}, {TRD}),
    # ALT 150 > 120 U/L.
    "DEMO-0010": (P, {"relative:hepatic_impairment"}, {TRD}),
    # TSH 0.05 < 0.1 with no levothyroxine and no antithyroid drug.
    "DEMO-0011": (P, {"relative:untreated_hyperthyroidism"}, {TRD}),
    # I48.91: heart disease history (the ECG completes the workup).
    "DEMO-0012": (P, {"relative:heart_disease_history"}, {TRD}),
    "DEMO-0013": (P, {"interaction:maoi"}, {TRD}),
    "DEMO-0014": (P, {"interaction:psychostimulant"}, {TRD}),
    # I10 with no antihypertensive; 138/88 and 136/86 are not elevated.
    "DEMO-0015": (P, {"relative:untreated_hypertension"}, {TRD}),
    "DEMO-0016": (P, {"relative:dissociative_disorder"}, {TRD}),
    "DEMO-0017": (P, {"relative:severe_personality_disorder"}, {TRD}),
    # 172/96 twice within 90 days: both above 160 systolic and 90 diastolic.
    "DEMO-0018": (N, {"absolute:uncontrolled_hypertension"}, {TRD}),
    "DEMO-0019": (N, {"absolute:psychotic_disorder"}, {TRD}),
    "DEMO-0020": (N, {"absolute:pregnancy"}, {TRD}),
    "DEMO-0021": (N, {"absolute:ketamine_allergy"}, {TRD}),
    # I21.4 with onset 60 days ago: within 6 months.
    "DEMO-0022": (N, {"absolute:recent_myocardial_infarction"}, {TRD}),
    "DEMO-0023": (N, {"absolute:breastfeeding"}, {TRD}),
    # I71.4 is absolute on the esketamine route.
    "DEMO-0024": (N, {"absolute:aneurysmal_vascular_disease"}, {TRD}),
    # One failed trial, one that responded, none unevaluated.
    "DEMO-0025": (N, {"indication:not_treatment_resistant"}, set()),
    # Treated hypertension only.
    "DEMO-0026": (N, {"indication:no_qualifying_indication"}, set()),
    # Readings 120 and 125 days old: none within 90 days.
    "DEMO-0027": (NI, {"missing:blood_pressure"}, {TRD}),
    # Two adequate trials of two classes without outcomes: resistance would be shown.
    "DEMO-0028": (NI, {"missing:treatment_outcomes"}, set()),
    "DEMO-0029": (NI, {"missing:treatment_history"}, set()),
    # One reading of 168/95, above 160/90, with no second reading.
    "DEMO-0030": (
        NI,
        {"missing:blood_pressure_confirmation", "relative:elevated_blood_pressure"},
        {TRD},
    ),
    # Pain: two categories failed (nerve block, physical therapy, pain medication >= 4 weeks).
    "DEMO-0031": (E, {"note:off_label"}, {"crps"}),
    "DEMO-0032": (E, {"note:off_label"}, {"fibromyalgia"}),
    "DEMO-0033": (E, {"note:off_label"}, {"neuropathic_pain"}),
    # Quetiapine 300 (antipsychotic) and lamotrigine 200 (mood stabiliser) failed.
    "DEMO-0034": (E, {"note:off_label"}, {"bipolar_depression"}),
    "DEMO-0035": (E, {"note:off_label"}, {"ptsd"}),
    "DEMO-0036": (E, {"note:off_label"}, {"anxiety_disorder"}),
    # Esketamine, item 9 = 2, no oral antidepressant: two relative findings.
    "DEMO-0037": (
        P,
        {"relative:active_suicidality", "relative:no_concurrent_oral_antidepressant"},
        {"mdd_with_suicidal_ideation"},
    ),
    # SNOMED CT 18818009 moderate recurrent major depression.
    "DEMO-0038": (E, {"note:off_label"}, {TRD}),
    # Citalopram 40 mg and bupropion 150 mg twice a day, as MedicationRequests.
    "DEMO-0039": (E, {"note:off_label"}, {TRD}),
    "DEMO-0040": (E, {"note:unrecognised_code"}, {TRD}),
    "DEMO-0041": (E, {"note:off_label"}, {TRD}),
    "DEMO-0042": (E, {"note:off_label"}, {TRD}),
    # Aged 17 on the IV route: under_18 is relative off the esketamine route.
    "DEMO-0043": (P, {"relative:under_18"}, {TRD}),
    # F10.21 (in remission): a note, not a finding that changes the decision.
    "DEMO-0044": (E, {"note:substance_use_in_remission"}, {TRD}),
    # TRD is on the esketamine label: no off-label note.
    "DEMO-0045": (E, set(), {TRD}),
}
# The charts whose workup is left incomplete on purpose, and the test that is not done.
INCOMPLETE = {
    "DEMO-0027": {"blood_pressure"},
    "DEMO-0041": {"liver_function", "renal_function"},
    "DEMO-0042": {"pregnancy_test"},
}
ESKETAMINE = {"DEMO-0024", "DEMO-0037", "DEMO-0045"}


def _data(p: DemoPatient) -> bytes:
    return json.dumps(p.bundle).encode()


@pytest.fixture(scope="module", params=DAYS, ids=str)
def seeded(request: pytest.FixtureRequest) -> tuple[date, list[DemoPatient]]:
    today: date = request.param
    return today, demo_patients(today)


@pytest.fixture(scope="module")
def screenings(seeded: tuple[date, list[DemoPatient]]) -> dict[str, dict[str, Any]]:
    today, patients = seeded
    return {p.mrn: screen_bundle(_data(p), route=p.route, as_of=today) for p in patients}


def _found(result: dict[str, Any]) -> set[str]:
    return {f"{f['kind']}:{f['id']}" for f in result["findings"]}


def test_the_clinic_is_large_and_covers_every_decision(
    seeded: tuple[date, list[DemoPatient]],
) -> None:
    _, patients = seeded
    assert len(patients) >= 30
    mrns = [p.mrn for p in patients]
    assert len(set(mrns)) == len(mrns)
    assert mrns == [f"DEMO-{n:04d}" for n in range(1, len(mrns) + 1)]
    assert {p.expected_decision for p in patients} == DECISIONS
    assert set(mrns) == set(EXPECTED)


def test_the_module_and_this_table_agree(seeded: tuple[date, list[DemoPatient]]) -> None:
    _, patients = seeded
    for p in patients:
        assert p.expected_decision == EXPECTED[p.mrn][0], p.mrn
        assert p.route == ("esketamine" if p.mrn in ESKETAMINE else "iv"), p.mrn
        assert p.summary and "\n" not in p.summary


def test_every_bundle_is_valid_r4_and_readable(seeded: tuple[date, list[DemoPatient]]) -> None:
    _, patients = seeded
    for p in patients:
        Bundle.model_validate(p.bundle)
        record = read_bundle(_data(p))
        assert record.patient.birth_date == p.birth_date
        assert record.patient.gender == p.sex


def test_each_chart_is_one_patients_with_unique_ids(
    seeded: tuple[date, list[DemoPatient]],
) -> None:
    _, patients = seeded
    seen_patient_ids: set[str] = set()
    for p in patients:
        resources = [e["resource"] for e in p.bundle["entry"]]
        ids = [r["id"] for r in resources]
        assert len(set(ids)) == len(ids), p.mrn
        patient = resources[0]
        assert patient["resourceType"] == "Patient"
        assert patient["identifier"][0]["value"] == p.mrn
        assert patient["name"][0] == {"family": p.family_name, "given": [p.given_name]}
        assert patient["contact"][0]["name"]["text"] == p.escort_name
        assert patient["id"] not in seen_patient_ids
        seen_patient_ids.add(patient["id"])
        for r in resources[1:]:
            assert r["id"].startswith(patient["id"] + "-"), r["id"]
            owner = r.get("subject") or r.get("patient")
            assert owner == {"reference": f"Patient/{patient['id']}"}, r["id"]


def _dates(value: Any) -> list[str]:
    """Every date-like string in a resource (YYYY-MM-DD at the start)."""
    if isinstance(value, dict):
        return [d for v in value.values() for d in _dates(v)]
    if isinstance(value, list):
        return [d for v in value for d in _dates(v)]
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-" and value[7] == "-":
        return [value[:10]]
    return []


def test_nothing_is_dated_on_or_after_the_seeding_day(
    seeded: tuple[date, list[DemoPatient]],
) -> None:
    today, patients = seeded
    for p in patients:
        for e in p.bundle["entry"][1:]:
            for d in _dates(e["resource"]):
                assert date.fromisoformat(d) < today, (p.mrn, e["resource"]["id"], d)


def test_contacts_are_fictional_and_distinct(seeded: tuple[date, list[DemoPatient]]) -> None:
    _, patients = seeded
    phones = [p.phone for p in patients] + [p.escort_phone for p in patients]
    assert len(set(phones)) == len(phones)
    # 555-0100 to 555-0199 are the numbers set aside for fiction.
    assert all(ph.split("-", 1)[1].startswith("555-01") for ph in phones)
    assert all(
        p.escort_name and p.escort_name != f"{p.given_name} {p.family_name}" for p in patients
    )


def test_ages_do_not_drift_with_the_seeding_day() -> None:
    first = {p.mrn: age_on(p.birth_date, DAYS[0]) for p in demo_patients(DAYS[0])}
    for today in DAYS[1:]:
        assert {p.mrn: age_on(p.birth_date, today) for p in demo_patients(today)} == first
    assert first["DEMO-0043"] == 17


def test_the_clinic_is_deterministic() -> None:
    today = date(2027, 6, 1)
    assert demo_patients(today) == demo_patients(today)
    later = demo_patients(today + timedelta(days=1))
    assert [p.mrn for p in later] == [p.mrn for p in demo_patients(today)]


def test_each_patient_screens_to_the_expected_decision(
    seeded: tuple[date, list[DemoPatient]], screenings: dict[str, dict[str, Any]]
) -> None:
    today, patients = seeded
    for p in patients:
        result = screenings[p.mrn]
        decision, findings, indications = EXPECTED[p.mrn]
        assert result["as_of"] == today.isoformat()
        assert result["decision"] == decision == p.expected_decision, (p.mrn, result["findings"])
        assert findings <= _found(result), (p.mrn, _found(result))
        assert {i["id"] for i in result["indications"]} == indications, p.mrn


def test_eligible_patients_have_only_notes(screenings: dict[str, dict[str, Any]]) -> None:
    for mrn, (decision, _, _) in EXPECTED.items():
        if decision == E:
            kinds = {f["kind"] for f in screenings[mrn]["findings"]}
            assert kinds <= {"note"}, mrn


def test_workup_is_complete_except_where_left_out_on_purpose(
    screenings: dict[str, dict[str, Any]],
) -> None:
    for mrn, result in screenings.items():
        not_done = {w["test"] for w in result["workup"] if w["status"] in {"missing", "stale"}}
        assert not_done == INCOMPLETE.get(mrn, set()), mrn
        assert result["workup_complete"] is (mrn not in INCOMPLETE), mrn


def test_the_summary_says_when_the_workup_is_incomplete(
    seeded: tuple[date, list[DemoPatient]],
) -> None:
    _, patients = seeded
    for p in patients:
        assert ("workup incomplete" in p.summary) is (p.mrn in INCOMPLETE), p.mrn


def test_the_counts_of_each_decision() -> None:
    counts = Counter(d for d, _, _ in EXPECTED.values())
    assert all(counts[d] >= 4 for d in DECISIONS), counts
