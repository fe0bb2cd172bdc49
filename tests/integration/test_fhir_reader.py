"""FHIR Bundle -> Record: refusals (what and where) and the facts read (spec/screening.md).

Bundles are written here as Python dicts; expected values are written by hand
from the spec's "what is read" table.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.clinical.facts import (
    ICD10,
    LOINC,
    RXNORM,
    SNOMED,
    TRIAL_OUTCOME,
    Coding,
    Component,
    Moment,
    Record,
)
from ketaclinic.fhir.bundle import BundleError, read_bundle, read_bundle_file

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "birthDate": "1980-05-17",
    "gender": "female",
}
SUBJECT = {"reference": "Patient/p1"}
UUID_PATIENT = "urn:uuid:7f3c7c3e-1111-4c4c-9999-000000000001"


def loinc(code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": LOINC, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def outcome(code: str) -> dict[str, Any]:
    return {"coding": [{"system": TRIAL_OUTCOME, "code": code}]}


def bundle(
    *resources: dict[str, Any],
    patient: dict[str, Any] | None = PATIENT,
    kind: str = "collection",
    urls: dict[int, str] | None = None,
) -> bytes:
    """A bundle whose entry 0 is the patient (when given), then the resources in order."""
    listed = ([patient] if patient is not None else []) + list(resources)
    entries = []
    for i, resource in enumerate(listed):
        entry: dict[str, Any] = {"resource": resource}
        if urls and i in urls:
            entry["fullUrl"] = urls[i]
        entries.append(entry)
    return orjson.dumps({"resourceType": "Bundle", "type": kind, "entry": entries})


def read(*resources: dict[str, Any], **options: Any) -> Record:
    return read_bundle(bundle(*resources, **options))


def refused(data: bytes) -> str:
    with pytest.raises(BundleError) as caught:
        read_bundle(data)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def merged(base: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The base resource with fields replaced; a None field is removed."""
    return {k: v for k, v in {**base, **fields}.items() if v is not None}


def observation(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": loinc("8867-4"),
        "subject": SUBJECT,
        "effectiveDateTime": "2026-10-20",
    }
    return merged(base, fields)


def condition(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "Condition",
        "id": "c1",
        "subject": SUBJECT,
        "code": {"coding": [{"system": ICD10, "code": "F33.1"}]},
    }
    return merged(base, fields)


def statement(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": "m1",
        "status": "completed",
        "subject": SUBJECT,
        "medicationCodeableConcept": {"text": "sertraline 100 MG Oral Tablet"},
    }
    return merged(base, fields)


# --- Refusals: what is wrong and where -------------------------------------------------------


def test_not_json_is_refused() -> None:
    assert refused(b"{not json").startswith("not JSON")


def test_empty_input_is_refused_as_not_json() -> None:
    assert refused(b"").startswith("not JSON")


def test_json_that_is_not_an_object_is_refused() -> None:
    assert "not a FHIR Bundle" in refused(b"[1, 2]")


def test_an_object_that_is_not_a_bundle_is_refused_naming_its_type() -> None:
    message = refused(orjson.dumps(PATIENT))
    assert message == 'not a FHIR Bundle: resourceType is "Patient"'


def test_an_object_without_resource_type_is_refused() -> None:
    assert refused(b'{"type": "collection"}') == "not a FHIR Bundle: has no resourceType"


@pytest.mark.parametrize("kind", ["document", "message", "history", "Collection"])
def test_bundle_types_outside_the_four_are_refused(kind: str) -> None:
    message = refused(bundle(kind=kind))
    assert message.startswith("Bundle.type:")
    assert f'"{kind}"' in message
    assert "collection, transaction, batch, searchset" in message


def test_missing_bundle_type_is_refused() -> None:
    message = refused(b'{"resourceType": "Bundle", "entry": []}')
    assert message.startswith("Bundle.type: missing")


@pytest.mark.parametrize("kind", ["collection", "transaction", "batch", "searchset"])
def test_the_four_bundle_types_are_read(kind: str) -> None:
    assert read(kind=kind).patient.ref == "Patient/p1"


def test_no_patient_is_refused() -> None:
    assert refused(bundle(condition(), patient=None)) == "no Patient in the bundle"


