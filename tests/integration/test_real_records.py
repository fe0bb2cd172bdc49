"""Bundles shaped like real EHR exports, screened end to end.

Every expected value below is worked out by hand from spec/screening.md and
clinical-facts.md, never captured from the engine's output. Conventions used in the
arithmetic (all from the spec):

- a prescription runs from its start (``authoredOn`` / ``effectivePeriod.start``) to its end
  (``dispenseRequest.validityPeriod.end`` / ``effectivePeriod.end``), or to the screening date
  when it is still being taken (status active, no end); its length is the number of days
  between the two dates, and ``weeks`` is the days taken at or above the minimum adequate
  dose divided by 7 ("the weeks taken at or above the minimum adequate dose");
- same-ingredient prescriptions whose gap (days from one end to the next start) is at most
  30 days form one trial; overlapping prescriptions count their days once;
- adequate = at least 6 weeks at or above the minimum adequate dose of clinical-facts.md
  (sertraline 50, fluoxetine 20, escitalopram 10 confirmed; fluvoxamine 100, venlafaxine 150
  working values), and an intolerance outcome is never adequate.

The screening date is 2026-11-01 throughout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pydantic
import pytest
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.encounter import Encounter

from ketaclinic.fhir.bundle import BundleError
from ketaclinic.policy import DEFAULT
from ketaclinic.services.screening import screen_bundle

AS_OF = date(2026, 11, 1)
CLI = Path(sys.executable).parent / "ketaclinic"

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
TRIAL_OUTCOME = "http://ketaclinic.org/fhir/CodeSystem/trial-outcome"
ORDERABLE_FORM = "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

PATIENT_ID = "pt-4711"
SUBJECT = {"reference": f"Patient/{PATIENT_ID}"}

Resource = dict[str, Any]


# --- Builders: resources as an EHR writes them ----


def patient(gender: str = "male", birth_date: str = "1979-04-12") -> Resource:
    return {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "meta": {"lastUpdated": "2026-10-30T11:02:13.000-05:00"},
        "identifier": [{"system": "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.0", "value": "E1"}],
        "active": True,
        "name": [{"use": "official", "family": "Doe", "given": ["Jordan"]}],
        "gender": gender,
        "birthDate": birth_date,
    }


def mdd(subject: Resource = SUBJECT) -> Resource:
    return {
        "resourceType": "Condition",
        "id": "cond-mdd",
        "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active"}]},
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "problem-list-item",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {
                    "system": ICD10,
                    "code": "F33.1",
                    "display": "Major depressive disorder, recurrent, moderate",
                }
            ],
            "text": "Recurrent major depression, moderate",
        },
        "subject": subject,
        "onsetDateTime": "2023-01-10",
        "recordedDate": "2023-01-12T15:20:00-05:00",
    }


def mg(value: float) -> Resource:
    return {"value": value, "unit": "mg", "system": UCUM, "code": "mg"}


def dosage(
    quantity: Resource | None = None,
    *,
    frequency: int | None = 1,
    period: float = 1,
    unit: str = "d",
    text: str | None = None,
) -> Resource:
    written: Resource = {"sequence": 1}
    if text:
        written["text"] = text
    if frequency is not None:
        written["timing"] = {
            "repeat": {"frequency": frequency, "period": period, "periodUnit": unit}
        }
    written["route"] = {"coding": [{"system": SNOMED, "code": "26643006", "display": "Oral"}]}
    if quantity is not None:
        written["doseAndRate"] = [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/dose-rate-type",
                            "code": "ordered",
                        }
                    ]
                },
                "doseQuantity": quantity,
            }
        ]
    return written


def outcome(code: str) -> Resource:
    return {"coding": [{"system": TRIAL_OUTCOME, "code": code}]}


def drug(name: str, rxcui: str | None = None) -> Resource:
    if rxcui is None:
        return {"text": name}
    return {"coding": [{"system": RXNORM, "code": rxcui, "display": name}], "text": name}


def request(
    rid: str,
    medication: Resource,
    *,
    authored: str,
    end: str | None = None,
    status: str = "completed",
    dose: Resource | None = None,
    reason: Resource | None = None,
    subject: Resource = SUBJECT,
) -> Resource:
    """A MedicationRequest as an outpatient EHR exports an e-prescription."""
    resource: Resource = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                        "code": "community",
                    }
                ]
            }
        ],
        "medicationCodeableConcept": medication,
        "subject": subject,
        "authoredOn": authored,
        "requester": {"display": "Dr. A. Prescriber"},
    }
    if reason is not None:
        resource["statusReason"] = reason
    if dose is not None:
        resource["dosageInstruction"] = [dose]
    dispense: Resource = {
        "numberOfRepeatsAllowed": 0,
        "quantity": {"value": 30, "unit": "each"},
        "expectedSupplyDuration": {"value": 30, "unit": "days", "system": UCUM, "code": "d"},
    }
    if end is not None:
        dispense["validityPeriod"] = {"start": authored[:10], "end": end}
    resource["dispenseRequest"] = dispense
    return resource


def statement(
    sid: str,
    medication: Resource,
    *,
    start: str,
    end: str | None,
    status: str = "completed",
    dose: Resource | None = None,
    reason: Resource | None = None,
) -> Resource:
    resource: Resource = {
        "resourceType": "MedicationStatement",
        "id": sid,
        "status": status,
        "medicationCodeableConcept": medication,
        "subject": SUBJECT,
        "effectivePeriod": {"start": start} if end is None else {"start": start, "end": end},
        "dateAsserted": start,
    }
    if reason is not None:
        resource["statusReason"] = [reason]
    if dose is not None:
        resource["dosage"] = [dose]
    return resource


def quantity(value: float, unit: str, code: str | None = None) -> Resource:
    return {"value": value, "unit": unit, "system": UCUM, "code": code or unit}


def observation(
    oid: str | None,
    loinc: str,
    when: str,
    *,
    value: Resource | None = None,
    components: list[tuple[str, float]] | None = None,
    subject: Resource = SUBJECT,
    category: str = "laboratory",
    **extra: Any,
) -> Resource:
    resource: Resource = {"resourceType": "Observation"}
    if oid is not None:
        resource["id"] = oid
    resource |= {
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": subject,
        "effectiveDateTime": when,
        "issued": "2026-10-31T12:00:00.000Z",
    }
    if value is not None:
        resource["valueQuantity"] = value
    if components is not None:
        resource["component"] = [
            {
                "code": {"coding": [{"system": LOINC, "code": code}]},
                "valueQuantity": quantity(reading, "mmHg", "mm[Hg]"),
            }
            for code, reading in components
        ]
    return resource | extra


def bp_panel(oid: str | None, when: str, systolic: float, diastolic: float, **kw: Any) -> Resource:
    return observation(
        oid,
        kw.pop("panel", "85354-9"),
        when,
        components=[("8480-6", systolic), ("8462-4", diastolic)],
        category="vital-signs",
        **kw,
    )


def bp_half(oid: str, loinc: str, when: str, value: float) -> Resource:
    return observation(
        oid, loinc, when, value=quantity(value, "mmHg", "mm[Hg]"), category="vital-signs"
    )


def bundle(*resources: Resource, kind: str = "collection") -> Resource:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {
                "fullUrl": f"https://ehr.example.org/fhir/{r['resourceType']}/{r['id']}",
                "resource": r,
            }
            for r in resources
        ],
    }


def screen(*resources: Resource, **kw: Any) -> dict[str, Any]:
    data = json.dumps(bundle(patient(**kw), *resources)).encode()
    return screen_bundle(data, route="iv", as_of=AS_OF, policy=DEFAULT)


def trials_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    return list(result["treatment_resistance"]["trials"])


def only_trial(result: dict[str, Any]) -> dict[str, Any]:
    found = trials_of(result)
    assert len(found) == 1, found
    return found[0]


def findings(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in result["findings"]}


def stated(trial: dict[str, Any], *words: str) -> bool:
    """Some assumption of the trial mentions every word (case-insensitive)."""
    return any(all(w.lower() in a.lower() for w in words) for a in trial["assumptions"])


# --- 1. Prescriptions as they come ----


def test_structured_prescription_is_one_adequate_failed_trial() -> None:
    # sertraline 100 mg once a day, 2026-01-05 to 2026-04-06 = 26 + 28 + 31 + 6 = 91 days = 13 w.
    rx = request(
        "rx-sertraline",
        drug("sertraline 100 MG Oral Tablet", "312941"),
        authored="2026-01-05T10:32:00-05:00",
        end="2026-04-06",
        dose=dosage(mg(100), text="Take 100 mg by mouth once daily"),
        reason=outcome("no-response"),
    )
    assert only_trial(screen(mdd(), rx)) == {
        "medication": "sertraline",
        "class": "SSRI",
        "daily_dose_mg": 100,
        "minimum_adequate_mg": 50,
        "weeks": 13,
        "adequate": True,
        "outcome": "no-response",
        "assumptions": [],
        "evidence": ["MedicationRequest/rx-sertraline"],
    }


@pytest.mark.parametrize(
    ("authored", "weeks", "adequate"),
    [
        # 2026-08-09 to the screening date 2026-11-01: 22 + 30 + 31 + 1 = 84 days = 12 weeks.
        ("2026-08-09", 12, True),
        # 2026-09-27 to 2026-11-01: 3 + 31 + 1 = 35 days = 5 weeks: not yet adequate.
        ("2026-09-27", 5, False),
    ],
)
def test_active_request_without_end_is_still_taken(
    authored: str, weeks: int, adequate: bool
) -> None:
    rx = request(
        "rx-escitalopram",
        drug("escitalopram 20 MG Oral Tablet", "351285"),
        authored=authored,
        status="active",
        dose=dosage(mg(20)),
    )
    assert only_trial(screen(mdd(), rx)) == {
        "medication": "escitalopram",
        "class": "SSRI",
        "daily_dose_mg": 20,
        "minimum_adequate_mg": 10,
        "weeks": weeks,
        "adequate": adequate,
        "outcome": None,  # no statusReason: unevaluated
        "assumptions": [],
        "evidence": ["MedicationRequest/rx-escitalopram"],
    }


def test_clinical_drug_name_without_dose_is_one_unit_a_day() -> None:
    # Spec "Ingredient": "fluoxetine 20 MG Oral Capsule" is fluoxetine 20 mg, one unit a day,
    # and the trial says so. The sig is free text only, which the spec does not read.
    # 2025-11-03 to 2026-02-02: 30 + 31 + 30 = 91 days = 13 weeks at 20 mg (minimum 20).
    rx = request(
        "rx-fluoxetine",
        drug("fluoxetine 20 MG Oral Capsule", "310385"),
        authored="2025-11-03",
        end="2026-02-02",
        dose=dosage(None, frequency=None, text="Take 1 capsule by mouth every morning"),
        reason=outcome("partial-response"),
    )
    trial = only_trial(screen(mdd(), rx))
    assert {k: v for k, v in trial.items() if k != "assumptions"} == {
        "medication": "fluoxetine",
        "class": "SSRI",
        "daily_dose_mg": 20,
        "minimum_adequate_mg": 20,
        "weeks": 13,
        "adequate": True,
        "outcome": "partial-response",
        "evidence": ["MedicationRequest/rx-fluoxetine"],
    }
    assert stated(trial, "unit"), trial["assumptions"]


@pytest.mark.parametrize(
    "name",
    [
        "Effexor XR 150 mg",
        # RxNorm branded-drug style: "24 HR" is a duration, not a strength.
        "24 HR Effexor XR 150 MG Extended Release Oral Capsule",
        "venlafaxine HCl ER 150 mg capsule",
    ],
)
def test_brand_name_with_strength_is_the_ingredient(name: str) -> None:
    # 2025-03-02 to 2025-05-25: 31 + 30 + 23 = 84 days = 12 weeks at 150 mg (minimum 150).
    ms = statement(
        "ms-effexor",
        drug(name),
        start="2025-03-02",
        end="2025-05-25",
        reason=outcome("no-response"),
    )
    trial = only_trial(screen(mdd(), ms))
    assert {k: v for k, v in trial.items() if k != "assumptions"} == {
        "medication": "venlafaxine",
        "class": "SNRI",
        "daily_dose_mg": 150,
        "minimum_adequate_mg": 150,
        "weeks": 12,
        "adequate": True,
        "outcome": "no-response",
        "evidence": ["MedicationStatement/ms-effexor"],
    }
    assert stated(trial, "unit"), trial["assumptions"]


TABLET_UNITS = [
    {"value": 2, "unit": "tablet", "system": ORDERABLE_FORM, "code": "TAB"},
    {"value": 2, "unit": "Tablet", "system": SNOMED, "code": "732936001"},
    {"value": 2, "unit": "{tbl}", "system": UCUM, "code": "{tbl}"},
]


@pytest.mark.parametrize("tablets", TABLET_UNITS, ids=["v3-TAB", "snomed", "ucum-annotation"])
def test_number_of_tablets_times_named_strength(tablets: Resource) -> None:
    # 2 x 50 mg once a day = 100 mg/day; 2026-03-02 to 2026-05-25 = 84 days = 12 weeks.
    rx = request(
        "rx-sertraline-tabs",
        drug("sertraline 50 MG Oral Tablet", "312940"),
        authored="2026-03-02",
        end="2026-05-25",
        dose=dosage(tablets, text="Take 2 tablets by mouth daily"),
        reason=outcome("no-response"),
    )
    trial = only_trial(screen(mdd(), rx))
    assert trial["medication"] == "sertraline"
    assert trial["daily_dose_mg"] == 100
    assert trial["minimum_adequate_mg"] == 50
    assert trial["weeks"] == 12
    assert trial["adequate"] is True
    assert trial["outcome"] == "no-response"
    assert trial["evidence"] == ["MedicationRequest/rx-sertraline-tabs"]


def test_one_tablet_of_a_low_strength_is_below_the_minimum() -> None:
    # Near miss: 1 x 25 mg once a day = 25 mg/day < 50: no week counts.
    tablet = {"value": 1, "unit": "tablet", "system": ORDERABLE_FORM, "code": "TAB"}
    rx = request(
        "rx-sertraline-25",
        drug("sertraline 25 MG Oral Tablet", "312938"),
        authored="2026-03-02",
        end="2026-05-25",
        dose=dosage(tablet),
        reason=outcome("no-response"),
    )
    trial = only_trial(screen(mdd(), rx))
    assert trial["daily_dose_mg"] == 25
    assert trial["weeks"] == 0
    assert trial["adequate"] is False


def _refill(rid: str, authored: str, end: str, reason: Resource | None = None) -> Resource:
    return request(
        rid,
        drug("sertraline 100 MG Oral Tablet", "312941"),
        authored=authored,
        end=end,
        dose=dosage(mg(100)),
        reason=reason,
    )


@pytest.mark.parametrize(
    ("second_start", "second_end"),
    [
        ("2026-02-22", "2026-03-22"),  # 20 days after 2026-02-02
        ("2026-03-04", "2026-04-01"),  # 30 days after: still one trial (at most 30)
    ],
)
def test_refills_within_30_days_are_one_trial(second_start: str, second_end: str) -> None:
    # Two 28-day fills (4 weeks each, not adequate alone) make 8 weeks taken together.
    first = _refill("rx-fill-1", "2026-01-05", "2026-02-02")
    second = _refill("rx-fill-2", second_start, second_end, outcome("no-response"))
    assert only_trial(screen(mdd(), first, second)) == {
        "medication": "sertraline",
        "class": "SSRI",
        "daily_dose_mg": 100,
        "minimum_adequate_mg": 50,
        "weeks": 8,
        "adequate": True,
        "outcome": "no-response",
        "assumptions": [],
        "evidence": ["MedicationRequest/rx-fill-1", "MedicationRequest/rx-fill-2"],
    }


@pytest.mark.parametrize(
    ("second_start", "second_end"),
    [
        ("2026-03-05", "2026-04-02"),  # 31 days after 2026-02-02
        ("2026-06-01", "2026-06-29"),  # months later
    ],
)
def test_refills_more_than_30_days_apart_are_two_trials(second_start: str, second_end: str) -> None:
    first = _refill("rx-fill-1", "2026-01-05", "2026-02-02")
    second = _refill("rx-fill-2", second_start, second_end, outcome("no-response"))
    found = trials_of(screen(mdd(), first, second))
    assert [(t["evidence"], t["weeks"], t["adequate"], t["outcome"]) for t in found] == [
        (["MedicationRequest/rx-fill-1"], 4, False, None),
        (["MedicationRequest/rx-fill-2"], 4, False, "no-response"),
    ]
    assert {t["medication"] for t in found} == {"sertraline"}


@pytest.mark.parametrize(
    ("end_150", "weeks", "adequate"),
    [
        ("2026-03-23", 5, False),  # 2026-02-16 to 2026-03-23 = 35 days at 150 mg
        ("2026-04-06", 7, True),  # 2026-02-16 to 2026-04-06 = 49 days at 150 mg
    ],
)
def test_dose_raised_counts_only_weeks_at_the_minimum(
    end_150: str, weeks: int, adequate: bool
) -> None:
    # venlafaxine 75 mg for 6 weeks (confirmed too low), then 150 mg (the working minimum):
    # one trial, whose weeks are those at 150 mg only. 6 + 5 = 11 weeks in all would pass
    # if every week counted; only 5 are at the minimum.
    low = request(
        "rx-ven-75",
        drug("venlafaxine 75 MG Extended Release Oral Capsule"),
        authored="2026-01-05",
        end="2026-02-16",
        dose=dosage(mg(75)),
    )
    high = request(
        "rx-ven-150",
        drug("venlafaxine 150 MG Extended Release Oral Capsule"),
        authored="2026-02-16",
        end=end_150,
        dose=dosage(mg(150)),
        reason=outcome("no-response"),
    )
    trial = only_trial(screen(mdd(), low, high))
    assert trial["medication"] == "venlafaxine"
    assert trial["class"] == "SNRI"
    assert trial["daily_dose_mg"] == 150  # the highest daily dose reached
    assert trial["minimum_adequate_mg"] == 150
    assert trial["weeks"] == weeks
    assert trial["adequate"] is adequate
    assert trial["outcome"] == "no-response"
    assert trial["evidence"] == ["MedicationRequest/rx-ven-75", "MedicationRequest/rx-ven-150"]


@pytest.mark.parametrize(
    ("name", "per_dose", "frequency", "period", "unit", "daily", "minimum", "adequate"),
    [
        # every 12 hours: 50 mg x 24/12 = 100 mg/day, exactly the minimum: reaches it.
        ("fluvoxamine 50 MG Oral Tablet", 50, 1, 12, "h", 100, 100, True),
        # near miss: every 24 hours is 50 mg/day < 100.
        ("fluvoxamine 50 MG Oral Tablet", 50, 1, 24, "h", 50, 100, False),
        # twice a day: 75 x 2 = 150 mg/day, the venlafaxine minimum.
        ("venlafaxine 75 MG Oral Tablet", 75, 2, 1, "d", 150, 150, True),
        # once a week: 90 / 7 = 12.86 mg/day < 20.
        ("fluoxetine 90 MG Delayed Release Oral Capsule", 90, 1, 1, "wk", 90 / 7, 20, False),
    ],
)
def test_timing_gives_the_daily_dose(
    name: str,
    per_dose: float,
    frequency: int,
    period: float,
    unit: str,
    daily: float,
    minimum: float,
    adequate: bool,
) -> None:
    # 2026-03-02 to 2026-05-25 = 84 days = 12 weeks.
    rx = request(
        "rx-timed",
        drug(name),
        authored="2026-03-02",
        end="2026-05-25",
        dose=dosage(mg(per_dose), frequency=frequency, period=period, unit=unit),
        reason=outcome("no-response"),
    )
    trial = only_trial(screen(mdd(), rx))
    assert trial["daily_dose_mg"] == pytest.approx(daily, abs=0.01)
    assert trial["minimum_adequate_mg"] == minimum
    assert trial["weeks"] == (12 if adequate else 0)
    assert trial["adequate"] is adequate


@pytest.mark.parametrize(
    ("written", "expected", "adequate"),
    [
        ("not effective", "no-response", True),
        ("Medication ineffective per patient", "no-response", True),
        ("partial response", "partial-response", True),
        # an intolerance is never adequate, however long the trial
        ("stopped due to side effects", "intolerance", False),
        ("Adverse reaction: nausea", "intolerance", False),
    ],
)
@pytest.mark.parametrize("kind", ["MedicationRequest", "MedicationStatement"])
def test_outcome_given_only_as_text(kind: str, written: str, expected: str, adequate: bool) -> None:
    # 100 mg sertraline for 12 weeks (2026-03-02 to 2026-05-25), stopped, reason as text only.
    if kind == "MedicationRequest":
        med = request(
            "rx-text",
            drug("sertraline 100 MG Oral Tablet"),
            authored="2026-03-02",
            end="2026-05-25",
            status="stopped",
            dose=dosage(mg(100)),
            reason={"text": written},
        )
    else:
        med = statement(
            "rx-text",
            drug("sertraline 100 MG Oral Tablet"),
            start="2026-03-02",
            end="2026-05-25",
            status="stopped",
            dose=dosage(mg(100)),
            reason={"text": written},
        )
    trial = only_trial(screen(mdd(), med))
    assert trial["outcome"] == expected
    assert trial["adequate"] is adequate
    assert trial["weeks"] == 12
    assert trial["assumptions"], "an outcome read from text is an assumption the trial states"
    assert trial["evidence"] == [f"{kind}/rx-text"]


def test_unreadable_outcome_text_leaves_the_trial_unevaluated() -> None:
    # Near miss: no keyword of the spec in the text.
    rx = request(
        "rx-moved",
        drug("sertraline 100 MG Oral Tablet"),
        authored="2026-03-02",
        end="2026-05-25",
        status="stopped",
        dose=dosage(mg(100)),
        reason={"text": "patient moved out of state"},
    )
    trial = only_trial(screen(mdd(), rx))
    assert trial["outcome"] is None
    assert trial["adequate"] is True


def test_statement_and_requests_of_one_course_are_one_trial() -> None:
    # Two 28-day e-prescriptions (2026-01-05..02-02, 02-02..03-02) and the patient's statement
    # of the whole course (2026-01-05..03-16): days taken are counted once,
    # 2026-01-05 to 2026-03-16 = 26 + 28 + 16 = 70 days = 10 weeks (98 if counted twice).
    tablet = drug("escitalopram 10 MG Oral Tablet", "349332")
    first = request(
        "rx-esc-1", tablet, authored="2026-01-05", end="2026-02-02", dose=dosage(mg(10))
    )
    second = request(
        "rx-esc-2", tablet, authored="2026-02-02", end="2026-03-02", dose=dosage(mg(10))
    )
    told = statement(
        "ms-esc",
        drug("Lexapro"),
        start="2026-01-05",
        end="2026-03-16",
        dose=dosage(mg(10)),
        reason=outcome("no-response"),
    )
    trial = only_trial(screen(mdd(), first, second, told))
    assert trial["medication"] == "escitalopram"
    assert trial["class"] == "SSRI"
    assert trial["daily_dose_mg"] == 10
    assert trial["minimum_adequate_mg"] == 10
    assert trial["weeks"] == 10
    assert trial["adequate"] is True
    assert trial["outcome"] == "no-response"
    assert sorted(trial["evidence"]) == [
        "MedicationRequest/rx-esc-1",
        "MedicationRequest/rx-esc-2",
        "MedicationStatement/ms-esc",
    ]


def test_stopped_request_without_end_has_unknown_length() -> None:
    # Spec: no end date and status stopped or completed: unknown length, not adequate, stated.
    rx = request(
        "rx-stopped",
        drug("sertraline 100 MG Oral Tablet"),
        authored="2025-06-02",
        status="stopped",
        dose=dosage(mg(100)),
        reason=outcome("no-response"),
    )
    trial = only_trial(screen(mdd(), rx))
    assert trial["adequate"] is False
    assert trial["weeks"] is None
    assert trial["outcome"] == "no-response"
    assert trial["assumptions"]


def _two_failed(second: Resource) -> dict[str, Any]:
    first = request(
        "rx-sertraline",
        drug("sertraline 100 MG Oral Tablet"),
        authored="2025-01-06",
        end="2025-04-07",  # 91 days
        dose=dosage(mg(100)),
        reason=outcome("no-response"),
    )
    resistance: dict[str, Any] = screen(mdd(), first, second)["treatment_resistance"]
    return resistance


def test_two_failed_prescriptions_of_two_classes_are_resistant() -> None:
    venlafaxine = request(
        "rx-venlafaxine",
        drug("Effexor XR 150 mg"),
        authored="2025-05-05",
        end="2025-08-04",  # 91 days
        dose=dosage(mg(150)),
        reason={"text": "partial response only"},
    )
    found = _two_failed(venlafaxine)
    assert found["status"] == "resistant"
    assert found["failed_adequate_trials"] == 2
    assert sorted(found["classes"]) == ["SNRI", "SSRI"]


def test_two_failed_prescriptions_of_one_class_are_not_resistant() -> None:
    # Near miss: distinct_classes is true by default, and both are SSRIs.
    fluoxetine = request(
        "rx-fluoxetine",
        drug("Prozac 20 mg"),
        authored="2025-05-05",
        end="2025-08-04",
        dose=dosage(mg(20)),
        reason=outcome("no-response"),
    )
    found = _two_failed(fluoxetine)
    assert found["status"] == "not_resistant"
    assert found["failed_adequate_trials"] == 2
    assert found["classes"] == ["SSRI"]


# --- 2. Real-world observations ----


@pytest.mark.parametrize("panel", ["85354-9", "55284-4"])
def test_blood_pressure_panels_with_decimals(panel: str) -> None:
    # Latest two within 90 days: 172/96 and 161.5/85.0, each systolic > 160: uncontrolled.
    first = bp_panel("bp-1", "2026-10-10T08:30:00-04:00", 172, 96, panel=panel)
    second = bp_panel("bp-2", "2026-10-20T08:30:00-04:00", 161.5, 85.0, panel=panel)
    result = screen(mdd(), first, second)
    found = findings(result)
    assert found["uncontrolled_hypertension"]["kind"] == "absolute"
    assert set(found["uncontrolled_hypertension"]["evidence"]) == {
        "Observation/bp-1",
        "Observation/bp-2",
    }
    assert "elevated_blood_pressure" not in found
    assert result["decision"] == "not_eligible"


@pytest.mark.parametrize("panel", ["85354-9", "55284-4"])
def test_blood_pressure_panel_at_the_limit_is_not_uncontrolled(panel: str) -> None:
    # Near miss: 160.0/90.0 is not above 160/90; it is above 140 (elevated, relative).
    first = bp_panel("bp-1", "2026-10-10T08:30:00-04:00", 172, 96, panel=panel)
    second = bp_panel("bp-2", "2026-10-20T08:30:00-04:00", 160.0, 90.0, panel=panel)
    found = findings(screen(mdd(), first, second))
    assert "uncontrolled_hypertension" not in found
    assert "blood_pressure_confirmation" not in found
    assert found["elevated_blood_pressure"]["kind"] == "relative"
    assert found["elevated_blood_pressure"]["evidence"] == ["Observation/bp-2"]


def test_separate_readings_pair_across_time_zones() -> None:
    # 09:15 at UTC-5 and 14:15 UTC are the same instant: one reading 150/95, above 140/90
    # (elevated) and with a diastolic above 90 on a single reading (confirmation wanted).
    systolic = bp_half("sys-1", "8480-6", "2026-10-20T09:15:00-05:00", 150)
    diastolic = bp_half("dia-1", "8462-4", "2026-10-20T14:15:00Z", 95)
    found = findings(screen(mdd(), systolic, diastolic))
    pair = {"Observation/sys-1", "Observation/dia-1"}
    assert set(found["elevated_blood_pressure"]["evidence"]) == pair
    assert found["blood_pressure_confirmation"]["kind"] == "missing"
    assert set(found["blood_pressure_confirmation"]["evidence"]) == pair


def test_separate_readings_at_different_instants_do_not_pair() -> None:
    # Near miss: 09:15 UTC is five hours before 09:15 at UTC-5. The latest reading is then the
    # systolic alone, which counts for the systolic rules alone (150 > 140: elevated).
    systolic = bp_half("sys-1", "8480-6", "2026-10-20T09:15:00-05:00", 150)
    diastolic = bp_half("dia-1", "8462-4", "2026-10-20T09:15:00Z", 95)
    found = findings(screen(mdd(), systolic, diastolic))
    assert found["elevated_blood_pressure"]["evidence"] == ["Observation/sys-1"]


def test_separate_decimal_readings_pair_into_uncontrolled() -> None:
    # 161.5/85.0 (zones -05:00 and Z, same instant), then 165/88 (+01:00 and Z, same instant).
    readings = [
        bp_half("sys-1", "8480-6", "2026-10-20T09:15:00-05:00", 161.5),
        bp_half("dia-1", "8462-4", "2026-10-20T14:15:00Z", 85.0),
        bp_half("sys-2", "8480-6", "2026-10-25T08:00:00+01:00", 165),
        bp_half("dia-2", "8462-4", "2026-10-25T07:00:00Z", 88),
    ]
    found = findings(screen(mdd(), *readings))
    assert found["uncontrolled_hypertension"]["kind"] == "absolute"
    assert set(found["uncontrolled_hypertension"]["evidence"]) == {
        f"Observation/{r['id']}" for r in readings
    }


def test_separate_readings_at_the_limit_are_not_uncontrolled() -> None:
    # Near miss: 160.0/90.0 is not above 160/90, so the latest two are not both above it.
    readings = [
        bp_half("sys-1", "8480-6", "2026-10-20T09:15:00-05:00", 160.0),
        bp_half("dia-1", "8462-4", "2026-10-20T14:15:00Z", 90.0),
        bp_half("sys-2", "8480-6", "2026-10-25T08:00:00+01:00", 165),
        bp_half("dia-2", "8462-4", "2026-10-25T07:00:00Z", 88),
    ]
    found = findings(screen(mdd(), *readings))
    assert "uncontrolled_hypertension" not in found
    # The latest (165/88) alone is above 160: elevated, and a confirmation is wanted.
    assert set(found["elevated_blood_pressure"]["evidence"]) == {
        "Observation/sys-2",
        "Observation/dia-2",
    }
    assert "blood_pressure_confirmation" in found


def _hcg(loinc: str, value: float) -> Resource:
    return observation(
        "hcg-1", loinc, "2026-10-28T07:40:00-05:00", value=quantity(value, "mIU/mL", "m[IU]/mL")
    )


@pytest.mark.parametrize("loinc", ["2118-8", "2106-3"])
@pytest.mark.parametrize("value", [26, 25.5, 1200])
def test_numeric_hcg_above_25_is_positive(loinc: str, value: float) -> None:
    result = screen(mdd(), _hcg(loinc, value), gender="female", birth_date="1994-03-15")
    found = findings(result)
    assert found["pregnancy"]["kind"] == "absolute"
    assert found["pregnancy"]["evidence"] == ["Observation/hcg-1"]
    assert result["decision"] == "not_eligible"


@pytest.mark.parametrize("loinc", ["2118-8", "2106-3"])
@pytest.mark.parametrize("value", [25, 24.9, 0])
def test_numeric_hcg_of_25_or_less_is_not_positive(loinc: str, value: float) -> None:
    result = screen(mdd(), _hcg(loinc, value), gender="female", birth_date="1994-03-15")
    assert "pregnancy" not in findings(result)
    # A female aged 32 needs a pregnancy test within 7 days: 2026-10-28 is 4 days before.
    tests = {w["test"]: w for w in result["workup"]}
    assert tests["pregnancy_test"]["status"] == "done"
    assert tests["pregnancy_test"]["date"] == "2026-10-28"


def _item9(oid: str, when: str, **value: Any) -> Resource:
    resource = observation(oid, "44260-8", when, category="survey")
    return resource | value


@pytest.mark.parametrize(
    "value",
    [
        {"valueInteger": 1},
        {"valueQuantity": {"value": 1, "unit": "{score}", "system": UCUM, "code": "{score}"}},
        {"valueInteger": 3},
    ],
    ids=["integer", "quantity", "three"],
)
def test_phq9_item9_within_30_days_is_active_suicidality(value: Resource) -> None:
    item = _item9("phq9-item9", "2026-10-02T10:00:00-05:00", **value)  # 30 days before
    found = findings(screen(mdd(), item))
    assert found["active_suicidality"]["kind"] == "relative"
    assert found["active_suicidality"]["evidence"] == ["Observation/phq9-item9"]


@pytest.mark.parametrize(
    ("when", "value"),
    [
        ("2026-10-01T10:00:00-05:00", 1),  # 31 days before the screening date
        ("2026-10-25T10:00:00-05:00", 0),  # "Not at all"
    ],
)
def test_phq9_item9_near_misses(when: str, value: int) -> None:
    item = _item9("phq9-item9", when, valueInteger=value)
    assert "active_suicidality" not in findings(screen(mdd(), item))


# urn:uuid references, as in transaction bundles built by an integration engine.
PATIENT_URN = "urn:uuid:3f1c9a52-6b7e-4d1a-9a0e-2c5d8b7e4f10"
COND_URN = "urn:uuid:7d2e4b19-0c3a-4f5e-8b61-9a7c3d2e1f05"
BP1_URN = "urn:uuid:a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a50"
BP2_URN = "urn:uuid:a1b2c3d4-0002-4e5f-8a9b-0c1d2e3f4a51"
RX1_URN = "urn:uuid:b5c6d7e8-0001-4f9a-8b1c-2d3e4f5a6b70"
ITEM9_URN = "urn:uuid:c9d0e1f2-0001-4a3b-8c4d-5e6f7a8b9c90"


def _transaction(entries: list[tuple[str, Resource]]) -> bytes:
    return json.dumps(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": url,
                    "resource": resource,
                    "request": {"method": "POST", "url": resource["resourceType"]},
                }
                for url, resource in entries
            ],
        }
    ).encode()


def _urn_record(subject_urn: str = PATIENT_URN) -> list[tuple[str, Resource]]:
    subject = {"reference": subject_urn}
    person = {k: v for k, v in patient().items() if k != "id"}
    condition = {k: v for k, v in mdd(subject).items() if k != "id"}
    rx = {
        k: v
        for k, v in request(
            "unused",
            drug("sertraline 100 MG Oral Tablet"),
            authored="2026-01-05",
            end="2026-04-06",  # 91 days = 13 weeks
            dose=dosage(mg(100)),
            reason=outcome("no-response"),
            subject=subject,
        ).items()
        if k != "id"
    }
    return [
        (PATIENT_URN, person),
        (COND_URN, condition),
        (RX1_URN, rx),
        (BP1_URN, bp_panel(None, "2026-10-10T08:30:00-04:00", 172, 96, subject=subject)),
        (BP2_URN, bp_panel(None, "2026-10-20T08:30:00-04:00", 165, 92, subject=subject)),
        (ITEM9_URN, _item9("x", "2026-10-20", valueInteger=2, subject=subject)),
    ]


def test_urn_uuid_references_and_evidence_by_full_url() -> None:
    entries = _urn_record()
    # The PHQ-9 item keeps an id: its evidence is then Type/id, not the fullUrl.
    result = screen_bundle(_transaction(entries), route="iv", as_of=AS_OF)
    assert result["patient"] == PATIENT_URN
    found = findings(result)
    assert set(found["uncontrolled_hypertension"]["evidence"]) == {BP1_URN, BP2_URN}
    assert found["active_suicidality"]["evidence"] == ["Observation/x"]
    trial = only_trial(result)
    assert trial["evidence"] == [RX1_URN]
    assert trial["weeks"] == 13
    assert result["decision"] == "not_eligible"


def test_urn_uuid_reference_to_another_patient_is_refused() -> None:
    entries = _urn_record()
    stranger = "urn:uuid:00000000-0000-4000-8000-000000000000"
    other = bp_panel(None, "2026-10-21", 120, 80, subject={"reference": stranger})
    with pytest.raises(BundleError, match="Patient"):
        screen_bundle(_transaction([*entries, (BP1_URN + "-x", other)]), as_of=AS_OF)


# --- 3. Large exports: thousands of unread entries ----


def _narrative(n: int) -> Resource:
    filler = " ".join(
        f"Line {n}-{i}: routine documentation, no clinical content." for i in range(6)
    )
    return {
        "status": "generated",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{filler}</div>',
    }


def _unread_entry(n: int) -> Resource:
    """One entry of a type the engine does not read; every fifth one is not valid R4."""
    kind = ("Claim", "ExplanationOfBenefit", "Encounter", "ImagingStudy", "DiagnosticReport")[n % 5]
    day = f"20{15 + n % 11:02d}-{1 + n % 12:02d}-{1 + n % 28:02d}"
    resource: Resource = {
        "resourceType": kind,
        "id": f"{kind.lower()}-{n}",
        "text": _narrative(n),
        "identifier": [{"system": "urn:oid:1.2.3.4.5", "value": f"{kind}-{n:06d}"}],
    }
    broken = n % 5 == 0 or n % 7 == 0
    if kind == "Claim":
        if not broken:
            resource |= {
                "status": "active",
                "type": {"coding": [{"code": "professional"}]},
                "use": "claim",
                "patient": SUBJECT,
                "created": day,
                "provider": {"display": "Clinic"},
                "priority": {"coding": [{"code": "normal"}]},
                "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "Plan"}}],
            }
        # broken: no status, type, use, patient, created, provider, priority nor insurance
        resource["item"] = [
            {"sequence": i + 1, "productOrService": {"text": f"service {i}"}} for i in range(3)
        ]
    elif kind == "ExplanationOfBenefit":
        resource |= {
            "status": "active",
            "type": {"coding": [{"code": "pharmacy"}]},
            "use": "claim",
            "patient": SUBJECT,
            "created": day,
            "insurer": {"display": "Payer"},
            "provider": {"display": "Clinic"},
            "outcome": "complete",
            "insurance": [{"focal": True, "coverage": {"display": "Plan"}}],
        }
        if broken:
            resource["outcome"] = 42  # a number where a code belongs
            resource["created"] = "last Tuesday"
    elif kind == "Encounter":
        resource |= {
            "status": "finished",
            "class": {"code": "AMB"},
            "subject": SUBJECT,
            "period": {"start": f"{day}T09:00:00-05:00", "end": f"{day}T09:30:00-05:00"},
        }
        if broken:
            del resource["class"]  # 1..1 in R4
            resource["status"] = ["finished"]  # a list where a code belongs
    elif kind == "ImagingStudy":
        resource |= {"status": "available", "subject": SUBJECT, "started": day}
        if broken:
            resource["series"] = "not a list"
            del resource["subject"]
    else:
        resource |= {
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "24323-8"}]},
            "subject": SUBJECT,
            "effectiveDateTime": day,
            "conclusion": "Within normal limits. " * 10,
        }
        if broken:
            del resource["code"]  # 1..1 in R4
            resource["effectiveDateTime"] = {"not": "a date"}
    return resource


def _known_record() -> list[Resource]:
    """A record whose decision is worked out by hand: eligible, TRD, workup complete.

    Male, 47: no pregnancy test. MDD active. Sertraline 100 mg 13 weeks (min 50) and
    venlafaxine 150 mg 13 weeks (min 150), both no response: 2 failed adequate trials of 2
    classes, resistant. Blood pressure 124/78 on 2026-10-25 (within 30 days). ALT 22, AST 25
    (below 120), creatinine 0.9, PHQ-9 total 19 and item 9 of 0, physical exam on 2026-10-20:
    nothing relative, missing or absolute; the only finding is the note off_label (IV route).
    Old readings (190/112 in 2024, beyond 90 days) and a future one (dated after the
    screening date) must be ignored.
    """
    return [
        mdd(),
        request(
            "rx-sertraline",
            drug("sertraline 100 MG Oral Tablet", "312941"),
            authored="2025-01-06",
            end="2025-04-07",
            dose=dosage(mg(100)),
            reason=outcome("no-response"),
        ),
        request(
            "rx-venlafaxine",
            drug("Effexor XR 150 mg"),
            authored="2025-05-05",
            end="2025-08-04",
            dose=dosage(mg(150)),
            reason=outcome("no-response"),
        ),
        bp_panel("bp-old-1", "2024-03-01T10:00:00Z", 190, 112),
        bp_panel("bp-old-2", "2024-03-08T10:00:00Z", 188, 110),
        bp_panel("bp-now", "2026-10-25T09:00:00-05:00", 124, 78),
        bp_panel("bp-future", "2026-12-01T09:00:00-05:00", 200, 120),
        observation("alt", "1742-6", "2026-10-20", value=quantity(22, "U/L")),
        observation("ast", "1920-8", "2026-10-20", value=quantity(25, "U/L")),
        observation("creat", "2160-0", "2026-10-20", value=quantity(0.9, "mg/dL")),
        observation(
            "phq9", "44261-6", "2026-10-25", value=quantity(19, "{score}"), category="survey"
        ),
        _item9("phq9-item9", "2026-10-25", valueInteger=0),
        {
            "resourceType": "Procedure",
            "id": "exam",
            "status": "completed",
            "code": {
                "coding": [{"system": SNOMED, "code": "5880005", "display": "Physical examination"}]
            },
            "subject": SUBJECT,
            "performedDateTime": "2026-10-20T10:00:00-05:00",
        },
    ]


def _large_bundle(extra: list[Resource] = []) -> bytes:  # noqa: B006 - never mutated
    unread = [_unread_entry(n) for n in range(4200)]
    unread += [
        {
            "resourceType": "OperationOutcome",
            "id": "search-warning",
            "issue": [
                {
                    "severity": "warning",
                    "code": "suppressed",
                    "diagnostics": "Some results were not returned (sensitive encounters).",
                }
            ],
        },
        {"resourceType": "Practitioner", "id": "dr-1", "name": [{"family": "Prescriber"}]},
        {"resourceType": "Organization", "id": "org-1", "name": "Example Clinic"},
        # Not valid R4: Provenance needs target, recorded and agent.
        {"resourceType": "Provenance", "id": "prov-1"},
    ]
    known = [patient(birth_date="1979-04-12"), *_known_record(), *extra]
    # The read resources are spread through the export, not bunched at the start.
    resources = list(unread)
    for i, resource in enumerate(known):
        resources.insert(i * 300, resource)
    return json.dumps(bundle(*resources, kind="searchset")).encode()


def _run_cli(tmp_path: Path, data: bytes) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "export.json"
    path.write_bytes(data)
    return subprocess.run(
        [str(CLI), "screen", str(path), "--as-of", AS_OF.isoformat(), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_large_export_really_holds_invalid_unread_resources() -> None:
    # The test below would prove nothing if the unread entries happened to be valid R4.
    invalid: dict[str, Any] = {
        "Claim": Claim,
        "Encounter": Encounter,
        "DiagnosticReport": DiagnosticReport,
    }
    for n in (0, 5, 10, 14, 7):
        resource = _unread_entry(n)
        model = invalid.get(resource["resourceType"])
        if model is not None:
            with pytest.raises(pydantic.ValidationError):
                model.model_validate(resource)


def test_large_export_is_screened_whatever_the_unread_entries(tmp_path: Path) -> None:
    data = _large_bundle()
    assert len(data) >= 3 * 1024 * 1024
    result = _run_cli(tmp_path, data)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["patient"] == f"Patient/{PATIENT_ID}"
    assert out["decision"] == "eligible"
    assert [i["id"] for i in out["indications"]] == ["treatment_resistant_depression"]
    assert "Condition/cond-mdd" in out["indications"][0]["evidence"]
    resistance = out["treatment_resistance"]
    assert resistance["status"] == "resistant"
    assert resistance["failed_adequate_trials"] == 2
    assert sorted(resistance["classes"]) == ["SNRI", "SSRI"]
    assert [(t["medication"], t["weeks"], t["adequate"]) for t in resistance["trials"]] == [
        ("sertraline", 13, True),
        ("venlafaxine", 13, True),
    ]
    assert {(f["kind"], f["id"]) for f in out["findings"]} == {("note", "off_label")}
    assert out["workup_complete"] is True
    status = {w["test"]: w["status"] for w in out["workup"]}
    for test in ("physical_exam", "blood_pressure", "liver_function", "renal_function"):
        assert status[test] == "done", test
    assert status["baseline_scale"] == "done"


def test_large_export_with_one_invalid_read_resource_is_refused(tmp_path: Path) -> None:
    # Near miss: the same export, plus one Observation (a type the engine reads) without its
    # required status: bad input, exit 2, one line naming it.
    invalid = observation("no-status", "8867-4", "2026-10-25", value=quantity(70, "/min"))
    del invalid["status"]
    result = _run_cli(tmp_path, _large_bundle([invalid]))
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "Observation" in lines[0] and "status" in lines[0]


# --- More shapes seen in real exports ----


def test_active_request_with_validity_beyond_the_screening_date_counts_to_it() -> None:
    # A 6-month prescription still running: counted from 2026-09-06 to the screening date,
    # 24 + 31 + 1 = 56 days = 8 weeks (not to 2027-03-06, which has not come yet).
    rx = request(
        "rx-sertraline",
        drug("sertraline 100 MG Oral Tablet"),
        authored="2026-09-06T14:03:11-04:00",
        end="2027-03-06",
        status="active",
        dose=dosage(mg(100)),
    )
    trial = only_trial(screen(mdd(), rx))
    assert trial["weeks"] == 8
    assert trial["adequate"] is True
    assert trial["outcome"] is None


def test_decimal_strength_times_tablets_times_frequency() -> None:
    # 2 tablets of venlafaxine 37.5 mg twice a day = 150 mg/day, the minimum.
    tablets = {"value": 2, "unit": "tablet", "system": ORDERABLE_FORM, "code": "TAB"}
    rx = request(
        "rx-ven",
        drug("venlafaxine 37.5 MG Oral Tablet", "313580"),
        authored="2026-03-02",
        end="2026-05-25",  # 84 days
        dose=dosage(tablets, frequency=2, text="Take 2 tablets by mouth twice daily"),
        reason=outcome("no-response"),
    )
    trial = only_trial(screen(mdd(), rx))
    assert trial["daily_dose_mg"] == 150
    assert trial["weeks"] == 12
    assert trial["adequate"] is True


@pytest.mark.parametrize("where", ["bundled", "contained"])
def test_medication_by_reference_as_epic_writes_it(where: str) -> None:
    # The drug is a Medication resource (upper-case EHR name), the dose a count of tablets:
    # 2 x 50 mg once a day = 100 mg/day; 2026-03-02 to 2026-05-25 = 12 weeks.
    medication = {
        "resourceType": "Medication",
        "id": "med-sertraline",
        "code": {"text": "SERTRALINE HCL 50 MG PO TABS"},
    }
    rx = request(
        "rx-epic",
        {"text": "unused"},
        authored="2026-03-02",
        end="2026-05-25",
        dose=dosage({"value": 2, "unit": "tablet"}),
        reason=outcome("no-response"),
    )
    del rx["medicationCodeableConcept"]
    extra: list[Resource] = []
    if where == "bundled":
        rx["medicationReference"] = {"reference": "Medication/med-sertraline"}
        extra.append(medication)
    else:
        rx["contained"] = [medication]
        rx["medicationReference"] = {"reference": "#med-sertraline"}
    trial = only_trial(screen(mdd(), rx, *extra))
    assert trial["medication"] == "sertraline"
    assert trial["daily_dose_mg"] == 100
    assert trial["weeks"] == 12
    assert trial["adequate"] is True
    assert trial["evidence"] == ["MedicationRequest/rx-epic"]


def test_pairing_ignores_fractional_seconds_and_odd_offsets() -> None:
    # 2026-10-20T19:45:00.000+05:30 is 14:15 UTC, the same instant as 09:15 at UTC-5.
    systolic = bp_half("sys-1", "8480-6", "2026-10-20T09:15:00-05:00", 150)
    diastolic = bp_half("dia-1", "8462-4", "2026-10-20T19:45:00.000+05:30", 95)
    found = findings(screen(mdd(), systolic, diastolic))
    assert set(found["elevated_blood_pressure"]["evidence"]) == {
        "Observation/sys-1",
        "Observation/dia-1",
    }


# LOINC answer list LL358-3 (PHQ-9 items): LA6568-5 Not at all (0), LA6569-3 Several days (1),
# LA6570-1 More than half the days (2), LA6571-9 Nearly every day (3).
def _coded_answer(code: str, display: str) -> Resource:
    return {
        "valueCodeableConcept": {"coding": [{"system": LOINC, "code": code, "display": display}]}
    }


@pytest.mark.parametrize(
    ("code", "display"),
    [("LA6569-3", "Several days"), ("LA6571-9", "Nearly every day")],
)
def test_phq9_item9_as_a_loinc_answer_is_active_suicidality(code: str, display: str) -> None:
    item = _item9("phq9-item9", "2026-10-20T10:00:00-05:00", **_coded_answer(code, display))
    found = findings(screen(mdd(), item))
    assert found["active_suicidality"]["evidence"] == ["Observation/phq9-item9"]


def test_phq9_item9_answered_not_at_all_is_not_suicidality() -> None:
    item = _item9("phq9-item9", "2026-10-20", **_coded_answer("LA6568-5", "Not at all"))
    assert "active_suicidality" not in findings(screen(mdd(), item))


def test_panel_with_an_absent_diastolic_counts_for_the_systolic_rules() -> None:
    # The second panel's diastolic was not measured (dataAbsentReason): its systolic 170 still
    # counts, and with 172/96 before it the latest two are both above 160/90.
    first = bp_panel("bp-1", "2026-10-10T08:30:00-04:00", 172, 96)
    second = bp_panel("bp-2", "2026-10-20T08:30:00-04:00", 170, 0)
    second["component"][1] = {
        "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
        "dataAbsentReason": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                    "code": "not-performed",
                }
            ]
        },
    }
    found = findings(screen(mdd(), first, second))
    assert set(found["uncontrolled_hypertension"]["evidence"]) == {
        "Observation/bp-1",
        "Observation/bp-2",
    }
