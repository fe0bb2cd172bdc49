"""Small builders of FHIR R4 resources for the demo clinic's hand-written charts.

Every date is given as a number of days before the seeding day, so a chart reads the same
(fresh labs, a recent infarction, a 7-day pregnancy test) whatever day the clinic is seeded on.
The shapes are those of the hand-written examples/ bundles (examples/README.md), which the
screening engine reads: trial outcomes on ``statusReason`` / ``outcome``, doses with a daily
timing, blood-pressure panels with systolic and diastolic components.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ketaclinic.clinical import medications
from ketaclinic.clinical.facts import ICD10, LOINC, RXNORM, SNOMED, TRIAL_OUTCOME

Resource = dict[str, Any]

BASE_URL = "http://ketaclinic.org/fhir/demo"
MRN_SYSTEM = "http://ketaclinic.org/fhir/mrn"
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONTACT_ROLE = "http://terminology.hl7.org/CodeSystem/v2-0131"

OUTCOME_DISPLAY = {
    "no-response": "No response",
    "partial-response": "Partial response",
    "response": "Response",
    "remission": "Remission",
    "intolerance": "Stopped for intolerance",
}


def years_before(today: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February falls back to the 28th)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def born(today: date, age: int, days_past_birthday: int) -> date:
    """A birth date giving exactly ``age`` on ``today``, the birthday that many days ago."""
    if not 0 <= days_past_birthday < 360:
        raise ValueError("days_past_birthday must be within the year (0-359)")
    return years_before(today, age) - timedelta(days=days_past_birthday)


def _quantity(value: float, unit: str, code: str | None = None) -> Resource:
    return {"value": value, "unit": unit, "system": UCUM, "code": code or unit}


def _loinc(code: str, display: str) -> Resource:
    return {"coding": [{"system": LOINC, "code": code, "display": display}]}


def _outcome(outcome: str) -> Resource:
    return {
        "coding": [{"system": TRIAL_OUTCOME, "code": outcome, "display": OUTCOME_DISPLAY[outcome]}]
    }


def _drug(ingredient: str, text: str | None) -> Resource:
    """A medication concept: the RxNorm ingredient where the engine's table knows its code."""
    known = medications.drug(ingredient)
    concept: Resource = {"text": text or ingredient}
    if known is not None and known.rxnorm is not None:
        concept["coding"] = [{"system": RXNORM, "code": known.rxnorm, "display": ingredient}]
    return concept


def _dosage(mg: float, per_day: int) -> Resource:
    times = {1: "once", 2: "twice", 3: "three times"}[per_day]
    return {
        "text": f"{mg:g} mg {times} a day",
        "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
        "doseAndRate": [{"doseQuantity": _quantity(mg, "mg")}],
    }


