"""Generated API requests (schemathesis over /api/openapi.json), signed in as each role, over
every operation, on SQLite and (fewer requests) PostgreSQL: no answer is a 5xx, every answer's
status code, content type and body are the ones the schema documents, and nothing outside the
role's rights succeeds (the rights written by hand in the authorization matrix).

How the requests are made and judged: api_generated_support.py. The long run, 200 drawn
requests per operation and role: ``.venv/bin/python bench/api_fuzz.py``.

Each role sends its requests to an app of its own on a copy of one seeded database (seeded
once per kind of database), so one role's writes never change another's answers, and the
answers, like the drawn requests, are the same on every run.
"""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ketaclinic.services.actor import Role
from tests.integration import api_generated_support as generated
from tests.integration import authz_home, authz_rems
from tests.integration.api_generated_support import Budget, Seed
from tests.integration.api_support import field_errors, open_api
from tests.integration.authz_cases import ROLES
from tests.integration.test_authorization import World

# make test, per operation and role: on SQLite the matrix's own requests, 3 drawn requests that
# fit the schema and 1 that does not, 2 where the role may not use the route at all. On
# PostgreSQL, smaller: the first 1 and 1 of the same, 1 where refused (without the matrix's
# requests: test_authorization sends them), and no PDF rendered.
SQLITE = Budget(fitting=3, unfitting=1, refused=2, costly="matrix")
POSTGRES = Budget(
    fitting=1, unfitting=1, refused=1, matrix_when_refused=False, costly="none", draw=(3, 1)
)
# The operations are sent in slices, each on a fresh copy of the seeded database, so that no
# one test runs long.
SLICES = 3


@dataclass
class Seeded:
    seed: Seed
    budget: Budget
    fresh_copy: Callable[[], str]


_copies = itertools.count()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """One seeded database of each kind for the module; every role's run gets a copy."""
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("generated")
        template = folder / "seeded.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), template)
        seed = generated.seed_clinic(f"sqlite:///{template}")

        def sqlite_copy() -> str:
            path: Path = folder / f"run{next(_copies)}.db"
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"

        return Seeded(seed, SQLITE, sqlite_copy)
    server: str = request.getfixturevalue("postgres_server")
    migrated: str = request.getfixturevalue("migrated_postgres")
    url = generated.postgres_copy(server, migrated)
    seed = generated.seed_clinic(url)
    template = url.rsplit("/", 1)[1]
    return Seeded(seed, POSTGRES, lambda: generated.postgres_copy(server, template))


