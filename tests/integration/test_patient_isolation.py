"""Patients' links and exports never expose another patient's data (issue 9, item 5), on SQLite
and PostgreSQL.

Three patients, each with records, a screening, a plan with a dosed session, questionnaire
answers (one entered at a session, one by a used link, one raising a safety alert), a schedule,
and an unused self-report link. Then:

- each link holder opens and posts their link with every id the database holds (1 to the
  largest id of any patient's row, and one past it) in any field or query parameter a form
  could carry (patient, link, response, assignment, session, plan, alert, token), and with the
  other patients' own ids and tokens: the pages show none of the other patients' names, MRNs,
  birth dates, contact details or answers, answers land on the link's own patient and scale
  only, and no row of another patient changes;
- each patient's FHIR export (GET /api/patients/{id}/export) holds none of the others'
  identifiers, references no other Patient, and has no resource of the others' rows.

Expected values are the seeded people themselves (written below by hand); nothing is taken from
the code's output except the other patients' own exports, used as the list of their resources.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from ketaclinic.services.charting import screen_patient
from ketaclinic.services.export_outcomes import response_ids, session_id_of
from ketaclinic.services.patients import PatientIn, register_patient
from ketaclinic.services.questionnaires import assign, record_response
from ketaclinic.services.records import add_allergy, add_condition, add_medication, add_observation
from ketaclinic.services.records_forms import AllergyIn, ConditionIn, MedicationIn, ObservationIn
from ketaclinic.services.self_report import send_link, submit_by_link
from ketaclinic.store.models import (
    AllergyRecord,
    Base,
    ConditionRecord,
    MedicationRecord,
    ObservationRecord,
    Patient,
    QuestionnaireAssignment,
    QuestionnaireResponse,
    SafetyAlert,
    Screening,
    SelfReportLink,
    TreatmentPlan,
    TreatmentSession,
)
from tests.integration.api_support import Api, open_api
from tests.integration.outcomes_support import add_plan, add_session
from tests.integration.services_support import NOW

# Tables a patient's link may write, each row naming the link's patient (an audit row of an
# unknown token names nobody).
LINK_WRITES = {"questionnaire_responses", "self_report_links", "safety_alerts", "audit_events"}
# Fields a tampered form or address could try to point elsewhere with.
ID_FIELDS = (
    "patient_id",
    "link_id",
    "response_id",
    "assignment_id",
    "session_id",
    "plan_id",
    "alert_id",
    "id",
)
# A link is limited to 30 requests a minute from one address (test_hardening.py): the holder
# moves the clinic's clock on a minute after each 30, as a patient pausing would.
PER_MINUTE = 30
CHOSEN = re.compile(r"<input\b[^>]*\schecked\b")


@dataclass(frozen=True)
class Person:
    given: str
    family: str
    mrn: str
    birth: date
    sex: str
    phone: str
    email: str
    escort: str
    escort_phone: str
    # Distinctive answers: PHQ-9 at the session, GAD-7 by link (item 9 of the PHQ-9 above 0
    # raises a safety alert for the one who has it).
    phq9: tuple[int, ...]
    gad7: tuple[int, ...]
    allergy: str

    def identifiers(self) -> list[str]:
        birth = self.birth
        return [
            self.given,
            self.family,
            self.mrn,
            birth.isoformat(),
            birth.strftime("%d/%m/%Y"),
            birth.strftime("%m/%d/%Y"),
            f"{birth.day} {birth.strftime('%B')} {birth.year}",
            f"{birth.day} {birth.strftime('%b')} {birth.year}",
            self.phone,
            self.email,
            self.escort,
            self.escort_phone,
            self.allergy,
            json.dumps(list(self.phq9)),
            json.dumps(list(self.gad7)),
        ]


PEOPLE = (
    Person(
        "Zelphine", "Quarrington", "ISO-ZQ-7731", date(1961, 7, 23), "female",
        "+1 555 014 2271", "zelphine.q@example.org", "Hollis Brandtmeyer", "+1 555 014 9902",
        (3, 3, 2, 3, 1, 2, 0, 1, 0), (3, 2, 3, 1, 0, 2, 3), "Tolbutamide",
    ),
    Person(
        "Osricko", "Vandermeulen", "ISO-OV-2846", date(1974, 12, 9), "male",
        "+1 555 017 3384", "osricko.v@example.org", "Marguerite Ostrowska", "+1 555 017 6645",
        (1, 0, 1, 2, 3, 0, 1, 2, 1), (0, 1, 1, 2, 3, 3, 0), "Chlorpropamide",
    ),
    Person(
        "Perpetua", "Nakashima-Ellery", "ISO-PN-5190", date(1988, 2, 29), "female",
        "+1 555 019 4417", "perpetua.ne@example.org", "Thaddeus Wrenfield", "+1 555 019 8830",
        (2, 1, 3, 0, 2, 1, 3, 0, 0), (2, 3, 0, 0, 1, 1, 2), "Glibenclamide",
    ),
)  # fmt: skip


@dataclass
class Seeded:
    person: Person
    id: int
    token: str  # an unused link (PHQ-9)
    link_id: int
    used_token: str  # the link the GAD-7 was answered by
    used_link_id: int
    response_ids: list[int] = field(default_factory=list)
    assignment_id: int = 0
    plan_id: int = 0
    session_id: int = 0
    alert_ids: list[int] = field(default_factory=list)


@pytest.fixture
def web(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def seed(web: Api, person: Person) -> Seeded:
    clinic = web.clinic
    who, nurse, clock = clinic.prescriber, clinic.nurse, clinic.clock
    recent = NOW - timedelta(days=3)
    with clinic.work() as s:
        patient = register_patient(
            s,
            clinic.front_desk,
            clock,
            PatientIn(
                person.mrn, person.given, person.family, person.birth, person.sex,
                phone=person.phone, email=person.email, address=f"{person.family} House",
                escort_name=person.escort, escort_phone=person.escort_phone,
            ),
        )  # fmt: skip
        pid = patient.id
        add_condition(
            s, who, clock, pid, ConditionIn("F33.1", "Major depressive disorder, recurrent")
        )
        add_medication(
            s, who, clock, pid,
            MedicationIn("sertraline", rxnorm="36437", start=date(2025, 1, 6),
                         end=date(2025, 4, 14), dose_mg=100, outcome="no-response"),
        )  # fmt: skip
        add_observation(
            s, who, clock, pid, ObservationIn("85354-9", recent, systolic=118, diastolic=76)
        )
        add_allergy(s, who, clock, pid, AllergyIn(person.allergy))
        screen_patient(s, who, clock, pid, "iv", NOW.date())
    with clinic.work() as s:
        plan = add_plan(s, clinic, pid)
        visit = add_session(s, plan, 1, NOW - timedelta(days=1))
        at_visit = record_response(
            s, nurse, clock, pid, "phq9", list(person.phq9), NOW - timedelta(days=1), visit.id
        )
        schedule = assign(s, nurse, clock, pid, "gad7", False, 7)
        used = send_link(s, nurse, clock, pid, "gad7")
        unused = send_link(s, nurse, clock, pid, "phq9")
        plan_id, session_id, assignment_id = plan.id, visit.id, schedule.id
        first_ids = [at_visit.response.id]
        alert_ids = [a.id for a in at_visit.alerts]
    with clinic.work() as s:
        by_link = submit_by_link(s, clock, used.token, list(person.gad7))
        by_link_id = by_link.response.id
    return Seeded(
        person, pid, unused.token, unused.link.id, used.token, used.link.id,
        [*first_ids, by_link_id], assignment_id, plan_id, session_id, alert_ids,
    )  # fmt: skip


@pytest.fixture
def three(web: Api) -> list[Seeded]:
    seeded = [seed(web, person) for person in PEOPLE]
    # Osricko's PHQ-9 item 9 raised an alert; the others' did not.
    assert [bool(p.alert_ids) for p in seeded] == [False, True, False]
    return seeded


class LinkHolder:
    """The patient's browser: no account, one address, pacing itself under the link limit."""

    def __init__(self, web: Api) -> None:
        self.web = web
        self.sent = 0

    def _pace(self) -> None:
        self.sent += 1
        if self.sent % PER_MINUTE == 0:
            self.web.clinic.clock.advance(minutes=1)

    def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        self._pace()
        response: httpx.Response = self.web.http.get(path, params=params)
        return response

    def post(self, path: str, data: dict[str, Any]) -> httpx.Response:
        self._pace()
        response: httpx.Response = self.web.http.post(path, data=data)
        return response


