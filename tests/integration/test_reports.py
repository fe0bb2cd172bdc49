"""Printed documents (issue 6, item 6): the progress report and the referral letter, printed by
WeasyPrint and read back with /usr/bin/pdftotext. "The PDF's text holds the scores."
Every case runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from ketaclinic.services.charting import screen_patient, sign_screening
from ketaclinic.services.importing import import_bundle
from ketaclinic.services.records import add_condition
from ketaclinic.services.records_forms import ConditionIn
from ketaclinic.services.reports import (
    progress_report_html,
    progress_report_pdf,
    referral_letter_pdf,
)
from tests.integration.api_support import Api, open_api
from tests.integration.outcomes_support import (
    add_adverse_event,
    add_plan,
    add_response,
    add_session,
)
from tests.integration.services_support import Clinic

EXAMPLE_02 = Path(__file__).parents[2] / "examples" / "02-precautions.json"
PDFTOTEXT = "/usr/bin/pdftotext"


def text_of(pdf: bytes, tmp_path: Path) -> str:
    assert pdf.startswith(b"%PDF-")
    source = tmp_path / "doc.pdf"
    source.write_bytes(pdf)
    done = subprocess.run(
        [PDFTOTEXT, "-layout", str(source), "-"], check=True, capture_output=True, text=True
    )
    # One space for any run of blanks: the layout's column padding is not the test's concern.
    return re.sub(r"[ \t]+", " ", done.stdout)


@pytest.fixture
def web(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 10, day, hour, 0)


def treated_patient(clinic: Clinic) -> int:
    """Dora Sample: MDD; an IV plan; sessions on 6 and 8 Oct (35 mg each); PHQ-9 20 on 5 Oct
    (baseline), 9 on 7 Oct (55 % lower: a response), 4 on 9 Oct (remission); nausea at the
    first session."""
    patient = clinic.register("MRN-42", given_name="Dora", family_name="Sample")
    with clinic.work() as s:
        add_condition(
            s, clinic.prescriber, clinic.clock, patient.id,
            ConditionIn("F33.2", "Major depressive disorder, recurrent, severe",
                        onset=date(2024, 2, 1)),
        )  # fmt: skip
        plan = add_plan(s, clinic, patient.id)
        first = add_session(s, plan, 1, at(6, 10))
        add_session(s, plan, 2, at(8, 10))
        add_response(s, patient.id, "phq9", at(5), total=20)
        add_response(s, patient.id, "phq9", at(7), total=9)
        add_response(s, patient.id, "phq9", at(9), total=4)
        add_adverse_event(s, first, "nausea", "mild", at(6, 11), "settled with ondansetron")
    return patient.id


def test_the_progress_report_holds_the_scores_name_plan_and_events(
    web: Api, tmp_path: Path
) -> None:
    clinic = web.clinic
    patient = treated_patient(clinic)
    with clinic.work() as s:
        text = text_of(progress_report_pdf(s, patient, clinic.clock), tmp_path)
    assert "Progress report" in text
    assert "Sample, Dora" in text and "MRN-42" in text
    assert "Major depressive disorder, recurrent, severe" in text and "F33.2" in text
    assert "IV infusion" in text and "treatment resistant depression" in text
    # The sessions with their doses.
    assert "ketamine 35 mg iv" in text
    # The table of scores: each date with its score and band (a row's first line in the
    # layout), and how it stands against the baseline, which is marked.
    assert "2026-10-05 09:00 20 severe" in text and "(baseline)" in text
    assert "2026-10-07 09:00 9 mild 55 % lower than baseline: response" in text
    assert "2026-10-09 09:00 4 minimal 80 % lower than baseline: in remission" in text
    assert "Baseline: 20 on 2026-10-05" in text
    assert "nausea" in text and "settled with ondansetron" in text
    # The chart's SVG is in the page WeasyPrint printed.
    with clinic.work() as s:
        html = progress_report_html(s, patient, clinic.clock)
    assert html.count('class="session-marker"') == 2
    assert html.count('class="score"') == 3


def test_the_letter_gives_the_decision_and_its_reasons(web: Api, tmp_path: Path) -> None:
    clinic = web.clinic
    patient = clinic.register("MRN-0002", given_name="Bruno", birth_date=date(1968, 7, 2))
    with clinic.work() as s:
        import_bundle(s, clinic.prescriber, clinic.clock, patient.id, EXAMPLE_02.read_bytes())
        screening = screen_patient(s, clinic.prescriber, clinic.clock, patient.id, "iv")
        sign_screening(s, clinic.prescriber, clinic.clock, screening.id)
    with clinic.work() as s:
        text = text_of(referral_letter_pdf(s, screening.id), tmp_path)
    assert "Bruno Example" in text and "MRN-0002" in text
    # examples/README.md works example 02 out by hand: eligible with precautions, for the
    # benzodiazepine (lorazepam) and an eGFR of 55.
    assert "Our decision: Eligible with precautions" in text
    assert "Interaction:" in text and "lorazepam" in text.lower()
    assert "Relative contraindication:" in text
    assert "Nothing more is needed from you" in text
    assert "Prescriber" in text  # who signed


def test_the_letter_lists_what_is_still_needed(web: Api, tmp_path: Path) -> None:
    clinic = web.clinic
    patient = clinic.register("MRN-9", given_name="Ivy", family_name="Unknown")
    with clinic.work() as s:
        add_condition(
            s, clinic.prescriber, clinic.clock, patient.id,
            ConditionIn("F33.1", "Major depressive disorder, recurrent, moderate"),
        )  # fmt: skip
        screening = screen_patient(s, clinic.prescriber, clinic.clock, patient.id, "iv")
    with clinic.work() as s:
        text = text_of(referral_letter_pdf(s, screening.id), tmp_path)
    # An MDD diagnosis with no trial recorded: the contract's missing treatment_history, and no
    # workup at all (spec/screening.md).
    assert "Our decision: Needs information" in text
    assert "Treatment history:" in text
    assert "Physical exam: not done yet" in text
    assert "not been signed by a prescriber yet" in text


def test_the_pdf_routes_are_audited_and_for_clinicians(web: Api, tmp_path: Path) -> None:
    clinic = web.clinic
    patient = treated_patient(clinic)
    before = len(web.audit())
    response = web.get("nurse", f"/patients/{patient}/outcomes/report.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert "progress-MRN-42-2026-11-01.pdf" in response.headers["content-disposition"]
    assert "2026-10-07 09:00 9 mild" in text_of(response.content, tmp_path)
    [row] = web.audit()[before:]
    assert (row.username, row.patient_id) == ("nurse", patient)
    assert web.get("front_desk", f"/patients/{patient}/outcomes/report.pdf").status_code == 403
    assert web.get("admin", f"/patients/{patient}/outcomes/report.pdf").status_code == 403


def test_the_letter_route_is_audited_with_the_patient(web: Api, tmp_path: Path) -> None:
    clinic = web.clinic
    patient = clinic.register("MRN-5", given_name="Lena", family_name="Letter")
    with clinic.work() as s:
        screening = screen_patient(s, clinic.prescriber, clinic.clock, patient.id, "iv")
    before = len(web.audit())
    response = web.get("prescriber", f"/screenings/{screening.id}/letter.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert "Lena Letter" in text_of(response.content, tmp_path)
    [row] = web.audit()[before:]
    assert (row.username, row.patient_id) == ("prescriber", patient.id)
    assert web.get("front_desk", f"/screenings/{screening.id}/letter.pdf").status_code == 403
    assert web.get("nurse", "/screenings/9999/letter.pdf").status_code == 404
