"""The second factor (issue 9): prescribers and admins type a code from an authenticator app
after their password, enrol at their first sign-in, and only a right code starts a session;
sign-in attempts are rate limited per address. Real HTTP through the ASGI app, on SQLite and
PostgreSQL; time is a FixedClock that the tests move.

Codes are made here with pyotp from the secret and the server's clock, as the user's phone
makes them, not with the app's own checking code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import cli
from ketaclinic.policy import parse
from ketaclinic.services import users
from ketaclinic.services.clock import FixedClock
from ketaclinic.store.db import make_engine, session_factory, transaction
from ketaclinic.store.models import AuditEvent, PendingSignIn, User
from ketaclinic.web.app import create_app

START = datetime(2026, 11, 2, 9, 0)
PASSWORD = "correct horse battery"
HASH = PasswordHasher().hash(PASSWORD)
# Made per test run: the tests know the secret the way a phone does, after enrolment.
POLLY_SECRET = pyotp.random_base32()
ADA_SECRET = pyotp.random_base32()
STAFF: dict[str, tuple[str, str | None]] = {
    "pete": ("prescriber", None),  # not enrolled yet
    "polly": ("prescriber", POLLY_SECRET),
    "ada": ("admin", ADA_SECRET),
    "nina": ("nurse", None),
    "fred": ("front_desk", None),
}
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET_SHOWN = re.compile(r'<code id="secret">([A-Z2-7 ]+)</code>')
SESSION = "ketaclinic_session"
PENDING = "ketaclinic_pending_sign_in"


def code_at(secret: str, when: datetime) -> str:
    """The code a phone shows at this moment (the clock's naive times are UTC)."""
    return pyotp.TOTP(secret).at(when.replace(tzinfo=UTC))


def near(secret: str, when: datetime) -> set[str]:
    """The codes accepted at this moment: this step's and its two neighbours'."""
    return {code_at(secret, when + timedelta(seconds=s)) for s in (-30, 0, 30)}


def wrong_code(secret: str, when: datetime) -> str:
    """Six digits that are not a code accepted at this moment."""
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near(secret, when))


@dataclass
class Clinic:
    app: FastAPI
    clock: FixedClock
    factory: sessionmaker[Session]
    apps: list[FastAPI] = field(default_factory=list)

    def client(self, address: str = "10.0.0.1", app: FastAPI | None = None) -> TestClient:
        return TestClient(app or self.app, follow_redirects=False, client=(address, 50000))

    def user(self, username: str) -> User:
        with self.factory() as s:
            found = s.scalar(select(User).where(User.username == username))
            assert found is not None
            return found

    def audit(self) -> list[tuple[str, str, str]]:
        with self.factory() as s:
            rows = s.scalars(select(AuditEvent).order_by(AuditEvent.id))
            return [(e.username, e.action, e.what) for e in rows]

    def live_pending(self) -> int:
        with self.factory() as s:
            query = select(func.count()).where(PendingSignIn.ended_at.is_(None))
            return s.scalar(query.select_from(PendingSignIn)) or 0

    def with_policy(self, text: str) -> FastAPI:
        app = create_app(str(self.app.state.engine.url), self.clock, parse(text))
        self.apps.append(app)
        return app


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    clock = FixedClock(START)
    engine = make_engine(database_url)
    factory = session_factory(engine)
    with transaction(factory) as s:
        for username, (role, secret) in STAFF.items():
            s.add(
                User(
                    username=username,
                    full_name=username.title(),
                    role=role,
                    password_hash=HASH,
                    active=True,
                    failed_sign_ins=0,
                    created_at=START,
                    totp_secret=secret,
                )
            )
    app = create_app(database_url, clock)
    opened = Clinic(app, clock, factory)
    yield opened
    for each in [app, *opened.apps]:
        each.state.engine.dispose()
    engine.dispose()


def form_token(client: TestClient, path: str = "/sign-in") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = TOKEN_FIELD.search(page.text)
    assert match is not None
    return match.group(1)


