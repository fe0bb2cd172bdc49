"""``ketaclinic plan``: make, show, change, pause, resume, end, consent; exit 2 on refusals with
one line, 1 on defects; ``--json``. The command line reads the system clock, so the patient's
records are dated from today."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ketaclinic import cli
from ketaclinic.services import plans
from ketaclinic.services.clock import FixedClock
from ketaclinic.services.users import create_user
from tests.integration.plan_support import ready_patient
from tests.integration.services_support import open_clinic

PASSWORD = "a long enough password"


@dataclass
class World:
    patient: int
    bare_patient: int
    today: str


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", database_url)
    with open_clinic(database_url) as clinic:
        # Records a few days old on the real clock, as the command line reads it.
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        clinic.clock = FixedClock(now - timedelta(minutes=5))
        with clinic.work() as s:
            create_user(s, clinic.clock, "pam", "Pam Prescriber", "prescriber", PASSWORD)
            create_user(s, clinic.clock, "nora", "Nora Nurse", "nurse", PASSWORD)
            create_user(s, clinic.clock, "fred", "Fred Desk", "front_desk", PASSWORD)
        patient = ready_patient(clinic)
        bare = clinic.register("BARE-1").id
        yield World(patient, bare, clinic.clock.now().date().isoformat())


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code = cli.main(["plan", *args, "--password-stdin"])
    out, err = capsys.readouterr()
    return code, out, err


def create_args(world: World, *extra: str) -> list[str]:
    return [
        "create", "--user", "pam", "--patient", str(world.patient), "--route", "iv",
        "--indication", "treatment_resistant_depression", "--start-on", world.today, *extra,
    ]  # fmt: skip


def test_a_plan_from_the_command_line(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:  # fmt: skip
    code, out, err = run(capsys, monkeypatch, *create_args(world, "--mg-per-kg", "0.5", "--json"))
    assert (code, err) == (0, "")
    made = json.loads(out)
    # 0.5 mg/kg x 80 kg = 40 mg; six sessions planned, waiting for consent.
    assert (made["status"], made["current"]["dose_mg"], made["on_label"]) == (
        "awaiting_consent", 40.0, False
    )  # fmt: skip
    assert len(made["current"]["schedule"]["sessions"]) == 6
    plan_id = str(made["id"])

    code, out, _ = run(capsys, monkeypatch, "show", plan_id, "--user", "nora")
    assert code == 0
    assert "dose 40 mg (0.5 mg/kg x 80 kg)" in out
    assert "billing: 96365 x 6, J3490 x 6" in out

    code, out, _ = run(capsys, monkeypatch, "consent-text", plan_id, "--user", "nora")
    assert code == 0 and "OFF-LABEL" in out and "No driving until the next day" in out

    pdf = tmp_path / "consent.pdf"
    code, out, _ = run(capsys, monkeypatch, "sign-consent", plan_id, "--user", "nora",
                       "--typed-name", "Alice Example", "--pdf", str(pdf))  # fmt: skip
    assert code == 0 and out.strip().endswith(f"plan {plan_id} active")
    assert pdf.read_bytes().startswith(b"%PDF")

    code, out, _ = run(capsys, monkeypatch, "pause", plan_id, "--user", "pam", "--reason", "away")
    assert (code, out.strip()) == (0, f"plan {plan_id}: paused")
    code, out, _ = run(capsys, monkeypatch, "resume", plan_id, "--user", "pam", "--reason", "back")
    assert (code, out.strip()) == (0, f"plan {plan_id}: active")
    code, out, _ = run(capsys, monkeypatch, "withdraw-consent", plan_id, "--user", "nora",
                       "--reason", "Changed her mind", "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["status"] == "ended"
    code, _, err = run(capsys, monkeypatch, "end", plan_id, "--user", "pam", "--reason", "x")
    assert code == 2 and err.startswith("error: ") and "ended" in err
    assert len(err.strip().splitlines()) == 1


def test_bad_input_exits_2_with_one_line(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(capsys, monkeypatch, *create_args(world, "--mg-per-kg", "abc"))
    assert (code, out) == (2, "")
    assert err.strip() == "error: mg_per_kg: is not a number ('abc')"
    code, _, err = run(capsys, monkeypatch, *create_args(world, "--mg-per-kg", "-0.5"))
    assert code == 2 and "mg_per_kg" in err
    past = (datetime.fromisoformat(world.today) - timedelta(days=1)).date().isoformat()
    args = create_args(world, "--mg-per-kg", "0.5")
    args[args.index("--start-on") + 1] = past
    code, _, err = run(capsys, monkeypatch, *args)
    assert code == 2 and "start_on: is in the past" in err


def test_a_refused_plan_exits_2(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = create_args(world, "--mg-per-kg", "0.5")
    args[args.index("--patient") + 1] = str(world.bare_patient)
    code, _, err = run(capsys, monkeypatch, *args)
    assert code == 2 and "No signed screening" in err
    args = create_args(world, "--mg-per-kg", "0.5")
    args[args.index("--user") + 1] = "nora"
    code, _, err = run(capsys, monkeypatch, *args)
    assert code == 2 and "nurse may not" in err


def test_the_front_desk_cannot_read_plans(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, monkeypatch, *create_args(world, "--mg-per-kg", "0.5", "--json"))
    plan_id = str(json.loads(out)["id"])
    code, _, err = run(capsys, monkeypatch, "show", plan_id, "--user", "fred")
    assert code == 2 and "front desk may not" in err


def test_a_defect_exits_1(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, monkeypatch, *create_args(world, "--mg-per-kg", "0.5", "--json"))
    plan_id = str(json.loads(out)["id"])

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("simulated defect")

    monkeypatch.setattr(plans, "plan_detail", broken)
    code, _, err = run(capsys, monkeypatch, "show", plan_id, "--user", "nora")
    assert code == 1 and "internal error" in err and "simulated defect" in err
