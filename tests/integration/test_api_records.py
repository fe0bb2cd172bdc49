"""The records API through the real ASGI app, on SQLite and PostgreSQL: each kind added and
listed, corrections and marks of error keeping history, trial outcomes, and every bad input
refused with 422 naming the field and no row written (audit rows included)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.api_support import Api, field_errors, open_api

# The clinic's clock reads 2026-11-01 09:00 UTC (services_support.NOW).
BP = {"loinc": "85354-9", "effective": "2026-10-29T10:15:00Z", "systolic": 118, "diastolic": 76}
MDD = {
    "code": "F33.1",
    "display": "Major depressive disorder, recurrent, moderate",
    "onset": "2023-02-01",
}
SERTRALINE = {
    "name": "sertraline",
    "rxnorm": "36437",
    "start": "2025-01-06",
    "end": "2025-04-14",
    "dose_mg": 100,
}


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


@pytest.fixture
def patient(api: Api) -> int:
    return api.new_patient()


def add(api: Api, patient: int, plural: str, body: dict[str, Any], role: Any = "prescriber") -> Any:
    response = api.post(role, f"/api/patients/{patient}/{plural}", body)
    assert response.status_code == 201, response.text
    return response.json()


# Happy paths, one per kind


def test_a_nurse_records_a_blood_pressure_and_reads_it_back(api: Api, patient: int) -> None:
    row = add(api, patient, "observations", BP, role="nurse")
    assert row["kind"] == "observation"
    assert (row["loinc"], row["systolic"], row["diastolic"]) == ("85354-9", 118, 76)
    assert row["effective_at"] == "2026-10-29T10:15:00"
    assert (row["state"], row["source"], row["recorded_by_id"]) == (
        "current",
        "form",
        api.user_id("nurse"),
    )
    assert row["resource"]["resourceType"] == "Observation"
    listed = api.get("nurse", f"/api/patients/{patient}/observations").json()
    assert [r["id"] for r in listed] == [row["id"]]
    events = [(e.username, e.action, e.what, e.patient_id) for e in api.audit()[1:]]
    assert events == [
        ("nurse", "write", f"observation {row['id']}: added", patient),
        ("nurse", "read", "observation records", patient),
    ]


def test_a_prescriber_adds_a_diagnosis(api: Api, patient: int) -> None:
    row = add(api, patient, "conditions", {**MDD, "severe": True})
    assert (row["kind"], row["code"], row["clinical_status"], row["onset"]) == (
        "condition",
        "F33.1",
        "active",
        "2023-02-01",
    )
    assert row["resource"]["severity"]["coding"][0]["code"] == "24484000"
    assert [r["code"] for r in api.get("nurse", f"/api/patients/{patient}/conditions").json()] == [
        "F33.1"
    ]


def test_a_prescriber_adds_a_trial_with_its_dose(api: Api, patient: int) -> None:
    row = add(api, patient, "medications", {**SERTRALINE, "outcome": "no-response"})
    assert (row["ingredient"], row["dose_mg"], row["start"], row["end"], row["outcome"]) == (
        "sertraline",
        100,
        "2025-01-06",
        "2025-04-14",
        "no-response",
    )
    assert len(api.get("nurse", f"/api/patients/{patient}/medications").json()) == 1


def test_a_prescriber_adds_an_allergy_and_a_procedure(api: Api, patient: int) -> None:
    allergy = add(api, patient, "allergies", {"substance": "ketamine", "code": "6130"})
    assert (allergy["substance"], allergy["code"], allergy["recorded_date"]) == (
        "ketamine",
        "6130",
        "2026-11-01",
    )
    procedure = add(
        api,
        patient,
        "procedures",
        {"code": "36771000", "display": "ECT", "performed": "2024-05-01", "outcome": "no-response"},
    )
    assert (procedure["code"], procedure["performed"], procedure["outcome"]) == (
        "36771000",
        "2024-05-01",
        "no-response",
    )
    assert len(api.get("nurse", f"/api/patients/{patient}/allergies").json()) == 1
    assert len(api.get("nurse", f"/api/patients/{patient}/procedures").json()) == 1


def test_records_of_an_unknown_patient_are_404(api: Api, patient: int) -> None:
    before = api.counts()
    assert api.post("nurse", f"/api/patients/{patient + 99}/observations", BP).status_code == 404
    assert api.get("nurse", f"/api/patients/{patient + 99}/observations").status_code == 404
    assert api.counts() == before


# History: corrections, marks of error, outcomes


def test_a_correction_keeps_the_old_version(api: Api, patient: int) -> None:
    old = add(api, patient, "observations", BP, role="nurse")
    response = api.post(
        "nurse",
        f"/api/records/observation/{old['id']}/correct",
        {"values": {**BP, "systolic": 128}, "reason": "misread the cuff"},
    )
    assert response.status_code == 200, response.text
    new = response.json()
    assert (new["systolic"], new["supersedes_id"], new["reason"]) == (
        128,
        old["id"],
        "misread the cuff",
    )
    current = api.get("nurse", f"/api/patients/{patient}/observations").json()
    assert [r["id"] for r in current] == [new["id"]]
    every = api.get("nurse", f"/api/patients/{patient}/observations", include="history").json()
    assert [(r["id"], r["state"]) for r in every] == [
        (old["id"], "superseded"),
        (new["id"], "current"),
    ]
    history = api.get("nurse", f"/api/records/observation/{old['id']}/history").json()
    assert [(r["id"], r["systolic"]) for r in history] == [(old["id"], 118), (new["id"], 128)]
    again = api.post(
        "nurse",
        f"/api/records/observation/{old['id']}/correct",
        {"values": BP, "reason": "second try on an old version"},
    )
    assert again.status_code == 409


def test_a_record_entered_in_error_leaves_the_list_and_stays_in_the_history(
    api: Api, patient: int
) -> None:
    row = add(api, patient, "conditions", MDD)
    response = api.post(
        "prescriber",
        f"/api/records/condition/{row['id']}/entered-in-error",
        {"reason": "wrong patient"},
    )
    assert response.status_code == 200
    marked = response.json()
    assert (marked["kind"], marked["state"], marked["reason"]) == (
        "condition",
        "entered_in_error",
        "wrong patient",
    )
    assert marked["resource"]["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert api.get("nurse", f"/api/patients/{patient}/conditions").json() == []
    history = api.get("nurse", f"/api/records/condition/{marked['id']}/history").json()
    assert [r["state"] for r in history] == ["superseded", "entered_in_error"]
    assert api.audit()[-1].what == f"condition {marked['id']}: history"


def test_a_trial_outcome_is_a_new_version_keeping_the_dose(api: Api, patient: int) -> None:
    row = add(api, patient, "medications", SERTRALINE)
    assert row["outcome"] is None
    response = api.post(
        "prescriber",
        f"/api/medications/{row['id']}/outcome",
        {"outcome": "partial-response", "outcome_text": "a little better, still low"},
    )
    assert response.status_code == 200, response.text
    new = response.json()
    assert (new["outcome"], new["outcome_text"], new["dose_mg"], new["supersedes_id"]) == (
        "partial-response",
        "a little better, still low",
        100,
        row["id"],
    )
    assert new["reason"] == "trial outcome taken in the interview"


# Bad input: 422 naming the field, nothing written


def bp(systolic: float, diastolic: float) -> dict[str, Any]:
    return {**BP, "systolic": systolic, "diastolic": diastolic}


def measure(loinc: str, value: Any) -> dict[str, Any]:
    return {"loinc": loinc, "effective": "2026-10-31", "value": value}


REFUSED_OBSERVATIONS = [
    (bp(49, 30), "systolic"),
    (bp(301, 80), "systolic"),
    (bp(120, 19), "diastolic"),
    (bp(250, 201), "diastolic"),
    (measure("8867-4", 19), "value"),  # heart rate
    (measure("8867-4", 301), "value"),
    (measure("59408-5", 49), "value"),  # SpO2
    (measure("59408-5", 101), "value"),
    (measure("29463-7", 1.9), "value"),  # weight, kg
    (measure("29463-7", 400.1), "value"),
    ({**BP, "effective": "2026-11-01T09:01:00Z"}, "effective"),  # a minute from now
    ({**BP, "effective": "2026-11-02"}, "effective"),  # tomorrow everywhere on Earth
    ({**BP, "systolic": "high"}, "systolic"),  # wrong type
    ({**BP, "effective": "yesterday"}, "effective"),
    ({key: v for key, v in BP.items() if key != "loinc"}, "loinc"),
]
# The near misses: each limit itself is plausible.
ACCEPTED_OBSERVATIONS = [
    bp(50, 30),
    bp(300, 200),
    bp(120, 20),
    measure("8867-4", 20),
    measure("8867-4", 300),
    measure("59408-5", 50),
    measure("59408-5", 100),
    measure("29463-7", 2),
    measure("29463-7", 400),
    {**BP, "effective": "2026-11-01T09:00:00Z"},
    {**BP, "effective": "2026-11-01"},
]


@pytest.mark.parametrize(("body", "field"), REFUSED_OBSERVATIONS)
def test_an_implausible_observation_is_refused_and_nothing_written(
    api: Api, patient: int, body: dict[str, Any], field: str
) -> None:
    before = api.counts()
    response = api.post("nurse", f"/api/patients/{patient}/observations", body)
    assert field_errors(response) == [("body", field)]
    assert api.counts() == before


def test_the_limits_themselves_are_accepted(api: Api, patient: int) -> None:
    for body in ACCEPTED_OBSERVATIONS:
        response = api.post("nurse", f"/api/patients/{patient}/observations", body)
        assert response.status_code == 201, (body, response.text)


@pytest.mark.parametrize(
    ("plural", "body", "field"),
    [
        ("conditions", {**MDD, "onset": "2026-11-02"}, "onset"),
        ("conditions", {**MDD, "abatement": "2023-01-31"}, "abatement"),  # before the onset
        ("medications", {**SERTRALINE, "end": "2025-01-05"}, "end"),  # before the start
        ("medications", {**SERTRALINE, "start": "2026-11-02", "end": None}, "start"),
        ("medications", {**SERTRALINE, "dose_mg": "a lot"}, "dose_mg"),
        ("medications", {**SERTRALINE, "outcome": "better"}, "outcome"),
        ("allergies", {"substance": "ketamine", "recorded": "2026-11-02"}, "recorded"),
        (
            "procedures",
            {"code": "36771000", "display": "ECT", "performed": "2024-05-01",
             "performed_end": "2024-04-30"},
            "performed_end",
        ),
    ],
)  # fmt: skip
def test_bad_clinical_input_is_refused_and_nothing_written(
    api: Api, patient: int, plural: str, body: dict[str, Any], field: str
) -> None:
    before = api.counts()
    response = api.post("prescriber", f"/api/patients/{patient}/{plural}", body)
    assert field_errors(response) == [("body", field)]
    assert api.counts() == before


def test_an_end_on_its_start_day_is_accepted(api: Api, patient: int) -> None:
    add(api, patient, "medications", {**SERTRALINE, "end": "2025-01-06"})


def test_a_bad_correction_names_the_field_inside_values_and_changes_nothing(
    api: Api, patient: int
) -> None:
    old = add(api, patient, "observations", BP, role="nurse")
    path = f"/api/records/observation/{old['id']}/correct"
    before = api.counts()
    too_high = api.post("nurse", path, {"values": bp(301, 80), "reason": "typo"})
    assert field_errors(too_high) == [("body", "values", "systolic")]
    no_reason = api.post("nurse", path, {"values": BP, "reason": "  "})
    assert field_errors(no_reason) == [("body", "reason")]
    wrong_type = api.post("nurse", path, {"values": {**BP, "diastolic": []}, "reason": "typo"})
    assert field_errors(wrong_type) == [("body", "values", "diastolic")]
    assert api.counts() == before
    assert [r["state"] for r in api.get("nurse", path.replace("correct", "history")).json()] == [
        "current"
    ]


def test_marking_in_error_needs_a_reason_and_a_known_kind(api: Api, patient: int) -> None:
    row = add(api, patient, "conditions", MDD)
    before = api.counts()
    blank = api.post(
        "prescriber", f"/api/records/condition/{row['id']}/entered-in-error", {"reason": ""}
    )
    assert field_errors(blank) == [("body", "reason")]
    unknown = api.post(
        "prescriber", f"/api/records/diagnosis/{row['id']}/entered-in-error", {"reason": "x"}
    )
    assert field_errors(unknown) == [("path", "kind")]
    assert api.counts() == before


def test_an_outcome_needs_a_code_or_words(api: Api, patient: int) -> None:
    row = add(api, patient, "medications", SERTRALINE)
    before = api.counts()
    response = api.post("prescriber", f"/api/medications/{row['id']}/outcome", {})
    assert field_errors(response) == [("body", "outcome")]
    assert api.counts() == before