def password_step(
    client: TestClient, username: str, password: str = PASSWORD, next_path: str = "/"
) -> httpx.Response:
    data = {"username": username, "password": password, "next": next_path}
    response: httpx.Response = client.post(
        "/sign-in", data={**data, "csrf_token": form_token(client)}
    )
    return response


def code_step(client: TestClient, code: str) -> httpx.Response:
    # The code form carries the sign-in form's double-submit token (the cookie is kept).
    token = client.cookies.get("ketaclinic_sign_in")
    assert token is not None
    response: httpx.Response = client.post(
        "/sign-in/code", data={"code": code, "csrf_token": token}
    )
    return response


def me(client: TestClient) -> Any:
    response = client.get("/api/me")
    return response.json()["username"] if response.status_code == 200 else response.status_code


# Who is asked


def test_a_prescriber_without_the_factor_reaches_no_page_after_only_the_password(
    clinic: Clinic,
) -> None:
    client = clinic.client()
    response = password_step(client, "pete", next_path="/patients")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in/code"
    assert SESSION not in client.cookies and PENDING in client.cookies
    for path in ["/", "/patients", "/board", "/ledger", "/alerts"]:
        page = client.get(path)
        assert page.status_code == 303, path
        assert page.headers["location"].startswith("/sign-in?next="), path
    assert client.get("/api/me").status_code == 401
    assert clinic.audit() == [
        ("pete", "sign-in", "password accepted; asked for enrolment of a second factor")
    ]


@pytest.mark.parametrize("username", ["nina", "fred"])
def test_nurses_and_the_front_desk_sign_in_with_the_password_only(
    clinic: Clinic, username: str
) -> None:
    client = clinic.client()
    response = password_step(client, username, next_path="/patients")
    assert response.status_code == 303
    assert response.headers["location"] == "/patients"
    assert PENDING not in client.cookies
    assert me(client) == username
    assert clinic.audit() == [(username, "sign-in", "signed in")]


def test_with_the_policy_off_for_prescribers_a_prescriber_signs_in_with_the_password(
    clinic: Clinic,
) -> None:
    app = clinic.with_policy("[access]\nsecond_factor_prescribers = false\n")
    prescriber = clinic.client(app=app)
    response = password_step(prescriber, "pete")
    assert (response.status_code, response.headers["location"]) == (303, "/")
    assert me(prescriber) == "pete"
    # Admins are still asked: the two settings are apart.
    admin = clinic.client(app=app)
    assert password_step(admin, "ada").headers["location"] == "/sign-in/code"
    assert me(admin) == 401


# Enrolment and codes


def test_enrolment_shows_a_secret_stores_it_only_after_a_right_code_then_signs_in(
    clinic: Clinic,
) -> None:
    client = clinic.client()
    password_step(client, "pete", next_path="/patients")
    page = client.get("/sign-in/code")
    assert page.status_code == 200
    assert "Set up a second factor" in page.text
    shown = SECRET_SHOWN.search(page.text)
    assert shown is not None
    groups = shown.group(1).split(" ")
    assert len(groups) == 8 and all(len(g) == 4 for g in groups)  # 32 characters, 160 bits
    secret = "".join(groups)
    address = re.search(r'id="uri" type="text" value="([^"]+)"', page.text)
    assert address is not None
    uri = urlsplit(unescape(address.group(1)))
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/ketaclinic:pete")
    assert parse_qs(uri.query) == {"secret": [secret], "issuer": ["ketaclinic"]}
    # A reload shows the same secret: the half sign-in keeps it.
    assert secret.encode() in client.get("/sign-in/code").content.replace(b" ", b"")

    wrong = code_step(client, wrong_code(secret, START))
    assert wrong.status_code == 401
    assert 'role="alert">Wrong code.</p>' in wrong.text
    assert "Set up a second factor" in wrong.text  # still enrolling, same secret
    assert clinic.user("pete").totp_secret is None
    assert me(client) == 401

    done = code_step(client, code_at(secret, START))
    assert (done.status_code, done.headers["location"]) == (303, "/patients")
    assert me(client) == "pete"
    stored = clinic.user("pete")
    assert stored.totp_secret == secret
    assert stored.failed_sign_ins == 0
    assert clinic.audit() == [
        ("pete", "sign-in", "password accepted; asked for enrolment of a second factor"),
        ("pete", "refused", "sign-in: wrong code (1 in a row)"),
        ("pete", "write", "enrolled a second factor"),
        ("pete", "sign-in", "signed in"),
    ]

    # The next sign-in asks for a code, not for enrolment.
    clinic.clock.advance(seconds=30)
    again = clinic.client()
    password_step(again, "pete")
    page = again.get("/sign-in/code")
    assert "Enter your code" in page.text and SECRET_SHOWN.search(page.text) is None
    assert code_step(again, code_at(secret, clinic.clock.now())).status_code == 303
    assert me(again) == "pete"


