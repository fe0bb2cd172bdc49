"""The authorization matrix: every route the app serves x every role (and no one signed in),
allowed or denied, on SQLite and PostgreSQL.

The expectations are written here, from issue 4 ("Users and security"), not read from the
tables the app enforces: the front desk sees demographics, not clinical records; nurses read
the chart and record vitals and observations; prescribers also screen, sign and override;
admins manage users and read the audit log, with no clinical reads or writes.

Allowed: the request succeeds (2xx, or a 303 that is not a sign-in redirect), and when it
shows or changes a patient's data an audit row names the user and the patient. Denied: 403
with nothing written. Not signed in: 401 on the API, a redirect to /sign-in for pages.
Requests carry a bearer token (pages accept it too), so the matrix is about roles, not
cookies; the sign-in form is used with each role's password, and the code form by the roles
asked for a second factor (prescribers and admins, enrolled here). Each request that changes
something gets its own fresh target (a new record, screening or user), so an earlier allowed
request cannot turn a later one into a 409.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import select, update
from starlette.routing import Mount

from ketaclinic.services.actor import Role
from ketaclinic.services.charting import screen_patient
from ketaclinic.services.ledger import ReceiptIn, count_lot, define_product, receive, record_loss
from ketaclinic.services.records import (
    add_allergy,
    add_condition,
    add_medication,
    add_observation,
    add_procedure,
)
from ketaclinic.services.records_forms import (
    AllergyIn,
    ConditionIn,
    MedicationIn,
    ObservationIn,
    ProcedureIn,
)
from ketaclinic.store.models import User
from ketaclinic.web.app import create_app
from tests.integration import authz_areas
from tests.integration.api_support import Api, open_api
from tests.integration.authz_cases import (
    ADMIN,
    CLINICAL,
    DEMOGRAPHICS,
    EVERY_USER,
    EXAMPLE_01,
    LEDGER_READERS,
    PASSWORD,
    PRESCRIBER,
    ROLES,
    Case,
    N,
    api,
    page,
    public,
)
from tests.integration.services_support import NOW

BP_JSON = {
    "loinc": "85354-9",
    "effective": "2026-10-29T10:15:00Z",
    "systolic": 118,
    "diastolic": 76,
}
MDD_JSON = {"code": "F33.1", "display": "Major depressive disorder, recurrent, moderate"}
TRIAL_JSON = {"name": "sertraline", "start": "2025-01-06", "end": "2025-04-14", "dose_mg": 100}
ALLERGY_JSON = {"substance": "ketamine", "code": "6130"}
PROCEDURE_JSON = {"code": "36771000", "display": "Electroconvulsive therapy"}
PATIENT_JSON = {
    "mrn": "{mrn}", "given_name": "Ann", "family_name": "Other", "birth_date": "1970-01-01",
    "sex": "female",
}  # fmt: skip
# Screenings are of a patient with an empty record: no indication, so the engine says
# not_eligible (spec/screening.md, decision order 2), and an override to eligible differs.
OVERRIDE = {"decision": "eligible", "justification": "Diagnosis confirmed by letter today"}
REASON = {"reason": "typed into the wrong field"}
OUTCOME_FORM = {"outcome": "no-response", "reason": "taken in the interview"}
ERROR_FORM = {"error_reason": "typed into the wrong chart"}
NEW_USER = {
    "username": "{username}",
    "full_name": "New Nurse",
    "role": "nurse",
    "password": PASSWORD,
}
BP_CORRECTION_FORM = {
    "loinc": "85354-9",
    "effective": "2026-10-29T10:15",
    "systolic": "120",
    "diastolic": "76",
    **REASON,
}

RECEIPT_FORM = {
    "substance": "ketamine", "strength_mg_per_ml": "50", "volume_ml": "10", "lot_number": "{mrn}",
    "expiry": "2027-06-30", "units": "10", "supplier": "Acme Pharma", "supplier_dea": "RA1234563",
    "invoice": "INV-1",
}  # fmt: skip
ADMINISTER_FORM = {"lot_id": "{lot}", "patient_id": "{patient}", "dose_mg": "35"}
WASTE_FORM = {"lot_id": "{lot}", "amount_mg": "465", "reason": "rest of the vial",
              "witness": "{witness}", "witness_password": PASSWORD}  # fmt: skip
WASTE_JSON = {"lot_id": "{lot}", "amount_mg": "465", "reason": "rest of the vial",
              "witness_username": "{witness}", "witness_password": PASSWORD}  # fmt: skip
RETURN_FORM = {"lot_id": "{lot}", "kind": "returned", "units": "1", "recipient": "Acme Pharma",
               "recipient_dea": "RA1234563", "invoice": "RET-1"}  # fmt: skip
DESTROY_FORM = {"lot_id": "{lot}", "amount_mg": "500", "dea41_reference": "DEA41-1"}
ADJUST_FORM = {"lot_id": "{lot}", "change_mg": "-5", "reason": "count correction"}
LOSS_FORM = {"lot_id": "{lot}", "kind": "lost", "amount_mg": "500", "reason": "vial broke"}

BP_FORM = {"effective": "2026-10-29T10:15", "systolic": "118", "diastolic": "76"}
LAB_FORM = {"loinc": "1742-6", "effective": "2026-10-29T10:15", "value": "22"}
PATIENT_FORM = {
    "mrn": "{mrn}", "given_name": "Ann", "family_name": "Other", "birth_date": "1970-01-01",
    "sex": "female",
}  # fmt: skip

# fmt: off
CASES: tuple[Case, ...] = (
    # Signing in and out, the home page, the documentation and static files.
    public("GET", "/sign-in"),
    public("POST", "/sign-in"),  # each role signs in with its own password
    public("GET", "/sign-in/code"),  # without a half sign-in: back to the password
    public("POST", "/sign-in/code"),  # the roles asked for a code finish with it; see expected()
    page("POST", "/sign-out", EVERY_USER),
    page("GET", "/", EVERY_USER),
    public("GET", "/api/docs"),
    public("GET", "/api/openapi.json"),
    public("GET", "/static/{path}", "/static/app.css"),
    api("GET", "/api/me", EVERY_USER),
    # Administration: admins only.
    api("GET", "/api/users", ADMIN),
    api("POST", "/api/users", ADMIN, json=NEW_USER),
    api("POST", "/api/users/{username}/deactivate", ADMIN, "/api/users/{user}/deactivate"),
    api("GET", "/api/audit", ADMIN),
    page("GET", "/admin/users", ADMIN),
    page("POST", "/admin/users", ADMIN, form=NEW_USER),
    page("POST", "/admin/users/{username}/deactivate", ADMIN, "/admin/users/{user}/deactivate"),
    page("GET", "/admin/audit", ADMIN),
    # Patients' demographics: everyone but admins.
    api("POST", "/api/patients", DEMOGRAPHICS, json=PATIENT_JSON),
    api("GET", "/api/patients", DEMOGRAPHICS),
    api("GET", "/api/patients/{patient_id}", DEMOGRAPHICS),
    # The chart and clinical records: nurses and prescribers read.
    api("GET", "/api/patients/{patient_id}/chart", CLINICAL),
    api("GET", "/api/patients/{patient_id}/conditions", CLINICAL),
    api("GET", "/api/patients/{patient_id}/medications", CLINICAL),
    api("GET", "/api/patients/{patient_id}/observations", CLINICAL),
    api("GET", "/api/patients/{patient_id}/allergies", CLINICAL),
    api("GET", "/api/patients/{patient_id}/procedures", CLINICAL),
    api("GET", "/api/records/{kind}/{record_id}/history", CLINICAL,
        "/api/records/condition/{condition}/history"),
    api("GET", "/api/records/{kind}/{record_id}/history", CLINICAL,
        "/api/records/observation/{observation}/history"),
    # Observations: nurses and prescribers write; everything else clinical: prescribers.
    api("POST", "/api/patients/{patient_id}/observations", CLINICAL, json=BP_JSON),
    api("POST", "/api/patients/{patient_id}/conditions", PRESCRIBER, json=MDD_JSON),
    api("POST", "/api/patients/{patient_id}/medications", PRESCRIBER, json=TRIAL_JSON),
    api("POST", "/api/patients/{patient_id}/allergies", PRESCRIBER, json=ALLERGY_JSON),
    api("POST", "/api/patients/{patient_id}/procedures", PRESCRIBER, json=PROCEDURE_JSON),
    api("POST", "/api/records/observation/{record_id}/correct", CLINICAL,
        "/api/records/observation/{observation}/correct", json={"values": BP_JSON, **REASON}),
    api("POST", "/api/records/condition/{record_id}/correct", PRESCRIBER,
        "/api/records/condition/{condition}/correct", json={"values": MDD_JSON, **REASON}),
    api("POST", "/api/records/medication/{record_id}/correct", PRESCRIBER,
        "/api/records/medication/{medication}/correct", json={"values": TRIAL_JSON, **REASON}),
    api("POST", "/api/records/allergy/{record_id}/correct", PRESCRIBER,
        "/api/records/allergy/{allergy}/correct", json={"values": ALLERGY_JSON, **REASON}),
    api("POST", "/api/records/procedure/{record_id}/correct", PRESCRIBER,
        "/api/records/procedure/{procedure}/correct", json={"values": PROCEDURE_JSON, **REASON}),
    api("POST", "/api/records/{kind}/{record_id}/entered-in-error", CLINICAL,
        "/api/records/observation/{observation}/entered-in-error", json=REASON),
    api("POST", "/api/records/{kind}/{record_id}/entered-in-error", PRESCRIBER,
        "/api/records/condition/{condition}/entered-in-error", json=REASON),
    api("POST", "/api/records/{kind}/{record_id}/entered-in-error", PRESCRIBER,
        "/api/records/medication/{medication}/entered-in-error", json=REASON),
    api("POST", "/api/records/{kind}/{record_id}/entered-in-error", PRESCRIBER,
        "/api/records/allergy/{allergy}/entered-in-error", json=REASON),
    api("POST", "/api/records/{kind}/{record_id}/entered-in-error", PRESCRIBER,
        "/api/records/procedure/{procedure}/entered-in-error", json=REASON),
    api("POST", "/api/medications/{record_id}/outcome", PRESCRIBER,
        "/api/medications/{medication}/outcome", json={"outcome": "no-response"}),
    api("POST", "/api/patients/{patient_id}/import", PRESCRIBER,
        content=EXAMPLE_01.read_bytes()),
    # Screenings: nurses read; prescribers screen, sign and override.
    api("POST", "/api/patients/{patient_id}/screenings", PRESCRIBER, json={"route": "iv"}),
    api("GET", "/api/patients/{patient_id}/screenings", CLINICAL),
    api("GET", "/api/screenings/{screening_id}", CLINICAL, "/api/screenings/{screening}"),
    api("POST", "/api/screenings/{screening_id}/sign", PRESCRIBER,
        "/api/screenings/{screening}/sign"),
    api("POST", "/api/screenings/{screening_id}/override", PRESCRIBER,
        "/api/screenings/{screening}/override", json=OVERRIDE),
    # The same rules on the pages.
    page("GET", "/patients", DEMOGRAPHICS),
    page("GET", "/patients/new", DEMOGRAPHICS),
    page("POST", "/patients", DEMOGRAPHICS, form=PATIENT_FORM),
    page("GET", "/patients/{patient_id}", CLINICAL),
    page("GET", "/patients/{patient_id}/diagnoses/new", PRESCRIBER),
    page("POST", "/patients/{patient_id}/diagnoses", PRESCRIBER, form=MDD_JSON),
    page("GET", "/patients/{patient_id}/medications/new", PRESCRIBER),
    page("POST", "/patients/{patient_id}/medications", PRESCRIBER,
         form={k: str(v) for k, v in TRIAL_JSON.items()}),
    page("GET", "/patients/{patient_id}/vitals/new", CLINICAL),
    page("POST", "/patients/{patient_id}/vitals", CLINICAL, form=BP_FORM),
    page("GET", "/patients/{patient_id}/labs/new", CLINICAL),
    page("POST", "/patients/{patient_id}/labs", CLINICAL, form=LAB_FORM),
    page("GET", "/patients/{patient_id}/allergies/new", PRESCRIBER),
    page("POST", "/patients/{patient_id}/allergies", PRESCRIBER, form=ALLERGY_JSON),
    page("GET", "/patients/{patient_id}/procedures/new", PRESCRIBER),
    page("POST", "/patients/{patient_id}/procedures", PRESCRIBER, form=PROCEDURE_JSON),
    page("GET", "/records/{kind}/{record_id}/history", CLINICAL,
         "/records/condition/{condition}/history"),
    page("GET", "/records/{kind}/{record_id}/correct", CLINICAL,
         "/records/observation/{observation}/correct"),
    page("GET", "/records/{kind}/{record_id}/correct", PRESCRIBER,
         "/records/condition/{condition}/correct"),
    page("POST", "/records/{kind}/{record_id}/correct", CLINICAL,
         "/records/observation/{observation}/correct", form=BP_CORRECTION_FORM),
    page("POST", "/records/{kind}/{record_id}/correct", PRESCRIBER,
         "/records/condition/{condition}/correct", form={**MDD_JSON, **REASON}),
    page("POST", "/records/{kind}/{record_id}/entered-in-error", CLINICAL,
         "/records/observation/{observation}/entered-in-error", form=ERROR_FORM),
    page("POST", "/records/{kind}/{record_id}/entered-in-error", PRESCRIBER,
         "/records/medication/{medication}/entered-in-error", form=ERROR_FORM),
    page("GET", "/records/medication/{record_id}/outcome", PRESCRIBER,
         "/records/medication/{medication}/outcome"),
    page("POST", "/records/medication/{record_id}/outcome", PRESCRIBER,
         "/records/medication/{medication}/outcome", form=OUTCOME_FORM),
    page("POST", "/patients/{patient_id}/screenings", PRESCRIBER, form={"route": "iv"}),
    page("GET", "/screenings/{screening_id}", CLINICAL, "/screenings/{screening}"),
    page("POST", "/screenings/{screening_id}/sign", PRESCRIBER, "/screenings/{screening}/sign"),
    page("POST", "/screenings/{screening_id}/override", PRESCRIBER,
         "/screenings/{screening}/override", form=OVERRIDE),
    # The controlled-substance ledger: nurses and prescribers write, admins read, not the desk.
    api("GET", "/api/ledger/lots", LEDGER_READERS),
    api("GET", "/api/ledger/lots/{lot_id}/entries", LEDGER_READERS,
        "/api/ledger/lots/{lot}/entries"),
    api("POST", "/api/ledger/receive", CLINICAL, json=RECEIPT_FORM),
    api("POST", "/api/ledger/administer", CLINICAL, json=ADMINISTER_FORM),
    api("POST", "/api/ledger/waste", CLINICAL, json=WASTE_JSON),
    api("POST", "/api/ledger/return", CLINICAL, json=RETURN_FORM),
    api("POST", "/api/ledger/destroy", CLINICAL, json=DESTROY_FORM),
    api("POST", "/api/ledger/adjust", CLINICAL, json=ADJUST_FORM),
    api("POST", "/api/ledger/loss", CLINICAL, json=LOSS_FORM),
    api("GET", "/api/ledger/head", LEDGER_READERS),
    api("GET", "/api/ledger/verify", LEDGER_READERS),
    page("GET", "/ledger", LEDGER_READERS),
    page("POST", "/ledger/receive", CLINICAL, form=RECEIPT_FORM),
    page("POST", "/ledger/administer", CLINICAL, form=ADMINISTER_FORM),
    page("POST", "/ledger/waste", CLINICAL, form=WASTE_FORM),
    page("POST", "/ledger/count", CLINICAL, form={"lot_id": "{lot}", "counted_mg": "5000"}),
    page("POST", "/ledger/return", CLINICAL, form=RETURN_FORM),
    page("POST", "/ledger/destroy", CLINICAL, form=DESTROY_FORM),
    page("POST", "/ledger/adjust", CLINICAL, form=ADJUST_FORM),
    page("POST", "/ledger/loss", CLINICAL, form=LOSS_FORM),
    page("POST", "/ledger/discrepancies/{count_id}/resolve", CLINICAL,
         "/ledger/discrepancies/{count}/resolve", form={"resolution": "miscounted"}),
    page("POST", "/ledger/loss-reports/{report_id}/file", CLINICAL,
         "/ledger/loss-reports/{report}/file", form={"reference": "DEA106-1"}),
    page("GET", "/ledger/verify", LEDGER_READERS),
    page("GET", "/ledger/log.csv", LEDGER_READERS),
    page("GET", "/ledger/log.pdf", LEDGER_READERS),
    *authz_areas.CASES,
)
# fmt: on


# The roles the default policy asks for a second factor (issue 9), enrolled with these secrets.
SECOND_FACTOR: dict[Role, str] = {
    "prescriber": pyotp.random_base32(),
    "admin": pyotp.random_base32(),
}
CODE_ASKED = frozenset(SECOND_FACTOR)


@dataclass
class World:
    """The clinic the requests run against, making a fresh target for each request."""

    api: Api
    patient: int
    bare_patient: int
    serial: Iterator[int] = field(default_factory=itertools.count)

    def _record(self, name: str) -> int:
        clinic, actor, clock = self.api.clinic, self.api.clinic.prescriber, self.api.clinic.clock
        adders: dict[str, Callable[..., Any]] = {
            "condition": lambda s: add_condition(
                s, actor, clock, self.patient, ConditionIn("F33.1", "MDD")
            ),
            "medication": lambda s: add_medication(
                s, actor, clock, self.patient, MedicationIn("sertraline", date(2025, 1, 6))
            ),
            "observation": lambda s: add_observation(
                s,
                actor,
                clock,
                self.patient,
                ObservationIn("85354-9", NOW, systolic=118, diastolic=76),
            ),
            "allergy": lambda s: add_allergy(s, actor, clock, self.patient, AllergyIn("ketamine")),
            "procedure": lambda s: add_procedure(
                s, actor, clock, self.patient, ProcedureIn("36771000", "ECT")
            ),
            # On a patient of its own, whose empty record the other requests leave empty, so
            # the engine's decision (needs_information) is not the override's.
            "screening": lambda s: screen_patient(s, actor, clock, self.bare_patient, "iv"),
        }
        with clinic.work() as s:
            made: int = adders[name](s).id
            return made

    def _user(self) -> str:
        name = f"staff{next(self.serial)}"
        with self.api.clinic.work() as s:
            s.add(User(username=name, full_name=name, role="nurse", password_hash="x",
                       created_at=NOW))  # fmt: skip
        return name

    def _lot(self) -> int:
        """A fresh ketamine lot of ten 500 mg vials, received by the prescriber."""
        clinic = self.api.clinic
        with clinic.work() as s:
            product = define_product(s, clinic.prescriber, clinic.clock, "ketamine",
                                     strength_mg_per_ml=50, volume_ml=10)  # fmt: skip
            receipt = ReceiptIn(product.code, f"LOT{next(self.serial)}", date(2027, 6, 30), 10,
                                "Acme Pharma", "RA1234563", "INV-1")  # fmt: skip
            return receive(s, clinic.prescriber, clinic.clock, receipt).lot_id

    def _count(self) -> int:
        """A count 10 mg short of a fresh lot's 5000 mg: an open discrepancy."""
        clinic, lot = self.api.clinic, self._lot()
        with clinic.work() as s:
            return count_lot(s, clinic.prescriber, clinic.clock, lot, "4990").id

    def _report(self) -> int:
        """An open loss report: one 500 mg vial of a fresh lot lost."""
        clinic, lot = self.api.clinic, self._lot()
        with clinic.work() as s:
            return record_loss(s, clinic.prescriber, clinic.clock, lot, "lost", "500", "broke").id

    def _witness(self) -> str:
        """A second nurse whose password is PASSWORD (the hash every user got), to witness."""
        name = f"witness{next(self.serial)}"
        with self.api.clinic.work() as s:
            hashed = s.scalars(select(User.password_hash).where(User.username == N)).one()
            s.add(User(username=name, full_name=name, role="nurse", password_hash=hashed,
                       created_at=NOW))  # fmt: skip
        return name

    def value(self, name: str) -> str:
        if name in authz_areas.MAKERS:
            return authz_areas.MAKERS[name](self)
        if name == "patient":
            return str(self.patient)
        if name == "lot":
            return str(self._lot())
        if name == "witness":
            return self._witness()
        if name == "count":
            return str(self._count())
        if name == "report":
            return str(self._report())
        if name == "user":
            return self._user()
        if name in ("username", "mrn"):
            return f"{name}{next(self.serial)}"
        return str(self._record(name))

    def fill(self, text: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: self.value(m.group(1)), text)

    def filled(self, body: Any) -> Any:
        if isinstance(body, dict):
            return {k: self.filled(v) for k, v in body.items()}
        return self.fill(body) if isinstance(body, str) else body


