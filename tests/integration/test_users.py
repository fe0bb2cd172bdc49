"""Accounts, sign-in with lockout, API tokens and the audit trail, on SQLite and PostgreSQL.

Times come from a FixedClock: the 15-minute lock and its release are reached by moving the
clock, never by sleeping.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import cli
from ketaclinic.services import audit, users
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import FixedClock
from ketaclinic.services.errors import Forbidden, InvalidInput
from ketaclinic.store.db import make_engine, session_factory, transaction
from ketaclinic.store.models import ApiToken, AuditEvent, User

START = datetime(2026, 11, 2, 9, 0)
PASSWORD = "correct horse battery"  # 21 characters
ADDRESS = "10.0.0.7"


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


def add_user(
    factory: sessionmaker[Session], clock: FixedClock, username: str = "nina", role: str = "nurse"
) -> int:
    with transaction(factory) as s:
        return users.create_user(s, clock, username, "Nina Nurse", role, PASSWORD).id


def sign_in(
    factory: sessionmaker[Session], clock: FixedClock, password: str, username: str = "nina"
) -> User | users.SignInRefused:
    """One attempt, committed whatever its outcome (as the sign-in page does)."""
    with transaction(factory) as s:
        try:
            return users.authenticate(s, clock, username, password, ADDRESS)
        except users.SignInRefused as refused:
            return refused


def stored(factory: sessionmaker[Session], username: str = "nina") -> User:
    with factory() as s:
        user = s.scalar(select(User).where(User.username == username))
        assert user is not None
        return user


def audit_rows(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with factory() as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))


# Creating accounts


def test_a_password_of_12_characters_is_accepted_and_stored_as_an_argon2id_hash(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with transaction(factory) as s:
        users.create_user(s, clock, "Nina", "Nina Nurse", "nurse", "x" * 12)
    user = stored(factory, "nina")  # usernames are kept in lower case
    assert user.password_hash.startswith("$argon2id$")
    assert "x" * 12 not in user.password_hash
    assert (user.role, user.active, user.failed_sign_ins, user.created_at) == (
        "nurse",
        True,
        0,
        START,
    )


def test_a_password_of_11_characters_is_refused(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with pytest.raises(InvalidInput) as refused, transaction(factory) as s:
        users.create_user(s, clock, "nina", "Nina Nurse", "nurse", "x" * 11)
    assert refused.value.field == "password"
    assert "at least 12 characters" in refused.value.message
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0


def test_a_taken_username_is_refused_whatever_its_case(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    add_user(factory, clock, "nina")
    with pytest.raises(InvalidInput) as refused, transaction(factory) as s:
        users.create_user(s, clock, "NINA", "Another Nina", "prescriber", PASSWORD)
    assert refused.value.field == "username"
    assert "already taken" in refused.value.message


@pytest.mark.parametrize(
    ("username", "full_name", "role", "field"),
    [
        ("nina", "Nina", "doctor", "role"),
        ("nina", "   ", "nurse", "full_name"),
        ("n", "Nina", "nurse", "username"),
        ("nina nurse", "Nina", "nurse", "username"),
    ],
)
def test_bad_account_details_are_refused_with_the_field(
    factory: sessionmaker[Session],
    clock: FixedClock,
    username: str,
    full_name: str,
    role: str,
    field: str,
) -> None:
    with pytest.raises(InvalidInput) as refused, transaction(factory) as s:
        users.create_user(s, clock, username, full_name, role, PASSWORD)
    assert refused.value.field == field


# Signing in


def test_the_right_password_signs_in_and_is_audited_with_the_address(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    user_id = add_user(factory, clock)
    result = sign_in(factory, clock, PASSWORD)
    assert isinstance(result, User) and result.id == user_id
    [row] = audit_rows(factory)
    assert (row.at, row.user_id, row.username, row.action, row.address) == (
        START,
        user_id,
        "nina",
        "sign-in",
        ADDRESS,
    )


def test_a_wrong_password_is_refused_counted_and_audited(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    add_user(factory, clock)
    result = sign_in(factory, clock, PASSWORD + "!")
    assert isinstance(result, users.SignInRefused)
    assert result.message == "Wrong username or password."
    assert stored(factory).failed_sign_ins == 1
    assert [r.action for r in audit_rows(factory)] == ["refused"]


def test_an_unknown_username_gets_the_same_answer_as_a_wrong_password(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    result = sign_in(factory, clock, PASSWORD, username="nobody")
    assert isinstance(result, users.SignInRefused)
    assert result.message == "Wrong username or password."
    [row] = audit_rows(factory)
    assert (row.username, row.user_id, row.action, row.address) == (
        "nobody",
        None,
        "refused",
        ADDRESS,
    )


def test_four_failures_do_not_lock_and_a_success_resets_the_count(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    add_user(factory, clock)
    for _ in range(4):
        assert isinstance(sign_in(factory, clock, "wrong password!"), users.SignInRefused)
    assert stored(factory).failed_sign_ins == 4
    assert isinstance(sign_in(factory, clock, PASSWORD), User)
    assert stored(factory).failed_sign_ins == 0
    # The count starts again: four more failures still do not lock.
    for _ in range(4):
        sign_in(factory, clock, "wrong password!")
    assert stored(factory).locked_until is None


def test_five_failures_lock_the_account_for_15_minutes(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    add_user(factory, clock)
    for _ in range(4):
        sign_in(factory, clock, "wrong password!")
    fifth = sign_in(factory, clock, "wrong password!")
    assert isinstance(fifth, users.SignInRefused)
    assert fifth.locked_until == datetime(2026, 11, 2, 9, 15)
    assert "locked" in fifth.message and "until 2026-11-02 09:15 UTC" in fifth.message

    # While locked, even the right password is refused, with the time it ends.
    clock.advance(minutes=14, seconds=59)
    locked = sign_in(factory, clock, PASSWORD)
    assert isinstance(locked, users.SignInRefused)
    assert "until 2026-11-02 09:15 UTC" in locked.message

    clock.advance(seconds=1)  # 15 minutes after the fifth failure
    assert isinstance(sign_in(factory, clock, PASSWORD), User)
    user = stored(factory)
    assert (user.failed_sign_ins, user.locked_until) == (0, None)


def test_after_a_lock_runs_out_a_wrong_password_starts_a_new_count(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    add_user(factory, clock)
    for _ in range(5):
        sign_in(factory, clock, "wrong password!")
    clock.advance(minutes=15)
    again = sign_in(factory, clock, "wrong password!")
    assert isinstance(again, users.SignInRefused) and again.locked_until is None
    user = stored(factory)
    assert (user.failed_sign_ins, user.locked_until) == (1, None)


def test_a_deactivated_account_cannot_sign_in(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    add_user(factory, clock, "ada", "admin")
    add_user(factory, clock, "nina", "nurse")
    with transaction(factory) as s:
        admin = users.actor_for(users.find_user(s, "ada"))
        users.deactivate_user(s, admin, clock, "nina")
    refused = sign_in(factory, clock, PASSWORD)
    assert isinstance(refused, users.SignInRefused)
    assert "deactivated" in refused.message


# Tokens


def test_a_token_is_shown_once_and_only_its_sha256_is_stored(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    user_id = add_user(factory, clock)
    with transaction(factory) as s:
        token = users.issue_token(s, clock, users.find_user(s, "nina"))
    with factory() as s:
        [row] = s.scalars(select(ApiToken)).all()
        assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
        assert token not in row.token_sha256
        found = users.user_for_token(s, token)
        assert found is not None and found.id == user_id
        assert users.user_for_token(s, token + "x") is None
        assert users.user_for_token(s, "") is None


def test_a_revoked_token_and_a_deactivated_users_token_stop_working(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    add_user(factory, clock, "ada", "admin")
    add_user(factory, clock, "nina", "nurse")
    with transaction(factory) as s:
        first = users.issue_token(s, clock, users.find_user(s, "nina"))
        second = users.issue_token(s, clock, users.find_user(s, "nina"))
    with transaction(factory) as s:
        assert users.revoke_token(s, clock, first) is True
        assert users.revoke_token(s, clock, first) is False
    with factory() as s:
        assert users.user_for_token(s, first) is None
        assert users.user_for_token(s, second) is not None
    with transaction(factory) as s:
        users.deactivate_user(s, users.actor_for(users.find_user(s, "ada")), clock, "nina")
    with factory() as s:
        assert users.user_for_token(s, second) is None


# Listing users


def test_only_an_admin_lists_users_and_the_read_is_audited(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    add_user(factory, clock, "ada", "admin")
    add_user(factory, clock, "nina", "nurse")
    with transaction(factory) as s:
        nurse = users.actor_for(users.find_user(s, "nina"), ADDRESS)
        with pytest.raises(Forbidden):
            users.list_users(s, nurse, clock)
        admin = users.actor_for(users.find_user(s, "ada"), ADDRESS)
        assert [u.username for u in users.list_users(s, admin, clock)] == ["ada", "nina"]
    [row] = audit_rows(factory)
    assert (row.username, row.action, row.what, row.address) == (
        "ada",
        "read",
        "user list",
        ADDRESS,
    )


# The audit trail


NURSE = Actor(7, "nina", "nurse", "10.0.0.7")
PRESCRIBER = Actor(8, "pete", "prescriber", "10.0.0.8")
ADMIN = Actor(9, "ada", "admin", "10.0.0.9")


def test_audit_rows_record_who_when_what_which_patient_and_where(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with transaction(factory) as s:
        audit.record(s, NURSE, clock, "read", "chart", patient_id=42)
    [row] = audit_rows(factory)
    assert (row.at, row.user_id, row.username, row.action, row.what, row.patient_id) == (
        START,
        7,
        "nina",
        "read",
        "chart",
        42,
    )
    assert row.address == "10.0.0.7"


def test_an_audit_row_rolls_back_with_the_write_it_describes(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with pytest.raises(RuntimeError), transaction(factory) as s:
        audit.record(s, NURSE, clock, "write", "blood pressure", patient_id=42)
        raise RuntimeError("the write failed")
    assert audit_rows(factory) == []


def test_the_audit_log_is_filtered_by_patient_user_and_time_newest_first(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with transaction(factory) as s:
        audit.record(s, NURSE, clock, "read", "chart", 1)  # 09:00
        clock.advance(minutes=10)
        audit.record(s, PRESCRIBER, clock, "write", "screening", 1)  # 09:10
        clock.advance(minutes=10)
        audit.record(s, NURSE, clock, "read", "chart", 2)  # 09:20
    with transaction(factory) as s:
        # First, before the admin's own reads add rows of their own.
        since = audit.query(s, ADMIN, clock, since=datetime(2026, 11, 2, 9, 10))
        assert [e.what for e in since.events] == ["chart", "screening"]
        assert since.total == 2
        by_patient = audit.query(s, ADMIN, clock, patient_id=1)
        assert [(e.username, e.what) for e in by_patient.events] == [
            ("pete", "screening"),
            ("nina", "chart"),
        ]
        by_user = audit.query(s, ADMIN, clock, username="nina")
        assert [e.patient_id for e in by_user.events] == [2, 1]


def test_the_audit_log_is_paged(factory: sessionmaker[Session], clock: FixedClock) -> None:
    with transaction(factory) as s:
        for minute in range(5):
            audit.record(s, NURSE, clock, "read", f"chart {minute}", 1)
            clock.advance(minutes=1)
    with transaction(factory) as s:
        first = audit.query(s, ADMIN, clock, patient_id=1, per_page=2)
        third = audit.query(s, ADMIN, clock, patient_id=1, page=3, per_page=2)
    assert [e.what for e in first.events] == ["chart 4", "chart 3"]
    assert [e.what for e in third.events] == ["chart 0"]
    assert (first.total, first.pages) == (5, 3)


def test_only_an_admin_reads_the_audit_log_and_each_read_is_itself_audited(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with pytest.raises(Forbidden), transaction(factory) as s:
        audit.query(s, PRESCRIBER, clock)
    with transaction(factory) as s:
        assert audit.query(s, ADMIN, clock, patient_id=3).total == 0
    [row] = audit_rows(factory)
    assert (row.username, row.action, row.patient_id) == ("ada", "read", None)
    assert "patient 3" in row.what


@pytest.mark.parametrize("change", ["update", "delete"])
def test_audit_rows_cannot_be_changed_or_deleted_through_the_orm(
    factory: sessionmaker[Session], clock: FixedClock, change: str
) -> None:
    with transaction(factory) as s:
        event_id = audit.record(s, NURSE, clock, "read", "chart", 1).id
    with pytest.raises(DBAPIError, match="append-only"), transaction(factory) as s:
        event = s.get(AuditEvent, event_id)
        assert event is not None
        if change == "update":
            event.what = "nothing to see"
        else:
            s.delete(event)
        s.flush()
    with pytest.raises(DBAPIError, match="append-only"), transaction(factory) as s:
        if change == "update":
            s.execute(update(AuditEvent).values(patient_id=None))
        else:
            s.execute(delete(AuditEvent))
    [row] = audit_rows(factory)
    assert (row.what, row.patient_id) == ("chart", 1)


def test_a_too_long_action_is_a_defect_not_a_lost_row(
    factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with pytest.raises(ValueError, match="audit action"), transaction(factory) as s:
        audit.record(s, NURSE, clock, "read-and-write", "chart", 1)


# Command line


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", database_url)
    return database_url


def test_user_add_reads_the_password_from_stdin_and_token_prints_a_working_token(
    cli_database: str,
    factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code = cli.main(
        ["user", "add", "ada", "--role", "admin", "--name", "Ada Admin", "--password-stdin"]
    )
    assert code == 0
    assert "created ada (admin)" in capsys.readouterr().out

    assert cli.main(["user", "token", "ada"]) == 0
    token = capsys.readouterr().out.strip()
    with factory() as s:
        found = users.user_for_token(s, token)
        assert found is not None and found.username == "ada"
    clock = FixedClock(START + timedelta(days=365))  # any time: the stored hash is what counts
    result = sign_in(factory, clock, PASSWORD, username="ada")
    assert isinstance(result, User) and result.role == "admin"


def test_user_add_refuses_a_short_password_with_exit_2_and_writes_nothing(
    cli_database: str,
    factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("too short\n"))
    code = cli.main(["user", "add", "ada", "--role", "admin", "--name", "Ada", "--password-stdin"])
    assert code == 2
    assert capsys.readouterr().err.strip() == "error: password: must be at least 12 characters"
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_token_for_an_unknown_user_exits_2(
    cli_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["user", "token", "nobody"]) == 2
    assert "no user named 'nobody'" in capsys.readouterr().err


def test_the_audit_command_filters_by_patient_and_user(
    cli_database: str, factory: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FixedClock(START)
    with transaction(factory) as s:
        audit.record(s, NURSE, clock, "read", "chart", 1)
        audit.record(s, PRESCRIBER, clock, "write", "screening", 1)
        audit.record(s, NURSE, clock, "read", "chart", 2)
    assert cli.main(["audit", "--patient", "1", "--user", "nina"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == ["2026-11-02 09:00:00\tnina\tread\tchart\tpatient 1\t10.0.0.7"]