def test_an_empty_bundle_has_no_patient() -> None:
    message = refused(b'{"resourceType": "Bundle", "type": "collection"}')
    assert message == "no Patient in the bundle"


def test_more_than_one_patient_is_refused_naming_the_entries() -> None:
    other = {**PATIENT, "id": "p2"}
    message = refused(bundle(condition(), other))
    assert message == "more than one Patient in the bundle (entries 0, 2)"


def test_a_reference_to_another_patient_is_refused() -> None:
    message = refused(bundle(observation(), condition(subject={"reference": "Patient/p2"})))
    assert message.startswith("entry 2 (Condition): subject.reference: refers to 'Patient/p2'")
    assert "Patient/p1" in message


def test_an_allergy_about_another_patient_is_refused_by_its_patient_element() -> None:
    allergy = {
        "resourceType": "AllergyIntolerance",
        "id": "a1",
        "patient": {"reference": "Patient/p2"},
        "code": {"text": "ketamine"},
    }
    assert refused(bundle(allergy)).startswith("entry 1 (AllergyIntolerance): patient.reference:")


def test_a_urn_uuid_reference_to_another_resource_is_refused() -> None:
    patient = {k: v for k, v in PATIENT.items() if k != "id"}
    other = condition(subject={"reference": "urn:uuid:00000000-0000-0000-0000-000000000000"})
    message = refused(bundle(other, patient=patient, urls={0: UUID_PATIENT}))
    assert message.startswith("entry 1 (Condition): subject.reference: refers to 'urn:uuid:0000")


def test_a_subject_that_is_a_group_is_refused() -> None:
    message = refused(bundle(observation(subject={"reference": "Group/g1"})))
    assert message.startswith("entry 1 (Observation): subject.reference: refers to 'Group/g1'")


def test_urn_uuid_references_to_the_patient_are_read() -> None:
    patient = {k: v for k, v in PATIENT.items() if k != "id"}
    record = read(
        condition(subject={"reference": UUID_PATIENT}),
        observation(subject={"reference": UUID_PATIENT}),
        patient=patient,
        urls={0: UUID_PATIENT},
    )
    # Without an id, the patient is named by its fullUrl.
    assert record.patient.ref == UUID_PATIENT
    assert [c.ref for c in record.conditions] == ["Condition/c1"]
    assert [o.ref for o in record.observations] == ["Observation/o1"]


def test_patient_id_and_full_url_both_match() -> None:
    record = read(
        condition(subject={"reference": "Patient/p1"}),
        observation(subject={"reference": UUID_PATIENT}),
        urls={0: UUID_PATIENT},
    )
    assert record.patient.ref == "Patient/p1"
    assert len(record.conditions) == 1 and len(record.observations) == 1


def test_a_versioned_reference_to_the_patient_is_the_patient() -> None:
    record = read(condition(subject={"reference": "Patient/p1/_history/3"}))
    assert len(record.conditions) == 1


def test_an_observation_without_subject_is_the_bundle_patient() -> None:
    assert len(read(observation(subject=None)).observations) == 1


def test_an_observation_with_yesterday_as_date_is_refused_naming_entry_and_field() -> None:
    message = refused(bundle(condition(), observation(effectiveDateTime="yesterday")))
    assert message == 'entry 2 (Observation): effectiveDateTime: not a valid dateTime ("yesterday")'


def test_a_condition_with_code_as_a_string_is_refused_naming_entry_and_field() -> None:
    message = refused(bundle(condition(code="F33.1")))
    assert message.startswith("entry 1 (Condition): code: expected an object")


def test_a_condition_with_code_as_a_number_is_refused_naming_the_type_expected() -> None:
    message = refused(bundle(condition(code=5)))
    assert message.startswith("entry 1 (Condition): code: expected a CodeableConcept object")


def test_a_missing_required_element_is_named() -> None:
    assert refused(bundle(observation(status=None))) == (
        "entry 1 (Observation): status: required element is missing"
    )


def test_a_nested_field_is_named_with_its_path() -> None:
    panel = observation(
        component=[
            {"code": loinc("8480-6"), "valueQuantity": {"value": 120}},
            {"code": loinc("8462-4"), "valueQuantity": {"value": "high"}},
        ]
    )
    message = refused(bundle(panel))
    assert message == (
        'entry 1 (Observation): component[1].valueQuantity.value: not a valid decimal ("high")'
    )