Snapshot = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


def snapshot(web: Api) -> Snapshot:
    """Every row of every table, by primary key."""
    found: Snapshot = {}
    with web.clinic.factory() as s:
        for table in Base.metadata.sorted_tables:
            keys = [c.name for c in table.primary_key.columns]
            rows = {}
            for row in s.execute(select(table)).mappings():
                rows[tuple(row[k] for k in keys)] = dict(row)
            found[table.name] = rows
    return found


def assert_written_only_for(before: Snapshot, after: Snapshot, patient_id: int) -> None:
    """Rows added or changed since ``before`` are in the tables a link writes and name
    ``patient_id``; no row anywhere was removed."""
    for table, rows in after.items():
        old = before[table]
        assert set(old) <= set(rows), f"rows removed from {table}"
        changed = [row for key, row in rows.items() if old.get(key) != row]
        if not changed:
            continue
        assert table in LINK_WRITES, f"a patient link changed {table}: {changed}"
        for row in changed:
            allowed = (patient_id, None) if table == "audit_events" else (patient_id,)
            assert row["patient_id"] in allowed, f"{table} row for another patient: {row}"


def assert_shows_nobody_else(text: str, me: Seeded, everyone: list[Seeded]) -> None:
    for other in everyone:
        if other is me:
            continue
        for identifier in other.person.identifiers():
            assert identifier not in text, f"{other.person.family}'s {identifier!r} shown"


