"""The home programme in the web app (API and pages) and on the command line, on SQLite and
PostgreSQL: PDMP check, prescription, check-in, diary dose; refusals 422 / exit 2 with nothing
written; reads and writes audited with the plan's patient.

The plan is an oral plan of 100 mg (rems_rows.plan_row); the clinic's day 2026-11-01 09:00.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update

from ketaclinic import cli
from ketaclinic.services.clock import SystemClock
from ketaclinic.store.models import User
from tests.integration.api_support import Api, field_errors, open_api
from tests.integration.rems_rows import plan_row
from tests.integration.services_support import Clinic, open_clinic

PASSWORD = "correct horse battery"


@pytest.fixture
def web(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def oral(clinic: Clinic, mrn: str = "HW-1") -> tuple[int, int]:
    patient = clinic.register(mrn)
    return patient.id, plan_row(clinic, patient.id, "oral", 100)


def test_api_pdmp_prescription_checkin_dose(web: Api) -> None:
    patient_id, plan_id = oral(web.clinic)
    base = f"/api/plans/{plan_id}/home"
    seen = len(web.audit())
    before = web.counts()
    no_check = web.post("prescriber", f"{base}/prescriptions", {"dose_mg": 100, "doses": 4})
    assert field_errors(no_check) == [("body", "pdmp")]
    assert web.counts() == before
    assert web.post("nurse", f"{base}/pdmp", {"result": "clear"}).status_code == 403
    check = web.post("prescriber", f"{base}/pdmp", {"result": "clear"})
    assert check.status_code == 201, check.text
    above = web.post("prescriber", f"{base}/prescriptions", {"dose_mg": 120, "doses": 4})
    assert field_errors(above) == [("body", "dose_mg")]
    written = web.post("prescriber", f"{base}/prescriptions", {"dose_mg": 100, "doses": 4})
    assert written.status_code == 201, written.text
    prescription = written.json()["id"]

    dose = {"prescription_id": prescription, "dose_mg": 100}
    assert field_errors(web.post("nurse", f"{base}/doses", dose)) == [("body", "checkin")]
    answers = {"sitter_present": True, "no_driving": True, "side_effects": "none"}
    assert web.post("nurse", f"{base}/checkins", answers).status_code == 201
    taken = web.post("nurse", f"{base}/doses", dose)
    assert taken.status_code == 201, taken.text
    assert taken.json()["reported_by"] == "patient"

    shown = web.get("nurse", base).json()
    assert (shown["patient_id"], shown["plan_dose_mg"]) == (patient_id, 100.0)
    assert shown["prescriptions"][0]["doses_taken"] == 1
    assert [e.what for e in web.audit()[seen:] if e.patient_id == patient_id] == [
        f"PDMP check (clear) for plan {plan_id}",
        f"home prescription {prescription}: 4 x 100 mg (plan {plan_id})",
        f"home check-in 1 recorded (plan {plan_id})",
        f"home dose 1: 100 mg (plan {plan_id})",
        f"home programme of plan {plan_id}",
    ]
    assert web.get("front_desk", base).status_code == 403


def test_api_missed_checkins(web: Api) -> None:
    _, plan_id = oral(web.clinic)
    base = f"/api/plans/{plan_id}/home"
    due = web.post("nurse", f"{base}/schedule", {"due_at": "2026-11-01T18:00"})
    assert due.status_code == 201
    assert web.get("nurse", f"{base}/missed").json() == []
    web.clinic.clock.advance(hours=9, minutes=1)  # 18:01
    missed = web.get("nurse", f"{base}/missed").json()
    assert [(c["id"], c["missed"]) for c in missed] == [(due.json()["id"], True)]


def test_pages_home_programme(web: Api) -> None:
    _, plan_id = oral(web.clinic)
    doctor = web.headers("prescriber")
    page = web.http.get(f"/plans/{plan_id}/home", headers=doctor)
    assert page.status_code == 200
    assert "Home programme · plan" in page.text
    before = web.counts()
    refused = web.http.post(
        f"/plans/{plan_id}/home/prescriptions",
        headers=doctor,
        data={"dose_mg": "100", "doses": "4"},
    )
    assert refused.status_code == 422
    assert "no prescription-monitoring (PDMP) check recorded before it" in refused.text
    not_number = web.http.post(
        f"/plans/{plan_id}/home/prescriptions",
        headers=doctor,
        data={"dose_mg": "lots", "doses": "4"},
    )
    assert not_number.status_code == 422 and "is not a number" in not_number.text
    assert web.counts() == before
    assert (
        web.http.post(
            f"/plans/{plan_id}/home/pdmp", headers=doctor, data={"result": "clear"}
        ).status_code
        == 303
    )
    assert (
        web.http.post(
            f"/plans/{plan_id}/home/prescriptions",
            headers=doctor,
            data={"dose_mg": "100", "doses": "4"},
        ).status_code
        == 303
    )
    nurse = web.headers("nurse")
    failing = web.http.post(
        f"/plans/{plan_id}/home/checkins", headers=nurse, data={"no_driving": "yes"}
    )
    assert failing.status_code == 303  # recorded, but it clears no dose
    refused_dose = web.http.post(
        f"/plans/{plan_id}/home/doses",
        headers=nurse,
        data={"prescription_id": "1", "dose_mg": "100"},
    )
    assert refused_dose.status_code == 422 and "no passing check-in" in refused_dose.text
    shown = web.http.get(f"/plans/{plan_id}/home", headers=nurse).text
    assert "Write a home prescription" not in shown  # nurses do not prescribe


def test_page_of_an_iv_plan_says_it_has_no_home_programme(web: Api) -> None:
    patient = web.clinic.register("HW-IV")
    plan_id = plan_row(web.clinic, patient.id, "iv", None)
    response = web.http.get(f"/plans/{plan_id}/home", headers=web.headers("nurse"))
    assert response.status_code == 422
    assert "only oral or sublingual doses go home" in response.text


# ---- command line --------------------------------------------------------------------------------


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_home_programme(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", database_url)
    with open_clinic(database_url) as clinic:
        hashed = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
        with clinic.work() as s:
            s.execute(update(User).values(password_hash=hashed))
        clinic.clock.at = SystemClock().now()
        _, plan_id = oral(clinic, "HW-CLI")
    plan = str(plan_id)
    doctor = ("--user", "prescriber", "--password-stdin")
    nurse = ("--user", "nurse", "--password-stdin")
    code, out, err = run(
        capsys, monkeypatch, "home", "prescribe", plan, *doctor, "--dose", "100", "--doses", "2"
    )
    assert (code, err) == (
        2,
        "error: pdmp: no prescription-monitoring (PDMP) check recorded before it\n",
    )
    code, out, err = run(capsys, monkeypatch, "home", "pdmp", plan, *nurse, "--result", "clear")
    assert (code, err) == (2, "error: a nurse may not record a PDMP check\n")
    code, out, err = run(capsys, monkeypatch, "home", "pdmp", plan, *doctor, "--result", "clear")
    assert code == 0 and out.endswith(": clear\n"), err
    code, out, err = run(
        capsys, monkeypatch, "home", "prescribe", plan, *doctor, "--dose", "100", "--doses", "2"
    )
    assert code == 0 and out.endswith(": 2 x 100 mg\n"), err
    prescription = out.split()[1].rstrip(":")
    code, out, err = run(
        capsys,
        monkeypatch,
        "home",
        "dose",
        plan,
        *nurse,
        "--prescription",
        prescription,
        "--dose",
        "100",
    )
    assert code == 2 and "no passing check-in" in err
    code, out, err = run(
        capsys,
        monkeypatch,
        "home",
        "checkin",
        plan,
        *nurse,
        "--sitter-present",
        "--no-driving",
        "--reported-by",
        "patient",
    )
    assert code == 0 and out.endswith("recorded: passes\n"), err
    code, out, err = run(
        capsys,
        monkeypatch,
        "home",
        "dose",
        plan,
        *nurse,
        "--prescription",
        prescription,
        "--dose",
        "100",
    )
    assert code == 0 and out.startswith("dose 1: 100 mg at "), err
    code, out, err = run(
        capsys,
        monkeypatch,
        "home",
        "dose",
        plan,
        *nurse,
        "--prescription",
        prescription,
        "--dose",
        "many",
    )
    assert code == 2, out
    code, out, err = run(capsys, monkeypatch, "home", "show", plan)
    assert code == 0 and f"prescription {prescription}: 2 x 100 mg, 1 taken" in out
    code, out, err = run(capsys, monkeypatch, "home", "missed", plan)
    assert (code, out) == (0, "no check-in missed\n")