def test_an_unknown_element_is_refused_in_a_read_resource() -> None:
    message = refused(bundle(condition(severityLevel="high")))
    assert message.startswith("entry 1 (Condition): severityLevel: unknown element")


def test_an_invalid_patient_is_refused() -> None:
    message = refused(bundle(patient={**PATIENT, "birthDate": "17/05/1980"}))
    assert message == 'entry 0 (Patient): birthDate: not a valid date ("17/05/1980")'


def test_two_choices_of_one_element_are_refused() -> None:
    both = observation(effectivePeriod={"start": "2026-10-20"})
    message = refused(bundle(both))
    assert message.startswith("entry 1 (Observation): only one of effectiveDateTime")


def test_a_number_where_a_date_time_belongs_is_refused() -> None:
    # pydantic alone would take 20200101 as seconds since 1970.
    message = refused(bundle(condition(onsetDateTime=20200101)))
    assert message == "entry 1 (Condition): onsetDateTime: expected a string"


def test_a_contained_resource_of_unknown_type_is_refused() -> None:
    odd = statement(contained=[{"resourceType": "Pill", "id": "x"}])
    message = refused(bundle(odd))
    assert (
        message
        == 'entry 1 (MedicationStatement): contained[0].resourceType: unknown resource type "Pill"'
    )


def test_several_problems_are_counted_in_one_line() -> None:
    message = refused(bundle(observation(status=None, effectiveDateTime="soon", issued="later")))
    assert message.startswith("entry 1 (Observation): ")
    assert "more problem" in message


def test_an_entry_that_is_not_an_object_is_refused() -> None:
    data = orjson.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": PATIENT}, 7]}
    )
    assert refused(data) == "entry 1: expected an object"


def test_a_resource_without_type_is_refused() -> None:
    data = orjson.dumps(
        {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": {"id": "x"}}]}
    )
    assert refused(data) == "entry 0: resource has no resourceType"


def test_an_invalid_bundled_medication_is_refused_when_read() -> None:
    medication = {"resourceType": "Medication", "id": "med1", "code": "sertraline"}
    uses = statement(
        medicationCodeableConcept=None, medicationReference={"reference": "Medication/med1"}
    )
    message = refused(bundle(medication, uses))
    assert message.startswith("entry 1 (Medication): code: expected an object")


def test_an_invalid_medication_nobody_refers_to_is_not_read() -> None:
    medication = {"resourceType": "Medication", "id": "med1", "code": "sertraline"}
    assert read(medication).medications == ()


# --- Unread types are never validated --------------------------------------------------------


def test_unread_types_with_garbage_are_not_refused() -> None:
    record = read(
        {"resourceType": "Claim", "foo": 1},
        {"resourceType": "Encounter", "subject": {"reference": "Patient/somebody-else"}},
        {"resourceType": "ExplanationOfBenefit", "status": 42, "patient": "nobody"},
        {"resourceType": "DiagnosticReport", "effectiveDateTime": "yesterday"},
        {"resourceType": "ImagingStudy", "series": "not a list"},
        {"resourceType": "NotAFhirType"},
        condition(),
    )
    assert [c.ref for c in record.conditions] == ["Condition/c1"]


def test_an_unread_entry_with_an_odd_full_url_is_not_refused() -> None:
    data = orjson.dumps(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": PATIENT}, {"fullUrl": 5, "resource": {"resourceType": "Claim"}}],
        }
    )
    assert read_bundle(data).patient.ref == "Patient/p1"


def test_a_transaction_entry_without_resource_is_passed_over() -> None:
    data = orjson.dumps(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {"request": {"method": "DELETE", "url": "Condition/old"}},
                {"resource": PATIENT, "request": {"method": "PUT", "url": "Patient/p1"}},
            ],
        }
    )
    assert read_bundle(data).patient.ref == "Patient/p1"


# --- Files -----------------------------------------------------------------------------------


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(BundleError, match=r"nope\.json: cannot read the file"):
        read_bundle_file(missing)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="cannot read the file"):
        read_bundle_file(tmp_path)


