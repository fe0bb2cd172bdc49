"""Adding, checking and correcting clinical records, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from ketaclinic.services.records import (
    add_allergy,
    add_condition,
    add_medication,
    add_observation,
    add_procedure,
    correct_record,
    current_records,
    mark_entered_in_error,
    record_history,
    record_trial_outcome,
)
from ketaclinic.services.records_forms import (
    AllergyIn,
    ConditionIn,
    MedicationIn,
    ObservationIn,
    ProcedureIn,
)
from ketaclinic.store.models import ClinicalRow, Patient
from tests.integration.services_support import NOW, TODAY, Clinic, open_clinic

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
TRIAL_OUTCOME = "http://ketaclinic.org/fhir/CodeSystem/trial-outcome"

MDD = ConditionIn(code="F33.1", display="Major depressive disorder, recurrent, moderate")
SERTRALINE = MedicationIn(
    name="sertraline",
    rxnorm="36437",
    start=date(2025, 1, 6),
    end=date(2025, 4, 14),
    dose_mg=100,
    outcome="no-response",
    outcome_text="no change in mood after 14 weeks",
)
BP = ObservationIn(
    loinc="85354-9", effective=datetime(2026, 10, 29, 10, 15), systolic=118, diastolic=76
)


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


@pytest.fixture
def patient(clinic: Clinic) -> Patient:
    return clinic.register()


def resource(row: ClinicalRow) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(row.resource)
    return loaded


def valid_r4(row: ClinicalRow) -> dict[str, Any]:
    """The row's resource, after checking it against the FHIR R4 model of its type."""
    data = resource(row)
    get_fhir_model_class(data["resourceType"]).model_validate(data)
    return data


