"""Fuzzed input (issue 9, item 2): hostile FHIR bundles and form posts never produce a 5xx, a
traceback or a partial write, on SQLite and on PostgreSQL.

Every generated request goes through the real app with a bearer token, and every table's rows are
compared before and after it. A refused request (4xx) must leave the database as it was:

- on /api, the route raises and its transaction is rolled back whole, audit row included
  (web/deps.py), so every table must be exactly as before;
- a page that shows a refused form again (422, or 409 for a step the record does not allow) has
  shown the patient's data, and some pages audit that as a read ("... (refused)"): there every
  table but audit_events must be as before, and the audit trail may only have grown by rows whose
  action is "read".

An accepted request (2xx, or the 303 after a form) is fine whatever it wrote: the next request is
compared with the database as it left it. The strategies are in fuzz_strategies.py; the plain
tests at the end pin the defects the fuzzing found.
"""

from __future__ import annotations

import builtins
import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from ketaclinic.services.actor import Role
from ketaclinic.store.models import AuditEvent, Base, User
from tests.integration.api_support import PATIENT, Api, open_api
from tests.integration.fuzz_strategies import FormPost, Hostile, hostile_bundles, hostile_forms
from tests.integration.plan_support import ready_patient
from tests.integration.services_support import NOW
from tests.integration.session_support import visit_in

Snapshot = dict[str, list[tuple[Any, ...]]]
EXAMPLE_01 = Path(__file__).parents[2] / "examples" / "01-eligible-trd.json"
FORM = "application/x-www-form-urlencoded"
# Examples per test: SQLite gets the full run, PostgreSQL (slower per request) a smaller one.
EXAMPLES = {"sqlite": 1.0, "postgresql": 0.3}

# Names a Python traceback or an unhandled exception would show: every built-in exception, and
# those of the database layers.
EXCEPTION_NAMES = sorted(
    {
        name
        for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, BaseException) and name != "Warning"
        if name.endswith(("Error", "Exception", "Exit", "Interrupt", "Iteration"))
    }
    | {"IntegrityError", "OperationalError", "DataError", "ProgrammingError", "JSONDecodeError"}
    | {"ValidationError", "StatementError", "InvalidRequestError", "psycopg", "sqlalchemy"}
)
LEAK = re.compile(r"Traceback \(most recent call last\)|\b(" + "|".join(EXCEPTION_NAMES) + r")\b")


def snapshot(api: Api) -> Snapshot:
    """Every table's rows as plain values, in primary-key order."""
    found: Snapshot = {}
    with api.clinic.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows = connection.execute(select(table).order_by(*order))
            found[table.name] = [tuple(row) for row in rows]
    return found


def differences(before: Snapshot, after: Snapshot, *, ignore: frozenset[str]) -> list[str]:
    said = []
    for name, rows in after.items():
        if name in ignore or rows == before[name]:
            continue
        added = [r for r in rows if r not in before[name]]
        removed = [r for r in before[name] if r not in rows]
        said.append(f"{name}: +{str(added)[:300]} -{str(removed)[:300]}")
    return said


@dataclass
class Fuzzing:
    """The app on one database and the last snapshot taken of it."""

    api: Api
    http: TestClient
    before: Snapshot = field(default_factory=dict)
    accepted: int = 0
    refused: int = 0

    def send(self, role: Role, path: str, content: bytes, content_type: str) -> httpx.Response:
        headers = {**self.api.headers(role), "Content-Type": content_type}
        response: httpx.Response = self.http.post(path, headers=headers, content=content)
        return response

    def check(self, response: httpx.Response, what: object) -> None:
        """No defect, no traceback, and a refusal wrote nothing (see the module docstring)."""
        status = response.status_code
        assert status < 500, f"{status} for {what!r}: {response.text[:500]}"
        leaked = LEAK.search(response.text)
        assert leaked is None, f"{leaked.group(0)!r} in the answer to {what!r}"
        after = snapshot(self.api)
        if status < 400:
            self.accepted += 1
        else:
            self.refused += 1
            page = not response.request.url.path.startswith("/api/")
            ignore = frozenset({"audit_events"} if page else ())
            changed = differences(self.before, after, ignore=ignore)
            assert not changed, f"{status} for {what!r}, yet it wrote: {changed}"
            if page:
                self._only_reads_audited(after)
        self.before = after

    def _only_reads_audited(self, after: Snapshot) -> None:
        old = self.before["audit_events"]
        assert after["audit_events"][: len(old)] == old, "audit rows changed"
        action = AuditEvent.__table__.columns.keys().index("action")
        new = {row[action] for row in after["audit_events"][len(old) :]}
        assert new <= {"read"}, f"a refused form audited {new}"