def test_a_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_bytes(bundle(condition()))
    assert read_bundle_file(path).patient.ref == "Patient/p1"


# --- Facts read ------------------------------------------------------------------------------


def test_patient_birth_date_and_gender() -> None:
    patient = read().patient
    assert (patient.ref, patient.birth_date, patient.gender) == (
        "Patient/p1",
        date(1980, 5, 17),
        "female",
    )


def test_a_partial_birth_date_is_its_first_day() -> None:
    assert read(patient={**PATIENT, "birthDate": "1980"}).patient.birth_date == date(1980, 1, 1)
    assert read(patient={**PATIENT, "birthDate": "1980-05"}).patient.birth_date == date(1980, 5, 1)


def test_condition_fields() -> None:
    written = condition(
        code={
            "coding": [
                {"system": ICD10, "code": "I25.10", "display": "CAD"},
                {"system": SNOMED, "code": "53741008"},
            ],
            "text": "Coronary artery disease",
        },
        clinicalStatus={"coding": [{"code": "resolved"}]},
        verificationStatus={"coding": [{"code": "confirmed"}]},
        onsetPeriod={"start": "2019-03-02"},
        recordedDate="2019-04-01",
        abatementDateTime="2025-01-15T10:00:00Z",
        severity={"coding": [{"system": SNOMED, "code": "24484000", "display": "Severe"}]},
    )
    (found,) = read(written).conditions
    assert found.ref == "Condition/c1"
    assert found.codings == (Coding(ICD10, "I25.10", "CAD"), Coding(SNOMED, "53741008"))
    assert found.text == "Coronary artery disease"
    assert found.clinical_status == "resolved"
    assert found.verification_status == "confirmed"
    assert found.onset == date(2019, 3, 2)
    assert found.recorded == date(2019, 4, 1)
    assert found.abatement == date(2025, 1, 15)
    assert found.severe is True


def test_condition_onset_date_time_wins_and_moderate_is_not_severe() -> None:
    written = condition(
        onsetDateTime="2020-07",
        severity={"coding": [{"system": SNOMED, "code": "6736007", "display": "Moderate"}]},
    )
    (found,) = read(written).conditions
    assert found.onset == date(2020, 7, 1)
    assert found.severe is False
    assert found.clinical_status is None


def test_severe_code_in_another_system_is_not_severe() -> None:
    written = condition(severity={"coding": [{"system": ICD10, "code": "24484000"}]})
    assert read(written).conditions[0].severe is False


def test_medication_statement_dose_timing_and_outcome_code() -> None:
    written = statement(
        medicationCodeableConcept={
            "coding": [{"system": RXNORM, "code": "312941", "display": "Zoloft 100 MG Oral Tablet"}]
        },
        effectivePeriod={"start": "2025-01-10", "end": "2025-04-04"},
        dosage=[
            {
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 50, "unit": "mg"}}],
            }
        ],
        statusReason=[outcome("no-response")],
    )
    (found,) = read(written).medications
    assert found.ref == "MedicationStatement/m1"
    assert found.source == "MedicationStatement"
    # 312941 is a product code, not an ingredient code: the brand in the display names it.
    assert found.ingredient == "sertraline"
    assert found.name == "Zoloft 100 MG Oral Tablet"
    assert found.status == "completed"
    assert (found.start, found.end) == (date(2025, 1, 10), date(2025, 4, 4))
    assert found.dose_mg == 50.0
    assert found.dose_units is None
    assert (found.frequency, found.period, found.period_unit) == (2, 1.0, "d")
    assert found.strength_mg == 100.0
    assert (found.outcome_code, found.outcome_text) == ("no-response", None)


def test_an_rxnorm_ingredient_code_wins_over_the_name() -> None:
    written = statement(
        medicationCodeableConcept={
            "coding": [{"system": RXNORM, "code": "36437"}],
            "text": "Prozac",
        }
    )
    (found,) = read(written).medications
    assert found.ingredient == "sertraline"
    assert found.name == "Prozac"


def test_an_unknown_drug_has_no_ingredient() -> None:
    written = statement(medicationCodeableConcept={"text": "Vitamin D 1000 IU"})
    (found,) = read(written).medications
    assert (found.ingredient, found.name, found.strength_mg) == (None, "Vitamin D 1000 IU", None)