def answers(values: tuple[int, ...] | list[int]) -> dict[str, str]:
    return {f"item_{n}": str(v) for n, v in enumerate(values, start=1)}


def tampered_towards(other: Seeded) -> dict[str, str]:
    """Every id a form could carry, pointing at ``other``'s rows, and their tokens."""
    return {
        "patient_id": str(other.id),
        "link_id": str(other.link_id),
        "response_id": str(other.response_ids[0]),
        "assignment_id": str(other.assignment_id),
        "session_id": str(other.session_id),
        "plan_id": str(other.plan_id),
        "alert_id": str(other.alert_ids[0]) if other.alert_ids else "",
        "id": str(other.response_ids[-1]),
        "token": other.token,
        "used_token": other.used_token,
        "scale": "gad7",
        "source": "staff",
        "recorded_by_id": "1",
    }


def largest_id(web: Api) -> int:
    """The largest id of any row that belongs to a patient (and the patients themselves)."""
    kinds = (
        Patient, QuestionnaireResponse, QuestionnaireAssignment, SelfReportLink, SafetyAlert,
        TreatmentPlan, TreatmentSession, Screening, ConditionRecord, MedicationRecord,
        ObservationRecord, AllergyRecord,
    )  # fmt: skip
    with web.clinic.factory() as s:
        return max(s.scalar(select(func.max(kind.id))) or 0 for kind in kinds)


def stored_response(web: Api, response_id: int) -> QuestionnaireResponse:
    with web.clinic.factory() as s:
        row = s.get(QuestionnaireResponse, response_id)
        assert row is not None
        return row


def newest_response_id(web: Api) -> int:
    with web.clinic.factory() as s:
        return s.scalar(select(func.max(QuestionnaireResponse.id))) or 0


