"""Generated requests over the app's OpenAPI schema (schemathesis), signed in as each role.

Shared by tests/integration/test_api_generated.py (a few examples per operation, in
``make test``) and bench/api_fuzz.py (the long run).

The requests: for every operation of the schema, schemathesis draws requests that fit the
schema (and a few that do not), once per run from a fixed seed, so every role and every
database gets the same ones. Each role then sends them to an app of its own on a database
seeded with the authorization matrix's targets (test_authorization.World: a patient with
records, lots in the ledger, sessions in every state, plans, REMS forms, alerts, users). Half
the drawn requests have their row ids (path and body) swapped for ids of those real rows, so
that they reach the services rather than stopping at "no such row"; and the matrix's own
request for the operation is sent too, so that successful answers are checked as well.

What every answer must satisfy:
  - no 5xx (an exception in the app is a 500);
  - its status code is documented for the operation, its content type and body match;
  - nothing outside the role's rights succeeds. The rights are the hand-written matrix
    (test_authorization.CASES and authz_areas.CASES), never the app's own tables; see
    ``refusal_problem`` for what a refusal may look like.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from itertools import zip_longest
from typing import Any, Literal
from unittest.mock import patch
from urllib.parse import unquote, urlsplit

import psycopg
import schemathesis
from argon2 import PasswordHasher
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.failures import FailureGroup
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import update

from ketaclinic.services import consent
from ketaclinic.services.actor import Role
from ketaclinic.services.clock import FixedClock
from ketaclinic.store.models import User
from ketaclinic.web.app import create_app
from tests.integration.api_support import open_api
from tests.integration.authz_cases import PASSWORD, Case
from tests.integration.services_support import NOW
from tests.integration.test_authorization import CASES, World

SEED = 20261101
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# ---- the rights, from the hand-written matrix ---------------------------------------------

API_ROWS: tuple[Case, ...] = tuple(case for case in CASES if case.route.startswith("/api/"))
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def pinned(route: str, address: str) -> tuple[tuple[str, str], ...]:
    """The route's parameters a matrix row fixes by its address: the row
    ``/api/records/condition/{condition}/entered-in-error`` of the route
    ``/api/records/{kind}/{record_id}/entered-in-error`` is about kind=condition only."""
    route_parts, address_parts = route.split("/"), address.split("/")
    if len(route_parts) != len(address_parts):
        return ()
    fixed = []
    for mine, theirs in zip(route_parts, address_parts, strict=True):
        name = PLACEHOLDER.fullmatch(mine)
        if name and not PLACEHOLDER.search(theirs):
            fixed.append((name.group(1), theirs))
    return tuple(fixed)


@dataclass(frozen=True)
class Right:
    pinned: tuple[tuple[str, str], ...]
    allowed: frozenset[Role]


def _rights() -> dict[tuple[str, str], tuple[Right, ...]]:
    found: dict[tuple[str, str], list[Right]] = {}
    for case in API_ROWS:
        right = Right(pinned(case.route, case.address), case.allowed)
        found.setdefault((case.method, case.route), []).append(right)
    return {key: tuple(rights) for key, rights in found.items()}


RIGHTS = _rights()


def route_gate(method: str, route: str) -> frozenset[Role]:
    """Every role some row of the route allows: the roles the route itself must let in."""
    return frozenset().union(*(right.allowed for right in RIGHTS[(method, route)]))


def rights_of(method: str, route: str, path_parameters: dict[str, Any]) -> frozenset[Role]:
    """Who may make this request: the rows pinned to its parameters, else every row's roles."""
    rows = RIGHTS[(method, route)]
    sent = {name: str(value) for name, value in path_parameters.items()}
    fitting = [row for row in rows if row.pinned and all(sent.get(k) == v for k, v in row.pinned)]
    if not fitting:
        return route_gate(method, route)
    return frozenset().union(*(row.allowed for row in fitting))


def route_pattern(route: str) -> re.Pattern[str]:
    """``/api/patients/{patient_id}`` as a pattern naming each parameter's one segment."""
    literal = PLACEHOLDER.split(route)
    parts = [re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(literal)]
    return re.compile("".join(parts))


def reached(route: str, sent_path: str) -> bool:
    """Whether the path sent is one of the route's (a generated ``username`` holding ``/`` or
    ``..`` turns into another path, which this operation never sees)."""
    return route_pattern(route).fullmatch(sent_path) is not None


