"""The REMS in the web app (API and pages) and on the command line, on SQLite and PostgreSQL:
fill, read, submit, PDF, CSV, overdue; refusals answer 422 / exit 2 with nothing written; every
read and write audited with the patient.

The session is the model one of rems_rows.py (2026-11-02, 56 mg, lot ESK-2611).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update

from ketaclinic import cli
from ketaclinic.services import rems
from ketaclinic.services.clock import SystemClock
from ketaclinic.store.models import User
from tests.integration.api_support import Api, field_errors, open_api
from tests.integration.rems_rows import EsketamineSession, esketamine_session, plan_row
from tests.integration.services_support import Clinic, open_clinic

AFTER = datetime(2026, 11, 3, 9, 0)
PASSWORD = "correct horse battery"


@pytest.fixture
def web(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def enrolled_session(clinic: Clinic, day: date = date(2026, 11, 2)) -> tuple[int, int]:
    """(patient_id, session_id): a discharged esketamine session of an enrolled patient."""
    patient = clinic.register(f"W-{day.isoformat()}", given_name="Alice", family_name="Example")
    with clinic.work() as s:
        if rems.site_certification(s) is None:
            rems.record_site_certification(
                s, clinic.prescriber, clinic.clock, "S-100", day - timedelta(days=30)
            )
        rems.record_patient_enrolment(
            s, clinic.nurse, clinic.clock, patient.id, "P-200", day - timedelta(days=10)
        )
    plan_id = plan_row(clinic, patient.id, "esketamine", 56)
    return patient.id, esketamine_session(clinic, patient.id, plan_id, EsketamineSession(day=day))


def audited(web: Api, since: int, patient_id: int, words: str) -> bool:
    return any(e.patient_id == patient_id and words in e.what for e in web.audit()[since:])


# ---- API -----------------------------------------------------------------------------------------


def test_api_fill_read_submit_pdf_csv(web: Api) -> None:
    clinic = web.clinic
    patient_id, session_id = enrolled_session(clinic)
    clinic.clock.at = AFTER
    seen = len(web.audit())
    built = web.post("nurse", f"/api/rems/sessions/{session_id}/form", {})
    assert built.status_code == 200, built.text
    body = built.json()
    form_id = body["id"]
    assert (body["patient_id"], body["form_version"], body["due_on"]) == (
        patient_id,
        "ketaclinic-1",
        "2026-11-09",
    )
    fields = {f["name"]: (f["value"], f["text"]) for f in body["fields"]}
    assert fields["dose"] == ("56", "56 mg")
    assert fields["lot"] == ("ESK-2611", "ESK-2611")
    assert fields["minutes_first_device_to_end_of_monitoring"] == (125, "125 minutes")
    assert fields["blood_pressure_at_40_minutes"] == ("142/88", "142/88 mmHg")
    assert audited(web, seen, patient_id, f"REMS form {form_id}: filled")

    read = web.get("prescriber", f"/api/rems/forms/{form_id}")
    assert read.status_code == 200 and read.json()["submitted_at"] is None
    pdf = web.get("nurse", f"/api/rems/forms/{form_id}/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    csv = web.get("nurse", f"/api/rems/forms/{form_id}/csv")
    assert csv.status_code == 200 and csv.text.startswith("form_id,session_id,form_version,")
    assert audited(web, seen, patient_id, f"REMS form {form_id}: PDF")
    assert audited(web, seen, patient_id, f"REMS form {form_id}: CSV")

    before = web.counts()
    assert field_errors(
        web.post("nurse", f"/api/rems/forms/{form_id}/submit", {"reference": "  "})
    ) == [("body", "reference")]
    assert web.counts() == before
    sent = web.post("nurse", f"/api/rems/forms/{form_id}/submit", {"reference": "CONF-5"})
    assert sent.status_code == 200
    assert sent.json()["submission_reference"] == "CONF-5"
    again = web.post("nurse", f"/api/rems/forms/{form_id}/submit", {"reference": "CONF-6"})
    assert again.status_code == 409
    assert (
        web.post("front_desk", f"/api/rems/forms/{form_id}/submit", {"reference": "X"}).status_code
        == 403
    )


def test_api_overdue_day_8_and_bad_input(web: Api) -> None:
    clinic = web.clinic
    patient_id, session_id = enrolled_session(clinic)
    clinic.clock.at = datetime(2026, 11, 9, 12, 0)  # day 7
    assert web.get("nurse", "/api/rems/overdue").json() == []
    clinic.clock.at = datetime(2026, 11, 10, 8, 0)  # day 8
    seen = len(web.audit())
    rows = web.get("nurse", "/api/rems/overdue").json()
    assert rows == [
        {
            "session_id": session_id,
            "patient_id": patient_id,
            "patient": "Example, Alice (W-2026-11-02)",
            "session_date": "2026-11-02",
            "form_id": None,
            "overdue": True,
        }
    ]
    assert audited(web, seen, patient_id, "REMS form overdue")
    before = web.counts()
    bad_day = web.post(
        "nurse",
        "/api/rems/enrolments",
        {"patient_id": patient_id, "reference": "P-9", "enrolled_on": "2026-13-01"},
    )
    assert field_errors(bad_day) == [("body", "enrolled_on")]
    future = web.post(
        "nurse",
        "/api/rems/enrolments",
        {"patient_id": patient_id, "reference": "P-9", "enrolled_on": "2026-12-01"},
    )
    assert field_errors(future) == [("body", "enrolled_on")]
    assert field_errors(
        web.post("nurse", f"/api/rems/sessions/{session_id}/form", {"ready_at": "later"})
    ) == [("body", "ready_at")]
    assert web.counts() == before
    assert (
        web.post(
            "nurse", "/api/rems/site", {"reference": "S", "certified_on": "2026-10-01"}
        ).status_code
        == 403
    )


# ---- pages ---------------------------------------------------------------------------------------


def test_pages_enrol_fill_and_submit(web: Api) -> None:
    clinic = web.clinic
    patient_id, session_id = enrolled_session(clinic)
    clinic.clock.at = AFTER
    nurse = web.headers("nurse")
    overview = web.http.get("/rems", headers=nurse)
    assert overview.status_code == 200
    assert "Certified setting <strong>S-100</strong>" in overview.text
    assert f"/rems/sessions/{session_id}/form" in overview.text

    before = web.counts()
    refused = web.http.post(
        "/rems/enrolments",
        headers=nurse,
        data={"patient_id": str(patient_id), "reference": "P-2", "enrolled_on": "yesterday"},
    )
    assert refused.status_code == 422
    assert "is not a date (YYYY-MM-DD)" in refused.text
    assert web.counts() == before

    filled = web.http.post(f"/rems/sessions/{session_id}/form", headers=nurse, data={})
    assert filled.status_code == 303
    form_page = web.http.get(filled.headers["location"], headers=nurse)
    assert form_page.status_code == 200
    assert '<td id="rems-lot">ESK-2611</td>' in form_page.text
    assert '<td id="rems-minutes_until_ready_without_2_hour_rule">70 minutes</td>' in form_page.text
    form_id = int(filled.headers["location"].split("/")[3].split("?")[0])

    empty = web.http.post(f"/rems/forms/{form_id}/submit", headers=nurse, data={"reference": ""})
    assert empty.status_code == 422 and "is required" in empty.text
    sent = web.http.post(f"/rems/forms/{form_id}/submit", headers=nurse, data={"reference": "C-1"})
    assert sent.status_code == 303
    shown = web.http.get(f"/rems/forms/{form_id}", headers=nurse).text
    assert "confirmation <strong>C-1</strong>" in shown
    assert web.http.get("/rems/overdue", headers=nurse).status_code == 200


def test_page_refuses_a_form_for_an_unfinished_session(web: Api) -> None:
    clinic = web.clinic
    patient_id, _ = enrolled_session(clinic)
    plan_id = plan_row(clinic, patient_id, "esketamine", 56)
    observing = esketamine_session(
        clinic, patient_id, plan_id, EsketamineSession(state="observation")
    )
    clinic.clock.at = AFTER
    before = web.counts()
    response = web.http.post(
        f"/rems/sessions/{observing}/form", headers=web.headers("nurse"), data={}
    )
    assert response.status_code == 422
    assert "the form is filled after discharge" in response.text
    assert web.counts() == before


# ---- command line --------------------------------------------------------------------------------


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli_clinic(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clinic]:
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", database_url)
    with open_clinic(database_url) as clinic:
        hashed = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
        with clinic.work() as s:
            s.execute(update(User).values(password_hash=hashed))
        # The command line runs on the system clock: the rows are dated from today.
        clinic.clock.at = SystemClock().now()
        yield clinic


def test_cli_certify_enrol_form_submit_overdue_pdf_csv(
    cli_clinic: Clinic,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: object,
) -> None:
    clinic = cli_clinic
    today = clinic.clock.now().date()
    day = today - timedelta(days=10)
    patient = clinic.register("CLI-1", given_name="Alice", family_name="Example")
    pw = PASSWORD + "\n"
    code, out, err = run(
        capsys,
        monkeypatch,
        "rems",
        "certify-site",
        "--user",
        "nurse",
        "--reference",
        "S-1",
        "--certified-on",
        "2026-01-01",
        "--password-stdin",
        stdin=pw,
    )
    assert (code, err) == (2, "error: a nurse may not record the site's REMS certification\n")
    code, out, err = run(
        capsys,
        monkeypatch,
        "rems",
        "certify-site",
        "--user",
        "prescriber",
        "--reference",
        "S-1",
        "--certified-on",
        "2026-01-01",
        "--password-stdin",
        stdin=pw,
    )
    assert (code, out) == (0, "site certified: S-1 on 2026-01-01\n"), err
    code, out, err = run(
        capsys,
        monkeypatch,
        "rems",
        "enrol",
        "--user",
        "nurse",
        "--patient",
        str(patient.id),
        "--reference",
        "P-1",
        "--enrolled-on",
        "01/02/2026",
        "--password-stdin",
        stdin=pw,
    )
    assert (code, err) == (
        2,
        "error: --enrolled-on: '01/02/2026' is not a date in the form YYYY-MM-DD\n",
    )
    code, out, err = run(
        capsys,
        monkeypatch,
        "rems",
        "enrol",
        "--user",
        "nurse",
        "--patient",
        str(patient.id),
        "--reference",
        "P-1",
        "--enrolled-on",
        "2026-01-02",
        "--password-stdin",
        stdin=pw,
    )
    assert (code, out) == (0, f"patient {patient.id} enrolled: P-1 on 2026-01-02\n"), err
    plan_id = plan_row(clinic, patient.id, "esketamine", 56)
    session_id = esketamine_session(clinic, patient.id, plan_id, EsketamineSession(day=day))

    code, out, err = run(capsys, monkeypatch, "rems", "overdue")
    assert code == 0, err
    assert (
        out == f"session {session_id}\t{day.isoformat()}\tExample, Alice (CLI-1)\tform not filled\n"
    )

    code, out, err = run(
        capsys,
        monkeypatch,
        "rems",
        "form",
        str(session_id),
        "--user",
        "nurse",
        "--password-stdin",
        stdin=pw,
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].endswith(
        f"of session {session_id} (version ketaclinic-1), due "
        f"{(day + timedelta(days=7)).isoformat()}"
    )
    assert "  Lot number: ESK-2611" in lines
    assert "  Dose (56 mg, 84 mg or other): 56 mg" in lines
    form_id = int(lines[0].split()[1])

    pdf_path = f"{tmp_path}/form.pdf"
    code, out, err = run(capsys, monkeypatch, "rems", "pdf", str(form_id), "--out", pdf_path)
    assert code == 0, err
    with open(pdf_path, "rb") as handle:
        assert handle.read(5) == b"%PDF-"
    code, out, err = run(capsys, monkeypatch, "rems", "csv", str(form_id))
    assert code == 0 and out.splitlines()[0].startswith("form_id,session_id,form_version,patient,")

    code, out, err = run(
        capsys,
        monkeypatch,
        "rems",
        "submit",
        str(form_id),
        "--user",
        "nurse",
        "--reference",
        "C-9",
        "--password-stdin",
        stdin=pw,
    )
    assert (code, out) == (0, f"form {form_id} submitted: C-9\n"), err
    code, out, err = run(
        capsys,
        monkeypatch,
        "rems",
        "submit",
        str(form_id),
        "--user",
        "nurse",
        "--reference",
        "C-10",
        "--password-stdin",
        stdin=pw,
    )
    assert code == 2 and "already submitted" in err
    code, out, err = run(capsys, monkeypatch, "rems", "overdue")
    assert (code, out) == (0, "no form is overdue\n")
    code, out, err = run(
        capsys,
        monkeypatch,
        "rems",
        "form",
        "99999",
        "--user",
        "nurse",
        "--password-stdin",
        stdin=pw,
    )
    assert (code, err) == (2, "error: no session 99999\n")
