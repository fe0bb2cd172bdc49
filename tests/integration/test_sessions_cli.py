"""``ketaclinic session``: the workflow from the command line, on SQLite and PostgreSQL. Writes
are confirmed with the user's password; bad input and moves out of order exit 2 with one line
and write nothing. The command line runs on the real clock, so the clinic is opened at the real
time and its plan's first session is today."""

from __future__ import annotations

import io
from collections.abc import Iterator

import orjson
import pytest
from argon2 import PasswordHasher
from sqlalchemy import update

from ketaclinic import cli
from ketaclinic.services.clock import SystemClock
from ketaclinic.store.models import AuditEvent, User
from tests.integration.services_support import Clinic, open_clinic
from tests.integration.session_support import new_visit

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "a long enough password"


@pytest.fixture
def clinic(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clinic]:
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", database_url)
    with open_clinic(database_url) as opened:
        opened.clock.at = SystemClock().now()
        with opened.work() as s:
            s.execute(update(User).values(password_hash=CHEAP.hash(PASSWORD)))
        yield opened


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str,
    password: str = PASSWORD,
) -> tuple[int, str, str]:  # fmt: skip
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    code = cli.main(["session", *args])
    out, err = capsys.readouterr()
    return code, out, err


def as_user(role: str) -> tuple[str, ...]:
    return ("--user", role, "--password-stdin")


def test_an_iv_session_from_the_command_line(
    clinic: Clinic, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = str(new_visit(clinic).session_id)
    nurse = as_user("nurse")

    def ok(*args: str) -> str:
        code, out, err = run(capsys, monkeypatch, *args)
        assert (code, err) == (0, ""), err
        return out

    def refused(*args: str, password: str = PASSWORD) -> str:
        before = clinic.counts()
        code, out, err = run(capsys, monkeypatch, *args, password=password)
        assert (code, out) == (2, "")
        assert err.count("\n") == 1 and err.startswith("error: ")
        assert clinic.counts() == before
        return err

    assert ok("check-in", sid, *as_user("front_desk"), "--chair", "Chair 2") == (
        f"session {sid}: checked in at Chair 2\n"
    )
    refused("predose", sid, *as_user("front_desk"), "--systolic", "118", "--diastolic", "76",
            "--escort", "--no-benzodiazepine")  # fmt: skip
    out = ok("predose", sid, *nurse, "--systolic", "118", "--diastolic", "76", "--escort",
             "--no-benzodiazepine")  # fmt: skip
    assert out.endswith(": go\n")
    assert refused("dose", sid, *nurse, "--mg", "forty", "--lot", "K-1") == (
        "error: dose_mg: must be a number (got 'forty')\n"
    )
    assert refused("dose", sid, *nurse, "--mg", "40", "--lot", "K-1", "--at", "2999-01-01T00:00")
    assert ok("dose", sid, *nurse, "--mg", "40", "--lot", "K-1").endswith(": 40 mg\n")
    assert refused("vitals", sid, *nurse, "--systolic", "400", "--diastolic", "80") == (
        "error: systolic: must be between 50 and 300 mmHg (got 400)\n"
    )
    out = ok("vitals", sid, *nurse, "--spo2", "90")
    alert_line = out.splitlines()[1]
    assert alert_line.endswith(": SpO2 90 is below 92.")
    alert_id = alert_line.split()[1].rstrip(":")
    assert ok("ack", alert_id, *nurse, "--action", "oxygen 2 L, SpO2 96") == (
        f"alert {alert_id} acknowledged; session {sid}: dosing\n"
    )
    assert "observation until" in ok("end-dosing", sid, *nurse)
    err = refused("discharge", sid, *nurse, "--alert-oriented", "--escort",
                  "--no-driving-acknowledged")  # fmt: skip
    assert err.startswith("error: Discharge refused: Observation ends at ")
    assert refused("check-in", sid, *nurse) == (
        "error: A session that is observation cannot become checked in; next is discharged or "
        "ready for discharge or stopped.\n"
    )
    assert refused("ack", alert_id, *nurse, "--action", "again") == (
        "error: The alert is already acknowledged.\n"
    )
    assert refused("check-in", sid, *nurse, password="wrong").startswith("error: --user: ")

    shown = orjson.loads(ok("show", sid, "--format", "json"))
    assert (shown[0]["id"], shown[0]["state"], shown[0]["dosed_mg"]) == (
        int(sid),
        "observation",
        40,
    )
    assert "Chair 2" in ok("show", sid)
    board = orjson.loads(ok("board", "--format", "json"))
    assert [s["id"] for s in board] == [int(sid)]
    assert ok("stop", sid, *nurse, "--reason", "vomiting, sent home with escort") == (
        f"session {sid}: stopped\n"
    )
    with clinic.factory() as s:
        rows = s.query(AuditEvent).filter(AuditEvent.what.like(f"session {sid}%")).all()
        assert rows and all(r.patient_id is not None for r in rows)


def test_esketamine_confirmation_by_a_prescriber(
    clinic: Clinic, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = str(new_visit(clinic, "esketamine").session_id)
    assert run(capsys, monkeypatch, "check-in", sid, *as_user("nurse"))[0] == 0
    code, out, _ = run(capsys, monkeypatch, "predose", sid, *as_user("nurse"), "--systolic",
                       "150", "--diastolic", "80", "--escort", "--no-benzodiazepine",
                       "--fasting")  # fmt: skip
    assert code == 0 and out.splitlines()[0].endswith(": confirm")
    code, _, err = run(capsys, monkeypatch, "confirm", sid, *as_user("nurse"), "--reason", "ok")
    assert (code, err) == (2, "error: a nurse may not confirm a pre-dose check\n")
    code, out, err = run(capsys, monkeypatch, "confirm", sid, *as_user("prescriber"),
                         "--reason", "usual for her")  # fmt: skip
    assert code == 0 and out.endswith(": confirmed\n"), err
    code, out, err = run(capsys, monkeypatch, "dose", sid, *as_user("nurse"), "--mg", "28",
                         "--lot", "E-1")  # fmt: skip
    assert code == 0 and out.endswith(" 28 mg (device 1)\n"), err