@dataclass
class Chart:
    """One demo patient's resources as they are written, ids ``<prefix>-<key>``."""

    today: date
    prefix: str
    resources: list[Resource] = field(default_factory=list)

    @property
    def subject(self) -> Resource:
        return {"reference": f"Patient/{self.prefix}"}

    def day(self, days_ago: int) -> str:
        if days_ago < 1:
            # Nothing is dated on the seeding day itself, so no time zone can make it "future".
            raise ValueError("demo records are dated at least one day before the seeding day")
        return (self.today - timedelta(days=days_ago)).isoformat()

    def _add(self, resource_type: str, key: str, body: Resource) -> Resource:
        resource = {"resourceType": resource_type, "id": f"{self.prefix}-{key}", **body}
        if any(r["id"] == resource["id"] for r in self.resources):
            raise ValueError(f"duplicate resource id {resource['id']}")
        self.resources.append(resource)
        return resource

    # --- diagnoses -------------------------------------------------------------------------
    def condition(
        self,
        key: str,
        code: str,
        display: str,
        onset_days_ago: int,
        *,
        system: str = ICD10,
        status: str = "active",
        severe: bool = False,
    ) -> Resource:
        body: Resource = {
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status}]},
            "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
            "code": {
                "coding": [{"system": system, "code": code, "display": display}],
                "text": display,
            },
            "subject": self.subject,
            "onsetDateTime": self.day(onset_days_ago),
            "recordedDate": self.day(max(onset_days_ago - 7, 1)),
        }
        if severe:
            body["severity"] = {
                "coding": [{"system": SNOMED, "code": "24484000", "display": "Severe"}]
            }
        return self._add("Condition", key, body)

    # --- medications -----------------------------------------------------------------------
    def statement(
        self,
        key: str,
        ingredient: str,
        mg: float,
        start_days_ago: int,
        end_days_ago: int | None = None,
        *,
        per_day: int = 1,
        outcome: str | None = None,
        text: str | None = None,
    ) -> Resource:
        """A MedicationStatement: ongoing (status active) when it has no end."""
        period = {"start": self.day(start_days_ago)}
        if end_days_ago is not None:
            period["end"] = self.day(end_days_ago)
        body: Resource = {
            "status": "active" if end_days_ago is None else "completed",
            "medicationCodeableConcept": _drug(ingredient, text),
            "subject": self.subject,
            "effectivePeriod": period,
            "dosage": [_dosage(mg, per_day)],
        }
        if outcome is not None:
            body["statusReason"] = [_outcome(outcome)]
        return self._add("MedicationStatement", key, body)

    def request(
        self,
        key: str,
        ingredient: str,
        mg: float,
        start_days_ago: int,
        end_days_ago: int,
        *,
        per_day: int = 1,
        outcome: str | None = None,
    ) -> Resource:
        """A completed MedicationRequest, its course ending with the dispense validity period."""
        body: Resource = {
            "status": "completed",
            "intent": "order",
            "medicationCodeableConcept": _drug(ingredient, None),
            "subject": self.subject,
            "authoredOn": self.day(start_days_ago),
            "dosageInstruction": [_dosage(mg, per_day)],
            "dispenseRequest": {
                "validityPeriod": {
                    "start": self.day(start_days_ago),
                    "end": self.day(end_days_ago),
                }
            },
        }
        if outcome is not None:
            body["statusReason"] = _outcome(outcome)
        return self._add("MedicationRequest", key, body)

    # --- observations ----------------------------------------------------------------------
    def blood_pressure(self, key: str, days_ago: int, systolic: int, diastolic: int) -> Resource:
        def part(code: str, display: str, value: int) -> Resource:
            return {
                "code": _loinc(code, display),
                "valueQuantity": _quantity(value, "mmHg", "mm[Hg]"),
            }

        return self._add(
            "Observation",
            key,
            {
                "status": "final",
                "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
                "code": _loinc("85354-9", "Blood pressure panel with all children optional"),
                "subject": self.subject,
                "effectiveDateTime": f"{self.day(days_ago)}T09:30:00Z",
                "component": [
                    part("8480-6", "Systolic blood pressure", systolic),
                    part("8462-4", "Diastolic blood pressure", diastolic),
                ],
            },
        )

    def measurement(
        self,
        key: str,
        loinc: str,
        display: str,
        days_ago: int,
        value: float,
        unit: str,
        ucum: str | None = None,
    ) -> Resource:
        return self._add(
            "Observation",
            key,
            {
                "status": "final",
                "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]}],
                "code": _loinc(loinc, display),
                "subject": self.subject,
                "effectiveDateTime": self.day(days_ago),
                "valueQuantity": _quantity(value, unit, ucum),
            },
        )

    def score(self, key: str, loinc: str, display: str, days_ago: int, value: int) -> Resource:
        return self._add(
            "Observation",
            key,
            {
                "status": "final",
                "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey"}]}],
                "code": _loinc(loinc, display),
                "subject": self.subject,
                "effectiveDateTime": f"{self.day(days_ago)}T09:00:00Z",
                "valueInteger": value,
            },
        )

    def phq9(self, days_ago: int, total: int, item9: int) -> None:
        self.score("phq9", "44261-6", "PHQ-9 total score [Reported]", days_ago, total)
        self.score(
            "phq9-item9",
            "44260-8",
            "Thoughts that you would be better off dead, or of hurting yourself in some way",
            days_ago,
            item9,
        )

    def gad7(self, days_ago: int, total: int) -> None:
        self.score("gad7", "70274-6", "GAD-7 total score [Reported]", days_ago, total)

    def hcg(self, key: str, days_ago: int, *, positive: bool) -> Resource:
        value = ("10828004", "Positive") if positive else ("260385009", "Negative")
        return self._add(
            "Observation",
            key,
            {
                "status": "final",
                "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]}],
                "code": _loinc("2106-3", "Choriogonadotropin (pregnancy test) [Presence] in Urine"),
                "subject": self.subject,
                "effectiveDateTime": self.day(days_ago),
                "valueCodeableConcept": {
                    "coding": [{"system": SNOMED, "code": value[0], "display": value[1]}]
                },
            },
        )

    def ecg(self, days_ago: int, reading: str) -> Resource:
        return self._add(
            "Observation",
            "ecg",
            {
                "status": "final",
                "code": _loinc("11524-6", "EKG study"),
                "subject": self.subject,
                "effectiveDateTime": self.day(days_ago),
                "valueString": reading,
            },
        )

    # --- procedures and allergies ----------------------------------------------------------
    def procedure(
        self,
        key: str,
        code: str,
        display: str,
        start_days_ago: int,
        end_days_ago: int | None = None,
        *,
        system: str = CPT,
        outcome: str | None = None,
    ) -> Resource:
        body: Resource = {
            "status": "completed",
            "code": {
                "coding": [{"system": system, "code": code, "display": display}],
                "text": display,
            },
            "subject": self.subject,
        }
        if end_days_ago is None:
            body["performedDateTime"] = self.day(start_days_ago)
        else:
            body["performedPeriod"] = {
                "start": self.day(start_days_ago),
                "end": self.day(end_days_ago),
            }
        if outcome is not None:
            body["outcome"] = _outcome(outcome)
        return self._add("Procedure", key, body)

    def physical_exam(self, days_ago: int) -> Resource:
        return self.procedure(
            "exam", "5880005", "Physical examination procedure", days_ago, system=SNOMED
        )

    def ketamine_allergy(self, recorded_days_ago: int, reaction: str) -> Resource:
        return self._add(
            "AllergyIntolerance",
            "allergy-ketamine",
            {
                "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": "active"}]},
                "verificationStatus": {
                    "coding": [{"system": ALLERGY_VERIFICATION, "code": "confirmed"}]
                },
                "type": "allergy",
                "category": ["medication"],
                "code": {
                    "coding": [{"system": RXNORM, "code": "6130", "display": "ketamine"}],
                    "text": "ketamine",
                },
                "patient": self.subject,
                "recordedDate": self.day(recorded_days_ago),
                "reaction": [{"manifestation": [{"text": reaction}]}],
            },
        )


def entry(resource: Resource) -> Resource:
    return {
        "fullUrl": f"{BASE_URL}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
    }


def collection(bundle_id: str, resources: list[Resource]) -> Resource:
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "collection",
        "entry": [entry(r) for r in resources],
    }
