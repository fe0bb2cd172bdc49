"""Outcomes and treatment in the FHIR export (issue 6 item 7, issue 8 item 1): questionnaire
answers as QuestionnaireResponse, scores as Observation (the scale's LOINC where
clinical/scales.py knows it, one component per item), sessions as Procedure, doses as
MedicationAdministration; all valid R4 (fhir.resources.R4B), through export.SECTIONS and the
API route. Every case runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from ketaclinic.services.export import export_patient
from ketaclinic.services.importing import import_bundle
from ketaclinic.services.patients import PatientIn, register_patient
from ketaclinic.services.records import current_records
from ketaclinic.store.db import migrate
from tests.conftest import _fresh_postgres_database
from tests.integration.api_support import Api, open_api
from tests.integration.outcomes_support import add_plan, add_response, add_session
from tests.integration.services_support import Clinic, open_clinic

JSON = dict[str, Any]
LOINC = "http://loinc.org"
SCALE_SYSTEM = "http://ketaclinic.org/fhir/CodeSystem/rating-scale"
# clinical/scales.py: PHQ-9 item LOINC codes in item order, total 44261-6.
PHQ9_ITEMS = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5",
              "44253-3", "44260-8"]  # fmt: skip


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute)


@pytest.fixture
def web(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def resources(bundle: JSON) -> list[JSON]:
    return [entry["resource"] for entry in bundle["entry"]]


def of_type(bundle: JSON, kind: str) -> list[JSON]:
    return [r for r in resources(bundle) if r["resourceType"] == kind]


def assert_valid_r4(bundle: JSON) -> None:
    for resource in resources(bundle):
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    Bundle.model_validate(bundle)


def assert_references_resolve(bundle: JSON) -> None:
    held = {f"{r['resourceType']}/{r['id']}" for r in resources(bundle)}

    def walk(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "reference" and isinstance(item, str):
                    yield item
                else:
                    yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)

    for ref in walk(resources(bundle)):
        assert ref in held, ref


def build(clinic: Clinic) -> dict[str, int]:
    """An IV plan with: session 1 discharged (ketamine 35 mg, 10:00-10:40), session 2 cancelled,
    session 3 still scheduled; esketamine plan with one session (56 mg); PHQ-9 answers
    [2,2,2,2,2,2,2,2,1] = 17 before session 1 and [1,1,1,1,1,0,0,0,0] = 5 taken during session 1;
    MADRS 30; a C-SSRS screener with question 3 = yes (moderate risk); one PHQ-9 entered in error.
    """
    patient = clinic.register()
    with clinic.work() as s:
        plan = add_plan(s, clinic, patient.id)
        first = add_session(s, plan, 1, at(6, 10))
        cancelled = add_session(s, plan, 2, at(8, 10), state="cancelled", dose_mg=None)
        add_session(s, plan, 3, at(10, 10), state="scheduled", dose_mg=None)
        eske_plan = add_plan(s, clinic, patient.id, route="esketamine")
        eske = add_session(s, eske_plan, 1, at(12, 10), drug="esketamine", dose_mg=56)
        before = add_response(s, patient.id, "phq9", at(5), answers=[2, 2, 2, 2, 2, 2, 2, 2, 1])
        during = add_response(
            s, patient.id, "phq9", at(6, 11), answers=[1, 1, 1, 1, 1, 0, 0, 0, 0],
            session_id=first.id, source="link",
        )  # fmt: skip
        madrs = add_response(s, patient.id, "madrs", at(5), total=30)
        cssrs = add_response(s, patient.id, "cssrs_screener", at(5), answers=[1, 1, 1, 0, 0, 0])
        add_response(s, patient.id, "phq9", at(7), total=3, state="entered_in_error")
        return {
            "patient": patient.id,
            "first": first.id,
            "cancelled": cancelled.id,
            "eske": eske.id,
            "before": before.id,
            "during": during.id,
            "madrs": madrs.id,
            "cssrs": cssrs.id,
        }


def export(clinic: Clinic, patient_id: int) -> JSON:
    with clinic.work() as s:
        return export_patient(s, clinic.nurse, clinic.clock, patient_id)


def by_id(bundle: JSON, kind: str, ident: str) -> JSON:
    [found] = [r for r in of_type(bundle, kind) if r["id"] == ident]
    return found


def test_the_export_holds_answers_scores_sessions_and_doses_as_valid_r4(web: Api) -> None:
    ids = build(web.clinic)
    bundle = export(web.clinic, ids["patient"])
    assert_valid_r4(bundle)
    assert_references_resolve(bundle)
    kinds = Counter(r["resourceType"] for r in resources(bundle))
    # 4 current responses (the one in error is out) -> 4 QuestionnaireResponses, 4 Observations;
    # sessions 1, 2 (cancelled) and the esketamine one -> 3 Procedures (the scheduled one is a
    # plan, not a procedure); 2 doses. The plans' screenings: one RiskAssessment (the latest).
    assert kinds == Counter({"Patient": 1, "QuestionnaireResponse": 4, "Observation": 4,
                             "Procedure": 3, "MedicationAdministration": 2,
                             "RiskAssessment": 1})  # fmt: skip


def test_a_phq9_score_is_an_observation_with_its_loinc_codes_and_items(web: Api) -> None:
    ids = build(web.clinic)
    bundle = export(web.clinic, ids["patient"])
    score = by_id(bundle, "Observation", f"score-{ids['before']}")
    assert score["status"] == "final"
    assert score["category"][0]["coding"][0]["code"] == "survey"
    assert score["code"]["coding"] == [
        {"system": LOINC, "code": "44261-6"},
        {"system": SCALE_SYSTEM, "code": "phq9", "display": "PHQ-9"},
    ]
    assert score["subject"] == {"reference": f"Patient/{ids['patient']}"}
    assert score["effectiveDateTime"] == "2026-10-05T09:00:00Z"
    # 8 x 2 + 1 = 17: moderately severe (15-19).
    assert score["valueQuantity"]["value"] == 17
    assert score["interpretation"] == [{"text": "moderately severe"}]
    assert score["derivedFrom"] == [{"reference": f"QuestionnaireResponse/qr-{ids['before']}"}]
    assert [c["code"]["coding"][0]["code"] for c in score["component"]] == PHQ9_ITEMS
    assert [c["valueInteger"] for c in score["component"]] == [2, 2, 2, 2, 2, 2, 2, 2, 1]
    assert "partOf" not in score
    # The score taken during session 1 is part of its Procedure.
    during = by_id(bundle, "Observation", f"score-{ids['during']}")
    assert during["valueQuantity"]["value"] == 5
    assert during["partOf"] == [{"reference": f"Procedure/session-{ids['first']}"}]


def test_scales_without_loinc_and_the_cssrs_risk_level(web: Api) -> None:
    ids = build(web.clinic)
    bundle = export(web.clinic, ids["patient"])
    madrs = by_id(bundle, "Observation", f"score-{ids['madrs']}")
    # clinical/scales.py: no LOINC code confirmed for MADRS: only the clinic's own code.
    assert madrs["code"]["coding"] == [
        {"system": SCALE_SYSTEM, "code": "madrs", "display": "MADRS"}
    ]
    assert madrs["valueQuantity"]["value"] == 30 and len(madrs["component"]) == 10
    cssrs = by_id(bundle, "Observation", f"score-{ids['cssrs']}")
    assert "valueQuantity" not in cssrs
    # Question 3 (a method) yes: moderate risk.
    assert cssrs["valueCodeableConcept"] == {"text": "moderate risk"}
    assert [c["valueInteger"] for c in cssrs["component"]] == [1, 1, 1, 0, 0, 0]


def test_answers_are_a_questionnaire_response(web: Api) -> None:
    ids = build(web.clinic)
    bundle = export(web.clinic, ids["patient"])
    answers = by_id(bundle, "QuestionnaireResponse", f"qr-{ids['during']}")
    assert answers["status"] == "completed"
    assert answers["questionnaire"] == "http://ketaclinic.org/fhir/Questionnaire/phq9"
    assert answers["authored"] == "2026-10-06T11:00:00Z"
    assert answers["source"] == {"reference": f"Patient/{ids['patient']}"}  # by the link
    assert [i["linkId"] for i in answers["item"]] == [str(n) for n in range(1, 10)]
    assert [i["answer"] for i in answers["item"]] == [
        [{"valueInteger": v}] for v in (1, 1, 1, 1, 1, 0, 0, 0, 0)
    ]
    assert answers["item"][8]["text"] == "thoughts of being better off dead or of self-harm"
    staff = by_id(bundle, "QuestionnaireResponse", f"qr-{ids['before']}")
    assert "source" not in staff


def test_sessions_are_procedures_and_doses_medication_administrations(web: Api) -> None:
    ids = build(web.clinic)
    bundle = export(web.clinic, ids["patient"])
    first = by_id(bundle, "Procedure", f"session-{ids['first']}")
    assert first["status"] == "completed"
    assert first["performedPeriod"] == {
        "start": "2026-10-06T10:00:00Z",
        "end": "2026-10-06T12:00:00Z",
    }
    cancelled = by_id(bundle, "Procedure", f"session-{ids['cancelled']}")
    assert cancelled["status"] == "not-done"
    assert cancelled["statusReason"] == {"text": "patient unwell"}
    ketamine, esketamine = of_type(bundle, "MedicationAdministration")
    assert ketamine["partOf"] == [{"reference": f"Procedure/session-{ids['first']}"}]
    assert ketamine["medicationCodeableConcept"]["coding"] == [
        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "6130",
         "display": "ketamine"}
    ]  # fmt: skip
    assert ketamine["dosage"]["dose"] == {
        "value": 35.0, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg",
    }  # fmt: skip
    assert ketamine["effectivePeriod"] == {
        "start": "2026-10-06T10:00:00Z",
        "end": "2026-10-06T10:40:00Z",
    }
    # clinical-facts.md gives no RxNorm code for esketamine: named in words only.
    assert esketamine["medicationCodeableConcept"] == {"text": "esketamine"}
    assert esketamine["partOf"] == [{"reference": f"Procedure/session-{ids['eske']}"}]


def test_the_api_route_exports_the_record_and_audits_it(web: Api) -> None:
    ids = build(web.clinic)
    before = len(web.audit())
    response = web.get("prescriber", f"/api/patients/{ids['patient']}/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    assert_valid_r4(bundle)
    assert bundle["entry"][0]["fullUrl"] == f"http://testserver/fhir/Patient/{ids['patient']}"
    [row] = web.audit()[before:]
    assert (row.username, row.action, row.patient_id) == ("prescriber", "read", ids["patient"])
    for role in ("front_desk", "admin"):
        assert web.get(role, f"/api/patients/{ids['patient']}/export").status_code == 403
    assert web.get(None, f"/api/patients/{ids['patient']}/export").status_code == 401
    assert web.get("nurse", "/api/patients/9999/export").status_code == 404


# --- round trip ----------------------------------------------------------------------------


@pytest.fixture
def empty_database_url(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        url = _fresh_postgres_database(request.getfixturevalue("postgres_server"))
    migrate(url)
    return url


def without(resource: JSON, *keys: str) -> JSON:
    return {k: v for k, v in resource.items() if k not in ("id", "subject", *keys)}


def test_import_keeps_scores_sessions_answers_and_doses(web: Api, empty_database_url: str) -> None:
    """What services/importing.py makes of these sections: the score Observations and the
    session Procedures come back as records, the QuestionnaireResponses and the
    MedicationAdministrations as received resources (services/received_resources.py). A second
    export holds them all with the same content under new ids, and the references between them
    (a score's derivedFrom and partOf, a dose's partOf) name resources of that export."""
    ids = build(web.clinic)
    first = export(web.clinic, ids["patient"])
    with open_clinic(empty_database_url) as other:
        with other.work() as s:
            again = register_patient(
                s, other.front_desk, other.clock,
                PatientIn("MRN-1", "Alice", "Example", datetime(1986, 3, 15).date(), "female"),
            )  # fmt: skip
            result = import_bundle(s, other.prescriber, other.clock, again.id, orjson.dumps(first))
        # 4 scores, 3 sessions, 4 answers, 2 doses.
        assert (result.created, result.unchanged) == (4 + 3 + 4 + 2, 0)
        with other.work() as s:
            records = current_records(s, again.id)
            assert len(records.observations) == 4 and len(records.procedures) == 3
            phq9 = [o for o in records.observations if o.loinc == "44261-6"]
            assert sorted(o.value or 0 for o in phq9) == [5, 17]
        second = export(other, again.id)
    assert_valid_r4(second)
    assert_references_resolve(second)
    kinds = Counter(r["resourceType"] for r in resources(second))
    assert kinds == Counter(
        {"Patient": 1, "Observation": 4, "Procedure": 3, "QuestionnaireResponse": 4,
         "MedicationAdministration": 2}
    )  # fmt: skip
    # The same content under new ids (the references are compared just below).
    for kind in ("Observation", "Procedure", "QuestionnaireResponse", "MedicationAdministration"):
        pointers = ("partOf", "derivedFrom", "source")
        assert sorted((without(r, *pointers) for r in of_type(second, kind)), key=orjson.dumps) == (
            sorted((without(r, *pointers) for r in of_type(first, kind)), key=orjson.dumps)
        )
    # The PHQ-9 taken during session 1 (total 5), in the second export: derived from its
    # answers, part of that session; the answers were given by the patient (by the link).
    named = {f"{r['resourceType']}/{r['id']}": r for r in resources(second)}
    [during] = [
        o for o in of_type(second, "Observation") if o.get("valueQuantity", {}).get("value") == 5
    ]
    [answers_ref] = [d["reference"] for d in during["derivedFrom"]]
    [session_ref] = [p["reference"] for p in during["partOf"]]
    answers = named[answers_ref]
    assert [i["answer"][0]["valueInteger"] for i in answers["item"]] == [1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert answers["source"] == {"reference": f"Patient/{again.id}"}
    assert named[session_ref]["performedPeriod"] == {
        "start": "2026-10-06T10:00:00Z",
        "end": "2026-10-06T12:00:00Z",
    }
    # The ketamine dose is part of the same session.
    [ketamine] = [
        m for m in of_type(second, "MedicationAdministration")
        if m["medicationCodeableConcept"].get("text") == "ketamine"
    ]  # fmt: skip
    assert ketamine["partOf"] == [{"reference": session_ref}]