# ---- (a) a link holder, with the other patients' ids and tokens ---------------------------------


def test_a_link_shows_and_writes_only_its_own_patient_whatever_ids_the_form_names(
    web: Api, three: list[Seeded]
) -> None:
    holder = LinkHolder(web)
    for me in three:
        page = holder.get(f"/r/{me.token}")
        assert page.status_code == 200
        assert_shows_nobody_else(page.text, me, three)
        assert not CHOSEN.search(page.text)  # nothing stored, of anyone, is filled in
        # The holder's own name is not on the page either: the link is a bearer credential.
        assert me.person.family not in page.text and me.person.mrn not in page.text
        for other in three:
            if other is me:
                continue
            towards = tampered_towards(other)
            # The address's query string cannot point the page elsewhere.
            assert holder.get(f"/r/{me.token}", params=towards).text == page.text

            before = snapshot(web)
            refused = holder.post(f"/r/{me.token}", {**answers([9] * 9), **towards})
            assert refused.status_code == 422
            assert_shows_nobody_else(refused.text, me, three)
            assert_written_only_for(before, snapshot(web), me.id)

        # Answers sent with every field pointing at the next patient land on the holder.
        other = three[(three.index(me) + 1) % len(three)]
        before = snapshot(web)
        mine = (1, 1, 0, 0, 1, 1, 0, 0, 0)
        done = holder.post(f"/r/{me.token}", {**answers(mine), **tampered_towards(other)})
        assert done.status_code == 200
        assert_shows_nobody_else(done.text, me, three)
        after = snapshot(web)
        assert_written_only_for(before, after, me.id)
        row = stored_response(web, newest_response_id(web))
        assert (row.patient_id, row.scale, row.link_id, row.source, row.session_id) == (
            me.id,
            "phq9",
            me.link_id,
            "link",
            None,
        )
        assert (row.recorded_by_id, json.loads(row.answers)) == (None, list(mine))

        # The used link refuses, still whatever it is told.
        before = after
        again = holder.post(f"/r/{me.token}", {**answers(mine), **tampered_towards(other)})
        assert again.status_code == 410
        assert_shows_nobody_else(again.text, me, three)
        assert_written_only_for(before, snapshot(web), me.id)


def test_another_patients_token_in_the_form_opens_nothing_of_theirs(
    web: Api, three: list[Seeded]
) -> None:
    """A holder who has learnt another link's token only through a form field gains nothing:
    the address's token decides, and the other link stays unused."""
    holder = LinkHolder(web)
    me, other = three[0], three[2]
    before = snapshot(web)
    sent = holder.post(f"/r/{me.token}", {**answers(me.person.phq9), "token": other.token})
    assert sent.status_code == 200
    assert_written_only_for(before, snapshot(web), me.id)
    with web.clinic.factory() as s:
        theirs = s.get(SelfReportLink, other.link_id)
        assert theirs is not None and theirs.used_at is None


# ---- (c) every id the database holds ------------------------------------------------------------


