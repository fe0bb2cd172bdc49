"""FHIR export of a patient's record (issue 8, item 1): validity, content, round trip, CLI.

Every case runs on SQLite and PostgreSQL (``database_url``).

The record used (``build_record``): example 02's patient (Bruno Example, man born 1968-07-02)
registered with contact details and an escort; example 02 imported (13 clinical resources:
1 Condition, 3 MedicationStatements, 8 Observations, 1 Procedure); a referral's MedicationRequest
for omeprazole imported with its bundled Medication (stored contained); then typed in through
the services: a hyperlipidaemia diagnosis (corrected once: only the new version is current),
atorvastatin, a heart rate, a weight (marked entered in error: not current), a penicillin
allergy and an appendectomy. Current clinical rows: 13 + 1 + 5 = 19 (2 Conditions,
4 MedicationStatements, 1 MedicationRequest, 9 Observations, 1 AllergyIntolerance,
2 Procedures). The screening as of 2026-11-01 by the IV route is worked out by hand in
examples/README.md for example 02: ``eligible_with_precautions`` with the interaction
``benzodiazepine`` (lorazepam) and the relative ``renal_impairment`` (eGFR 55); the additions
change nothing the rules decide (a normal heart rate, a penicillin allergy, an appendectomy;
atorvastatin and omeprazole, which the engine does not know, may only add notes).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from ketaclinic import cli
from ketaclinic.services.actor import Actor
from ketaclinic.services.charting import latest_screening, output_of, screen_patient, sign_screening
from ketaclinic.services.errors import Forbidden, NotFound
from ketaclinic.services.export import FHIR_BASE, SECTIONS, export_patient
from ketaclinic.services.importing import import_bundle
from ketaclinic.services.patients import PatientIn, register_patient
from ketaclinic.services.questionnaires import record_response
from ketaclinic.services.records import (
    add_allergy,
    add_condition,
    add_medication,
    add_observation,
    add_procedure,
    correct_record,
    current_records,
    mark_entered_in_error,
)
from ketaclinic.services.records_forms import (
    AllergyIn,
    ConditionIn,
    MedicationIn,
    ObservationIn,
    ProcedureIn,
)
from ketaclinic.services.screening import screen_bundle
from ketaclinic.store.db import migrate
from ketaclinic.store.models import AuditEvent, Patient
from tests.conftest import _fresh_postgres_database
from tests.integration.services_support import TODAY, Clinic, open_clinic
from tests.integration.session_support import visit_in

JSON = dict[str, Any]
# A resource's name, Type/id (R4 id: letters, digits, "-" and ".").
NAME = re.compile(r"\b[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}")
EXAMPLES = Path(__file__).parents[2] / "examples"
EXAMPLE_01 = EXAMPLES / "01-eligible-trd.json"
EXAMPLE_02 = EXAMPLES / "02-precautions.json"
BRUNO = PatientIn(
    mrn="MRN-0002",
    given_name="Bruno",
    family_name="Example",
    birth_date=date(1968, 7, 2),
    sex="male",
    phone="+1 555 0102",
    email="bruno@example.org",
    address="1 Example Street, Springfield",
    escort_name="Carla Example",
    escort_phone="+1 555 0199",
)
HYPERLIPIDAEMIA = ConditionIn("E78.5", "Hyperlipidemia, unspecified", onset=date(2020, 1, 1))
ATORVASTATIN = MedicationIn(
    "atorvastatin", rxnorm="83367", start=date(2021, 1, 4), status="active", dose_mg=20
)
HEART_RATE = ObservationIn("8867-4", datetime(2026, 10, 29, 10, 0), value=72)
WEIGHT = ObservationIn("29463-7", datetime(2026, 10, 29, 10, 5), value=80)
PENICILLIN = AllergyIn("penicillin", code="7980")
# A referral letter's prescription naming a bundled Medication: stored with it contained.
OMEPRAZOLE_REFERRAL = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {"resource": {"resourceType": "Patient", "id": "ref1", "birthDate": "1968-07-02"}},
        {
            "resource": {
                "resourceType": "Medication",
                "id": "omeprazole",
                "code": {
                    "coding": [
                        {
                            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                            "code": "7646",
                            "display": "omeprazole",
                        }
                    ]
                },
            }
        },
        {
            "resource": {
                "resourceType": "MedicationRequest",
                "id": "rx1",
                "status": "active",
                "intent": "order",
                "medicationReference": {"reference": "Medication/omeprazole"},
                "subject": {"reference": "Patient/ref1"},
                "authoredOn": "2026-01-05",
            }
        },
    ],
}
APPENDECTOMY = ProcedureIn("80146002", "Appendectomy", performed=date(2010, 5, 1))
CURRENT_CLINICAL = Counter(
    {
        "Condition": 2,
        "MedicationStatement": 4,
        "MedicationRequest": 1,
        "Observation": 9,
        "AllergyIntolerance": 1,
        "Procedure": 2,
    }
)


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


@pytest.fixture
def empty_database_url(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A second, empty migrated database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        url = _fresh_postgres_database(request.getfixturevalue("postgres_server"))
    migrate(url)
    return url


def build_record(clinic: Clinic, *, sign: bool = False) -> Patient:
    """The record of the module docstring, screened (and signed when asked)."""
    doctor, nurse, clock = clinic.prescriber, clinic.nurse, clinic.clock
    with clinic.work() as s:
        patient = register_patient(s, clinic.front_desk, clock, BRUNO)
        import_bundle(s, doctor, clock, patient.id, EXAMPLE_02.read_bytes())
        import_bundle(s, doctor, clock, patient.id, orjson.dumps(OMEPRAZOLE_REFERRAL))
        lipids = add_condition(s, doctor, clock, patient.id, HYPERLIPIDAEMIA)
        corrected = ConditionIn("E78.5", "Hyperlipidaemia", onset=date(2019, 6, 1))
        correct_record(s, doctor, clock, "condition", lipids.id, corrected, "onset from letter")
        add_medication(s, doctor, clock, patient.id, ATORVASTATIN)
        add_observation(s, nurse, clock, patient.id, HEART_RATE)
        weight = add_observation(s, nurse, clock, patient.id, WEIGHT)
        mark_entered_in_error(s, doctor, clock, "observation", weight.id, "another patient's")
        add_allergy(s, doctor, clock, patient.id, PENICILLIN)
        add_procedure(s, doctor, clock, patient.id, APPENDECTOMY)
        screening = screen_patient(s, doctor, clock, patient.id, "iv")
        if sign:
            sign_screening(s, doctor, clock, screening.id)
    return patient


def export(clinic: Clinic, patient_id: int, actor: Actor | None = None, **options: Any) -> JSON:
    with clinic.work() as s:
        return export_patient(s, actor or clinic.prescriber, clinic.clock, patient_id, **options)


def resources(bundle: JSON) -> list[JSON]:
    return [entry["resource"] for entry in bundle["entry"]]


def of_type(bundle: JSON, kind: str) -> list[JSON]:
    return [r for r in resources(bundle) if r["resourceType"] == kind]


def assert_valid_r4(bundle: JSON) -> None:
    """Each resource with its own R4 model, then the Bundle whole (which models them again)."""
    for resource in resources(bundle):
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    Bundle.model_validate(bundle)


def references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def normalised(bundle: JSON) -> list[JSON]:
    """The resources with what necessarily differs between databases taken out.

    Exactly this is changed, nothing else: each resource's own ``id`` (a row number) is removed
    (ids of contained resources and elements are kept), and every name of a resource of the
    Bundle (``Patient/5``, ``Condition/12``), in a reference or in text (the screening's
    messages name their evidence), becomes its type and position among the resources of that
    type (``Patient#0``, ``Condition#1``). ``fullUrl`` (base + type + id) and the Bundle's
    ``timestamp`` are not resources and are left out. Order, content, ``meta``, contained
    Medications and every other reference are compared as they are.
    """
    names: dict[str, str] = {}
    seen: Counter[str] = Counter()
    for resource in resources(bundle):
        kind = resource["resourceType"]
        names[f"{kind}/{resource['id']}"] = f"{kind}#{seen[kind]}"
        seen[kind] += 1

    def rename(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]
        if isinstance(value, str):
            return NAME.sub(lambda m: names.get(m.group(0), m.group(0)), value)
        return value

    return [rename({k: v for k, v in r.items() if k != "id"}) for r in resources(bundle)]


def assert_references_resolve(bundle: JSON) -> None:
    """Every ``Type/id`` reference to a type the Bundle holds names one of its resources."""
    held = {f"{r['resourceType']}/{r['id']}" for r in resources(bundle)}
    kinds = {r["resourceType"] for r in resources(bundle)}
    for ref in references(resources(bundle)):
        if ref.split("/", 1)[0] in kinds:
            assert ref in held, ref


# --- content and validity ----------------------------------------------------------------------


def test_the_export_is_valid_r4_with_every_current_record(clinic: Clinic) -> None:
    patient = build_record(clinic)
    bundle = export(clinic, patient.id)
    assert_valid_r4(bundle)
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
    assert bundle["timestamp"] == "2026-11-01T09:00:00Z"  # the clinic's fixed clock
    kinds = [r["resourceType"] for r in resources(bundle)]
    assert kinds[0] == "Patient" and kinds[-1] == "RiskAssessment"
    assert Counter(kinds[1:-1]) == CURRENT_CLINICAL
    with clinic.factory() as s:
        current = current_records(s, patient.id)
    # The ids are the current rows' ids: the corrected diagnosis and the weight in error are out.
    exported = {f"{r['resourceType']}/{r['id']}" for r in resources(bundle)}
    stored = {f"{json.loads(row.resource)['resourceType']}/{row.id}" for row in current.all()}
    assert stored <= exported
    assert len(stored) == 19
    [lipids] = [
        c for c in of_type(bundle, "Condition") if c["code"]["coding"][0]["code"] == "E78.5"
    ]
    assert (lipids["code"]["text"], lipids["onsetDateTime"]) == ("Hyperlipidaemia", "2019-06-01")
    assert not [
        o for o in of_type(bundle, "Observation") if o["code"]["coding"][0]["code"] == "29463-7"
    ]
    # Every stored resource is exported as stored, only its id being the row's.
    by_ref = {f"{r['resourceType']}/{r['id']}": r for r in resources(bundle)}
    for row in current.all():
        kept = json.loads(row.resource)
        kept["id"] = str(row.id)
        assert by_ref[f"{kept['resourceType']}/{row.id}"] == kept
    for entry in bundle["entry"]:
        r = entry["resource"]
        assert entry["fullUrl"] == f"{FHIR_BASE}/{r['resourceType']}/{r['id']}"
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(bundle["entry"])
    assert_references_resolve(bundle)


def test_the_patient_carries_demographics_mrn_and_escort(clinic: Clinic) -> None:
    with clinic.work() as s:
        patient = register_patient(s, clinic.front_desk, clinic.clock, BRUNO)
    bundle = export(clinic, patient.id)
    assert_valid_r4(bundle)
    [only] = resources(bundle)  # no records, no screening
    assert only == {
        "resourceType": "Patient",
        "id": str(patient.id),
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "code": "MR",
                            "display": "Medical record number",
                        }
                    ]
                },
                "system": "http://ketaclinic.org/fhir/NamingSystem/mrn",
                "value": "MRN-0002",
            }
        ],
        "name": [{"family": "Example", "given": ["Bruno"]}],
        "gender": "male",
        "birthDate": "1968-07-02",
        "telecom": [
            {"system": "phone", "value": "+1 555 0102"},
            {"system": "email", "value": "bruno@example.org"},
        ],
        "address": [{"text": "1 Example Street, Springfield"}],
        "contact": [
            {
                "relationship": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                                "code": "CP",
                                "display": "Contact person",
                            }
                        ],
                        "text": "Escort (accompanies the patient home after a session)",
                    }
                ],
                "name": {"text": "Carla Example"},
                "telecom": [{"system": "phone", "value": "+1 555 0199"}],
            }
        ],
    }


def test_a_patient_without_contact_details_has_none(clinic: Clinic) -> None:
    patient = clinic.register("MRN-9")
    [only] = resources(export(clinic, patient.id))
    assert not {"telecom", "address", "contact"} & only.keys()


def test_the_latest_screening_is_a_risk_assessment_naming_its_evidence(clinic: Clinic) -> None:
    patient = build_record(clinic, sign=True)
    bundle = export(clinic, patient.id)
    assert_valid_r4(bundle)
    with clinic.factory() as s:
        current = current_records(s, patient.id)
        screening = latest_screening(s, patient.id)
    assert screening is not None
    lorazepam = next(m.id for m in current.medications if m.ingredient == "lorazepam")
    egfr = next(o.id for o in current.observations if o.loinc == "98979-8")
    mdd = next(c.id for c in current.conditions if c.code == "F33.2")
    [risk] = of_type(bundle, "RiskAssessment")
    assert risk["id"] == str(screening.id)
    assert risk["status"] == "final"
    assert risk["subject"] == {"reference": f"Patient/{patient.id}"}
    assert risk["occurrenceDateTime"] == "2026-11-01T09:00:00Z"
    [prediction] = risk["prediction"]
    assert prediction["outcome"]["coding"] == [
        {
            "system": "http://ketaclinic.org/fhir/CodeSystem/screening-decision",
            "code": "eligible_with_precautions",
            "display": "Eligible with precautions",
        }
    ]
    assert "iv route as of 2026-11-01" in prediction["rationale"]
    assert "interaction:benzodiazepine" in prediction["rationale"]
    assert "relative:renal_impairment" in prediction["rationale"]
    basis = [b["reference"] for b in risk["basis"]]
    for ref in (f"MedicationStatement/{lorazepam}", f"Observation/{egfr}", f"Condition/{mdd}"):
        assert ref in basis
    assert len(basis) == len(set(basis))
    notes = [n["text"] for n in risk["note"]]
    assert any(n.startswith("interaction benzodiazepine: ") for n in notes)
    assert any(n.startswith("relative renal_impairment: ") for n in notes)
    assert "Signed by Prescriber on 2026-11-01T09:00:00Z." in notes
    assert_references_resolve(bundle)


def test_evidence_no_longer_current_is_named_not_referenced(clinic: Clinic) -> None:
    patient = build_record(clinic, sign=True)
    clinic.clock.advance(minutes=30)
    with clinic.work() as s:
        egfr = next(o for o in current_records(s, patient.id).observations if o.loinc == "98979-8")
        mark_entered_in_error(s, clinic.prescriber, clinic.clock, "observation", egfr.id, "wrong")
    bundle = export(clinic, patient.id)
    assert_valid_r4(bundle)
    [risk] = of_type(bundle, "RiskAssessment")
    assert f"Observation/{egfr.id}" not in [b["reference"] for b in risk["basis"]]
    notes = [n["text"] for n in risk["note"]]
    assert any(
        n.startswith("Evidence no longer in the current record") and f"Observation/{egfr.id}" in n
        for n in notes
    )
    assert "The record has changed since this screening was signed." in notes
    assert_references_resolve(bundle)


def test_an_overridden_screening_exports_the_decision_that_stands(clinic: Clinic) -> None:
    from ketaclinic.services.charting import override_screening

    patient = build_record(clinic)
    with clinic.work() as s:
        screening = latest_screening(s, patient.id)
        assert screening is not None
        override_screening(
            s, clinic.prescriber, clinic.clock, screening.id, "not_eligible",
            "eGFR has fallen again since, nephrology review first",
        )  # fmt: skip
    [risk] = of_type(export(clinic, patient.id), "RiskAssessment")
    RiskAssessment = get_fhir_model_class("RiskAssessment")
    RiskAssessment.model_validate(risk)
    assert risk["status"] == "amended"
    [prediction] = risk["prediction"]
    assert prediction["outcome"]["coding"][0]["code"] == "not_eligible"
    assert "eligible with precautions" in prediction["rationale"]
    assert "nephrology review first" in prediction["rationale"]


# --- who may export ----------------------------------------------------------------------------


def test_prescribers_nurses_and_the_command_line_may_export(clinic: Clinic) -> None:
    patient = clinic.register()
    for actor in (clinic.prescriber, clinic.nurse, Actor.system("cli")):
        assert export(clinic, patient.id, actor)["type"] == "collection"
    for actor in (clinic.front_desk, clinic.admin):
        with pytest.raises(Forbidden):
            export(clinic, patient.id, actor)
    with pytest.raises(NotFound):
        export(clinic, patient.id + 100)


def test_the_service_itself_writes_no_audit_row(clinic: Clinic) -> None:
    patient = clinic.register()
    before = clinic.counts()
    export(clinic, patient.id)
    assert clinic.counts() == before


# --- round trip and screening the export -------------------------------------------------------


def test_export_import_export_gives_the_same_resources(
    clinic: Clinic, empty_database_url: str
) -> None:
    # Someone else's record first, so that every row number differs between the databases.
    someone = clinic.register("MRN-0001")
    with clinic.work() as s:
        import_bundle(s, clinic.prescriber, clinic.clock, someone.id, EXAMPLE_01.read_bytes())
    patient = build_record(clinic)
    first = export(clinic, patient.id)
    with open_clinic(empty_database_url) as other:
        with other.work() as s:
            again = register_patient(s, other.front_desk, other.clock, BRUNO)
            result = import_bundle(s, other.prescriber, other.clock, again.id, orjson.dumps(first))
            # The RiskAssessment is not a record: a screening is run again, not imported.
            screen_patient(s, other.prescriber, other.clock, again.id, "iv")
        assert (result.created, result.unchanged) == (19, 0)
        second = export(other, again.id)
    assert_valid_r4(second)
    # The row numbers differ, so the comparison below is not of equal numbers by chance.
    assert resources(first)[0]["id"] != resources(second)[0]["id"]
    assert [r["id"] for r in of_type(first, "Observation")] != [
        r["id"] for r in of_type(second, "Observation")
    ]
    assert normalised(second) == normalised(first)


def without_screening(bundle: JSON) -> JSON:
    """The bundle less its RiskAssessment: a screening is run again, never imported."""
    kept = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "RiskAssessment"]
    return {**bundle, "entry": kept}


def assert_same_resources(one: JSON, other: JSON) -> None:
    """``normalised`` resources equal as a multiset: a collection's order carries no meaning,
    and the received resources come back in a section of their own (after the records) rather
    than beside the clinic's sessions and questionnaires. Within one type the order is kept, so
    the renaming by position in ``normalised`` pairs the same resources on both sides."""

    def key(resource: JSON) -> bytes:
        return orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)

    assert sorted(normalised(one), key=key) == sorted(normalised(other), key=key)


def treated_record(clinic: Clinic) -> int:
    """A treated patient: plan_support's record (1 Condition, 2 MedicationStatements,
    6 Observations: blood pressure, ALT, creatinine, hCG, PHQ-9, weight; 1 Procedure: the
    physical exam) with a signed IV screening and an active plan; the plan's first session taken
    through to discharge with its 40 mg dose (session_support.visit_in); a PHQ-9 answered during
    that session and a GAD-7 answered the day before."""
    visit = visit_in(clinic, "discharged")
    nurse, clock = clinic.nurse, clinic.clock
    with clinic.work() as s:
        record_response(
            s, nurse, clock, visit.patient_id, "phq9", [1, 1, 1, 1, 1, 0, 0, 0, 0],
            clock.now() - timedelta(minutes=30), session_id=visit.session_id,
        )  # fmt: skip
        record_response(
            s, nurse, clock, visit.patient_id, "gad7", [1, 1, 0, 0, 0, 0, 0],
            clock.now() - timedelta(days=1),
        )  # fmt: skip
    return visit.patient_id


# What the export of ``treated_record`` holds: its records, the session as a Procedure, the dose
# as a MedicationAdministration, each answer as a QuestionnaireResponse with its score as an
# Observation, and the latest screening.
TREATED = Counter(
    {
        "Patient": 1,
        "Condition": 1,
        "MedicationStatement": 2,
        "Observation": 6 + 2,
        "Procedure": 1 + 1,
        "MedicationAdministration": 1,
        "QuestionnaireResponse": 2,
        "RiskAssessment": 1,
    }
)


def test_sessions_doses_and_answers_come_back_whole(
    clinic: Clinic, empty_database_url: str
) -> None:
    someone = clinic.register("MRN-0001")
    with clinic.work() as s:
        import_bundle(s, clinic.prescriber, clinic.clock, someone.id, EXAMPLE_01.read_bytes())
    patient_id = treated_record(clinic)
    first = export(clinic, patient_id)
    assert_valid_r4(first)
    assert Counter(r["resourceType"] for r in resources(first)) == TREATED
    with open_clinic(empty_database_url) as other:
        # The same woman (plan_support registers Alice Example, born 1986-03-15), same MRN.
        again = other.register(resources(first)[0]["identifier"][0]["value"])
        with other.work() as s:
            result = import_bundle(s, other.prescriber, other.clock, again.id, orjson.dumps(first))
        # Everything but the Patient (registered here) and the RiskAssessment (a screening).
        assert (result.created, result.unchanged) == (sum(TREATED.values()) - 2, 0)
        second = export(other, again.id)
    assert_valid_r4(second)
    assert_references_resolve(second)
    assert resources(first)[0]["id"] != resources(second)[0]["id"]
    assert Counter(r["resourceType"] for r in resources(second)) == TREATED - Counter(
        {"RiskAssessment": 1}
    )
    assert_same_resources(second, without_screening(first))


def test_screening_the_export_gives_the_stored_screening(clinic: Clinic) -> None:
    patient = build_record(clinic)
    data = orjson.dumps(export(clinic, patient.id))
    with clinic.factory() as s:
        stored = latest_screening(s, patient.id)
        assert stored is not None
        stored_output = output_of(stored)
    again = screen_bundle(data, route="iv", as_of=TODAY)
    assert stored.decision == again["decision"] == "eligible_with_precautions"
    # Same ids as the screening's own bundle, so even the evidence names agree.
    assert again == stored_output


# --- the seam for sessions and doses (issue 5) ------------------------------------------------


def _doses(session: Any, patient: Patient) -> list[JSON]:
    return [
        {
            "resourceType": "MedicationAdministration",
            "id": "1",
            "status": "completed",
            "medicationCodeableConcept": {
                "coding": [
                    {
                        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                        "code": "6130",
                        "display": "ketamine",
                    }
                ]
            },
            "subject": {"reference": f"Patient/{patient.id}"},
            "effectiveDateTime": "2026-10-30T10:00:00Z",
            "dosage": {"dose": {"value": 35, "unit": "mg"}},
        }
    ]


def test_later_sections_are_exported_after_the_records(clinic: Clinic) -> None:
    patient = clinic.register()
    with clinic.work() as s:
        add_condition(s, clinic.prescriber, clinic.clock, patient.id, HYPERLIPIDAEMIA)
    bundle = export(clinic, patient.id, sections=(*SECTIONS, _doses))
    assert_valid_r4(bundle)
    assert [r["resourceType"] for r in resources(bundle)] == [
        "Patient",
        "Condition",
        "MedicationAdministration",
    ]
    assert bundle["entry"][2]["fullUrl"] == f"{FHIR_BASE}/MedicationAdministration/1"
    with pytest.raises(ValueError, match="MedicationAdministration/1 is exported twice"):
        export(clinic, patient.id, sections=(*SECTIONS, _doses, _doses))


def test_the_base_url_is_the_callers(clinic: Clinic) -> None:
    patient = clinic.register()
    bundle = export(clinic, patient.id, base_url="https://clinic.example/fhir/")
    assert bundle["entry"][0]["fullUrl"] == f"https://clinic.example/fhir/Patient/{patient.id}"


# --- command line ------------------------------------------------------------------------------


def _audit_rows(clinic: Clinic) -> list[tuple[str, str, int | None]]:
    with clinic.factory() as s:
        rows = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        return [(e.username, e.action, e.patient_id) for e in rows]


def test_the_command_line_writes_the_bundle_and_audits_it(
    clinic: Clinic, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = clinic.register()
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", database_url)
    out = tmp_path / "export.json"
    assert cli.main(["export", str(patient.id), "--out", str(out)]) == 0
    written = json.loads(out.read_bytes())
    assert_valid_r4(written)
    assert [r["resourceType"] for r in resources(written)] == ["Patient"]
    assert _audit_rows(clinic) == [("cli", "read", patient.id)]


def test_the_command_line_prints_the_bundle_without_out(
    clinic: Clinic,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    patient = clinic.register()
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", database_url)
    assert cli.main(["export", str(patient.id)]) == 0
    printed = json.loads(capsysbinary.readouterr().out)
    assert resources(printed)[0]["id"] == str(patient.id)


def test_the_command_line_refuses_an_unknown_patient(
    clinic: Clinic,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", database_url)
    out = tmp_path / "export.json"
    assert cli.main(["export", "999", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == "error: no patient 999"
    assert not out.exists()
    assert _audit_rows(clinic) == []
    assert cli.main(["export", "1", "--out", str(tmp_path / "nowhere" / "x.json")]) == 2
    assert "no such directory" in capsys.readouterr().err
    # Past any row number (and past what SQLite can be asked for): refused, not a crash.
    for number in ("0", "-5", "2147483648", "99999999999999999999"):
        assert cli.main(["export", number, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:"), err
        assert "internal error" not in err
    assert not out.exists()
    assert _audit_rows(clinic) == []