def prepare(world: World, case: Case, role: Role | None) -> Callable[[], httpx.Response]:
    """The request, its targets made now (so that making them is not counted as its writes)."""
    client = world.api.http
    # Only the bearer token speaks for the role: no cookie left by an earlier sign-in.
    client.cookies.clear()
    headers = world.api.headers(role)
    if case.route.startswith("/sign-in") and case.method == "POST":
        # Each attempt a minute after the last, so the sign-in rate limit (tested in
        # test_second_factor) never answers in the role's place.
        world.api.clinic.clock.advance(minutes=1)
        return _signing_in(world, case, role)
    address = world.fill(case.address)
    body: dict[str, Any] = {}
    if case.json is not None:
        body["json"] = world.filled(case.json)
    elif case.form is not None:
        body["data"] = world.filled(case.form)
    elif case.content is not None:
        body["content"] = case.content
    return lambda: client.request(case.method, address, headers=headers, **body)


def _signing_in(world: World, case: Case, role: Role | None) -> Callable[[], httpx.Response]:
    """No one is signed in yet: the "role" is who signs in (no one: a stranger's name). For
    the code form, the roles asked for a code give their password first (not counted); the
    others have no half sign-in to finish."""
    client = world.api.http
    form = client.get("/sign-in").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found is not None
    token = found.group(1)
    data = {"username": role or "stranger", "password": PASSWORD, "csrf_token": token}
    if case.route == "/sign-in":
        return lambda: client.post("/sign-in", data=data)
    code = "000000"
    if role in CODE_ASKED:
        assert client.post("/sign-in", data=data).headers["location"] == "/sign-in/code"
        now = world.api.clinic.clock.now().replace(tzinfo=UTC)
        code = pyotp.TOTP(SECOND_FACTOR[role]).at(now)
    return lambda: client.post("/sign-in/code", data={"code": code, "csrf_token": token})