def test_an_enrolled_prescriber_signs_in_with_password_and_code_and_goes_where_asked(
    clinic: Clinic,
) -> None:
    client = clinic.client()
    assert password_step(client, "polly", next_path="/board").status_code == 303
    page = client.get("/sign-in/code")
    assert '<label for="code">Code</label>' in page.text
    assert 'autocomplete="one-time-code"' in page.text
    # Spaces as the app shows them ("123 456") are allowed.
    code = code_at(POLLY_SECRET, START)
    response = code_step(client, f"{code[:3]} {code[3:]}")
    assert (response.status_code, response.headers["location"]) == (303, "/board")
    assert me(client) == "polly"
    assert PENDING not in client.cookies and "ketaclinic_sign_in" not in client.cookies
    assert clinic.live_pending() == 0


def test_a_code_from_the_step_before_is_accepted_but_not_two_steps_before(
    clinic: Clinic,
) -> None:
    client = clinic.client()
    password_step(client, "polly")
    clinic.clock.advance(seconds=60)
    now = clinic.clock.now()
    two_before = code_at(POLLY_SECRET, now - timedelta(seconds=60))
    if two_before not in near(POLLY_SECRET, now):  # six digits can repeat, rarely
        assert code_step(client, two_before).status_code == 401
    one_before = code_at(POLLY_SECRET, now - timedelta(seconds=30))
    assert code_step(client, one_before).status_code == 303


def test_wrong_codes_count_toward_the_lockout_and_the_password_does_not_wipe_them(
    clinic: Clinic,
) -> None:
    wrong = wrong_code(POLLY_SECRET, START)
    client = clinic.client()
    password_step(client, "polly")
    for n in range(1, 4):
        response = code_step(client, wrong)
        assert response.status_code == 401
        assert "Wrong code." in response.text and "Enter your code" in response.text
        assert clinic.user("polly").failed_sign_ins == n
    # Typing the password again starts a new half sign-in but keeps the count.
    password_step(client, "polly")
    assert clinic.user("polly").failed_sign_ins == 3
    assert code_step(client, wrong).status_code == 401
    locking = code_step(client, wrong)
    assert locking.status_code == 401
    assert "locked after 5 failed sign-ins until 2026-11-02 09:15 UTC" in locking.text
    assert '<label for="password">Password</label>' in locking.text  # back to the password
    assert PENDING not in client.cookies
    assert clinic.live_pending() == 0
    # Locked: even the right password is refused now.
    assert password_step(client, "polly").status_code == 401
    refused = [what for who, action, what in clinic.audit() if action == "refused"]
    assert refused == [f"sign-in: wrong code ({n} in a row)" for n in range(1, 6)] + [
        "sign-in: locked"
    ]
    assert me(client) == 401


