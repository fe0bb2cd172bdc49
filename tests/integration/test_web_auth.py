"""Signing in and out, sessions, CSRF, tokens, roles and the audit trail, through real HTTP
requests to the ASGI app, on SQLite and on PostgreSQL. The clock is a FixedClock: the idle
sign-out and the lockout are reached by moving it.

The admin and the prescriber have a second factor enrolled (the default policy asks it of their
roles) and type the code their phone would show; test_second_factor tests the factor itself."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI, Request
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.services import users
from ketaclinic.services.clock import FixedClock
from ketaclinic.services.errors import Conflict, NotFound
from ketaclinic.store.db import make_engine, session_factory, transaction
from ketaclinic.store.models import AuditEvent, User
from ketaclinic.web.app import create_app
from ketaclinic.web.deps import AuditDep, CurrentUser, SessionDep, audit

START = datetime(2026, 11, 2, 9, 0)
PASSWORD = "correct horse battery"
# Hashed once: Argon2id is slow on purpose, and account creation is tested in test_users.
HASH = PasswordHasher().hash(PASSWORD)
STAFF = {
    "ada": "admin",
    "pete": "prescriber",
    "nina": "nurse",
    "fred": "front_desk",
}
# The second factors of the roles that need one, made per test run.
SECRETS = {"ada": pyotp.random_base32(), "pete": pyotp.random_base32()}
NOT_ADMINS = ["pete", "nina", "fred"]
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Clinic:
    app: FastAPI
    clock: FixedClock
    factory: sessionmaker[Session]
    codes_used: dict[str, str] = field(default_factory=dict)

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)

    def count(self, model: type[User] | type[AuditEvent]) -> int:
        with self.factory() as s:
            return s.scalar(select(func.count()).select_from(model)) or 0

    def audit(self) -> list[AuditEvent]:
        with self.factory() as s:
            return list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))

    def token_for(self, username: str) -> str:
        with transaction(self.factory) as s:
            return users.issue_token(s, self.clock, users.find_user(s, username))

    def code_for(self, username: str) -> str:
        """The code the user's phone shows now. A code is good once: signing in again within
        the same 30 seconds, the user waits for the next code (the clock moves on)."""
        totp = pyotp.TOTP(SECRETS[username])
        if self.codes_used.get(username) == totp.at(self.clock.now().replace(tzinfo=UTC)):
            self.clock.advance(seconds=30)
        code = totp.at(self.clock.now().replace(tzinfo=UTC))
        self.codes_used[username] = code
        return code


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    clock = FixedClock(START)
    engine = make_engine(database_url)
    factory = session_factory(engine)
    with transaction(factory) as s:
        for username, role in STAFF.items():
            s.add(
                User(
                    username=username,
                    full_name=f"{username.title()} {role}",
                    role=role,
                    password_hash=HASH,
                    active=True,
                    failed_sign_ins=0,
                    created_at=START,
                    totp_secret=SECRETS.get(username),
                )
            )
    app = create_app(database_url, clock)
    yield Clinic(app, clock, factory)
    app.state.engine.dispose()
    engine.dispose()


def sign_in_token(client: TestClient) -> str:
    page = client.get("/sign-in")
    assert page.status_code == 200
    match = TOKEN_FIELD.search(page.text)
    assert match is not None
    return match.group(1)


def sign_in(
    client: TestClient, username: str, password: str = PASSWORD, next_path: str = "/"
) -> httpx.Response:
    """The password step (the whole sign-in for roles without a second factor)."""
    response: httpx.Response = client.post(
        "/sign-in",
        data={
            "username": username,
            "password": password,
            "csrf_token": sign_in_token(client),
            "next": next_path,
        },
    )
    return response


def type_code(clinic: Clinic, client: TestClient, username: str) -> httpx.Response:
    """The second step of signing in, for a user asked for a code."""
    token = client.cookies["ketaclinic_sign_in"]  # the sign-in form's double-submit token
    response: httpx.Response = client.post(
        "/sign-in/code", data={"code": clinic.code_for(username), "csrf_token": token}
    )
    return response


def sign_in_fully(
    clinic: Clinic, client: TestClient, username: str, next_path: str = "/"
) -> httpx.Response:
    """Password, then the code when the user's role is asked for one."""
    response = sign_in(client, username, next_path=next_path)
    if username in SECRETS:
        assert (response.status_code, response.headers["location"]) == (303, "/sign-in/code")
        response = type_code(clinic, client, username)
    return response