def _slice(part: int) -> list[Any]:
    operations = generated.operations()
    size = -(-len(operations) // SLICES)
    return list(operations[part * size : (part + 1) * size])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("part", range(SLICES))
def test_generated_requests_as_each_role(seeded: Seeded, part: int, role: Role) -> None:
    chosen = _slice(part)
    with generated.opened_clinic(seeded.fresh_copy(), seeded.seed) as clinic:
        tally = generated.send_as(role, clinic, chosen, seeded.budget)
    if tally.findings:
        pytest.fail(f"{len(tally.findings)} problems found:\n{tally.report()}", pytrace=False)
    # The run meant something: the role stayed signed in, every operation was called, and
    # where the matrix lets the role do something here, something succeeded.
    assert tally.statuses[401] == 0
    assert tally.calls >= len(chosen)
    if any(_may_use(role, operation, seeded.seed) for operation in chosen):
        assert sum(n for status, n in tally.statuses.items() if 200 <= status < 300) > 0


def _may_use(role: Role, operation: Any, seed: Seed) -> bool:
    method, route = operation.method.upper(), operation.path
    return any(
        role in generated.rights_of(method, route, known.path_parameters)
        for known in seed.known.get(operation.label, [])
    )


def test_every_operation_of_the_schema_is_in_the_rights_matrix() -> None:
    """A new API route fails here until its roles are written into the matrix
    (tests/integration/authz_<area>.py, or test_authorization.CASES)."""
    in_schema = {(op.method.upper(), op.path) for op in generated.operations()}
    missing = sorted(in_schema - set(generated.RIGHTS))
    assert missing == [], f"operations missing from the authorization matrix: {missing}"
    # The matrix's API rows not in the schema are the schema and its docs page (public).
    extra = set(generated.RIGHTS) - in_schema
    assert extra == {("GET", "/api/openapi.json"), ("GET", "/api/docs")}


def test_rights_are_read_from_the_rows_of_the_matrix() -> None:
    entered_in_error = "/api/records/{kind}/{record_id}/entered-in-error"
    # Nurses may mark an observation in error, only prescribers any other kind (issue 4).
    assert generated.rights_of("POST", entered_in_error, {"kind": "observation"}) == {
        "prescriber",
        "nurse",
    }
    assert generated.rights_of("POST", entered_in_error, {"kind": "condition"}) == {"prescriber"}
    assert generated.route_gate("POST", entered_in_error) == {"prescriber", "nurse"}
    assert generated.rights_of("GET", "/api/users", {}) == {"admin"}
    assert generated.rights_of("GET", "/api/ledger/lots", {}) == {"prescriber", "nurse", "admin"}


CHART = "/api/patients/{patient_id}/chart"
CONDITIONS = "/api/patients/{patient_id}/conditions"
IN_ERROR = "/api/records/{kind}/{record_id}/entered-in-error"


@pytest.mark.parametrize(
    ("role", "method", "route", "params", "sent", "status", "body", "wrong"),
    [
        # Succeeding outside the role's rights is what must never happen.
        ("admin", "GET", CHART, {"patient_id": 1}, "/api/patients/1/chart", 200, {}, True),
        ("front_desk", "POST", CONDITIONS, {"patient_id": 1}, "/api/patients/1/conditions",
         201, {}, True),
        ("nurse", "POST", IN_ERROR, {"kind": "condition", "record_id": 3},
         "/api/records/condition/3/entered-in-error", 200, {}, True),
        # A refusal is 403 ...
        ("admin", "GET", CHART, {"patient_id": 1}, "/api/patients/1/chart", 403, {}, False),
        # ... decided before the row is looked up or the body validated.
        ("admin", "GET", CHART, {"patient_id": 9}, "/api/patients/9/chart", 404, {}, True),
        ("front_desk", "POST", CONDITIONS, {"patient_id": 1}, "/api/patients/1/conditions",
         422, {"detail": [{"type": "missing", "loc": ["body"], "msg": "x"}]}, True),
        ("nurse", "POST", CONDITIONS, {"patient_id": 1}, "/api/patients/1/conditions",
         409, {}, True),
        # Not refusals, the request never reached the role check: a body that is not JSON ...
        ("front_desk", "POST", CONDITIONS, {"patient_id": 1}, "/api/patients/1/conditions",
         422, {"detail": [{"type": "json_invalid", "loc": ["body", 0], "msg": "x"}]}, False),
        # ... or a path that is another route's.
        ("nurse", "POST", "/api/users/{username}/deactivate", {"username": "a/b"},
         "/api/users/a/b/deactivate", 404, {}, False),
        # The route lets nurses in; the service refuses the kind after finding the record.
        ("nurse", "POST", IN_ERROR, {"kind": "condition", "record_id": 99},
         "/api/records/condition/99/entered-in-error", 404, {}, False),
        # Within the role's rights, nothing here to say.
        ("prescriber", "GET", CHART, {"patient_id": 1}, "/api/patients/1/chart", 200, {}, False),
    ],
)  # fmt: skip
def test_an_answer_outside_the_role_s_rights_is_found(
    role: Role,
    method: str,
    route: str,
    params: dict[str, object],
    sent: str,
    status: int,
    body: object,
    wrong: bool,
) -> None:
    problem = generated.refusal_problem(role, method, route, params, sent, status, body)
    assert (problem is not None) == wrong, problem


def test_the_checked_schema_relaxes_only_naive_date_times() -> None:
    relaxed = generated.accept_naive_datetimes(
        {"a": {"type": "string", "format": "date-time"}, "b": {"type": "string", "format": "date"}}
    )
    assert relaxed["b"] == {"type": "string", "format": "date"}
    naive = relaxed["a"]["anyOf"][1]["pattern"]
    assert re.fullmatch(naive, "2026-11-01T09:00:00")
    assert not re.fullmatch(naive, "2026-11-01")


# ---- defects the generated requests found, pinned ------------------------------------------


def test_a_row_id_out_of_range_is_bad_input_not_a_crash(database_url: str) -> None:
    """Ids run from 1 to 2**31 - 1 (PostgreSQL's INTEGER); SQLite could not even bind a number
    past 2**63 - 1 and answered 500. Now any other number is a 422 naming the field."""
    with open_api(database_url) as api:
        for path in (
            "/api/patients/2147483648",
            "/api/patients/0",
            "/api/patients/-9223372036854775809/chart",
            "/api/records/condition/99999999999999999999/history",
        ):
            assert field_errors(api.get("prescriber", path))[0][0] == "path", path
        huge_page = api.get("front_desk", "/api/patients", page=2**63)
        assert field_errors(huge_page) == [("query", "page")]
        given = api.post("nurse", "/api/ledger/administer", {"lot_id": 2**63, "patient_id": 1,
                                                               "dose_mg": "35"})  # fmt: skip
        assert ("body", "lot_id") in field_errors(given)
        # The largest id is an id: of no patient.
        assert api.get("prescriber", "/api/patients/2147483647").status_code == 404


def test_home_times_given_with_an_offset_are_taken_as_utc(database_url: str) -> None:
    """A PDMP check's time with an offset was compared with the naive UTC clock: a 500."""
    with open_api(database_url) as api:
        patient = api.clinic.register(birth_date=date(1986, 3, 15))
        plan = authz_home.MAKERS["home_plan"](World(api, patient.id, patient.id))
        # 10:30 at +02:00 is 08:30 UTC, half an hour before the clinic's clock (09:00 UTC).
        body = {"result": "clear", "checked_at": "2026-11-01T10:30:00+02:00"}
        checked = api.post("prescriber", f"/api/plans/{plan}/home/pdmp", body)
        assert checked.status_code == 201, checked.text
        assert checked.json()["checked_at"] == "2026-11-01T08:30:00"
        # 09:30 UTC is after the clinic's clock: in the future.
        body = {"result": "clear", "checked_at": "2026-11-01T09:30:00Z"}
        later = api.post("prescriber", f"/api/plans/{plan}/home/pdmp", body)
        assert field_errors(later) == [("body", "checked_at")]
        # 20:00 at -05:00 is 01:00 UTC the next day.
        due = api.post("nurse", f"/api/plans/{plan}/home/schedule",
                       {"due_at": "2026-11-01T20:00:00-05:00"})  # fmt: skip
        assert due.status_code == 201, due.text
        assert due.json()["due_at"] == "2026-11-02T01:00:00"


def test_a_rems_ready_time_with_an_offset_is_the_same_time_in_utc(database_url: str) -> None:
    """The REMS form's "ready to leave" time with an offset was compared with naive times: a
    500. Now 11:00 at +02:00 gives the form exactly what 09:00 (UTC) gives."""
    with open_api(database_url) as api:
        patient = api.clinic.register(birth_date=date(1986, 3, 15))
        session = authz_rems.MAKERS["rems_session"](World(api, patient.id, patient.id))
        path = f"/api/rems/sessions/{session}/form"
        with_offset = api.post("nurse", path, {"ready_at": "2026-11-01T11:00:00+02:00"})
        in_utc = api.post("nurse", path, {"ready_at": "2026-11-01T09:00:00"})
        assert with_offset.status_code == in_utc.status_code
        assert with_offset.status_code in (200, 422), with_offset.text
        assert (
            with_offset.json()["fields" if in_utc.status_code == 200 else "detail"]
            == (in_utc.json()["fields" if in_utc.status_code == 200 else "detail"])
        )


def test_text_holding_a_nul_is_bad_input_on_both_databases(database_url: str) -> None:
    """PostgreSQL refuses a NUL in any string, stored or searched for: a REMS reference and a
    questionnaire scale holding one were a 500 there. Now the API refuses it, naming where."""
    with open_api(database_url) as api:
        patient = api.new_patient()
        said = "contains a NUL character (\\x00), which no text may hold"
        body = {"patient_id": patient, "reference": "P-\x001", "enrolled_on": "2026-10-01"}
        enrolled = api.post("nurse", "/api/rems/enrolments", body)
        assert enrolled.status_code == 422, enrolled.text
        assert [(e["loc"], e["msg"]) for e in enrolled.json()["detail"]] == [
            (["body", "reference"], said)
        ]
        listed = api.get("nurse", f"/api/patients/{patient}/questionnaires", scale="phq\x009")
        assert field_errors(listed) == [("query", "scale")]
        condition = {"code": "F33.1", "display": "MDD", "notes": ["ok", {"x\x00": 1}]}
        nested = api.post("prescriber", f"/api/patients/{patient}/conditions", condition)
        assert field_errors(nested) == [("body", "notes", "1", "x\x00")]
        # Nothing was written: the request stopped before the routes.
        assert api.get("nurse", f"/api/patients/{patient}/conditions").json() == []