@pytest.fixture
def fuzzing(database_url: str) -> Iterator[Fuzzing]:
    with open_api(database_url) as api:
        http = TestClient(api.app, follow_redirects=False, raise_server_exceptions=False)
        yield Fuzzing(api, http)


def examples(database_url: str, count: int) -> int:
    kind = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    return max(5, int(count * EXAMPLES[kind]))


def fuzz_settings(database_url: str, count: int) -> settings:
    return settings(
        max_examples=examples(database_url, count),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- FHIR bundles -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(hostile_bundles(PATIENT["birth_date"])))
def test_hostile_fhir_bundles_are_refused_or_imported_whole(
    fuzzing: Fuzzing, database_url: str, kind: str
) -> None:
    patient = fuzzing.api.new_patient()
    fuzzing.before = snapshot(fuzzing.api)
    path = f"/api/patients/{patient}/import"

    @fuzz_settings(database_url, 12)
    @given(hostile_bundles(PATIENT["birth_date"])[kind], st.sampled_from(["fhir", "json"]))
    def run(bundle: Hostile, media: str) -> None:
        response = fuzzing.send("prescriber", path, bundle.data, f"application/{media}+json")
        fuzzing.check(response, bundle)

    run()


# --- form posts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    """One form of the app: who posts it, where, and values it accepts."""

    role: Role
    path: str
    valid: dict[str, str]


@dataclass(frozen=True)
class Area:
    """Forms that share their setting: ``prepare`` brings the database to where they apply."""

    prepare: Callable[[Api], dict[str, int]]
    forms: Callable[[dict[str, int]], list[Form]]
    count: int


def _patient(api: Api) -> dict[str, int]:
    return {"patient": api.new_patient()}


def patient_forms(ids: dict[str, int]) -> list[Form]:
    valid = {
        "mrn": "MRN-FUZZ",
        "given_name": "Noor",
        "family_name": "Haddad",
        "birth_date": "1979-05-04",
        "sex": "female",
        "phone": "+1 555 0100",
        "email": "noor@example.org",
        "address": "1 Main Street",
        "escort_name": "Sami Haddad",
        "escort_phone": "+1 555 0101",
    }
    return [Form("front_desk", "/patients", valid)]


def record_forms(ids: dict[str, int]) -> list[Form]:
    p = ids["patient"]
    return [
        Form(
            "prescriber",
            f"/patients/{p}/diagnoses",
            {
                "code": "F33.1",
                "display": "Major depressive disorder, recurrent, moderate",
                "system": "http://hl7.org/fhir/sid/icd-10-cm",
                "clinical_status": "active",
                "verification_status": "confirmed",
                "onset": "2024-02-01",
                "abatement": "",
                "severe": "on",
            },
        ),
        Form(
            "prescriber",
            f"/patients/{p}/medications",
            {
                "name": "sertraline",
                "start": "2025-01-06",
                "end": "2025-04-14",
                "status": "completed",
                "rxnorm": "36437",
                "dose_mg": "100",
                "frequency": "1",
                "period": "1",
                "period_unit": "d",
                "outcome": "no-response",
                "outcome_text": "no change in mood",
            },
        ),
        Form(
            "nurse",
            f"/patients/{p}/vitals",
            {
                "effective": "2026-11-01T08:30",
                "systolic": "122",
                "diastolic": "78",
                "heart_rate": "70",
                "spo2": "98",
                "weight": "80.5",
            },
        ),
        Form(
            "nurse",
            f"/patients/{p}/labs",
            {"loinc": "1742-6", "effective": "2026-10-30T10:00", "value": "30"},
        ),
        Form(
            "nurse",
            f"/patients/{p}/labs",
            {
                "other_loinc": "2093-3",
                "effective": "2026-10-30T10:00",
                "value": "190",
                "unit": "mg/dL",
                "display": "Cholesterol",
            },
        ),
        Form(
            "prescriber",
            f"/patients/{p}/allergies",
            {
                "substance": "penicillin G",
                "code": "7980",
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "clinical_status": "active",
                "verification_status": "confirmed",
                "recorded": "2020-06-01",
            },
        ),
        Form(
            "prescriber",
            f"/patients/{p}/procedures",
            {
                "code": "5880005",
                "display": "Physical examination procedure",
                "system": "http://snomed.info/sct",
                "status": "completed",
                "performed": "2026-10-29",
                "performed_end": "2026-10-29",
                "outcome": "",
                "outcome_text": "",
            },
        ),
        Form(
            "prescriber",
            f"/patients/{p}/questionnaires",
            {
                "scale": "phq9",
                "completed_at": "2026-11-01T08:00",
                **{f"item_{n}": "1" for n in range(1, 10)},
            },
        ),
    ]