def signed_in(clinic: Clinic, username: str) -> tuple[TestClient, str]:
    """A browser signed in as this user, and the session's CSRF token (from the home page)."""
    client = clinic.client()
    response = sign_in_fully(clinic, client, username)
    assert response.status_code == 303
    home = client.get("/")
    assert home.status_code == 200
    match = TOKEN_FIELD.search(home.text)
    assert match is not None
    return client, match.group(1)


# Signing in


def test_the_sign_in_page_has_labelled_inputs(clinic: Clinic) -> None:
    page = clinic.client().get("/sign-in")
    assert page.status_code == 200
    assert '<label for="username">Username</label>' in page.text
    assert '<label for="password">Password</label>' in page.text
    assert 'src="/static/vendor/htmx.min.js"' in page.text
    assert "cdn" not in page.text.lower()


def test_a_page_without_a_session_redirects_to_sign_in_and_back(clinic: Clinic) -> None:
    client = clinic.client()
    response = client.get("/admin/users")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fadmin%2Fusers"
    response = sign_in_fully(clinic, client, "ada", next_path="/admin/users")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/users"


def test_sign_in_never_redirects_to_another_site(clinic: Clinic) -> None:
    client = clinic.client()
    response = sign_in_fully(clinic, client, "ada", next_path="//evil.example/")
    assert response.headers["location"] == "/"


