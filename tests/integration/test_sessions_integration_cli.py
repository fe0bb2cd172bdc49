"""``ketaclinic session complete``: an integration (psychotherapy) visit recorded as done from
the command line, on SQLite and PostgreSQL (issue 5). The command line runs on the real clock,
so the clinic is opened at the real time and its plan's first sessions are today."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from ketaclinic import cli
from ketaclinic.services import sessions as svc
from ketaclinic.services.clock import SystemClock
from ketaclinic.store.models import AuditEvent, User
from tests.integration.services_support import Clinic, open_clinic
from tests.integration.session_support import integration_visit, state_of, visit_in

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "a long enough password"
NOTE = "Integration: reviewed the session, journalling plan agreed"


@pytest.fixture
def clinic(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clinic]:
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", database_url)
    with open_clinic(database_url) as opened:
        opened.clock.at = SystemClock().now()
        with opened.work() as s:
            s.execute(update(User).values(password_hash=CHEAP.hash(PASSWORD)))
        yield opened


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code = cli.main(["session", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_integration_visit_is_completed_from_the_command_line(
    clinic: Clinic, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    visit = integration_visit(clinic, "checked_in")
    sid = str(visit.session_id)
    nurse = ("--user", "nurse", "--password-stdin")

    def refused(*args: str) -> str:
        before = clinic.counts()
        code, out, err = run(capsys, monkeypatch, *args)
        assert (code, out) == (2, "")
        assert err.count("\n") == 1 and err.startswith("error: ")
        assert clinic.counts() == before
        return err

    assert refused("complete", sid, *nurse, "--note", " ").startswith("error: note: ")
    refused("complete", sid, "--user", "front_desk", "--password-stdin", "--note", NOTE)
    dosing = str(visit_in(clinic, "checked_in").session_id)
    assert refused("complete", dosing, *nurse, "--note", NOTE).startswith(
        "error: Only an integration session"
    )
    assert state_of(clinic, int(dosing)) == "checked_in"
    assert state_of(clinic, visit.session_id) == "checked_in"

    code, out, err = run(capsys, monkeypatch, "complete", sid, *nurse, "--note", NOTE)
    assert (code, out, err) == (0, f"session {sid}: visit done\n", "")
    assert state_of(clinic, visit.session_id) == "discharged"
    with clinic.work() as s:
        assert svc.events_of(s, visit.session_id)[-1].reason == NOTE
        audited = s.scalars(
            select(AuditEvent).where(AuditEvent.what == f"session {sid}: visit done")
        ).all()
        assert [(a.username, a.patient_id) for a in audited] == [("nurse", visit.patient_id)]
    assert refused("complete", sid, *nurse, "--note", NOTE) == (
        "error: The session is discharged: nothing more can happen.\n"
    )