def _sessions(api: Api) -> dict[str, int]:
    dosing = visit_in(api.clinic, "pre_dose_check")
    observed = visit_in(api.clinic, "observation")
    return {"dosing": dosing.session_id, "observed": observed.session_id}


def session_forms(ids: dict[str, int]) -> list[Form]:
    dosing, observed = ids["dosing"], ids["observed"]
    vitals = {
        "systolic": "124",
        "diastolic": "80",
        "heart_rate": "74",
        "spo2": "98",
        "respiratory_rate": "14",
        "taken_at": "",
    }
    return [
        Form(
            "nurse",
            f"/sessions/{dosing}/doses",
            {
                "dose_mg": "10",
                "lot": "K-1",
                "lot_id": "",
                "started_at": "",
                "ended_at": "",
                "confirm_reason": "",
            },
        ),
        Form("nurse", f"/sessions/{dosing}/vitals", vitals),
        Form("nurse", f"/sessions/{observed}/vitals", vitals),
        Form("nurse", f"/sessions/{observed}/scores", {"scale": "moaas", "score": "4"}),
        Form(
            "nurse",
            f"/sessions/{observed}/adverse-events",
            {
                "kind": "nausea",
                "severity": "mild",
                "description": "queasy after the infusion",
                "onset_at": "",
            },
        ),
    ]


PASSWORD = "correct horse battery"
# Cheap Argon2 settings: the witness check verifies with whatever settings the hash names.
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
RECEIPT = {
    "substance": "ketamine",
    "strength_mg_per_ml": "50",
    "volume_ml": "10",
    "lot_number": "K-100",
    "expiry": "2027-06-30",
    "units": "10",
    "supplier": "Acme Pharma",
    "supplier_dea": "RA1234563",
    "invoice": "INV-1",
}


def _ledger(api: Api) -> dict[str, int]:
    with api.clinic.work() as s:
        s.execute(update(User).values(password_hash=CHEAP.hash(PASSWORD)))
    received = api.post("nurse", "/api/ledger/receive", {**RECEIPT, "units": 10})
    assert received.status_code == 201, received.text
    return {"lot": received.json()["lot_id"], "patient": api.new_patient()}


def ledger_forms(ids: dict[str, int]) -> list[Form]:
    lot, patient = str(ids["lot"]), str(ids["patient"])
    return [
        Form("nurse", "/ledger/receive", {**RECEIPT, "lot_number": "K-200"}),
        Form(
            "nurse", "/ledger/administer", {"lot_id": lot, "patient_id": patient, "dose_mg": "35"}
        ),
        Form(
            "nurse",
            "/ledger/waste",
            {
                "lot_id": lot,
                "amount_mg": "5",
                "reason": "drawn up, not given",
                "witness": "prescriber",
                "witness_password": PASSWORD,
            },
        ),
        Form("nurse", "/ledger/count", {"lot_id": lot, "counted_mg": "4500"}),
        Form("nurse", "/ledger/adjust", {"lot_id": lot, "change_mg": "-1", "reason": "spilt"}),
        Form(
            "nurse",
            "/ledger/loss",
            {"lot_id": lot, "kind": "lost", "amount_mg": "1", "reason": "vial dropped"},
        ),
    ]


