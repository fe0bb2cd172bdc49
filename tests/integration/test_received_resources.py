"""Resources received from other clinics (issue 8 item 1): an imported bundle's
MedicationAdministrations and QuestionnaireResponses are kept as they came, their references
pointed at this record, exported again; nothing is created twice and nothing is counted twice by
the screening; they can be marked entered in error; the database refuses any other change; the
chart lists them. Every case runs on SQLite and PostgreSQL.

The round trip of a whole treated record (export, import into an empty database, export again)
is in test_export.py (``test_sessions_doses_and_answers_come_back_whole``).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from ketaclinic.services import importing
from ketaclinic.services.charting import screen_patient
from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput
from ketaclinic.services.export import export_patient
from ketaclinic.services.importing import ImportResult, import_bundle
from ketaclinic.services.received_resources import mark_received_in_error
from ketaclinic.services.records import add_observation, current_records
from ketaclinic.services.records_forms import ObservationIn
from ketaclinic.services.screening import screen_bundle
from ketaclinic.store.db import migrate
from ketaclinic.store.models import ReceivedResource, Screening
from tests.conftest import _fresh_postgres_database
from tests.integration.api_support import Api, open_api
from tests.integration.outcomes_support import add_plan, add_response, add_session
from tests.integration.services_support import TODAY, Clinic, open_clinic

JSON = dict[str, Any]
PATIENT_URL = "urn:uuid:6d1e0c52-1a5b-4c1e-9a43-0f3c3e6e9a01"
VISIT_URL = "urn:uuid:2b7f4e10-8c55-4a8e-b1f0-5d0a9c7e4b22"
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1986-03-15"}
# Another clinic's ketamine visit, given as a Procedure named by its fullUrl only.
VISIT = {
    "resourceType": "Procedure",
    "id": "visit-1",
    "status": "completed",
    "code": {"text": "Ketamine infusion visit"},
    "subject": {"reference": PATIENT_URL},
    "performedDateTime": "2026-10-20T10:00:00Z",
}
# Its dose: part of the visit (by fullUrl), during an encounter the bundle does not hold.
DOSE = {
    "resourceType": "MedicationAdministration",
    "id": "given-1",
    "status": "completed",
    "medicationCodeableConcept": {"text": "ketamine"},
    "subject": {"reference": "Patient/p1"},
    "context": {"reference": "Encounter/enc-1"},
    "partOf": [{"reference": VISIT_URL}],
    "effectiveDateTime": "2026-10-20T10:05:00Z",
    "dosage": {"dose": {"value": 35, "unit": "mg"}},
}
ANSWERS = {
    "resourceType": "QuestionnaireResponse",
    "id": "answers-1",
    "questionnaire": "http://other.example/Questionnaire/phq9",
    "status": "completed",
    "subject": {"reference": "Patient/p1"},
    "source": {"reference": "Patient/p1"},
    "authored": "2026-10-20T09:30:00Z",
    "item": [
        {"linkId": "1", "answer": [{"valueInteger": 1}]},
        {"linkId": "2", "answer": [{"valueInteger": 2}]},
    ],
}
SCORE = {
    "resourceType": "Observation",
    "id": "score-a",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
    "subject": {"reference": "Patient/p1"},
    "effectiveDateTime": "2026-10-20T09:30:00Z",
    "valueQuantity": {"value": 3, "unit": "{score}"},
    "derivedFrom": [{"reference": "QuestionnaireResponse/answers-1"}],
}
ENCOUNTER = {"resourceType": "Encounter", "id": "enc-1", "status": "finished",
             "class": {"code": "AMB"}}  # fmt: skip
# The other clinic's screening: a judgement made there, never imported.
RISK = {"resourceType": "RiskAssessment", "id": "ra-1", "status": "final",
        "subject": {"reference": "Patient/p1"}}  # fmt: skip


def entry(resource: JSON, full_url: str | None = None) -> JSON:
    return (
        {"resource": resource} if full_url is None else {"fullUrl": full_url, "resource": resource}
    )


def bundle(*entries: JSON) -> bytes:
    return orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": list(entries)})


# The dose before its visit and the score before its answers: stored in reference order.
FOREIGN = bundle(
    entry(PATIENT, PATIENT_URL),
    entry(DOSE),
    entry(SCORE),
    entry(ENCOUNTER),
    entry(VISIT, VISIT_URL),
    entry(ANSWERS),
    entry(RISK),
)


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


@pytest.fixture
def empty_database_url(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        url = _fresh_postgres_database(request.getfixturevalue("postgres_server"))
    migrate(url)
    return url


def run(clinic: Clinic, patient_id: int, data: bytes) -> ImportResult:
    with clinic.work() as s:
        return import_bundle(s, clinic.prescriber, clinic.clock, patient_id, data)


def export(clinic: Clinic, patient_id: int) -> JSON:
    with clinic.work() as s:
        return export_patient(s, clinic.nurse, clinic.clock, patient_id)


def resources(exported: JSON) -> list[JSON]:
    return [e["resource"] for e in exported["entry"]]


def kinds(exported: JSON) -> Counter[str]:
    return Counter(r["resourceType"] for r in resources(exported))


def assert_valid_r4(exported: JSON) -> None:
    for resource in resources(exported):
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    Bundle.model_validate(exported)


def received_rows(clinic: Clinic, patient_id: int) -> list[ReceivedResource]:
    with clinic.factory() as s:
        query = select(ReceivedResource).where(ReceivedResource.patient_id == patient_id)
        return list(s.scalars(query.order_by(ReceivedResource.id)))


def stored(row: Any) -> JSON:
    return dict(json.loads(row.resource))


# --- another clinic's bundle -------------------------------------------------------------------


def test_doses_and_answers_are_kept_with_their_references_pointed_here(clinic: Clinic) -> None:
    patient = clinic.register()
    # Kept: the visit and the score as records, the dose and the answers as received; the
    # Encounter (not a type the clinic exports) and the RiskAssessment (a screening) are not.
    assert run(clinic, patient.id, FOREIGN) == ImportResult(4, 0, False)
    with clinic.factory() as s:
        records = current_records(s, patient.id)
        [visit], [score] = records.procedures, records.observations
    dose, answers = received_rows(clinic, patient.id)
    assert (dose.resource_type, answers.resource_type) == (
        "MedicationAdministration",
        "QuestionnaireResponse",
    )
    assert {dose.state, answers.state} == {"current"}
    assert dose.import_id == answers.import_id
    here = f"Patient/{patient.id}"
    # As they came, but for the references to the bundle's resources.
    assert stored(dose) == {
        **DOSE,
        "subject": {"reference": here},
        "partOf": [{"reference": f"Procedure/{visit.id}"}],
    }
    assert stored(dose)["context"] == {"reference": "Encounter/enc-1"}  # not in the record
    assert stored(answers) == {
        **ANSWERS,
        "subject": {"reference": here},
        "source": {"reference": here},
    }
    assert stored(visit)["subject"] == {"reference": here}
    assert stored(score)["derivedFrom"] == [
        {"reference": f"QuestionnaireResponse/received-{answers.id}"}
    ]
    # Exported again as they came, under their own ids.
    exported = export(clinic, patient.id)
    assert_valid_r4(exported)
    assert kinds(exported) == Counter(
        {"Patient": 1, "Observation": 1, "Procedure": 1, "MedicationAdministration": 1,
         "QuestionnaireResponse": 1}
    )  # fmt: skip
    by_name = {f"{r['resourceType']}/{r['id']}": r for r in resources(exported)}
    assert by_name[f"MedicationAdministration/received-{dose.id}"] == {
        **stored(dose),
        "id": f"received-{dose.id}",
    }
    assert by_name[f"QuestionnaireResponse/received-{answers.id}"]["item"] == ANSWERS["item"]
    assert f"Procedure/{visit.id}" in by_name


def test_the_same_resources_again_create_nothing(clinic: Clinic) -> None:
    patient = clinic.register()
    run(clinic, patient.id, FOREIGN)
    before = clinic.counts()
    assert run(clinic, patient.id, FOREIGN) == ImportResult(0, 4, True)
    # Another bundle (other bytes: shuffled, a server's meta) with the same resources.
    resent = copy.deepcopy(DOSE)
    resent["meta"] = {"versionId": "3", "lastUpdated": "2026-10-31T00:00:00Z"}
    shuffled = bundle(
        entry(ANSWERS), entry(VISIT, VISIT_URL), entry(resent), entry(PATIENT, PATIENT_URL),
        entry(SCORE),
    )  # fmt: skip
    assert run(clinic, patient.id, shuffled) == ImportResult(0, 4, False)
    after = clinic.counts()
    assert after["imports"] == before["imports"] + 1
    assert {k: v for k, v in after.items() if k != "imports"} == {
        k: v for k, v in before.items() if k != "imports"
    }
    # Only a new resource is new: the dose of a second visit, part of the first one's record.
    second = dict(DOSE, id="given-2", effectiveDateTime="2026-10-27T10:05:00Z")
    assert run(clinic, patient.id, bundle(entry(PATIENT, PATIENT_URL), entry(VISIT, VISIT_URL),
                                          entry(second))) == ImportResult(1, 1, False)  # fmt: skip
    with clinic.factory() as s:
        [visit] = current_records(s, patient.id).procedures
    newest = received_rows(clinic, patient.id)[-1]
    assert stored(newest)["partOf"] == [{"reference": f"Procedure/{visit.id}"}]


def test_in_a_cycle_of_references_the_first_keeps_its_reference_as_it_came(
    clinic: Clinic,
) -> None:
    patient = clinic.register()
    panel = {
        "resourceType": "Observation", "id": "panel", "status": "final",
        "code": {"text": "panel"}, "subject": {"reference": "Patient/p1"},
        "hasMember": [{"reference": "Observation/member"}],
    }  # fmt: skip
    member = {
        "resourceType": "Observation", "id": "member", "status": "final",
        "code": {"text": "member"}, "subject": {"reference": "Patient/p1"},
        "derivedFrom": [{"reference": "Observation/panel"}],
    }  # fmt: skip
    assert run(clinic, patient.id, bundle(entry(PATIENT), entry(panel), entry(member))) == (
        ImportResult(2, 0, False)
    )
    with clinic.factory() as s:
        first, second = current_records(s, patient.id).observations
    assert stored(first)["hasMember"] == [{"reference": "Observation/member"}]
    assert stored(second)["derivedFrom"] == [{"reference": f"Observation/{first.id}"}]


def test_a_received_resource_about_someone_else_is_refused(clinic: Clinic) -> None:
    patient = clinic.register()
    before = clinic.counts()
    elsewhere = dict(ANSWERS, subject={"reference": "Patient/someone-else"})
    with pytest.raises(InvalidInput) as refused:
        run(clinic, patient.id, bundle(entry(PATIENT, PATIENT_URL), entry(VISIT), entry(elsewhere)))
    assert refused.value.field == "bundle"
    assert refused.value.message == (
        "entry 2 (QuestionnaireResponse): subject.reference: refers to 'Patient/someone-else', "
        f"not the bundle's Patient (Patient/p1 or {PATIENT_URL})"
    )
    assert clinic.counts() == before


def test_an_invalid_received_resource_refuses_the_whole_bundle(clinic: Clinic) -> None:
    patient = clinic.register()
    broken = {k: v for k, v in DOSE.items() if k != "status"}  # required in R4
    before = clinic.counts()
    with pytest.raises(InvalidInput) as refused:
        run(clinic, patient.id, bundle(entry(PATIENT), entry(SCORE), entry(broken)))
    assert refused.value.message == (
        "entry 2 (MedicationAdministration): status: required element is missing"
    )
    assert clinic.counts() == before


def test_a_failure_while_writing_received_resources_writes_nothing(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = clinic.register()
    real = importing.new_received

    def fails_on_the_second(resource: JSON, **kwargs: Any) -> Any:
        if resource["resourceType"] == "QuestionnaireResponse":
            raise RuntimeError("disk full")
        return real(resource, **kwargs)

    monkeypatch.setattr(importing, "new_received", fails_on_the_second)
    before = clinic.counts()
    with pytest.raises(RuntimeError, match="disk full"):
        run(clinic, patient.id, FOREIGN)
    assert clinic.counts() == before


# --- entered in error, and the database's own rule ---------------------------------------------


def test_a_received_resource_marked_in_error_leaves_the_export_and_does_not_come_back(
    clinic: Clinic,
) -> None:
    patient = clinic.register()
    run(clinic, patient.id, FOREIGN)
    dose, answers = received_rows(clinic, patient.id)
    with pytest.raises(Forbidden), clinic.work() as s:
        mark_received_in_error(s, clinic.nurse, clinic.clock, dose.id, "another patient's")
    with pytest.raises(InvalidInput), clinic.work() as s:
        mark_received_in_error(s, clinic.prescriber, clinic.clock, dose.id, "  ")
    clinic.clock.advance(minutes=10)
    with clinic.work() as s:
        marked = mark_received_in_error(
            s, clinic.prescriber, clinic.clock, dose.id, "another patient's"
        )
        marked_id = marked.id
    rows = {row.id: row for row in received_rows(clinic, patient.id)}
    assert rows[dose.id].state == "superseded"
    last = rows[marked_id]
    assert (last.state, last.supersedes_id, last.reason) == (
        "entered_in_error",
        dose.id,
        "another patient's",
    )
    assert stored(last) == {**stored(dose), "status": "entered-in-error"}
    assert last.recorded_at == datetime(2026, 11, 1, 9, 10)
    assert last.recorded_by_id == clinic.prescriber.user_id
    assert last.import_id == dose.import_id
    with pytest.raises(Conflict), clinic.work() as s:
        mark_received_in_error(s, clinic.prescriber, clinic.clock, dose.id, "again")
    exported = export(clinic, patient.id)
    assert_valid_r4(exported)
    received = ("MedicationAdministration", "QuestionnaireResponse")
    exported_received = [r["id"] for r in resources(exported) if r["resourceType"] in received]
    assert exported_received == [f"received-{answers.id}"]
    # The same dose in a later bundle stays out.
    again = bundle(entry(PATIENT, PATIENT_URL), entry(VISIT, VISIT_URL), entry(DOSE))
    assert run(clinic, patient.id, again) == ImportResult(0, 2, False)


@pytest.mark.parametrize("change", ["resource", "delete"])
def test_the_database_refuses_to_change_or_delete_a_received_resource(
    clinic: Clinic, change: str
) -> None:
    patient = clinic.register()
    run(clinic, patient.id, FOREIGN)
    dose = received_rows(clinic, patient.id)[0]
    statement = (
        update(ReceivedResource).where(ReceivedResource.id == dose.id).values(resource="{}")
        if change == "resource"
        else delete(ReceivedResource).where(ReceivedResource.id == dose.id)
    )
    with pytest.raises(DBAPIError, match="append-only"), clinic.work() as s:
        s.execute(statement)
    assert stored(received_rows(clinic, patient.id)[0]) == stored(dose)
    # Its state may change: that is how a version marked in error retires it.
    with clinic.work() as s:
        s.execute(
            update(ReceivedResource)
            .where(ReceivedResource.id == dose.id)
            .values(state="superseded")
        )
    assert received_rows(clinic, patient.id)[0].state == "superseded"


# --- this clinic's own sessions, doses and answers, exported and imported back ------------------


def treated(clinic: Clinic) -> int:
    """A PHQ-9 of 18 typed in on 2026-10-29; an IV plan whose session 1 on 2026-10-30 was
    discharged (ketamine 35 mg, 10:00-10:40); a PHQ-9 answered during it, [1,1,1,1,1,0,0,0,0] =
    5; a GAD-7 the day before, [1,1,0,0,0,0,0] = 2. Rows from outcomes_support."""
    patient = clinic.register("MRN-T1")
    with clinic.work() as s:
        add_observation(
            s, clinic.prescriber, clinic.clock, patient.id,
            ObservationIn("44261-6", datetime(2026, 10, 29, 10, 0), value=18),
        )  # fmt: skip
        plan = add_plan(s, clinic, patient.id)
        visit = add_session(s, plan, 1, datetime(2026, 10, 30, 10, 0))
        add_response(
            s, patient.id, "phq9", datetime(2026, 10, 30, 11, 0),
            answers=[1, 1, 1, 1, 1, 0, 0, 0, 0], session_id=visit.id,
        )  # fmt: skip
        add_response(
            s, patient.id, "gad7", datetime(2026, 10, 29, 9, 0), answers=[1, 1, 0, 0, 0, 0, 0]
        )
    return patient.id


def phq9_totals_screened(clinic: Clinic, patient_id: int) -> list[float]:
    """The PHQ-9 totals the engine reads: screen now and look at the bundle it was given."""
    with clinic.work() as s:
        screening = screen_patient(s, clinic.prescriber, clinic.clock, patient_id, "iv")
        given = json.loads(screening.input_bundle)
    return sorted(
        r["valueQuantity"]["value"]
        for r in (e["resource"] for e in given["entry"])
        if r["resourceType"] == "Observation"
        and any(c.get("code") == "44261-6" for c in r["code"].get("coding", []))
    )


def test_reimports_create_nothing_and_the_screening_counts_nothing_twice(
    clinic: Clinic, empty_database_url: str
) -> None:
    patient_id = treated(clinic)
    first = export(clinic, patient_id)
    assert_valid_r4(first)
    # 1 typed-in Observation and 2 scores; the session; its dose; the 2 answers (7 to import);
    # the screening.
    assert kinds(first) == Counter(
        {"Patient": 1, "Observation": 3, "Procedure": 1, "MedicationAdministration": 1,
         "QuestionnaireResponse": 2, "RiskAssessment": 1}
    )  # fmt: skip
    # This clinic's screening reads the typed-in PHQ-9 only, not the questionnaires.
    assert phq9_totals_screened(clinic, patient_id) == [18]
    # Its own export back into the same record: every resource is one it holds already.
    before = clinic.counts()
    assert run(clinic, patient_id, orjson.dumps(first)) == ImportResult(0, 7, False)
    assert {k: v for k, v in clinic.counts().items() if k != "imports"} == {
        k: v for k, v in before.items() if k != "imports"
    }
    with open_clinic(empty_database_url) as other:
        again = other.register("MRN-T1")
        assert run(other, again.id, orjson.dumps(first)) == ImportResult(7, 0, False)
        # There, the engine reads what it reads in the bundle: both PHQ-9 totals, each once.
        assert phq9_totals_screened(other, again.id) == [5, 18]
        with other.factory() as s:
            stored_screening = s.scalars(select(Screening).order_by(Screening.id.desc())).first()
            assert stored_screening is not None
            here = json.loads(stored_screening.output)
        from_bundle = screen_bundle(orjson.dumps(first), route="iv", as_of=TODAY)
        assert here["decision"] == from_bundle["decision"]
        assert [f["id"] for f in here["findings"]] == [f["id"] for f in from_bundle["findings"]]
        assert here["staging"] == from_bundle["staging"]
        before_other = other.counts()
        assert run(other, again.id, orjson.dumps(first)) == ImportResult(0, 7, True)
        second = export(other, again.id)
        assert_valid_r4(second)
        # Its own export: nothing new; then still each PHQ-9 total once.
        assert run(other, again.id, orjson.dumps(second)) == ImportResult(0, 7, False)
        assert {k: v for k, v in other.counts().items() if k != "imports"} == {
            k: v for k, v in before_other.items() if k != "imports"
        }
        assert phq9_totals_screened(other, again.id) == [5, 18]
    # And back home through the other clinic: still nothing new here.
    before = clinic.counts()
    assert run(clinic, patient_id, orjson.dumps(second)) == ImportResult(0, 7, False)
    assert {k: v for k, v in clinic.counts().items() if k != "imports"} == {
        k: v for k, v in before.items() if k != "imports"
    }
    assert phq9_totals_screened(clinic, patient_id) == [18]


# --- the chart ---------------------------------------------------------------------------------


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def test_the_chart_lists_what_was_received(api: Api) -> None:
    patient = api.new_patient()
    empty = api.http.get(f"/patients/{patient}", headers=api.headers("nurse"))
    assert empty.status_code == 200
    assert "Received from other clinics" not in empty.text
    run(api.clinic, patient, FOREIGN)
    page = api.http.get(f"/patients/{patient}", headers=api.headers("nurse"))
    assert page.status_code == 200
    assert "Received from other clinics" in page.text
    assert '<th scope="row">Medication given</th><td>ketamine 35 mg</td>' in page.text
    assert "2026-10-20T10:05:00Z" in page.text
    assert '<th scope="row">Questionnaire answers</th><td>phq9, 2 items answered</td>' in page.text
    assert "2026-10-20T09:30:00Z" in page.text