def test_a_condition_is_stored_as_a_fhir_condition(clinic: Clinic, patient: Patient) -> None:
    with clinic.work() as s:
        row = add_condition(
            s, clinic.prescriber, clinic.clock, patient.id, ConditionIn(
                code="F33.2", display="MDD, recurrent, severe", onset=date(2023, 2, 1), severe=True
            ),
        )  # fmt: skip
    data = valid_r4(row)
    assert data["resourceType"] == "Condition"
    assert data["code"]["coding"] == [
        {"system": ICD10, "code": "F33.2", "display": "MDD, recurrent, severe"}
    ]
    assert data["clinicalStatus"]["coding"][0]["code"] == "active"
    assert data["severity"]["coding"][0]["code"] == "24484000"
    assert data["onsetDateTime"] == "2023-02-01"
    assert data["subject"] == {"reference": f"Patient/{patient.id}"}
    assert (row.system, row.code, row.display) == (ICD10, "F33.2", "MDD, recurrent, severe")
    assert (row.clinical_status, row.onset, row.abatement) == ("active", date(2023, 2, 1), None)
    assert (row.state, row.source, row.supersedes_id) == ("current", "form", None)
    assert (row.recorded_at, row.recorded_by_id) == (NOW, clinic.prescriber.user_id)
    assert (
        row.content_sha256
        == hashlib.sha256(
            json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
    )


def test_a_medication_trial_keeps_its_dose_dates_and_outcome(
    clinic: Clinic, patient: Patient
) -> None:
    with clinic.work() as s:
        row = add_medication(s, clinic.prescriber, clinic.clock, patient.id, SERTRALINE)
    data = valid_r4(row)
    assert data["resourceType"] == "MedicationStatement"
    assert data["status"] == "completed"
    assert data["medicationCodeableConcept"]["coding"][0] == {
        "system": RXNORM, "code": "36437", "display": "sertraline"
    }  # fmt: skip
    assert data["effectivePeriod"] == {"start": "2025-01-06", "end": "2025-04-14"}
    assert data["dosage"][0]["timing"]["repeat"] == {"frequency": 1, "period": 1, "periodUnit": "d"}
    assert data["dosage"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 100
    assert data["dosage"][0]["doseAndRate"][0]["doseQuantity"]["code"] == "mg"
    [reason] = data["statusReason"]
    assert reason["coding"][0]["system"] == TRIAL_OUTCOME
    assert reason["coding"][0]["code"] == "no-response"
    assert reason["text"] == "no change in mood after 14 weeks"
    assert (row.name, row.ingredient, row.resource_type) == (
        "sertraline", "sertraline", "MedicationStatement"
    )  # fmt: skip
    assert (row.dose_mg, row.frequency, row.period, row.period_unit) == (100, 1, 1, "d")
    assert (row.start, row.end) == (date(2025, 1, 6), date(2025, 4, 14))
    assert (row.outcome, row.outcome_text) == ("no-response", "no change in mood after 14 weeks")


def test_a_brand_name_is_read_as_its_ingredient(clinic: Clinic, patient: Patient) -> None:
    with clinic.work() as s:
        row = add_medication(
            s, clinic.prescriber, clinic.clock, patient.id, MedicationIn(name="Effexor XR 150 mg")
        )
    assert row.ingredient == "venlafaxine"
    assert "dosage" not in valid_r4(row)


def test_blood_pressure_is_one_panel_with_both_halves(clinic: Clinic, patient: Patient) -> None:
    with clinic.work() as s:
        row = add_observation(s, clinic.nurse, clinic.clock, patient.id, BP)
    data = valid_r4(row)
    assert data["code"]["coding"][0]["code"] == "85354-9"
    assert data["category"][0]["coding"][0]["code"] == "vital-signs"
    assert data["effectiveDateTime"] == "2026-10-29T10:15:00Z"
    parts = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in data["component"]}
    assert parts["8480-6"]["value"] == 118 and parts["8480-6"]["code"] == "mm[Hg]"
    assert parts["8462-4"]["value"] == 76
    assert (row.loinc, row.systolic, row.diastolic, row.value) == ("85354-9", 118, 76, None)
    assert row.effective_at == datetime(2026, 10, 29, 10, 15)


# (LOINC, value, UCUM unit the resource must carry)
MEASURED = [
    ("8867-4", 72.0, "/min"),
    ("59408-5", 97.0, "%"),
    ("29463-7", 70.5, "kg"),
    ("1742-6", 22.0, "U/L"),
    ("1920-8", 25.0, "U/L"),
    ("2160-0", 0.8, "mg/dL"),
    ("33914-3", 95.0, "mL/min/{1.73_m2}"),
    ("3016-3", 1.9, "m[IU]/L"),
    ("44261-6", 17.0, "{score}"),
    ("44260-8", 1.0, "{score}"),
    ("70274-6", 12.0, "{score}"),
]


@pytest.mark.parametrize(("loinc", "value", "unit"), MEASURED)
def test_vitals_labs_and_scale_totals_are_coded_by_loinc(
    clinic: Clinic, patient: Patient, loinc: str, value: float, unit: str
) -> None:
    with clinic.work() as s:
        row = add_observation(
            s, clinic.nurse, clinic.clock, patient.id,
            ObservationIn(loinc=loinc, effective=date(2026, 10, 20), value=value),
        )  # fmt: skip
    data = valid_r4(row)
    assert data["code"]["coding"][0]["system"] == LOINC
    assert data["code"]["coding"][0]["code"] == loinc
    assert data["valueQuantity"]["value"] == value
    assert data["valueQuantity"]["code"] == unit
    assert (row.loinc, row.value) == (loinc, value)


def test_a_pregnancy_test_result_is_coded(clinic: Clinic, patient: Patient) -> None:
    with clinic.work() as s:
        row = add_observation(
            s, clinic.nurse, clinic.clock, patient.id,
            ObservationIn(loinc="2106-3", effective=date(2026, 10, 29), result="negative"),
        )  # fmt: skip
    data = valid_r4(row)
    assert data["valueCodeableConcept"]["coding"][0] == {
        "system": SNOMED, "code": "260385009", "display": "Negative"
    }  # fmt: skip
    assert (row.loinc, row.value, row.value_text) == ("2106-3", None, "Negative")


def test_an_allergy_and_procedures_are_stored(clinic: Clinic, patient: Patient) -> None:
    with clinic.work() as s:
        allergy = add_allergy(
            s, clinic.prescriber, clinic.clock, patient.id,
            AllergyIn(substance="ketamine", code="6130", recorded=date(2020, 1, 1)),
        )  # fmt: skip
        exam = add_procedure(
            s, clinic.prescriber, clinic.clock, patient.id,
            ProcedureIn("5880005", "Physical examination", performed=date(2026, 10, 20)),
        )  # fmt: skip
        block = add_procedure(
            s, clinic.prescriber, clinic.clock, patient.id,
            ProcedureIn(
                code="64510", display="Stellate ganglion nerve block",
                system="http://www.ama-assn.org/go/cpt", performed=date(2025, 3, 1),
                outcome="no-response",
            ),
        )  # fmt: skip
    data = valid_r4(allergy)
    assert data["patient"] == {"reference": f"Patient/{patient.id}"}
    assert data["code"]["coding"][0] == {"system": RXNORM, "code": "6130", "display": "ketamine"}
    assert (allergy.substance, allergy.code, allergy.verification_status) == (
        "ketamine", "6130", "confirmed"
    )  # fmt: skip
    assert valid_r4(exam)["code"]["coding"][0]["code"] == "5880005"
    assert (exam.status, exam.performed, exam.outcome) == ("completed", date(2026, 10, 20), None)
    outcome = valid_r4(block)["outcome"]["coding"][0]
    assert (outcome["system"], outcome["code"]) == (TRIAL_OUTCOME, "no-response")
    assert block.outcome == "no-response"


def test_an_unknown_code_is_kept_as_written(clinic: Clinic, patient: Patient) -> None:
    with clinic.work() as s:
        row = add_condition(
            s, clinic.prescriber, clinic.clock, patient.id,
            ConditionIn(code="999999999", display="Something local", system="snomed"),
        )  # fmt: skip
    assert (row.system, row.code) == (SNOMED, "999999999")
    assert valid_r4(row)["code"]["coding"][0]["code"] == "999999999"


def _refused(clinic: Clinic, patient: Patient, add: Any, values: Any, field: str) -> None:
    before = clinic.counts()
    with pytest.raises(InvalidInput) as refused, clinic.work() as s:
        add(s, clinic.prescriber, clinic.clock, patient.id, values)
    assert refused.value.field == field
    assert clinic.counts() == before


def _accepted(clinic: Clinic, patient: Patient, add: Any, values: Any) -> None:
    with clinic.work() as s:
        add(s, clinic.prescriber, clinic.clock, patient.id, values)


WHEN = datetime(2026, 10, 30, 8, 0)
# (systolic, diastolic, refused field or None): the limits themselves are accepted.
PRESSURES = [
    (50, 30, None),
    (49, 30, "systolic"),
    (300, 120, None),
    (301, 120, "systolic"),
    (120, 20, None),
    (120, 19, "diastolic"),
    (250, 200, None),
    (250, 201, "diastolic"),
    (120, 120, "diastolic"),  # systolic and diastolic swapped or mistyped
]


@pytest.mark.parametrize(("systolic", "diastolic", "field"), PRESSURES)
def test_blood_pressure_outside_plausible_limits_is_refused(
    clinic: Clinic, patient: Patient, systolic: float, diastolic: float, field: str | None
) -> None:
    values = ObservationIn(loinc="85354-9", effective=WHEN, systolic=systolic, diastolic=diastolic)
    if field is None:
        _accepted(clinic, patient, add_observation, values)
    else:
        _refused(clinic, patient, add_observation, values, field)


# (LOINC, value, refused?): heart rate 20-300, SpO2 50-100 %, weight 2-400 kg, PHQ-9 0-27.
READINGS = [
    ("8867-4", 20, False),
    ("8867-4", 19, True),
    ("8867-4", 300, False),
    ("8867-4", 301, True),
    ("59408-5", 50, False),
    ("59408-5", 49.9, True),
    ("59408-5", 100, False),
    ("59408-5", 100.5, True),
    ("29463-7", 2, False),
    ("29463-7", 1.9, True),
    ("29463-7", 400, False),
    ("29463-7", 400.1, True),
    ("44261-6", 27, False),
    ("44261-6", 28, True),
    ("44260-8", 3, False),
    ("44260-8", 4, True),
    ("1742-6", 0, False),
    ("1742-6", -1, True),
]


@pytest.mark.parametrize(("loinc", "value", "refused"), READINGS)
def test_readings_outside_plausible_limits_are_refused(
    clinic: Clinic, patient: Patient, loinc: str, value: float, refused: bool
) -> None:
    values = ObservationIn(loinc=loinc, effective=WHEN, value=value)
    if refused:
        _refused(clinic, patient, add_observation, values, "value")
    else:
        _accepted(clinic, patient, add_observation, values)


def test_missing_halves_of_a_blood_pressure_are_refused(clinic: Clinic, patient: Patient) -> None:
    values = ObservationIn(loinc="85354-9", effective=WHEN, systolic=120)
    _refused(clinic, patient, add_observation, values, "diastolic")


def test_a_reading_taken_in_the_future_is_refused(clinic: Clinic, patient: Patient) -> None:
    later = ObservationIn(loinc="8867-4", effective=NOW + timedelta(minutes=1), value=70)
    _refused(clinic, patient, add_observation, later, "effective")
    _accepted(
        clinic, patient, add_observation, ObservationIn(loinc="8867-4", effective=NOW, value=70)
    )


def test_dates_after_today_are_refused(clinic: Clinic, patient: Patient) -> None:
    tomorrow = TODAY + timedelta(days=1)
    _refused(clinic, patient, add_condition, ConditionIn("F33.1", "MDD", onset=tomorrow), "onset")
    _refused(clinic, patient, add_medication, MedicationIn("sertraline", start=tomorrow), "start")
    _refused(
        clinic,
        patient,
        add_procedure,
        ProcedureIn("5880005", "Exam", performed=tomorrow),
        "performed",
    )
    _refused(clinic, patient, add_allergy, AllergyIn("ketamine", recorded=tomorrow), "recorded")
    _accepted(clinic, patient, add_condition, ConditionIn("F33.1", "MDD", onset=TODAY))


def test_an_end_before_its_start_is_refused(clinic: Clinic, patient: Patient) -> None:
    start = date(2025, 1, 6)
    backwards = MedicationIn("sertraline", start=start, end=start - timedelta(days=1))
    _refused(clinic, patient, add_medication, backwards, "end")
    ended = ConditionIn(
        "F32.1", "MDD", clinical_status="resolved", onset=start, abatement=date(2024, 1, 1)
    )
    _refused(clinic, patient, add_condition, ended, "abatement")
    _accepted(clinic, patient, add_medication, MedicationIn("sertraline", start=start, end=start))


@pytest.mark.parametrize(
    ("values", "field"),
    [
        (MedicationIn("sertraline", dose_mg=-50), "dose_mg"),
        (MedicationIn("sertraline", dose_mg=0), "dose_mg"),
        (MedicationIn("sertraline", dose_mg=50, period_unit="fortnight"), "period_unit"),
        (MedicationIn("sertraline", outcome="worked"), "outcome"),
        (MedicationIn("  "), "name"),
        (MedicationIn("sertraline", status="entered-in-error"), "status"),
    ],
)
def test_bad_medication_values_are_refused(
    clinic: Clinic, patient: Patient, values: MedicationIn, field: str
) -> None:
    _refused(clinic, patient, add_medication, values, field)


def test_a_nurse_records_vitals_but_not_diagnoses(clinic: Clinic, patient: Patient) -> None:
    with clinic.work() as s:
        add_observation(s, clinic.nurse, clinic.clock, patient.id, BP)
    before = clinic.counts()
    for actor, add, values in (
        (clinic.nurse, add_condition, MDD),
        (clinic.nurse, add_medication, SERTRALINE),
        (clinic.front_desk, add_observation, BP),
        (clinic.admin, add_observation, BP),
    ):
        with pytest.raises(Forbidden), clinic.work() as s:
            add(s, actor, clinic.clock, patient.id, values)
    assert clinic.counts() == before


def test_records_of_an_unknown_patient_are_refused(clinic: Clinic) -> None:
    before = clinic.counts()
    with pytest.raises(NotFound), clinic.work() as s:
        add_condition(s, clinic.prescriber, clinic.clock, 999, MDD)
    assert clinic.counts() == before


def test_a_correction_keeps_the_old_version(clinic: Clinic, patient: Patient) -> None:
    with clinic.work() as s:
        first = add_medication(s, clinic.prescriber, clinic.clock, patient.id, SERTRALINE)
    original = first.resource
    clinic.clock.advance(minutes=5)
    corrected_values = MedicationIn(
        name="sertraline", rxnorm="36437", start=date(2025, 1, 6), end=date(2025, 4, 14),
        dose_mg=150, outcome="partial-response",
    )  # fmt: skip
    with clinic.work() as s:
        second = correct_record(
            s, clinic.prescriber, clinic.clock, "medication", first.id, corrected_values,
            "dose was 150 mg, not 100",
        )  # fmt: skip
    assert (second.supersedes_id, second.state, second.reason) == (
        first.id, "current", "dose was 150 mg, not 100"
    )  # fmt: skip
    assert second.recorded_at == NOW + timedelta(minutes=5)
    with clinic.factory() as s:
        history = record_history(s, "medication", first.id)
        assert [r.id for r in history] == [first.id, second.id]
        assert [r.id for r in record_history(s, "medication", second.id)] == [first.id, second.id]
        old, new = history
        assert old.state == "superseded"
        assert old.resource == original  # never overwritten
        assert (old.dose_mg, old.outcome) == (100, "no-response")
        assert (new.dose_mg, new.outcome) == (150, "partial-response")
        assert [m.id for m in current_records(s, patient.id).medications] == [second.id]


def test_only_the_current_version_can_be_corrected(clinic: Clinic, patient: Patient) -> None:
    with clinic.work() as s:
        first = add_condition(s, clinic.prescriber, clinic.clock, patient.id, MDD)
    with clinic.work() as s:
        correct_record(s, clinic.prescriber, clinic.clock, "condition", first.id, MDD, "recoded")
    before = clinic.counts()
    with pytest.raises(Conflict), clinic.work() as s:
        correct_record(s, clinic.prescriber, clinic.clock, "condition", first.id, MDD, "again")
    with pytest.raises(Conflict), clinic.work() as s:
        mark_entered_in_error(s, clinic.prescriber, clinic.clock, "condition", first.id, "oops")
    assert clinic.counts() == before


@pytest.mark.parametrize(
    ("kind", "values", "reason", "error"),
    [
        ("condition", MDD, "  ", InvalidInput),
        ("condition", SERTRALINE, "wrong form", InvalidInput),
        ("diagnosis", MDD, "no such kind", InvalidInput),
    ],
)
def test_bad_corrections_are_refused(
    clinic: Clinic, patient: Patient, kind: str, values: Any, reason: str, error: type[Exception]
) -> None:
    with clinic.work() as s:
        row = add_condition(s, clinic.prescriber, clinic.clock, patient.id, MDD)
    before = clinic.counts()
    with pytest.raises(error), clinic.work() as s:
        correct_record(s, clinic.prescriber, clinic.clock, kind, row.id, values, reason)
    assert clinic.counts() == before


@pytest.mark.parametrize(
    ("kind", "add", "values", "status_key", "expected"),
    [
        ("condition", add_condition, MDD, "verificationStatus", "entered-in-error"),
        ("medication", add_medication, SERTRALINE, "status", "entered-in-error"),
        ("observation", add_observation, BP, "status", "entered-in-error"),
        (
            "allergy",
            add_allergy,
            AllergyIn("ketamine", code="6130"),
            "verificationStatus",
            "entered-in-error",
        ),
        ("procedure", add_procedure, ProcedureIn("5880005", "Exam"), "status", "entered-in-error"),
    ],
)
def test_a_mistake_is_marked_and_kept(
    clinic: Clinic, patient: Patient, kind: str, add: Any, values: Any, status_key: str,
    expected: str,
) -> None:  # fmt: skip
    with clinic.work() as s:
        row = add(s, clinic.prescriber, clinic.clock, patient.id, values)
    clinic.clock.advance(minutes=1)
    with clinic.work() as s:
        marked = mark_entered_in_error(
            s, clinic.prescriber, clinic.clock, kind, row.id, "wrong chart"
        )
    data = valid_r4(marked)
    status = data[status_key]
    assert (status if isinstance(status, str) else status["coding"][0]["code"]) == expected
    assert (marked.state, marked.supersedes_id, marked.reason) == (
        "entered_in_error", row.id, "wrong chart"
    )  # fmt: skip
    with clinic.factory() as s:
        assert current_records(s, patient.id).all() == []
        assert [(r.id, r.state) for r in record_history(s, kind, row.id)] == [
            (row.id, "superseded"), (marked.id, "entered_in_error")
        ]  # fmt: skip


def test_a_trial_outcome_is_added_keeping_the_dose_history(
    clinic: Clinic, patient: Patient
) -> None:
    without = MedicationIn(
        "fluoxetine", rxnorm="4493", start=date(2024, 1, 1), end=date(2024, 4, 1), dose_mg=40
    )
    with clinic.work() as s:
        first = add_medication(s, clinic.prescriber, clinic.clock, patient.id, without)
    with clinic.work() as s:
        second = record_trial_outcome(
            s, clinic.prescriber, clinic.clock, first.id, "no-response", "no benefit at 40 mg"
        )
    data = valid_r4(second)
    assert data["statusReason"][0]["coding"][0]["code"] == "no-response"
    assert data["dosage"] == resource(first)["dosage"]
    assert (second.dose_mg, second.start, second.end) == (40, date(2024, 1, 1), date(2024, 4, 1))
    assert (second.outcome, second.supersedes_id) == ("no-response", first.id)
    before = clinic.counts()
    with pytest.raises(InvalidInput), clinic.work() as s:
        record_trial_outcome(s, clinic.prescriber, clinic.clock, second.id, None, "  ")
    assert clinic.counts() == before


def test_current_records_lists_each_type(clinic: Clinic, patient: Patient) -> None:
    other = clinic.register("MRN-2")
    with clinic.work() as s:
        add_condition(s, clinic.prescriber, clinic.clock, patient.id, MDD)
        add_medication(s, clinic.prescriber, clinic.clock, patient.id, SERTRALINE)
        add_observation(s, clinic.prescriber, clinic.clock, patient.id, BP)
        add_allergy(s, clinic.prescriber, clinic.clock, patient.id, AllergyIn("penicillin"))
        add_procedure(
            s, clinic.prescriber, clinic.clock, patient.id, ProcedureIn("5880005", "Exam")
        )
        add_condition(s, clinic.prescriber, clinic.clock, other.id, MDD)
    with clinic.factory() as s:
        found = current_records(s, patient.id)
    assert [c.code for c in found.conditions] == ["F33.1"]
    assert [m.name for m in found.medications] == ["sertraline"]
    assert [o.loinc for o in found.observations] == ["85354-9"]
    assert [a.substance for a in found.allergies] == ["penicillin"]
    assert [p.code for p in found.procedures] == ["5880005"]