def _planned(api: Api) -> dict[str, int]:
    return {"patient": ready_patient(api.clinic, "iv")}


def plan_forms(ids: dict[str, int]) -> list[Form]:
    start = (NOW + timedelta(days=1)).date().isoformat()
    valid = {
        "route": "iv",
        "indication": "treatment_resistant_depression",
        "start_on": start,
        "mg_per_kg": "0.5",
        "infusion_minutes": "40",
        "mg": "",
        "induction_sessions": "6",
        "induction_days": "21",
        "maintenance_sessions": "2",
        "maintenance_every_days": "28",
        "integration_sessions": "",
        "chair": "Chair 2",
    }
    return [Form("prescriber", f"/patients/{ids['patient']}/plans", valid)]


AREAS = {
    "patients": Area(lambda api: {}, patient_forms, 40),
    "records": Area(_patient, record_forms, 120),
    "sessions": Area(_sessions, session_forms, 70),
    "ledger": Area(_ledger, ledger_forms, 70),
    "plans": Area(_planned, plan_forms, 40),
}


@pytest.mark.parametrize("area", sorted(AREAS))
def test_hostile_form_posts_are_refused_whole_or_accepted(
    fuzzing: Fuzzing, database_url: str, area: str
) -> None:
    chosen = AREAS[area]
    forms = chosen.forms(chosen.prepare(fuzzing.api))
    fuzzing.before = snapshot(fuzzing.api)
    cases = st.sampled_from(forms).flatmap(
        lambda form: st.tuples(st.just(form), hostile_forms(form.valid))
    )

    @fuzz_settings(database_url, chosen.count)
    @given(cases)
    def run(case: tuple[Form, FormPost]) -> None:
        form, post = case
        response = fuzzing.send(form.role, form.path, post.body(), FORM)
        fuzzing.check(response, (form.path, post))

    run()
    assert fuzzing.refused > 0


# --- defects the fuzzing found, each pinned by its exact input --------------------------------


def post_form(fuzzing: Fuzzing, role: Role, path: str, fields: dict[str, str]) -> httpx.Response:
    return fuzzing.send(role, path, FormPost("pinned", tuple(fields.items())).body(), FORM)


def message_beside(page: httpx.Response, slot: str) -> str:
    """The message a page shows beside a field (its slot: f-<field> or f-<form>-<field>)."""
    found = re.search(rf'<p id="{slot}-error" class="error field-error">([^<]*)</p>', page.text)
    assert found is not None, f"no message beside {slot}"
    return html.unescape(found.group(1))


def api_errors(answer: httpx.Response) -> list[dict[str, Any]]:
    return [{"loc": e["loc"], "msg": e["msg"]} for e in answer.json()["detail"]]


def test_a_plan_starting_in_the_year_9999_is_refused_not_a_500(fuzzing: Fuzzing) -> None:
    # Was: OverflowError (date value out of range) while laying out the series, a 500. Python
    # reads "9999110100" as 9999-11-01, as the fuzzing sent it.
    form = plan_forms(_planned(fuzzing.api))[0]
    fuzzing.before = snapshot(fuzzing.api)
    page = post_form(fuzzing, form.role, form.path, {**form.valid, "start_on": "9999110100"})
    assert page.status_code == 422
    assert message_beside(page, "f-start_on") == "is more than 365 days ahead (9999-11-01)"
    fuzzing.check(page, "plan start 9999-11-01")
    # The API reaches the same service.
    body = {**form.valid, "start_on": "9999-12-31", "integration_sessions": False, "mg": None}
    answer = fuzzing.api.post("prescriber", form.path.replace("/patients", "/api/patients"), body)
    assert answer.status_code == 422, answer.text
    assert api_errors(answer) == [
        {"loc": ["body", "start_on"], "msg": "is more than 365 days ahead (9999-12-31)"}
    ]
    fuzzing.check(answer, "API plan start 9999-12-31")