def test_effective_date_time_is_the_start() -> None:
    (found,) = read(statement(effectiveDateTime="2025-02-03T08:00:00+01:00")).medications
    assert (found.start, found.end) == (date(2025, 2, 3), None)


@pytest.mark.parametrize(
    ("quantity", "dose_mg", "dose_units"),
    [
        ({"value": 0.15, "unit": "g"}, 150.0, None),
        ({"value": 500, "unit": "mcg"}, 0.5, None),
        ({"value": 250, "code": "ug", "system": "http://unitsofmeasure.org"}, 0.25, None),
        ({"value": 20, "unit": "MG"}, 20.0, None),
        ({"value": 2, "unit": "{tbl}"}, None, 2.0),
        ({"value": 1, "unit": "capsule"}, None, 1.0),
        ({"value": 1, "unit": "TAB"}, None, 1.0),
        ({"value": 5, "unit": "mL"}, None, None),
        ({"value": 5}, None, None),
    ],
)
def test_dose_units(
    quantity: dict[str, Any], dose_mg: float | None, dose_units: float | None
) -> None:
    written = statement(dosage=[{"doseAndRate": [{"doseQuantity": quantity}]}])
    (found,) = read(written).medications
    assert (found.dose_mg, found.dose_units) == (dose_mg, dose_units)


def test_outcome_text_when_no_trial_outcome_code() -> None:
    written = statement(
        statusReason=[
            {
                "coding": [{"system": SNOMED, "code": "281647001", "display": "Adverse reaction"}],
                "text": "stopped: side effects (nausea)",
            }
        ]
    )
    (found,) = read(written).medications
    assert (found.outcome_code, found.outcome_text) == (None, "stopped: side effects (nausea)")


def test_outcome_display_when_no_text() -> None:
    written = statement(
        statusReason=[{"coding": [{"system": SNOMED, "code": "1", "display": "Not effective"}]}]
    )
    (found,) = read(written).medications
    assert (found.outcome_code, found.outcome_text) == (None, "Not effective")


def test_no_status_reason_no_outcome() -> None:
    (found,) = read(statement()).medications
    assert (found.outcome_code, found.outcome_text) == (None, None)


def test_medication_request_fields() -> None:
    written = {
        "resourceType": "MedicationRequest",
        "id": "r1",
        "status": "stopped",
        "intent": "order",
        "subject": SUBJECT,
        "medicationCodeableConcept": {"text": "Effexor XR 150 mg"},
        "authoredOn": "2024-06-01T09:30:00-04:00",
        "dispenseRequest": {"validityPeriod": {"start": "2024-06-01", "end": "2024-09-01"}},
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "capsule"}}],
            }
        ],
        "statusReason": outcome("intolerance"),
    }
    (found,) = read(written).medications
    assert found.ref == "MedicationRequest/r1"
    assert found.source == "MedicationRequest"
    assert found.ingredient == "venlafaxine"
    assert found.status == "stopped"
    assert (found.start, found.end) == (date(2024, 6, 1), date(2024, 9, 1))
    assert (found.dose_mg, found.dose_units) == (None, 1.0)
    assert (found.frequency, found.period, found.period_unit) == (1, 1.0, "d")
    assert found.strength_mg == 150.0
    assert found.outcome_code == "intolerance"


def test_a_contained_medication_is_resolved() -> None:
    written = statement(
        medicationCodeableConcept=None,
        contained=[
            {
                "resourceType": "Medication",
                "id": "med",
                "code": {"coding": [{"system": RXNORM, "code": "4493"}], "text": "Prozac 20 mg"},
            }
        ],
        medicationReference={"reference": "#med"},
    )
    (found,) = read(written).medications
    assert (found.ingredient, found.name, found.strength_mg) == ("fluoxetine", "Prozac 20 mg", 20.0)


def test_a_bundled_medication_is_resolved_by_full_url() -> None:
    medication = {
        "resourceType": "Medication",
        "code": {
            "coding": [{"system": RXNORM, "code": "1", "display": "fluoxetine 20 MG Oral Capsule"}]
        },
    }
    uses = statement(
        medicationCodeableConcept=None, medicationReference={"reference": "urn:uuid:med-1"}
    )
    (found,) = read(medication, uses, urls={1: "urn:uuid:med-1"}).medications
    assert (found.ingredient, found.name, found.strength_mg) == (
        "fluoxetine",
        "fluoxetine 20 MG Oral Capsule",
        20.0,
    )


