"""Screening the stored record, signing, overriding, staleness and the chart, on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

import ketaclinic
from ketaclinic.services.charting import (
    chart,
    effective_decision,
    is_stale,
    latest_screening,
    output_of,
    override_screening,
    screen_patient,
    sign_screening,
)
from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput
from ketaclinic.services.importing import import_bundle
from ketaclinic.services.records import (
    add_condition,
    add_medication,
    add_observation,
    correct_record,
    mark_entered_in_error,
)
from ketaclinic.services.records_forms import ConditionIn, MedicationIn, ObservationIn
from ketaclinic.services.screening import screen_bundle
from ketaclinic.store.models import Patient, Screening
from tests.integration.services_support import NOW, TODAY, Clinic, open_clinic

EXAMPLES = Path(__file__).parents[2] / "examples"
MDD = ConditionIn("F33.1", "Major depressive disorder, recurrent, moderate", onset=date(2023, 2, 1))
# Two failed adequate trials of two classes (clinical-facts.md: sertraline minimum 50 mg, an SSRI;
# venlafaxine minimum 150 mg, an SNRI; each 14 weeks >= 6): resistant, so TRD qualifies.
SERTRALINE = MedicationIn(
    "sertraline", rxnorm="36437", start=date(2025, 1, 6), end=date(2025, 4, 14), dose_mg=100,
    outcome="no-response",
)  # fmt: skip
VENLAFAXINE = MedicationIn(
    "venlafaxine", rxnorm="39786", start=date(2025, 5, 5), end=date(2025, 8, 11), dose_mg=225,
    outcome="partial-response",
)  # fmt: skip
# Below 140/90 and within 90 days of the screening: no blood-pressure finding.
NORMAL_BP = ObservationIn("85354-9", datetime(2026, 10, 29, 10, 15), systolic=118, diastolic=76)
JUSTIFICATION = "BP 150/95 twice this week"  # 25 characters


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


@pytest.fixture
def patient(clinic: Clinic) -> Patient:
    """A woman of 40 with MDD, two failed adequate trials and a normal recent blood pressure."""
    patient = clinic.register()
    with clinic.work() as s:
        add_condition(s, clinic.prescriber, clinic.clock, patient.id, MDD)
        add_medication(s, clinic.prescriber, clinic.clock, patient.id, SERTRALINE)
        add_medication(s, clinic.prescriber, clinic.clock, patient.id, VENLAFAXINE)
        add_observation(s, clinic.nurse, clinic.clock, patient.id, NORMAL_BP)
    return patient


def screened(clinic: Clinic, patient: Patient, route: str = "iv") -> Screening:
    with clinic.work() as s:
        return screen_patient(s, clinic.prescriber, clinic.clock, patient.id, route, TODAY)


def test_a_stored_trd_patient_is_eligible_as_the_engine_says(
    clinic: Clinic, patient: Patient
) -> None:
    screening = screened(clinic, patient)
    output = output_of(screening)
    assert screening.decision == output["decision"] == "eligible"
    assert output["patient"] == f"Patient/{patient.id}"
    resistance = output["treatment_resistance"]
    assert (resistance["status"], resistance["failed_adequate_trials"]) == ("resistant", 2)
    assert resistance["classes"] == ["SNRI", "SSRI"] or resistance["classes"] == ["SSRI", "SNRI"]
    assert [i["id"] for i in output["indications"]] == ["treatment_resistant_depression"]
    # The same engine as the command line, on the same bundle, gives the same object.
    replayed = screen_bundle(screening.input_bundle.encode(), route="iv", as_of=TODAY)
    assert replayed == output
    assert (screening.route, screening.as_of, screening.patient_id) == ("iv", TODAY, patient.id)
    assert (screening.policy_name, screening.policy_sha256) == (
        "default", output["policy"]["sha256"]
    )  # fmt: skip
    assert screening.engine_version == ketaclinic.__version__
    assert (screening.run_by_id, screening.created_at) == (clinic.prescriber.user_id, NOW)


def test_evidence_names_the_stored_rows(clinic: Clinic, patient: Patient) -> None:
    with clinic.factory() as s:
        rows = chart(s, patient.id)
    [mdd] = rows.diagnoses
    trials = [p.id for line in rows.trials for p in line.prescriptions]
    output = output_of(screened(clinic, patient))
    # The diagnosis and the two failed trials, each by its row id.
    assert sorted(output["indications"][0]["evidence"]) == sorted(
        [f"Condition/{mdd.id}", *(f"MedicationStatement/{t}" for t in trials)]
    )


def test_the_screening_date_defaults_to_the_clock(clinic: Clinic, patient: Patient) -> None:
    with clinic.work() as s:
        screening = screen_patient(s, clinic.prescriber, clinic.clock, patient.id, "esketamine")
    assert (screening.as_of, screening.route) == (TODAY, "esketamine")


def test_an_imported_record_screens_as_the_file_does(clinic: Clinic) -> None:
    patient = clinic.register()
    data = (EXAMPLES / "01-eligible-trd.json").read_bytes()
    with clinic.work() as s:
        import_bundle(s, clinic.prescriber, clinic.clock, patient.id, data)
    from_file = screen_bundle(data, route="iv", as_of=TODAY)
    stored = output_of(screened(clinic, patient))
    assert stored["decision"] == from_file["decision"] == "eligible"
    assert [f["id"] for f in stored["findings"]] == [f["id"] for f in from_file["findings"]]
    # Evidence names differ (row ids instead of the file's ids); the rest is the same.
    assert [(w["test"], w["status"], w["date"]) for w in stored["workup"]] == [
        (w["test"], w["status"], w["date"]) for w in from_file["workup"]
    ]
    assert stored["staging"] == from_file["staging"]
    assert stored["workup_complete"] == from_file["workup_complete"]


def test_records_marked_in_error_are_not_screened(clinic: Clinic, patient: Patient) -> None:
    with clinic.factory() as s:
        [bp] = chart(s, patient.id).vitals
    with clinic.work() as s:
        mark_entered_in_error(s, clinic.prescriber, clinic.clock, "observation", bp.id, "wrong arm")
    output = output_of(screened(clinic, patient))
    # With no blood pressure left, the engine asks for one (spec: missing `blood_pressure`).
    assert output["decision"] == "needs_information"
    assert "blood_pressure" in [f["id"] for f in output["findings"]]


def test_an_unknown_code_is_kept_and_shown_as_unrecognised(
    clinic: Clinic, patient: Patient
) -> None:
    with clinic.work() as s:
        row = add_condition(
            s, clinic.prescriber, clinic.clock, patient.id,
            ConditionIn("999999999", "Something local", system="snomed"),
        )  # fmt: skip
    output = output_of(screened(clinic, patient))
    notes = [f for f in output["findings"] if f["id"] == "unrecognised_code"]
    assert notes and f"Condition/{row.id}" in notes[0]["evidence"]
    assert output["decision"] == "eligible"  # a note never changes the decision


def test_only_a_prescriber_screens(clinic: Clinic, patient: Patient) -> None:
    before = clinic.counts()
    for actor in (clinic.nurse, clinic.front_desk, clinic.admin):
        with pytest.raises(Forbidden), clinic.work() as s:
            screen_patient(s, actor, clinic.clock, patient.id, "iv", TODAY)
    with pytest.raises(InvalidInput) as refused, clinic.work() as s:
        screen_patient(s, clinic.prescriber, clinic.clock, patient.id, "nasal", TODAY)
    assert refused.value.field == "route"
    assert clinic.counts() == before


def test_a_screening_is_signed_once_by_a_prescriber(clinic: Clinic, patient: Patient) -> None:
    screening = screened(clinic, patient)
    clinic.clock.advance(minutes=3)
    before = clinic.counts()
    with pytest.raises(Forbidden), clinic.work() as s:
        sign_screening(s, clinic.nurse, clinic.clock, screening.id)
    assert clinic.counts() == before
    with clinic.work() as s:
        signature = sign_screening(s, clinic.prescriber, clinic.clock, screening.id)
    assert (signature.signed_by_id, signature.signed_at) == (
        clinic.prescriber.user_id, NOW + timedelta(minutes=3)
    )  # fmt: skip
    before = clinic.counts()
    with pytest.raises(Conflict), clinic.work() as s:
        sign_screening(s, clinic.prescriber, clinic.clock, screening.id)
    assert clinic.counts() == before


@pytest.mark.parametrize(
    ("decision", "justification", "field"),
    [
        ("not_eligible", "   " + "x" * 19 + "   ", "justification"),  # 19 once stripped
        ("not_eligible", "", "justification"),
        ("maybe", JUSTIFICATION, "decision"),
        ("eligible", JUSTIFICATION, "decision"),  # the engine's own decision
    ],
)
def test_bad_overrides_are_refused(
    clinic: Clinic, patient: Patient, decision: str, justification: str, field: str
) -> None:
    screening = screened(clinic, patient)
    before = clinic.counts()
    with pytest.raises(InvalidInput) as refused, clinic.work() as s:
        override_screening(
            s, clinic.prescriber, clinic.clock, screening.id, decision, justification
        )
    assert refused.value.field == field
    assert clinic.counts() == before


def test_an_override_wins_and_shows_its_justification(clinic: Clinic, patient: Patient) -> None:
    screening = screened(clinic, patient)
    assert effective_decision(screening).decision == "eligible"
    with pytest.raises(Forbidden), clinic.work() as s:
        override_screening(
            s, clinic.nurse, clinic.clock, screening.id, "not_eligible", JUSTIFICATION
        )
    exactly_20 = "  " + "y" * 20 + "  "
    with clinic.work() as s:
        override_screening(
            s, clinic.prescriber, clinic.clock, screening.id, "not_eligible", exactly_20
        )
    with clinic.factory() as s:
        stored = latest_screening(s, patient.id)
        assert stored is not None
        shown = effective_decision(stored)
    assert (shown.decision, shown.engine_decision, shown.overridden) == (
        "not_eligible", "eligible", True
    )  # fmt: skip
    assert shown.justification == "y" * 20
    assert shown.overridden_by_id == clinic.prescriber.user_id
    before = clinic.counts()
    with pytest.raises(Conflict), clinic.work() as s:
        override_screening(
            s, clinic.prescriber, clinic.clock, screening.id, "needs_information", JUSTIFICATION
        )
    assert clinic.counts() == before


def _stale(clinic: Clinic, screening: Screening) -> bool:
    with clinic.factory() as s:
        fresh = s.get(Screening, screening.id)
        assert fresh is not None
        return is_stale(s, fresh)


def _signed(clinic: Clinic, patient: Patient) -> Screening:
    screening = screened(clinic, patient)
    clinic.clock.advance(minutes=1)
    with clinic.work() as s:
        sign_screening(s, clinic.prescriber, clinic.clock, screening.id)
    clinic.clock.advance(minutes=1)
    return screening


def test_an_unsigned_or_untouched_screening_is_not_stale(clinic: Clinic, patient: Patient) -> None:
    screening = screened(clinic, patient)
    clinic.clock.advance(minutes=1)
    with clinic.work() as s:
        add_observation(s, clinic.nurse, clinic.clock, patient.id, NORMAL_BP)
    assert not _stale(clinic, screening)  # never signed
    signed = _signed(clinic, patient)
    assert not _stale(clinic, signed)
    other = clinic.register("MRN-2")
    with clinic.work() as s:
        add_condition(s, clinic.prescriber, clinic.clock, other.id, MDD)
    assert not _stale(clinic, signed)  # someone else's record


def test_a_record_added_after_signing_makes_it_stale(clinic: Clinic, patient: Patient) -> None:
    signed = _signed(clinic, patient)
    with clinic.work() as s:
        add_observation(s, clinic.nurse, clinic.clock, patient.id, NORMAL_BP)
    assert _stale(clinic, signed)


def test_a_correction_after_signing_makes_it_stale(clinic: Clinic, patient: Patient) -> None:
    signed = _signed(clinic, patient)
    with clinic.factory() as s:
        [mdd] = chart(s, patient.id).diagnoses
    with clinic.work() as s:
        correct_record(
            s, clinic.prescriber, clinic.clock, "condition", mdd.id,
            ConditionIn("F33.2", "MDD, recurrent, severe", onset=date(2023, 2, 1)), "severe",
        )  # fmt: skip
    assert _stale(clinic, signed)


def test_a_record_marked_in_error_after_signing_makes_it_stale(
    clinic: Clinic, patient: Patient
) -> None:
    signed = _signed(clinic, patient)
    with clinic.factory() as s:
        [bp] = chart(s, patient.id).vitals
    with clinic.work() as s:
        mark_entered_in_error(s, clinic.prescriber, clinic.clock, "observation", bp.id, "wrong arm")
    assert _stale(clinic, signed)


def test_the_chart_summarises_the_record(clinic: Clinic, patient: Patient) -> None:
    with clinic.work() as s:
        # A second sertraline prescription, earlier: the same timeline line, first in it.
        add_medication(
            s, clinic.prescriber, clinic.clock, patient.id,
            MedicationIn("Zoloft 50 mg", start=date(2024, 6, 1), end=date(2024, 7, 1)),
        )  # fmt: skip
        add_observation(
            s, clinic.nurse, clinic.clock, patient.id,
            ObservationIn("1742-6", date(2026, 10, 20), value=22),
        )  # fmt: skip
        add_observation(
            s, clinic.nurse, clinic.clock, patient.id,
            ObservationIn("44261-6", date(2026, 10, 20), value=17),
        )  # fmt: skip
    with clinic.factory() as s:
        empty = chart(s, patient.id)
    assert empty.latest_screening is None
    screening = _signed(clinic, patient)
    with clinic.factory() as s:
        summary = chart(s, patient.id)
    assert (summary.patient.mrn, summary.patient.given_name) == ("MRN-1", "Alice")
    assert [d.code for d in summary.diagnoses] == ["F33.1"]
    assert [line.ingredient for line in summary.trials] == ["sertraline", "venlafaxine"]
    assert [p.start for p in summary.trials[0].prescriptions] == [
        date(2024, 6, 1),
        date(2025, 1, 6),
    ]
    assert [(v.systolic, v.diastolic) for v in summary.vitals] == [(118, 76)]
    assert [lab.loinc for lab in summary.labs] == ["1742-6"]
    assert [scale.value for scale in summary.scales] == [17]
    latest = summary.latest_screening
    assert latest is not None
    assert (latest.screening.id, latest.decision.decision, latest.stale) == (
        screening.id, "eligible", False
    )  # fmt: skip
    with clinic.work() as s:
        add_observation(s, clinic.nurse, clinic.clock, patient.id, NORMAL_BP)
    with clinic.factory() as s:
        later = chart(s, patient.id).latest_screening
    assert later is not None and later.stale


def test_the_saved_input_is_a_bundle_of_the_current_rows(clinic: Clinic, patient: Patient) -> None:
    screening = screened(clinic, patient)
    bundle = json.loads(screening.input_bundle)
    kinds = sorted(e["resource"]["resourceType"] for e in bundle["entry"])
    assert kinds == [
        "Condition", "MedicationStatement", "MedicationStatement", "Observation", "Patient"
    ]  # fmt: skip
    [person] = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    assert (person["id"], person["birthDate"], person["gender"]) == (
        str(patient.id), "1986-03-15", "female"
    )  # fmt: skip