def test_signing_in_sets_an_httponly_samesite_lax_cookie(clinic: Clinic) -> None:
    client = clinic.client()
    response = sign_in(client, "nina")
    assert response.status_code == 303
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("ketaclinic_session=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "secure" not in flags
    assert not any(f.startswith(("max-age", "expires")) for f in flags)
    me = client.get("/api/me")
    assert {k: v for k, v in me.json().items() if k != "id"} == {
        "username": "nina",
        "full_name": "Nina nurse",
        "role": "nurse",
    }


def test_the_cookie_is_secure_when_configured(
    database_url: str, clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KETACLINIC_SECURE_COOKIES", "1")
    app = create_app(database_url, clinic.clock)
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    response = sign_in(client, "nina")
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("ketaclinic_session=")
    )
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_a_wrong_password_shows_the_error_beside_the_form_and_gives_no_session(
    clinic: Clinic,
) -> None:
    client = clinic.client()
    response = sign_in(client, "nina", "not the password")
    assert response.status_code == 401
    text = response.text
    assert 'role="alert">Wrong username or password.</p>' in text
    assert 'value="nina"' in text  # the username is kept
    assert "ketaclinic_session" not in client.cookies
    assert client.get("/api/me").status_code == 401


def test_five_failures_lock_the_account_and_it_opens_after_15_minutes(clinic: Clinic) -> None:
    client = clinic.client()
    for _ in range(5):
        sign_in(client, "nina", "not the password")
    locked = sign_in(client, "nina")  # the right password, but locked
    assert locked.status_code == 401
    assert "locked after 5 failed sign-ins until 2026-11-02 09:15 UTC" in locked.text
    clinic.clock.advance(minutes=14, seconds=59)
    assert sign_in(client, "nina").status_code == 401
    clinic.clock.advance(seconds=1)
    assert sign_in(client, "nina").status_code == 303
    assert client.get("/api/me").json()["username"] == "nina"


# Sessions


def test_a_session_idle_for_15_minutes_is_signed_out(clinic: Clinic) -> None:
    client, _ = signed_in(clinic, "nina")
    clinic.clock.advance(minutes=14, seconds=59)
    assert client.get("/").status_code == 200
    # That request restarted the idle timer.
    clinic.clock.advance(minutes=14, seconds=59)
    assert client.get("/").status_code == 200
    clinic.clock.advance(minutes=15)
    response = client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2F&reason=idle"
    notice = client.get(response.headers["location"])
    assert "signed out after 15 minutes without activity" in notice.text
    # The session is over for good, not just for that request.
    assert client.get("/api/me").status_code == 401
    ended = [e for e in clinic.audit() if e.action == "sign-out"]
    assert [(e.username, e.what) for e in ended] == [("nina", "signed out after 15 minutes idle")]


def test_htmx_requests_of_a_signed_out_session_are_sent_to_the_sign_in_page(
    clinic: Clinic,
) -> None:
    client, _ = signed_in(clinic, "nina")
    clinic.clock.advance(minutes=15)
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/sign-in?next=%2F&reason=idle"


def test_signing_out_ends_the_session(clinic: Clinic) -> None:
    client, token = signed_in(clinic, "nina")
    cookie = client.cookies["ketaclinic_session"]
    response = client.post("/sign-out", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?reason=signed-out"
    # Even a copy of the old cookie no longer works.
    replay = clinic.client()
    replay.cookies.set("ketaclinic_session", cookie)
    assert replay.get("/api/me").status_code == 401
    assert [e.action for e in clinic.audit()] == ["sign-in", "sign-out"]


# CSRF


def test_a_form_post_without_the_csrf_token_is_refused_and_writes_nothing(
    clinic: Clinic,
) -> None:
    client, _ = signed_in(clinic, "ada")
    users_before, audit_before = clinic.count(User), clinic.count(AuditEvent)
    form = {
        "username": "olga",
        "full_name": "Olga Nurse",
        "role": "nurse",
        "password": PASSWORD,
    }
    missing = client.post("/admin/users", data=form)
    wrong = client.post("/admin/users", data={**form, "csrf_token": "forged"})
    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert "security token" in missing.text
    assert (clinic.count(User), clinic.count(AuditEvent)) == (users_before, audit_before)


def test_the_same_form_post_with_the_token_succeeds(clinic: Clinic) -> None:
    client, token = signed_in(clinic, "ada")
    form = {
        "username": "olga",
        "full_name": "Olga Nurse",
        "role": "nurse",
        "password": PASSWORD,
        "csrf_token": token,
    }
    response = client.post("/admin/users", data=form)
    assert response.status_code == 303
    assert clinic.count(User) == 5


def test_a_json_post_riding_on_the_cookie_needs_the_csrf_header(clinic: Clinic) -> None:
    client, token = signed_in(clinic, "ada")
    body = {"username": "olga", "full_name": "Olga Nurse", "role": "nurse", "password": PASSWORD}
    assert client.post("/api/users", json=body).status_code == 403
    assert clinic.count(User) == 4
    created = client.post("/api/users", json=body, headers={"X-CSRF-Token": token})
    assert created.status_code == 201
    assert created.json()["username"] == "olga"


def test_another_sessions_csrf_token_does_not_work(clinic: Clinic) -> None:
    admin, _ = signed_in(clinic, "ada")
    _, other_token = signed_in(clinic, "ada")
    body = {"username": "olga", "full_name": "Olga Nurse", "role": "nurse", "password": PASSWORD}
    response = admin.post("/api/users", json=body, headers={"X-CSRF-Token": other_token})
    assert response.status_code == 403
    assert clinic.count(User) == 4


def test_the_sign_in_form_needs_its_own_token(clinic: Clinic) -> None:
    client = clinic.client()
    response = client.post("/sign-in", data={"username": "nina", "password": PASSWORD})
    assert response.status_code == 403
    assert "ketaclinic_session" not in client.cookies
    assert clinic.audit() == []


# Tokens


def test_a_bearer_token_works_for_the_api(clinic: Clinic) -> None:
    token = clinic.token_for("pete")
    response = clinic.client().get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["username"] == "pete"
    assert response.json()["role"] == "prescriber"


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-real-token", "Bearer ", "Basic YWRhOnBhc3N3b3Jk", None],
)
def test_the_api_without_a_valid_token_answers_401(clinic: Clinic, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = clinic.client().get("/api/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_revoked_token_answers_401(clinic: Clinic) -> None:
    token = clinic.token_for("pete")
    with transaction(clinic.factory) as s:
        assert users.revoke_token(s, clinic.clock, token)
    response = clinic.client().get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_a_token_client_posts_without_a_csrf_token(clinic: Clinic) -> None:
    token = clinic.token_for("ada")
    body = {"username": "olga", "full_name": "Olga Nurse", "role": "nurse", "password": PASSWORD}
    response = clinic.client().post(
        "/api/users", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201


def test_a_deactivated_users_token_and_session_stop_working(clinic: Clinic) -> None:
    nurse, _ = signed_in(clinic, "nina")
    token = clinic.token_for("nina")
    admin = clinic.token_for("ada")
    response = clinic.client().post(
        "/api/users/nina/deactivate", headers={"Authorization": f"Bearer {admin}"}
    )
    assert response.status_code == 200 and response.json()["active"] is False
    assert nurse.get("/api/me").status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert clinic.client().get("/api/me", headers=bearer).status_code == 401


# Roles


ADMIN_PAGES = ["/admin/users", "/admin/audit"]
ADMIN_API = ["/api/users", "/api/audit"]


@pytest.mark.parametrize("username", NOT_ADMINS)
def test_admin_routes_refuse_every_other_role(clinic: Clinic, username: str) -> None:
    client, token = signed_in(clinic, username)
    for path in ADMIN_PAGES + ADMIN_API:
        assert client.get(path).status_code == 403, path
    bearer = {"Authorization": f"Bearer {clinic.token_for(username)}"}
    for path in ADMIN_API:
        response = clinic.client().get(path, headers=bearer)
        assert response.status_code == 403, path
        assert "needs the role admin" in response.json()["detail"]
    body = {"username": "olga", "full_name": "Olga", "role": "admin", "password": PASSWORD}
    assert client.post("/api/users", json=body, headers={"X-CSRF-Token": token}).status_code == 403
    assert clinic.count(User) == 4


def test_admin_routes_serve_an_admin(clinic: Clinic) -> None:
    client, _ = signed_in(clinic, "ada")
    for path in ADMIN_PAGES + ADMIN_API:
        assert client.get(path).status_code == 200, path
    listed = client.get("/api/users").json()
    assert [u["username"] for u in listed] == ["ada", "fred", "nina", "pete"]
    assert all("password" not in key for u in listed for key in u)


def test_the_api_without_credentials_answers_401_not_a_redirect(clinic: Clinic) -> None:
    for path in [*ADMIN_API, "/api/me"]:
        response = clinic.client().get(path)
        assert response.status_code == 401, path


def test_the_home_page_links_by_role(clinic: Clinic) -> None:
    admin, _ = signed_in(clinic, "ada")
    nurse, _ = signed_in(clinic, "nina")
    assert 'href="/admin/audit"' in admin.get("/").text
    nurse_home = nurse.get("/").text
    assert 'href="/patients"' in nurse_home
    assert 'href="/admin/audit"' not in nurse_home


# Errors


def test_bad_input_on_the_api_is_a_422_naming_the_field(clinic: Clinic) -> None:
    bearer = {"Authorization": f"Bearer {clinic.token_for('ada')}"}
    body = {"username": "olga", "full_name": "Olga", "role": "nurse", "password": "x" * 11}
    response = clinic.client().post("/api/users", json=body, headers=bearer)
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "loc": ["body", "password"],
                "msg": "must be at least 12 characters",
                "type": "value_error",
            }
        ]
    }
    taken = clinic.client().post(
        "/api/users", json={**body, "username": "nina", "password": PASSWORD}, headers=bearer
    )
    assert taken.status_code == 422
    assert taken.json()["detail"][0]["loc"] == ["body", "username"]
    assert clinic.count(User) == 4


def test_bad_input_on_a_page_is_shown_beside_the_field(clinic: Clinic) -> None:
    client, token = signed_in(clinic, "ada")
    form = {
        "username": "olga",
        "full_name": "Olga Nurse",
        "role": "nurse",
        "password": "x" * 11,
        "csrf_token": token,
    }
    response = client.post("/admin/users", data=form)
    assert response.status_code == 422
    assert (
        '<p id="new-password-error" class="error" >must be at least 12 characters</p>'
        in response.text
    )
    assert 'value="Olga Nurse"' in response.text
    assert clinic.count(User) == 4


def test_an_unexpected_error_is_a_logged_500_not_a_422(
    clinic: Clinic, caplog: pytest.LogCaptureFixture
) -> None:
    @clinic.app.get("/api/test-defect")
    def defect() -> None:
        raise ValueError("a defect, not bad input")

    client = TestClient(clinic.app, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="ketaclinic.web"):
        response = client.get("/api/test-defect")
    assert response.status_code == 500
    assert "Internal server error" in response.json()["detail"]
    assert "a defect, not bad input" in caplog.text


def test_the_openapi_documentation_is_served_under_api(clinic: Clinic) -> None:
    client = clinic.client()
    assert client.get("/api/docs").status_code == 200
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"/api/me", "/api/users", "/api/audit"} <= set(paths)