def test_an_unresolved_medication_reference_keeps_its_display() -> None:
    uses = statement(
        medicationCodeableConcept=None,
        medicationReference={"reference": "Medication/elsewhere", "display": "Lexapro 10 mg"},
    )
    (found,) = read(uses).medications
    assert (found.ingredient, found.name) == ("escitalopram", "Lexapro 10 mg")


def test_blood_pressure_panel_components_and_utc_instant() -> None:
    panel = observation(
        id="bp1",
        code={
            "coding": [
                {"system": LOINC, "code": "85354-9"},
                {"system": SNOMED, "code": "75367002"},
            ]
        },
        effectiveDateTime="2026-10-20T23:30:00-05:00",
        component=[
            {"code": loinc("8480-6"), "valueQuantity": {"value": 162, "unit": "mm[Hg]"}},
            {"code": loinc("8462-4"), "valueQuantity": {"value": 95.5, "unit": "mm[Hg]"}},
            {"code": {"text": "position"}, "valueString": "sitting"},
        ],
    )
    (found,) = read(panel).observations
    assert found.ref == "Observation/bp1"
    assert found.codes == ("85354-9",)
    # The day as written; the instant in UTC (23:30 at -05:00 is 04:30 the next day).
    assert found.when == Moment(date(2026, 10, 20), datetime(2026, 10, 21, 4, 30))
    assert found.components == (Component("8480-6", 162.0), Component("8462-4", 95.5))
    assert found.value is None
    assert found.status == "final"


def test_observation_value_quantity_and_unit() -> None:
    (found,) = read(
        observation(code=loinc("1742-6"), valueQuantity={"value": 130, "unit": "U/L"})
    ).observations
    assert (found.codes, found.value, found.unit) == (("1742-6",), 130.0, "U/L")
    assert found.when == Moment.of_day(date(2026, 10, 20))


def test_observation_coded_value() -> None:
    hcg = observation(
        code=loinc("2106-3"),
        valueCodeableConcept={
            "coding": [{"system": SNOMED, "code": "10828004", "display": "Positive"}],
            "text": "positive",
        },
    )
    (found,) = read(hcg).observations
    assert found.value_codings == (Coding(SNOMED, "10828004", "Positive"),)
    assert found.value_text == "positive"
    assert found.value is None


def test_observation_string_and_integer_values() -> None:
    note = observation(id="o1", code=loinc("11524-6"), valueString="normal sinus rhythm")
    item9 = observation(id="o2", code=loinc("44260-8"), valueInteger=2)
    first, second = read(note, item9).observations
    assert first.value_text == "normal sinus rhythm"
    assert second.value == 2.0


def test_observation_time_from_period_start_then_issued() -> None:
    by_period = observation(
        id="o1", effectiveDateTime=None, effectivePeriod={"start": "2026-09-01T10:00:00Z"}
    )
    by_issued = observation(id="o2", effectiveDateTime=None, issued="2026-09-02T12:15:30.5+02:00")
    undated = observation(id="o3", effectiveDateTime=None)
    first, second, third = read(by_period, by_issued, undated).observations
    assert first.when == Moment(date(2026, 9, 1), datetime(2026, 9, 1, 10, 0))
    assert second.when == Moment(date(2026, 9, 2), datetime(2026, 9, 2, 10, 15, 30, 500000))
    assert third.when is None


def test_allergy_fields() -> None:
    allergy = {
        "resourceType": "AllergyIntolerance",
        "id": "a1",
        "patient": SUBJECT,
        "code": {"coding": [{"system": RXNORM, "code": "6130", "display": "ketamine"}]},
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "verificationStatus": {"coding": [{"code": "unconfirmed"}]},
        "onsetDateTime": "2010-03-04",
    }
    (found,) = read(allergy).allergies
    assert found.ref == "AllergyIntolerance/a1"
    assert found.codings == (Coding(RXNORM, "6130", "ketamine"),)
    assert (found.clinical_status, found.verification_status) == ("active", "unconfirmed")
    assert found.recorded == date(2010, 3, 4)