def verdict(case: Case, role: Role | None, response: httpx.Response) -> str:
    """What the response says: allowed, denied, or asked to sign in."""
    status = response.status_code
    location = response.headers.get("location", "")
    if status == 401 or (status in (302, 303) and location.startswith("/sign-in?next=")):
        return "sign in"
    if status == 403:
        return "denied"
    if case.route == "/sign-in" and role is None and status == 401:
        return "sign in"
    if status < 400:
        return "allowed"
    # For a page, the messages beside its fields say what was wrong with the test's request.
    shown = re.findall(r'class="error"[^>]*>([^<]+)<', response.text)
    return f"unexpected {status}: {shown or response.text[:200]}"


PATIENT_DATA = re.compile(
    r"^/(api/)?(patients|records|medications|screenings|plans|consents|sessions)(/|$)"
)


def reads_patient_data(case: Case) -> bool:
    """Routes that show or change a patient's data (a blank new-patient form shows none)."""
    return bool(PATIENT_DATA.match(case.route)) and case.route != "/patients/new"


def expected(case: Case, role: Role | None) -> str:
    if case.kind == "public":
        if case.route == "/sign-in" and case.method == "POST" and role is None:
            return "sign in"  # a stranger is refused by the form itself (401)
        if case.route == "/sign-in/code" and case.method == "POST":
            # Only a half sign-in (the password of a role asked for a code) can be finished.
            return "allowed" if role in CODE_ASKED else "sign in"
        return "allowed"
    if role is None:
        return "sign in"
    return "allowed" if role in case.allowed else "denied"


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    with open_api(database_url) as opened:
        # One Argon2 hash for every role, for the sign-in form's row of the matrix.
        hashed = PasswordHasher().hash(PASSWORD)
        with opened.clinic.work() as s:
            s.execute(update(User).values(password_hash=hashed))
            for role, secret in SECOND_FACTOR.items():
                s.execute(update(User).where(User.username == role).values(totp_secret=secret))
        patient = opened.clinic.register(birth_date=date(1986, 3, 15))
        bare = opened.clinic.register("MRN-BARE")
        yield World(opened, patient.id, bare.id)