NUL_REFUSED = "contains a NUL character (\\x00), which no text may hold"


@pytest.mark.parametrize(
    ("role", "form", "slot", "value"),
    [
        ("prescriber", 0, "f-display", "de\x00pression"),
        ("nurse", 4, "f-unit", "mg\x00/dL"),
        ("front_desk", None, "f-mrn", "MRN\x00"),
    ],
    ids=["diagnosis-display", "lab-unit", "patient-mrn"],
)
def test_a_nul_in_a_form_field_is_refused_beside_it(
    fuzzing: Fuzzing, role: Role, form: int | None, slot: str, value: str
) -> None:
    # Was: PostgreSQL refused the string (DataError), a 500; SQLite stored it.
    chosen = patient_forms({})[0] if form is None else record_forms(_patient(fuzzing.api))[form]
    field = slot.removeprefix("f-")
    fuzzing.before = snapshot(fuzzing.api)
    page = post_form(fuzzing, role, chosen.path, {**chosen.valid, field: value})
    assert page.status_code == 422
    assert message_beside(page, slot) == NUL_REFUSED
    fuzzing.check(page, value)


def test_ledger_and_session_forms_refuse_a_nul_and_numbers_past_the_columns(
    fuzzing: Fuzzing,
) -> None:
    # Was: a 500 each. A NUL in the waste's reason (PostgreSQL), lot and patient ids past 64 bits
    # (OverflowError on SQLite, out of range on PostgreSQL), and a vial of 20,261,101 mg/mL,
    # whose strength in micrograms does not fit PostgreSQL's INTEGER.
    ids = _ledger(fuzzing.api)
    receive, administer, waste = ledger_forms(ids)[:3]
    sent = [
        (waste, "reason", "\x00", NUL_REFUSED),
        (administer, "lot_id", "99999999999999999999", "is too large: '99999999999999999999'"),
        (
            administer,
            "patient_id",
            "-99999999999999999999",
            "is too large: '-99999999999999999999'",
        ),
        (receive, "strength_mg_per_ml", "20261101", "must be at most 1000000 mg"),
        (receive, "volume_ml", "9" * 40, "must be at most 1000000 mg"),
    ]
    for form, name, value, said in sent:
        fuzzing.before = snapshot(fuzzing.api)
        page = post_form(fuzzing, form.role, form.path, {**form.valid, name: value})
        assert page.status_code == 422, (name, value)
        kind = form.path.rsplit("/", 1)[1]
        assert message_beside(page, f"f-{kind}-{name}") == said
        fuzzing.check(page, (form.path, name, value))
    # The ledger's API reaches the same service; its ids are bounded by the API itself.
    fuzzing.before = snapshot(fuzzing.api)
    answer = fuzzing.api.post("nurse", "/api/ledger/receive", {**RECEIPT, "units": 10**20})
    assert answer.status_code == 422, answer.text
    assert api_errors(answer) == [
        {"loc": ["body", "units"], "msg": "must be at most 100000 (got 100000000000000000000)"}
    ]
    fuzzing.check(answer, "API receive 10**20 units")


def test_a_dose_from_a_lot_id_past_64_bits_is_refused(fuzzing: Fuzzing) -> None:
    # Was: OverflowError looking the lot up (SQLite), out of range (PostgreSQL): a 500.
    dosing = visit_in(fuzzing.api.clinic, "pre_dose_check").session_id
    form = session_forms({"dosing": dosing, "observed": 0})[0]
    fuzzing.before = snapshot(fuzzing.api)
    page = post_form(fuzzing, form.role, form.path, {**form.valid, "lot_id": "9" * 20})
    assert page.status_code == 422
    # No ledger lot here, so no lot menu to show it beside: the form's summary says it.
    assert f"is too large: '{'9' * 20}'" in html.unescape(page.text)
    fuzzing.check(page, "dose lot_id 9 x 20")