def refusal_problem(
    role: Role,
    method: str,
    route: str,
    path_parameters: dict[str, Any],
    sent_path: str,
    status: int,
    body: Any,
) -> str | None:
    """What is wrong with this answer to a role the matrix does not allow here, or None.

    Must never happen: a 2xx. The refusal is 403, decided before the request's parameters and
    body are validated or any row is looked up (FastAPI resolves the role dependency before it
    validates the route's own parameters), so a refused role learns nothing about the rows.
    Accepted besides, because the request never reached the role check:
      - the path sent is not this route's (see ``reached``): another route, or none, answered;
      - 422 ``json_invalid``, or 400: FastAPI parses a JSON body before any dependency runs;
      - 422 ``nul_character``: the app refuses text holding a NUL before any route's own
        dependency (api_common.refuse_nul_characters);
    and because the route's gate rightly let the role in, the refusal depending on the row:
      - 404 or 422 when the role passes the route's gate (``route_gate``) and only the row's
        kind is refused (a nurse marking a condition in error): the service validates, finds
        the record, then refuses its kind. Such a role may read those records anyway.
    Anything else (409, a 404 before the role check) means the route acted for the role."""
    if role in rights_of(method, route, path_parameters):
        return None
    if 200 <= status < 300:
        return f"succeeded for {role}, outside the role's rights"
    if status == 403 or not reached(route, sent_path):
        return None
    if status == 422 and _refused_before_the_routes(body):
        return None
    if status == 400 and body == {"detail": "There was an error parsing the body"}:
        return None
    if role in route_gate(method, route) and status in (404, 422):
        return None
    return f"the route acted for {role} before refusing the role (403 expected)"


def _refused_before_the_routes(body: Any) -> bool:
    errors = body.get("detail") if isinstance(body, dict) else None
    before = ("json_invalid", "nul_character")
    return (
        isinstance(errors, list)
        and bool(errors)
        and all(isinstance(e, dict) and e.get("type") in before for e in errors)
    )


# ---- the schema and the requests drawn from it --------------------------------------------

NAIVE_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$"


def accept_naive_datetimes(node: Any) -> Any:
    """KNOWN MISMATCH, reported to the lead, not fixed here: the API sends its times as naive
    UTC ("2026-11-01T09:00:00", no "Z"), while the schema says ``format: date-time``, which
    (RFC 3339) needs an offset. Changing the wire format of every time the API sends is a
    contract change across all routers and their tests. Until it is decided, the schema checked
    here also accepts exactly that naive form for ``date-time`` fields, and nothing else."""
    if isinstance(node, list):
        return [accept_naive_datetimes(item) for item in node]
    if not isinstance(node, dict):
        return node
    walked = {key: accept_naive_datetimes(value) for key, value in node.items()}
    if walked.get("format") == "date-time" and walked.get("type") == "string":
        naive = {"type": "string", "pattern": NAIVE_DATETIME}
        return {"anyOf": [walked, naive]}
    return walked


def openapi_document() -> dict[str, Any]:
    # The schema does not depend on the database: the app opens no connection until a request.
    document: dict[str, Any] = create_app("sqlite://").openapi()
    return document


@functools.cache
def loaded_schema() -> Any:
    return schemathesis.openapi.from_dict(accept_naive_datetimes(openapi_document()))


@functools.cache
def operations() -> tuple[Any, ...]:
    """Every operation of the schema, in the schema's order."""
    return tuple(result.ok() for result in loaded_schema().get_all_operations())


def _draw(strategy: st.SearchStrategy[Any], count: int, salt: int) -> list[Any]:
    drawn: list[Any] = []
    if count <= 0:
        return drawn

    @seed(SEED + salt)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: Any) -> None:
        drawn.append(case)

    # Unsatisfiable: an operation without parameters or body has no request that does not fit.
    with contextlib.suppress(Unsatisfiable):
        collect()
    return drawn[:count]


@dataclass(frozen=True)
class Drawn:
    """One operation's drawn requests: ones that fit the schema, and ones that do not."""

    fitting: tuple[Any, ...]
    unfitting: tuple[Any, ...]


@functools.cache
def drawn_for(label: str, fitting: int, unfitting: int) -> Drawn:
    """Up to ``fitting`` requests of the operation that fit the schema and ``unfitting`` that do
    not, the same on every call: each draw has a fixed seed of its own."""
    number, operation = next((n, op) for n, op in enumerate(operations()) if op.label == label)
    good = _draw(operation.as_strategy(), fitting, number)
    bad = _draw(operation.as_strategy(GenerationMode.NEGATIVE), unfitting, 10_000 + number)
    return Drawn(tuple(good), tuple(bad))


@dataclass(frozen=True)
class Budget:
    """What each operation gets, as a role.

    ``fitting``, ``unfitting``: drawn requests that fit the schema, and that do not, where the
    route lets the role in. ``refused``: drawn requests in all where it does not (the refusal
    comes before the request is looked at, so a few show it). ``matrix_when_refused``: whether
    the matrix's own requests are sent there too (test_authorization sends them already).
    ``costly``: how far requests of the COSTLY operations reach real rows: "none", "matrix"
    (the matrix's own request only) or "all" (drawn ones aimed at them too). ``draw``: how many
    to draw, when a run takes the first ones of another run's larger draw."""

    fitting: int
    unfitting: int
    refused: int
    matrix_when_refused: bool = True
    costly: Literal["none", "matrix", "all"] = "all"
    draw: tuple[int, int] | None = None