# The matrix runs in slices, each on a clinic of its own, so that no one test runs for minutes.
SLICE = 30
SLICES = [CASES[i : i + SLICE] for i in range(0, len(CASES), SLICE)]


@pytest.mark.parametrize("part", range(len(SLICES)))
def test_every_route_and_role_is_allowed_or_denied_as_written(world: World, part: int) -> None:
    wrong: list[str] = []
    for case in SLICES[part]:
        for role in (*ROLES, None):
            request = prepare(world, case, role)
            # A refused request writes nothing, not even an audit row (a refused sign-in is
            # audited on purpose).
            counted = case.method != "GET" and case.route != "/sign-in"
            before = world.api.counts() if counted else None
            audited = len(world.api.audit())
            response = request()
            got, want = verdict(case, role, response), expected(case, role)
            said = f"{case.method} {case.address} as {role}"
            if got != want:
                wrong.append(f"{said}: {got}, expected {want}")
            elif got != "allowed" and before is not None and world.api.counts() != before:
                wrong.append(f"{said}: refused but wrote")
            elif got == "allowed" and reads_patient_data(case):
                new = world.api.audit()[audited:]
                if not any(e.username == role and e.patient_id is not None for e in new):
                    wrong.append(f"{said}: no audit row naming the patient")
    if wrong:
        pytest.fail("\n".join(wrong), pytrace=False)


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves; HEAD is GET without the body."""
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            found.add(("GET", route.path + "/{path}"))
            continue
        for method in context.methods or ():
            if method != "HEAD":
                found.add((method, str(context.path)))
    return found


def test_every_route_the_app_serves_is_in_the_matrix() -> None:
    # The routes do not depend on the database; the app opens no connection until a request.
    served = served_routes(create_app("sqlite://"))
    in_matrix = {(case.method, case.route) for case in CASES}
    assert served - in_matrix == set(), "routes missing from the matrix"
    assert in_matrix - served == set(), "matrix rows for routes the app does not serve"
    # Sanity: the walk finds included routers' routes, not just the app's own.
    assert ("GET", "/api/patients/{patient_id}/chart") in served