# Audit


def test_sign_ins_and_admin_reads_are_audited_with_the_address(clinic: Clinic) -> None:
    client, _ = signed_in(clinic, "ada")
    sign_in(clinic.client(), "nina", "not the password")
    client.get("/admin/users")
    client.get("/api/audit", params={"username": "nina"})
    rows = [(e.username, e.action, e.what, e.address) for e in clinic.audit()]
    assert rows == [
        ("ada", "sign-in", "password accepted; asked for the second factor's code", "testclient"),
        ("ada", "sign-in", "signed in", "testclient"),
        ("nina", "refused", "sign-in: wrong password (1 in a row)", "testclient"),
        ("ada", "read", "user list", "testclient"),
        ("ada", "read", "audit log page 1 (user nina)", "testclient"),
    ]


def test_the_audit_api_filters_and_pages(clinic: Clinic) -> None:
    client, _ = signed_in(clinic, "ada")
    clinic.clock.advance(minutes=5)
    sign_in(clinic.client(), "nina")
    found = client.get(
        "/api/audit", params={"username": "nina", "since": "2026-11-02T09:05:00Z"}
    ).json()
    assert found["total"] == 1
    assert found["events"][0]["action"] == "sign-in"
    assert found["events"][0]["at"] == "2026-11-02T09:05:00"
    assert client.get("/api/audit", params={"page": 0}).status_code == 422