def test_procedure_period_and_outcome_code() -> None:
    block = {
        "resourceType": "Procedure",
        "id": "pr1",
        "status": "completed",
        "subject": SUBJECT,
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "64510"}]},
        "performedPeriod": {"start": "2025-05-01", "end": "2025-05-02"},
        "outcome": outcome("no-response"),
    }
    (found,) = read(block).procedures
    assert found.ref == "Procedure/pr1"
    assert found.codings == (Coding("http://www.ama-assn.org/go/cpt", "64510"),)
    assert (found.performed, found.performed_end) == (date(2025, 5, 1), date(2025, 5, 2))
    assert (found.outcome_code, found.outcome_text, found.status) == (
        "no-response",
        None,
        "completed",
    )


def test_procedure_outcome_text() -> None:
    therapy = {
        "resourceType": "Procedure",
        "id": "pr2",
        "status": "completed",
        "subject": SUBJECT,
        "code": {"text": "physical therapy, 12 sessions"},
        "performedDateTime": "2025-06-01",
        "outcome": {"text": "partial improvement"},
    }
    (found,) = read(therapy).procedures
    assert (found.text, found.performed, found.performed_end) == (
        "physical therapy, 12 sessions",
        date(2025, 6, 1),
        None,
    )
    assert (found.outcome_code, found.outcome_text) == (None, "partial improvement")


def test_evidence_without_id_is_the_full_url_else_the_entry() -> None:
    record = read(condition(id=None), observation(id=None), urls={1: "urn:uuid:cond-1"})
    assert record.conditions[0].ref == "urn:uuid:cond-1"
    assert record.observations[0].ref == "Bundle.entry[2]"


def test_facts_are_in_the_same_order_whatever_the_entry_order() -> None:
    one = read(observation(id="o2"), condition(id="c1"), observation(id="o1"), condition(id="c2"))
    other = read(condition(id="c2"), observation(id="o1"), condition(id="c1"), observation(id="o2"))
    assert one == other
    assert [o.ref for o in one.observations] == ["Observation/o1", "Observation/o2"]
    assert [c.ref for c in one.conditions] == ["Condition/c1", "Condition/c2"]


# --- Speed -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_large_export_with_many_unread_entries_is_read_quickly() -> None:
    filler = {
        "resourceType": "ExplanationOfBenefit",
        "status": "active",
        "item": [{"sequence": i, "productOrService": {"text": "x" * 200}} for i in range(10)],
    }
    unread = [{**filler, "id": f"e{i}"} for i in range(3000)]
    vitals = [observation(id=f"o{i}", valueQuantity={"value": 70 + i % 20}) for i in range(1000)]
    data = bundle(*unread, *vitals)
    assert len(data) > 5_000_000
    started = time.perf_counter()
    record = read_bundle(data)
    elapsed = time.perf_counter() - started
    assert len(record.observations) == 1000
    # About 0.1 ms per read resource and nothing per unread one; the bound is loose for slow CI.
    assert elapsed < 3.0


# --- Any JSON in a read field: a Record or a BundleError, never a traceback ----------------

_KEYS = ["coding", "code", "system", "text", "value", "unit", "start", "end", "reference"]
_ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["2020", "2020-01-01T10:00:00Z", "Patient/p1", "#m", "mg", "{tbl}"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4)
    ),
    max_leaves=8,
)
_FIELDS = [
    "code",
    "subject",
    "status",
    "effectiveDateTime",
    "effectivePeriod",
    "valueQuantity",
    "valueCodeableConcept",
    "component",
    "dosage",
    "statusReason",
    "medicationCodeableConcept",
    "medicationReference",
    "contained",
    "onsetDateTime",
    "severity",
    "clinicalStatus",
]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([observation(), condition(), statement()]),
    st.dictionaries(st.sampled_from(_FIELDS), _ANY_JSON, min_size=1, max_size=3),
)
def test_any_json_in_a_read_field_is_read_or_refused_in_one_line(
    base: dict[str, Any], changes: dict[str, Any]
) -> None:
    try:
        read_bundle(bundle({**base, **changes}))
    except BundleError as error:
        assert str(error).startswith("entry 1 (") and "\n" not in str(error)