def test_every_id_in_every_field_reaches_only_the_links_own_patient(
    web: Api, three: list[Seeded]
) -> None:
    holder = LinkHolder(web)
    last = largest_id(web) + 1
    # Two screenings, two answers and two links a patient, three patients: ids up to 6.
    assert last == 7
    plain = {me.id: holder.get(f"/r/{me.token}").text for me in three}
    wrong = answers([9] * 9)
    refused = {me.id: holder.post(f"/r/{me.token}", wrong).text for me in three}
    # Beyond the rows: ids no row has, and values that are no id at all.
    for step, number in enumerate([*range(1, last + 1), 0, -1, 2**63, "1 OR 1=1"]):
        ids = dict.fromkeys(ID_FIELDS, str(number))
        for me in three:
            before = snapshot(web)
            page = holder.get(f"/r/{me.token}", params=ids)
            assert (page.status_code, page.text) == (200, plain[me.id]), number
            form = holder.post(f"/r/{me.token}", {**wrong, **ids})
            assert (form.status_code, form.text) == (422, refused[me.id]), number
            assert_written_only_for(before, snapshot(web), me.id)
        # A number in place of the token is not a link.
        unknown = holder.get(f"/r/{number}")
        assert unknown.status_code == 404
        for anyone in three:
            assert_shows_nobody_else(unknown.text, anyone, three)

        # And the answers themselves, on a fresh link of each patient in turn.
        me = three[step % len(three)]
        with web.clinic.work() as s:
            fresh = send_link(s, web.clinic.nurse, web.clinic.clock, me.id, "phq9")
            fresh_id = fresh.link.id
        before = snapshot(web)
        done = holder.post(f"/r/{fresh.token}", {**answers([1] * 9), **ids})
        assert done.status_code == 200, number
        assert_shows_nobody_else(done.text, me, three)
        assert_written_only_for(before, snapshot(web), me.id)
        row = stored_response(web, newest_response_id(web))
        assert (row.patient_id, row.link_id, row.session_id) == (me.id, fresh_id, None)


# ---- (b) exports --------------------------------------------------------------------------------

REFERENCE = re.compile(r'"reference":"([A-Za-z]+)/([^"]+)"')


def exported(web: Api, patient_id: int) -> tuple[str, dict[str, Any]]:
    response = web.get("prescriber", f"/api/patients/{patient_id}/export")
    assert response.status_code == 200, response.text
    return response.text, response.json()


def entries_of(bundle: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]}


def rows_of(web: Api, patient_id: int) -> set[tuple[str, str]]:
    """(resourceType, id) of a patient's rows, from the tables: the clinical rows keep their
    row id, answers are qr-N and score-N, sessions session-N (services/export.py)."""
    found: set[tuple[str, str]] = {("Patient", str(patient_id))}
    with web.clinic.factory() as s:
        for kind, types in (
            (ConditionRecord, ("Condition",)),
            (MedicationRecord, ("MedicationStatement", "MedicationRequest")),
            (ObservationRecord, ("Observation",)),
            (AllergyRecord, ("AllergyIntolerance",)),
            (Screening, ("RiskAssessment",)),
        ):
            for row_id in s.scalars(select(kind.id).where(kind.patient_id == patient_id)):
                found |= {(t, str(row_id)) for t in types}
        for response in s.scalars(
            select(QuestionnaireResponse).where(QuestionnaireResponse.patient_id == patient_id)
        ):
            qr, score = response_ids(response)
            found |= {("QuestionnaireResponse", qr), ("Observation", score)}
        for session_id in s.scalars(
            select(TreatmentSession.id).where(TreatmentSession.patient_id == patient_id)
        ):
            found.add(("Procedure", session_id_of(session_id)))
    return found


def test_each_export_holds_its_own_patient_only(web: Api, three: list[Seeded]) -> None:
    bundles = {p.id: exported(web, p.id) for p in three}
    for me in three:
        text, bundle = bundles[me.id]
        # The export does carry the patient's own identifiers: the search below can fail.
        for own in (me.person.family, me.person.mrn, me.person.birth.isoformat(), me.person.email):
            assert own in text
        assert_shows_nobody_else(text, me, three)
        mine = entries_of(bundle)
        assert ("Patient", str(me.id)) in mine
        referenced_patients = {ref for kind, ref in REFERENCE.findall(text) if kind == "Patient"}
        assert referenced_patients == {str(me.id)}
        for other in three:
            if other is me:
                continue
            assert not mine & entries_of(bundles[other.id][1]), other.person.family
            assert not mine & rows_of(web, other.id), other.person.family
            assert f"Patient/{other.id}" not in text
        # Every entry that names a subject or patient names this one.
        for entry in bundle["entry"]:
            resource = entry["resource"]
            for key in ("subject", "patient"):
                if key in resource:
                    assert resource[key]["reference"] == f"Patient/{me.id}", resource["id"]