def test_the_audit_page_shows_the_events_and_refuses_a_bad_filter(clinic: Clinic) -> None:
    client, _ = signed_in(clinic, "ada")
    page = client.get("/admin/audit", params={"user": "ada"})
    assert page.status_code == 200
    assert "<td>signed in</td>" in page.text
    bad = client.get("/admin/audit", params={"patient": "abc", "since": "yesterday"})
    assert bad.status_code == 422
    assert "must be a patient number" in bad.text
    assert "must be a date (YYYY-MM-DD)" in bad.text


def test_no_route_can_change_or_delete_audit_rows(clinic: Clinic) -> None:
    # Walk the included routers too: app.routes holds them unexpanded on this FastAPI.
    audit_routes = [
        (str(c.path), set(c.methods or ()))
        for c in iter_route_contexts(clinic.app.routes)
        if "audit" in str(c.path)
    ]
    assert {path for path, _ in audit_routes} >= {"/api/audit", "/admin/audit"}
    for path, methods in audit_routes:
        assert methods <= {"GET", "HEAD"}, (path, methods)
    client, token = signed_in(clinic, "ada")
    for method in ("DELETE", "PUT", "PATCH", "POST"):
        response = client.request(method, "/api/audit", headers={"X-CSRF-Token": token})
        assert response.status_code == 405, method
    with pytest.raises(DBAPIError, match="append-only"), transaction(clinic.factory) as s:
        s.execute(delete(AuditEvent))
    assert clinic.count(AuditEvent) >= 1


def test_pages_are_not_cached_and_cannot_be_framed(clinic: Clinic) -> None:
    response = clinic.client().get("/sign-in")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_routers_audit_reads_and_a_failed_write_leaves_no_audit_row(clinic: Clinic) -> None:
    """How later routers use the audit helpers: a read is recorded; a write that fails rolls
    back together with its audit row."""

    @clinic.app.get("/api/test-chart/{patient_id}")
    def chart(patient_id: int, db: SessionDep, audit_read: AuditDep) -> dict[str, int]:
        audit_read("read", "chart", patient_id)
        return {"patient": patient_id}

    @clinic.app.post("/api/test-record/{patient_id}")
    def add_record(
        patient_id: int, request: Request, db: SessionDep, actor: CurrentUser
    ) -> dict[str, int]:
        audit(request, actor, "write", "blood pressure", patient_id)
        if patient_id == 404:
            raise NotFound("no such patient")
        raise Conflict("already recorded")

    nurse, token = signed_in(clinic, "nina")
    before = clinic.count(AuditEvent)
    assert nurse.get("/api/test-chart/7").status_code == 200
    csrf = {"X-CSRF-Token": token}
    conflict = nurse.post("/api/test-record/7", headers=csrf)
    missing = nurse.post("/api/test-record/404", headers=csrf)
    assert (conflict.status_code, conflict.json()) == (409, {"detail": "already recorded"})
    assert (missing.status_code, missing.json()) == (404, {"detail": "no such patient"})
    new = clinic.audit()[before:]
    assert [(e.username, e.action, e.what, e.patient_id, e.address) for e in new] == [
        ("nina", "read", "chart", 7, "testclient")
    ]


def test_api_docs_use_our_own_swagger_files_not_a_cdn(clinic: Clinic) -> None:
    response = clinic.client().get("/api/docs")
    assert response.status_code == 200
    assert "/static/vendor/swagger-ui-bundle.js" in response.text
    assert "cdn" not in response.text.lower()
    assert clinic.client().get("/static/vendor/swagger-ui-bundle.js").status_code == 200
