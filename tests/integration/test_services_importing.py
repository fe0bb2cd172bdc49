"""Importing FHIR bundles into a patient's record, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ketaclinic.services import importing
from ketaclinic.services.errors import Forbidden, InvalidInput
from ketaclinic.services.importing import ImportResult, import_bundle
from ketaclinic.services.records import current_records
from ketaclinic.store.models import Patient
from tests.integration.services_support import Clinic, open_clinic

EXAMPLE_01 = Path(__file__).parents[2] / "examples" / "01-eligible-trd.json"
# Example 01 holds a Patient and 13 clinical resources: 1 Condition, 2 MedicationStatements,
# 9 Observations (2 blood pressures, ALT, AST, creatinine, eGFR, PHQ-9, item 9, hCG), 1 Procedure.
EXAMPLE_01_RESOURCES = 13
SUBJECT = {"reference": "Patient/p1"}


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


@pytest.fixture
def patient(clinic: Clinic) -> Patient:
    # Example 01's patient: a woman born on 1986-03-15.
    return clinic.register()


def bundle(*resources: dict[str, Any], birth_date: str = "1986-03-15") -> bytes:
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": birth_date}
    entries = [{"resource": patient}, *({"resource": r} for r in resources)]
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}).encode()


def reading(id_: str, systolic: int, diastolic: int, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": id_, "status": "final", "subject": SUBJECT,
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "effectiveDateTime": when,
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
             "valueQuantity": {"value": systolic, "unit": "mmHg"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
             "valueQuantity": {"value": diastolic, "unit": "mmHg"}},
        ],
    }  # fmt: skip


FIRST = reading("bp1", 124, 78, "2026-10-20T09:30:00Z")
SECOND = reading("bp2", 118, 76, "2026-10-29T10:15:00Z")
THIRD = reading("bp3", 121, 79, "2026-10-31T08:00:00Z")


def run(clinic: Clinic, patient: Patient, data: bytes) -> ImportResult:
    with clinic.work() as s:
        return import_bundle(s, clinic.prescriber, clinic.clock, patient.id, data)


def test_every_clinical_resource_becomes_a_row(clinic: Clinic, patient: Patient) -> None:
    result = run(clinic, patient, EXAMPLE_01.read_bytes())
    assert result == ImportResult(created=EXAMPLE_01_RESOURCES, unchanged=0, already_imported=False)
    with clinic.factory() as s:
        found = current_records(s, patient.id)
    assert len(found.all()) == EXAMPLE_01_RESOURCES
    assert {r.source for r in found.all()} == {"import"}
    [mdd] = found.conditions
    assert (mdd.code, mdd.clinical_status, mdd.onset) == ("F33.1", "active", date(2023, 2, 1))
    trials = {(m.ingredient, m.dose_mg, m.outcome) for m in found.medications}
    assert trials == {("sertraline", 100, "no-response"), ("venlafaxine", 225, "partial-response")}
    pressures = sorted(
        (o.systolic, o.diastolic) for o in found.observations if o.loinc == "85354-9"
    )
    assert pressures == [(118, 76), (124, 78)]
    [exam] = found.procedures
    assert exam.code == "5880005"
    stored = json.loads(mdd.resource)
    # The original resource, its subject pointed at the clinic's patient.
    assert stored["id"] == "ex01-mdd"
    assert stored["subject"] == {"reference": f"Patient/{patient.id}"}


def test_the_same_bundle_twice_creates_nothing_new(clinic: Clinic, patient: Patient) -> None:
    data = EXAMPLE_01.read_bytes()
    run(clinic, patient, data)
    before = clinic.counts()
    again = run(clinic, patient, data)
    assert again == ImportResult(created=0, unchanged=EXAMPLE_01_RESOURCES, already_imported=True)
    assert clinic.counts() == before


def test_an_overlapping_bundle_adds_only_what_is_new(clinic: Clinic, patient: Patient) -> None:
    assert run(clinic, patient, bundle(FIRST, SECOND)).created == 2
    # A later export: the same two readings (with a new server version in meta) and a third.
    resent = copy.deepcopy(SECOND)
    resent["meta"] = {"versionId": "7", "lastUpdated": "2026-11-01T00:00:00Z"}
    result = run(clinic, patient, bundle(FIRST, resent, THIRD))
    assert result == ImportResult(created=1, unchanged=2, already_imported=False)
    with clinic.factory() as s:
        assert len(current_records(s, patient.id).observations) == 3


def test_a_record_marked_in_error_does_not_come_back_with_a_reimport(
    clinic: Clinic, patient: Patient
) -> None:
    from ketaclinic.services.records import mark_entered_in_error

    run(clinic, patient, bundle(FIRST))
    with clinic.factory() as s:
        [row] = current_records(s, patient.id).observations
    with clinic.work() as s:
        mark_entered_in_error(s, clinic.prescriber, clinic.clock, "observation", row.id, "not hers")
    assert run(clinic, patient, bundle(FIRST, SECOND)).created == 1
    with clinic.factory() as s:
        assert [o.systolic for o in current_records(s, patient.id).observations] == [118]


def test_one_invalid_resource_refuses_the_whole_bundle(clinic: Clinic, patient: Patient) -> None:
    broken = copy.deepcopy(THIRD)
    del broken["status"]  # required in R4
    before = clinic.counts()
    with pytest.raises(InvalidInput) as refused:
        run(clinic, patient, bundle(FIRST, SECOND, broken))
    assert refused.value.field == "bundle"
    assert "entry 3 (Observation): status" in refused.value.message
    assert clinic.counts() == before


def test_a_failure_while_writing_writes_nothing(
    clinic: Clinic, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importing.new_row
    made: list[int] = []

    def fails_on_the_third(resource: dict[str, Any], **kwargs: Any) -> Any:
        made.append(1)
        if len(made) == 3:
            raise RuntimeError("disk full")
        return real(resource, **kwargs)

    monkeypatch.setattr(importing, "new_row", fails_on_the_third)
    before = clinic.counts()
    with pytest.raises(RuntimeError, match="disk full"):
        run(clinic, patient, bundle(FIRST, SECOND, THIRD))
    assert clinic.counts() == before


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b'{"resourceType": "Patient"}',
        bundle(dict(FIRST, subject={"reference": "Patient/someone-else"})),
    ],
)
def test_bad_bundles_are_refused_with_nothing_written(
    clinic: Clinic, patient: Patient, data: bytes
) -> None:
    before = clinic.counts()
    with pytest.raises(InvalidInput) as refused:
        run(clinic, patient, data)
    assert refused.value.field == "bundle"
    assert clinic.counts() == before


def test_a_bundle_of_someone_born_on_another_day_is_refused(
    clinic: Clinic, patient: Patient
) -> None:
    before = clinic.counts()
    with pytest.raises(InvalidInput, match="born 1990-01-01"):
        run(clinic, patient, bundle(FIRST, birth_date="1990-01-01"))
    assert clinic.counts() == before
    # A partial birth date that agrees is the same person.
    assert run(clinic, patient, bundle(FIRST, birth_date="1986-03")).created == 1


def test_a_bundled_medication_travels_with_its_prescription(
    clinic: Clinic, patient: Patient
) -> None:
    medication = {
        "resourceType": "Medication", "id": "med1",
        "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                             "code": "36437", "display": "sertraline"}]},
    }  # fmt: skip
    statement = {
        "resourceType": "MedicationStatement", "id": "ms1", "status": "completed",
        "subject": SUBJECT, "medicationReference": {"reference": "Medication/med1"},
        "effectivePeriod": {"start": "2025-01-06", "end": "2025-04-14"},
    }  # fmt: skip
    assert run(clinic, patient, bundle(medication, statement)).created == 1
    with clinic.factory() as s:
        [row] = current_records(s, patient.id).medications
    stored = json.loads(row.resource)
    assert stored["medicationReference"] == {"reference": "#med1"}
    assert stored["contained"][0]["code"]["coding"][0]["code"] == "36437"
    assert (row.ingredient, row.start, row.end) == (
        "sertraline",
        date(2025, 1, 6),
        date(2025, 4, 14),
    )


def test_only_a_prescriber_imports(clinic: Clinic, patient: Patient) -> None:
    before = clinic.counts()
    with pytest.raises(Forbidden), clinic.work() as s:
        import_bundle(s, clinic.nurse, clinic.clock, patient.id, bundle(FIRST))
    assert clinic.counts() == before