def test_a_medication_taken_more_often_than_the_form_allows_is_refused(fuzzing: Fuzzing) -> None:
    # Was: the built MedicationStatement failed R4 validation (positiveInt) unexpectedly, a 500.
    form = record_forms(_patient(fuzzing.api))[1]
    fuzzing.before = snapshot(fuzzing.api)
    page = post_form(fuzzing, form.role, form.path, {**form.valid, "frequency": "101"})
    assert page.status_code == 422
    assert message_beside(page, "f-frequency") == "must be between 1 and 100"
    fuzzing.check(page, "frequency 101")
    body = {"name": "sertraline", "dose_mg": 100, "frequency": 10**20, "start": "2025-01-06"}
    answer = fuzzing.api.post("prescriber", form.path.replace("/patients", "/api/patients"), body)
    assert answer.status_code == 422, answer.text
    assert api_errors(answer) == [
        {"loc": ["body", "frequency"], "msg": "must be between 1 and 100"}
    ]
    fuzzing.check(answer, "API frequency 10**20")


def test_a_bundle_with_a_nul_in_a_stored_field_is_refused_whole(fuzzing: Fuzzing) -> None:
    # Was: PostgreSQL refused the condition's text (DataError) mid-import, a 500.
    patient = fuzzing.api.new_patient()
    bundle = json.loads(EXAMPLE_01.read_bytes())
    condition = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"
    )
    condition["code"]["text"] = "Major depressive disorder\x00"
    fuzzing.before = snapshot(fuzzing.api)
    path = f"/api/patients/{patient}/import"
    answer = fuzzing.send("prescriber", path, json.dumps(bundle).encode(), "application/fhir+json")
    assert answer.status_code == 422, answer.text
    assert api_errors(answer) == [
        {
            "loc": ["body", "bundle"],
            "msg": "a string holds a NUL character (\\u0000): 'Major depressive disorder\\x00'",
        }
    ]
    fuzzing.check(answer, "bundle with a NUL")


def _nested_extensions(levels: int) -> str:
    """A chain of extensions ``levels`` deep, each holding the next: valid R4 at any depth."""
    link = '{"url":"http://example.org/deep","extension":['
    last = '{"url":"http://example.org/deep","valueString":"x"}'
    return link * (levels - 1) + last + "]}" * (levels - 1)


@pytest.mark.parametrize(
    ("nesting", "said"),
    [
        # 500 extensions, 1,000 levels of JSON: within what JSON is read (1,024), beyond Python's
        # recursion. Was: RecursionError checking the primitives' extensions, a 500.
        (f"[{_nested_extensions(500)}]", "nested more than 100 levels deep"),
        # 1,000 arrays in one: was the same RecursionError; R4B refuses it by name now.
        ("[" * 1_000 + "1" + "]" * 1_000, "extension[0]: expected a Extension object"),
        # 120 extensions: was orjson's "Recursion limit reached" writing the resource out.
        (f"[{_nested_extensions(120)}]", "nested more than 100 levels deep"),
    ],
    ids=["500-extensions", "1000-arrays", "120-extensions"],
)
def test_a_deeply_nested_bundle_is_refused_not_a_500(
    fuzzing: Fuzzing, nesting: str, said: str
) -> None:
    patient = fuzzing.api.new_patient()
    bundle = json.loads(EXAMPLE_01.read_bytes())
    index, condition = next(
        (i, e["resource"])
        for i, e in enumerate(bundle["entry"])
        if e["resource"]["resourceType"] == "Condition"
    )
    condition["extension"] = "@@here@@"
    data = json.dumps(bundle).replace('"@@here@@"', nesting).encode()
    fuzzing.before = snapshot(fuzzing.api)
    path = f"/api/patients/{patient}/import"
    answer = fuzzing.send("prescriber", path, data, "application/fhir+json")
    assert answer.status_code == 422, answer.text[:300]
    expected = said if said.startswith("nested") else f"entry {index} (Condition): {said}"
    assert api_errors(answer) == [{"loc": ["body", "bundle"], "msg": expected}]
    fuzzing.check(answer, f"bundle nested: {nesting[:40]}")