def test_a_code_already_used_is_refused_and_the_next_one_works(clinic: Clinic) -> None:
    code = code_at(POLLY_SECRET, START)
    first = clinic.client()
    password_step(first, "polly")
    assert code_step(first, code).status_code == 303
    # Someone who saw the code over her shoulder, with her password, within the same 30 s.
    second = clinic.client("10.0.0.9")
    password_step(second, "polly")
    replay = code_step(second, code)
    assert replay.status_code == 401
    assert "This code has already been used. Wait for the next code." in replay.text
    assert me(second) == 401
    assert clinic.user("polly").failed_sign_ins == 1
    assert ("polly", "refused", "sign-in: code already used (1 in a row)") in clinic.audit()
    clinic.clock.advance(seconds=30)
    assert code_step(second, code_at(POLLY_SECRET, clinic.clock.now())).status_code == 303
    assert me(second) == "polly"
    assert clinic.user("polly").failed_sign_ins == 0


def test_a_half_sign_in_lapses_after_5_minutes(clinic: Clinic) -> None:
    client = clinic.client()
    password_step(client, "polly", next_path="/board")
    clinic.clock.advance(minutes=4, seconds=59)
    assert client.get("/sign-in/code").status_code == 200
    clinic.clock.advance(seconds=1)
    gone = client.get("/sign-in/code")
    assert (gone.status_code, gone.headers["location"]) == (303, "/sign-in?reason=expired")
    notice = client.get("/sign-in?reason=expired")
    assert "The sign-in was not finished within 5 minutes." in notice.text
    before = clinic.audit()
    late = code_step(client, code_at(POLLY_SECRET, clinic.clock.now()))
    assert late.status_code == 401
    assert "not finished within 5 minutes" in late.text
    assert me(client) == 401
    # No user to speak of: nothing written, no failure counted.
    assert clinic.audit() == before
    assert clinic.user("polly").failed_sign_ins == 0


def test_the_session_cookie_after_the_code_is_new(clinic: Clinic) -> None:
    client = clinic.client()
    # Signed in already (a session cookie), then signing in again as someone else.
    password_step(client, "nina")
    old_session = client.cookies[SESSION]
    password_step(client, "polly")
    before = {old_session, *client.cookies.values()}  # session, sign-in token, half sign-in
    assert len(before) == 3
    response = code_step(client, code_at(POLLY_SECRET, START))
    assert response.status_code == 303 and me(client) == "polly"
    assert client.cookies[SESSION] not in before
    # The cookies from before are worth nothing now.
    for value in before:
        stale = clinic.client()
        stale.cookies.set(SESSION, value)
        assert me(stale) == 401


def test_the_code_form_needs_the_sign_in_token_and_writes_nothing_without_it(
    clinic: Clinic,
) -> None:
    client = clinic.client()
    password_step(client, "polly")
    before = clinic.audit()
    response = client.post("/sign-in/code", data={"code": code_at(POLLY_SECRET, START)})
    assert response.status_code == 403
    assert clinic.audit() == before and me(client) == 401
    assert clinic.user("polly").totp_last_step is None


def test_a_bearer_token_needs_no_code(clinic: Clinic) -> None:
    with transaction(clinic.factory) as s:
        token = users.issue_token(s, clinic.clock, users.find_user(s, "polly"))
    response = clinic.client().get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.json()["username"] == "polly"


# The rate limit