# Each success of these renders a PDF with WeasyPrint, a second or more of CPU (most of it
# subsetting fonts with fontTools), so the bounded runs send fewer of them to real rows.
COSTLY = frozenset({"GET /api/rems/forms/{form_id}/pdf", "POST /api/plans/{plan_id}/consent"})


# ---- the seeded clinic ----------------------------------------------------------------------


@dataclass(frozen=True)
class KnownRequest:
    """A matrix row's request on the seeded clinic: real row ids, a body the role may send."""

    path_parameters: dict[str, str]
    body: Any
    media_type: str | None


@dataclass(frozen=True)
class Seed:
    """What a seeded database holds for the requests: a bearer token per role, and per
    operation label the matrix's requests aimed at the targets made for them."""

    tokens: dict[Role, str]
    known: dict[str, list[KnownRequest]]


def _known_request(world: World, case: Case) -> KnownRequest:
    address = world.fill(case.address)
    match = route_pattern(case.route).fullmatch(address)
    assert match is not None, f"{case.address} filled as {address} is not {case.route}"
    if case.content is not None:
        return KnownRequest(match.groupdict(), json.loads(case.content), "application/fhir+json")
    body = world.filled(case.json) if case.json is not None else None
    return KnownRequest(match.groupdict(), body, "application/json" if body is not None else None)


def _placeholder_pdf(html: str) -> bytes:
    return b"%PDF-1.7 seeded for the generated API tests"


def seed_clinic(database_url: str) -> Seed:
    """Fill a migrated, empty database once: users and tokens, a target for every API row of the
    matrix (test_authorization.World). Each role's run gets a copy of it.

    Signing a consent renders its PDF (WeasyPrint, about a second of CPU, most of it subsetting
    fonts); the seed signs about twenty, so while seeding the consent PDF is a placeholder. The
    PDFs are not what these tests look at, and requests that sign a consent still render one."""
    with open_api(database_url) as api, patch.object(consent, "render_pdf", _placeholder_pdf):
        # The witness of a waste signs with PASSWORD: every user gets its one Argon2 hash.
        hashed = PasswordHasher().hash(PASSWORD)
        with api.clinic.work() as s:
            s.execute(update(User).values(password_hash=hashed))
        patient = api.clinic.register(birth_date=date(1986, 3, 15))
        bare = api.clinic.register("MRN-BARE")
        world = World(api, patient.id, bare.id)
        known: dict[str, list[KnownRequest]] = {}
        for case in API_ROWS:
            if case.kind == "public":  # the schema itself and its docs page: not operations
                continue
            known.setdefault(f"{case.method} {case.route}", []).append(_known_request(world, case))
        return Seed(dict(api.tokens), known)


def postgres_copy(server: str, template: str) -> str:
    """A new database on ``server`` copied from ``template`` (no one may be connected to it)."""
    name = f"{template}_{next(_copies)}"
    plain = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return f"{server}/{name}"


_copies = itertools.count()


@dataclass
class Clinic:
    """The app on a copy of the seeded database."""

    app: FastAPI
    seed: Seed

    def headers(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.seed.tokens[role]}"}


@contextmanager
def opened_clinic(database_url: str, seed: Seed) -> Iterator[Clinic]:
    """The app on ``database_url``, a copy of a seeded database, at the seed's time."""
    app = create_app(database_url, FixedClock(NOW))
    try:
        yield Clinic(app, seed)
    finally:
        # The ASGI transport started the app's lifespan, which disposes of its engine.
        shutdown_lifespans()
        app.state.engine.dispose()


# ---- sending them as a role ---------------------------------------------------------------


@dataclass
class Finding:
    role: Role
    operation: str
    status: int
    what: str
    request: str
    answer: str
    times: int = 1

    def __str__(self) -> str:
        more = f" (x{self.times})" if self.times > 1 else ""
        return (
            f"{self.role} {self.operation} -> {self.status}: {self.what}{more}\n"
            f"    request: {self.request}\n    answer: {self.answer}"
        )


@dataclass
class Tally:
    role: Role
    calls: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    # Seconds spent per operation, to show where a run's time goes.
    spent: Counter[str] = field(default_factory=Counter)
    findings: dict[tuple[str, int, str], Finding] = field(default_factory=dict)

    def found(self, finding: Finding) -> None:
        key = (finding.operation, finding.status, finding.what)
        if key in self.findings:
            self.findings[key].times += 1
        else:
            self.findings[key] = finding

    def report(self) -> str:
        return "\n".join(str(f) for f in self.findings.values())