def test_the_eleventh_attempt_in_a_minute_from_one_address_is_refused_with_retry_after(
    clinic: Clinic,
) -> None:
    client = clinic.client("10.0.0.1")
    for _ in range(8):
        assert password_step(client, "stranger", "not the password").status_code == 401
    clinic.clock.advance(seconds=10)
    assert password_step(client, "polly").status_code == 303  # the 9th
    assert code_step(client, wrong_code(POLLY_SECRET, START)).status_code == 401  # the 10th
    before = (clinic.audit(), clinic.user("polly").failed_sign_ins)

    eleventh = password_step(client, "nina")
    assert eleventh.status_code == 429
    # Counted from the first attempt, at 09:00:00: a slot frees at 09:01:00, 50 s away.
    assert eleventh.headers["retry-after"] == "50"
    assert SESSION not in client.cookies
    code = code_step(client, code_at(POLLY_SECRET, clinic.clock.now()))
    assert code.status_code == 429
    assert (clinic.audit(), clinic.user("polly").failed_sign_ins) == before

    # Another address is not held up.
    other = clinic.client("10.0.0.2")
    assert password_step(other, "nina").status_code == 303
    assert me(other) == "nina"

    clinic.clock.advance(minutes=1)
    assert password_step(client, "nina").status_code == 303
    assert me(client) == "nina"


# The admin's reset


def test_an_admin_reset_on_the_command_line_forces_a_new_enrolment(
    clinic: Clinic,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", database_url)
    waiting = clinic.client("10.0.0.3")
    password_step(waiting, "polly")  # a sign-in waiting for its code when the reset comes
    assert cli.main(["user", "reset-second-factor", "Polly"]) == 0
    assert "reset the second factor of polly" in capsys.readouterr().out
    user = clinic.user("polly")
    assert (user.totp_secret, user.totp_last_step) == (None, None)
    assert clinic.audit()[-1] == ("command line", "write", "reset the second factor of polly")
    assert clinic.live_pending() == 0
    assert code_step(waiting, code_at(POLLY_SECRET, START)).status_code == 401

    client = clinic.client()
    password_step(client, "polly")
    page = client.get("/sign-in/code")
    shown = SECRET_SHOWN.search(page.text)
    assert shown is not None and "Set up a second factor" in page.text
    assert shown.group(1).replace(" ", "") != POLLY_SECRET
    # The old phone's code is no good for the new secret.
    assert code_step(client, code_at(POLLY_SECRET, START)).status_code == 401


def test_the_reset_command_refuses_an_unknown_user_and_says_when_there_is_nothing_to_reset(
    clinic: Clinic,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", database_url)
    assert cli.main(["user", "reset-second-factor", "nobody"]) == 2
    assert capsys.readouterr().err.strip() == "error: no user named 'nobody'"
    assert cli.main(["user", "reset-second-factor", "nina"]) == 0
    assert "nina has no second factor enrolled: nothing to reset" in capsys.readouterr().out
    assert clinic.audit() == []


# The demo clinic


def test_the_demo_enrols_its_prescriber_and_admin_with_random_secrets_and_prints_them(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", database_url)
    assert cli.main(["demo"]) == 0
    first = capsys.readouterr().out
    engine = make_engine(database_url)
    with session_factory(engine)() as s:
        secrets = {u.username: u.totp_secret for u in s.scalars(select(User))}
    engine.dispose()
    assert (secrets["nurse"], secrets["frontdesk"]) == (None, None)
    prescriber, admin = secrets["prescriber"], secrets["admin"]
    assert prescriber is not None and admin is not None and prescriber != admin
    for name, secret in (("prescriber", prescriber), ("admin", admin)):
        assert len(secret) == 32
        groups = " ".join(secret[i : i + 4] for i in range(0, 32, 4))
        assert f"{name}: key {groups}" in first
        assert f"otpauth://totp/ketaclinic:{name}?secret={secret}&issuer=ketaclinic" in first
    # Run again: nothing new, and the same keys are shown.
    assert cli.main(["demo"]) == 0
    again = capsys.readouterr().out
    assert "already seeded" in again and prescriber in again.replace(" ", "")

    # The demo prescriber signs in with the printed password and a code from the printed key.
    clock = FixedClock(START)
    app = create_app(database_url, clock)
    try:
        client = TestClient(app, follow_redirects=False)
        password_step(client, "prescriber", "demo-prescriber-pass")
        assert code_step(client, code_at(prescriber, START)).status_code == 303
        assert me(client) == "prescriber"
    finally:
        app.state.engine.dispose()