def _with_known_ids(case: Any, known: KnownRequest) -> Any:
    """The drawn request aimed at real rows: the known path ids, and in a JSON object body,
    the known value of each field the matrix's body names that holds an id or a username."""
    body = case.body
    if isinstance(body, dict) and isinstance(known.body, dict):
        body = dict(body)
        for name, value in known.body.items():
            if name.endswith(("_id", "username")) or name == "witness":
                body[name] = _typed_like(body.get(name), value)
    return case.operation.Case(
        path_parameters={**case.path_parameters, **known.path_parameters},
        query=copy.deepcopy(case.query),
        body=body,
        media_type=case.media_type,
    )


def _typed_like(drawn: Any, known: Any) -> Any:
    if isinstance(drawn, int) and not isinstance(drawn, bool) and str(known).isdigit():
        return int(known)
    return known


def requests_for(
    operation: Any, drawn: Drawn, known: list[KnownRequest], budget: Budget, refused: bool
) -> Iterator[Any]:
    """The matrix's own requests, then the drawn ones, every other one aimed at real rows."""
    costly = operation.label in COSTLY
    send_known = (budget.matrix_when_refused or not refused) and not (
        costly and budget.costly == "none"
    )
    for request in known if send_known else []:
        yield operation.Case(
            path_parameters=dict(request.path_parameters),
            body=copy.deepcopy(request.body) if request.body is not None else NOT_SET,
            media_type=request.media_type,
        )
    if refused:
        mixed = [case for pair in zip_longest(drawn.fitting, drawn.unfitting) for case in pair]
        chosen = [case for case in mixed if case is not None][: budget.refused]
    else:
        chosen = [*drawn.fitting[: budget.fitting], *drawn.unfitting[: budget.unfitting]]
    aim = bool(known) and (not costly or budget.costly == "all")
    for number, case in enumerate(chosen):
        if aim and number % 2 == 1:
            yield _with_known_ids(case, known[number // 2 % len(known)])
        else:
            yield case


def _describe(case: Any) -> str:
    text = f"{case.method} {case.formatted_path}"
    if case.query:
        text += f" query={case.query!r}"
    body = getattr(case, "body", None)
    if body is not None and body is not NOT_SET:
        text += f" body={json.dumps(body, default=str)[:300]}"
    return text


def _sent_path(response: Any, case: Any) -> str:
    url = getattr(getattr(response, "request", None), "url", None)
    return unquote(urlsplit(str(url)).path) if url else case.formatted_path


def send_as(
    role: Role,
    clinic: Clinic,
    chosen: list[Any],
    budget: Budget,
) -> Tally:
    """The chosen operations' requests (``requests_for``) as ``role``, each answer checked."""
    tally = Tally(role)
    headers = clinic.headers(role)
    started = time.perf_counter()
    for operation in chosen:
        label = operation.label
        method, route = operation.method.upper(), operation.path
        refused = role not in route_gate(method, route)
        known = clinic.seed.known.get(label, [])
        drawn = drawn_for(label, *(budget.draw or (budget.fitting, budget.unfitting)))
        for case in requests_for(operation, drawn, known, budget, refused):
            tally.calls += 1
            began = time.perf_counter()
            _send_one(tally, role, clinic, case, headers, label, method, route)
            tally.spent[label] += time.perf_counter() - began
    tally.seconds = time.perf_counter() - started
    return tally


def _send_one(
    tally: Tally,
    role: Role,
    clinic: Clinic,
    case: Any,
    headers: dict[str, str],
    label: str,
    method: str,
    route: str,
) -> None:
    try:
        response = case.call(app=clinic.app, headers=headers)
    except Exception as exc:  # the app raised: Starlette answered 500, then re-raised it here
        tally.statuses[500] += 1
        what = f"the call raised {type(exc).__name__}: {str(exc)[:200]}"
        tally.found(Finding(role, label, 500, what, _describe(case), "(exception)"))
        return
    status = response.status_code
    tally.statuses[status] += 1
    answer = response.content[:300].decode("utf-8", "replace")
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as group:
        for failure in group.exceptions:
            title = getattr(failure, "title", type(failure).__name__)
            # The message's first paragraph says what is wrong; the rest is the schema.
            said = str(getattr(failure, "message", "")).split("\n\n")[0].replace("\n", "; ")
            what = f"{title}: {said[:200]}"
            tally.found(Finding(role, label, status, what, _describe(case), answer))
    try:
        body = response.json()
    except ValueError:
        body = None
    problem = refusal_problem(
        role, method, route, case.path_parameters, _sent_path(response, case), status, body
    )
    if problem is not None:
        tally.found(Finding(role, label, status, problem, _describe(case), answer))
