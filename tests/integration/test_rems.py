"""The esketamine REMS Patient Monitoring Form built from a session (issue 5 item 4), on SQLite and
PostgreSQL: every field from clinical-facts.md, the PDF's text checked field by field, the CSV,
and the 7-day due date (overdue on day 8, not day 7).

The session is the model one of rems_rows.py; the expected answers are worked out by hand from
its rows beside each assertion.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import orjson
import pytest

from ketaclinic.services import rems
from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput
from ketaclinic.services.records import add_medication
from ketaclinic.services.records_forms import MedicationIn
from ketaclinic.store.models import RemsForm
from tests.integration.rems_rows import EsketamineSession, esketamine_session, plan_row
from tests.integration.services_support import Clinic, open_clinic

PDFTOTEXT = "/usr/bin/pdftotext"
AFTER = datetime(2026, 11, 3, 9, 0)  # the day after the model session


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


def enrolled(clinic: Clinic, mrn: str = "REMS-1", *, site: bool = True) -> int:
    """A patient enrolled in the REMS (P-200, 2026-10-15) at a certified site (S-100)."""
    patient = clinic.register(mrn, given_name="Alice", family_name="Example")
    with clinic.work() as s:
        if site:
            rems.record_site_certification(
                s, clinic.prescriber, clinic.clock, "S-100", date(2026, 10, 1)
            )
        rems.record_patient_enrolment(
            s, clinic.nurse, clinic.clock, patient.id, "P-200", date(2026, 10, 15)
        )
    return patient.id


def medicines(clinic: Clinic, patient_id: int) -> None:
    """Lorazepam and methylphenidate ongoing; zolpidem stopped in June (not concomitant)."""
    with clinic.work() as s:
        for given in (
            MedicationIn("lorazepam 1 mg", start=date(2026, 1, 5), status="active"),
            MedicationIn("methylphenidate", start=date(2025, 9, 1), status="active"),
            MedicationIn("zolpidem", start=date(2026, 3, 1), end=date(2026, 6, 30)),
        ):
            add_medication(s, clinic.prescriber, clinic.clock, patient_id, given)


def session_of(clinic: Clinic, given: EsketamineSession | None = None, **kw: object) -> int:
    patient_id = kw.pop("patient_id", None) or enrolled(clinic)
    assert isinstance(patient_id, int)
    plan_id = kw.pop("plan_id", None) or plan_row(clinic, patient_id, "esketamine", 56)
    assert isinstance(plan_id, int)
    return esketamine_session(clinic, patient_id, plan_id, given)


def built(clinic: Clinic, session_id: int) -> RemsForm:
    clinic.clock.at = AFTER
    with clinic.work() as s:
        return rems.build_form(s, clinic.nurse, clinic.clock, session_id)


def fields_of(clinic: Clinic, form_id: int) -> dict[str, object]:
    with clinic.work() as s:
        data: dict[str, object] = orjson.loads(rems.get_form(s, form_id).data)["fields"]
        return data


# ---- every field ---------------------------------------------------------------------------------


def test_every_field_is_filled_from_the_session(clinic: Clinic) -> None:
    patient_id = enrolled(clinic)
    medicines(clinic, patient_id)
    session_id = session_of(clinic, patient_id=patient_id)
    form = built(clinic, session_id)
    assert form.form_version == "ketaclinic-1"
    assert form.due_on == date(2026, 11, 9)  # 2 November + 7 days
    assert fields_of(clinic, form.id) == {
        "patient": "Example, Alice (born 1986-03-15; MRN REMS-1; REMS patient P-200)",
        "first_treatment": True,  # no esketamine dose before
        "benzodiazepines": True,  # lorazepam ongoing
        "non_benzodiazepine_sedative_hypnotics": False,  # zolpidem ended 30 June
        "psychostimulants": True,  # methylphenidate ongoing
        "maois": False,
        "monitoring_clinician": "Nurse",  # who discharged (services_support full name)
        "site": "REMS certified setting S-100",
        "session_date": "2026-11-02",
        "dose": "56",  # 2 devices x 28 mg
        "dose_mg": 56.0,
        "lot": "ESK-2611",
        "minutes_first_device_to_end_of_monitoring": 125,  # 09:10 -> 11:15
        # 09:50 reading 142/88 is within 20 % of 128/82 and raises no alert, but MOAA/S was 4
        # (09:40) then; MOAA/S 5 at 10:20 with that reading the latest: 09:10 -> 10:20.
        "minutes_until_ready_without_2_hour_rule": 70,
        "vitals_acceptable_before_dosing": True,  # pre-dose check "go", 128/82 no alert
        "vitals_acceptable_before_leaving": True,  # 126/80, checklist passed
        "blood_pressure_before_dosing": "128/82",
        "blood_pressure_at_40_minutes": "142/88",  # 09:50 is 40 minutes after 09:10
        "blood_pressure_before_leaving": "126/80",
        "sedation": True,  # MOAA/S 4 < 5
        "dissociation": True,  # CADSS 6 > 4
        "respiratory_depression": False,
    }
    with clinic.work() as s:
        assert rems.form_view(s, clinic.clock, form.id).problems == []


def test_second_session_84_mg_and_other_answers(clinic: Clinic) -> None:
    patient_id = enrolled(clinic)
    plan_id = plan_row(clinic, patient_id, "esketamine", 84)
    esketamine_session(clinic, patient_id, plan_id)
    second = EsketamineSession(
        day=date(2026, 11, 5),
        number=2,
        devices=[("09:10", 28), ("09:15", 28), ("09:20", 28)],
        lot="ESK-2612",
        benzodiazepine_today=True,  # taken this morning, though none is on the medication list
        predose_decision="confirm",  # 145/88 above 140/90, confirmed by the prescriber
        predose_bp=(145, 88),
        predose_confirmed=True,
        vitals=[
            ("09:05", 145, 88, 76, 98, 14),
            ("09:52", 150, 92, 82, 97, 14),
            ("11:12", 128, 84, 72, 98, 14),
        ],
        scores=[("09:50", "cadss", 4), ("09:55", "moaas", 5)],
        adverse=[("respiratory_depression", "mild")],
    )
    session_id = esketamine_session(clinic, patient_id, plan_id, second)
    clinic.clock.at = datetime(2026, 11, 6, 9, 0)
    with clinic.work() as s:
        form = rems.build_form(s, clinic.prescriber, clinic.clock, session_id)
    got = fields_of(clinic, form.id)
    assert got["first_treatment"] is False  # the 2 November session gave esketamine
    assert (got["dose"], got["dose_mg"], got["lot"]) == ("84", 84.0, "ESK-2612")
    assert got["benzodiazepines"] is True
    assert got["vitals_acceptable_before_dosing"] is True  # confirmed by the prescriber
    assert got["blood_pressure_before_dosing"] == "145/88"
    assert got["blood_pressure_at_40_minutes"] == "150/92"
    assert got["sedation"] is False  # MOAA/S 5 only
    assert got["dissociation"] is False  # CADSS 4 is not above 4
    assert got["respiratory_depression"] is True


def test_a_dose_of_one_device_is_other_and_short_monitoring_is_a_problem(clinic: Clinic) -> None:
    given = EsketamineSession(devices=[("09:10", 28)], discharged_at="11:05")
    form = built(clinic, session_of(clinic, given))
    got = fields_of(clinic, form.id)
    assert (got["dose"], got["dose_mg"]) == ("other", 28.0)
    assert got["minutes_first_device_to_end_of_monitoring"] == 115  # 09:10 -> 11:05
    with clinic.work() as s:
        assert rems.form_view(s, clinic.clock, form.id).problems == [
            "Monitored 115 minutes from the first device; the REMS asks at least 120."
        ]


def test_unconfirmed_or_alerting_vitals_are_not_acceptable(clinic: Clinic) -> None:
    given = EsketamineSession(
        predose_decision="confirm",  # never confirmed by a prescriber
        vitals=[
            ("09:05", 128, 82, 72, 98, 14),
            ("09:50", 142, 88, 80, 97, 14),
            ("11:10", 126, 80, 125, 98, 14),
        ],  # heart rate 125 > 120 when leaving
        blockers=[{"id": "vitals_alerting", "message": "Heart rate 125 is above 120."}],
    )
    got = fields_of(clinic, built(clinic, session_of(clinic, given)).id)
    assert got["vitals_acceptable_before_dosing"] is False
    assert got["vitals_acceptable_before_leaving"] is False


# ---- refusals ------------------------------------------------------------------------------------


def refused(clinic: Clinic, session_id: int, field: str, *, who: str = "nurse") -> str:
    before = clinic.counts()
    clinic.clock.at = AFTER
    with pytest.raises(InvalidInput) as caught, clinic.work() as s:
        rems.build_form(s, clinic.actors[who], clinic.clock, session_id)  # type: ignore[index]
    assert caught.value.field == field
    assert clinic.counts() == before
    return caught.value.message


def test_only_a_discharged_esketamine_session_has_a_form(clinic: Clinic) -> None:
    observing = session_of(clinic, EsketamineSession(state="observation"))
    assert "observation" in refused(clinic, observing, "session_id")
    patient_id = enrolled(clinic, "REMS-IV", site=False)
    iv = esketamine_session(clinic, patient_id, plan_row(clinic, patient_id, "iv", 40))
    assert "esketamine" in refused(clinic, iv, "session_id")


def test_form_refused_without_site_certification_enrolment_or_scores(clinic: Clinic) -> None:
    patient_id = enrolled(clinic, site=False)
    session_id = session_of(clinic, patient_id=patient_id)
    assert "certification" in refused(clinic, session_id, "site")
    with clinic.work() as s:
        rems.record_site_certification(s, clinic.prescriber, clinic.clock, "S-1", date(2026, 10, 1))
    bare = clinic.register("REMS-NOT-ENROLLED")
    assert "enrolment" in refused(clinic, session_of(clinic, patient_id=bare.id), "patient")
    no_cadss = EsketamineSession(scores=[("09:40", "moaas", 5)])
    assert "dissociation" in refused(
        clinic,
        session_of(
            clinic,
            no_cadss,
            patient_id=patient_id,
            plan_id=plan_row(clinic, patient_id, "esketamine", 56),
        ),
        "cadss",
    )


def test_front_desk_and_admin_may_not_fill_or_submit(clinic: Clinic) -> None:
    session_id = session_of(clinic)
    clinic.clock.at = AFTER
    for role in ("front_desk", "admin"):
        with pytest.raises(Forbidden), clinic.work() as s:
            rems.build_form(s, clinic.actors[role], clinic.clock, session_id)
    form = built(clinic, session_id)
    with pytest.raises(Forbidden), clinic.work() as s:
        rems.submit_form(s, clinic.front_desk, clinic.clock, form.id, "R-1")
    with pytest.raises(Forbidden), clinic.work() as s:
        rems.record_site_certification(s, clinic.nurse, clinic.clock, "S-2", date(2026, 10, 1))


def test_enrolment_input_is_checked(clinic: Clinic) -> None:
    patient = clinic.register("REMS-E")
    before = clinic.counts()
    for reference, day, field in (
        ("  ", date(2026, 10, 1), "reference"),
        ("P-1", date(2026, 11, 2), "enrolled_on"),  # the clinic's day is 1 November
        ("x" * 101, date(2026, 10, 1), "reference"),
    ):
        with pytest.raises(InvalidInput) as caught, clinic.work() as s:
            rems.record_patient_enrolment(s, clinic.nurse, clinic.clock, patient.id, reference, day)
        assert caught.value.field == field
    assert clinic.counts() == before
    with clinic.work() as s:
        rems.record_patient_enrolment(
            s, clinic.nurse, clinic.clock, patient.id, "P-1", date(2026, 11, 1)
        )
    with pytest.raises(Conflict), clinic.work() as s:
        rems.record_patient_enrolment(
            s, clinic.nurse, clinic.clock, patient.id, "P-1", date(2026, 11, 1)
        )


# ---- submission and the 7-day rule ---------------------------------------------------------------


def test_submit_once_with_a_reference_then_no_refill(clinic: Clinic) -> None:
    session_id = session_of(clinic)
    form = built(clinic, session_id)
    with pytest.raises(InvalidInput) as caught, clinic.work() as s:
        rems.submit_form(s, clinic.nurse, clinic.clock, form.id, " ")
    assert caught.value.field == "reference"
    # Building again before submission refills the same form.
    again = built(clinic, session_id)
    assert again.id == form.id
    with clinic.work() as s:
        done = rems.submit_form(s, clinic.prescriber, clinic.clock, form.id, "CONF-77")
        assert (done.submitted_at, done.submission_reference) == (AFTER, "CONF-77")
    with pytest.raises(Conflict), clinic.work() as s:
        rems.submit_form(s, clinic.nurse, clinic.clock, form.id, "CONF-78")
    with pytest.raises(Conflict), clinic.work() as s:
        rems.build_form(s, clinic.nurse, clinic.clock, session_id)


def test_overdue_on_day_8_not_day_7(clinic: Clinic) -> None:
    patient_id = enrolled(clinic)
    plan_id = plan_row(clinic, patient_id, "esketamine", 56)
    unbuilt = esketamine_session(clinic, patient_id, plan_id)  # 2 November, no form built
    built_not_sent = esketamine_session(clinic, patient_id, plan_id, EsketamineSession(number=2))
    sent = esketamine_session(clinic, patient_id, plan_id, EsketamineSession(number=3))
    form = built(clinic, built_not_sent)
    sent_form = built(clinic, sent)
    with clinic.work() as s:
        rems.submit_form(s, clinic.nurse, clinic.clock, sent_form.id, "CONF-1")
    clinic.clock.at = datetime(2026, 11, 9, 23, 59)  # day 7 after 2 November: still in time
    with clinic.work() as s:
        assert rems.overdue_forms(s, clinic.clock) == []
        due = rems.forms_due(s, clinic.clock)
        assert [(d.session_id, d.form_id, d.overdue) for d in due] == [
            (unbuilt, None, False),
            (built_not_sent, form.id, False),
        ]
        assert rems.form_view(s, clinic.clock, form.id).overdue is False
    clinic.clock.at = datetime(2026, 11, 10, 0, 0)  # day 8
    with clinic.work() as s:
        overdue = rems.overdue_forms(s, clinic.clock)
        assert [(d.session_id, d.form_id, d.session_date) for d in overdue] == [
            (unbuilt, None, date(2026, 11, 2)),
            (built_not_sent, form.id, date(2026, 11, 2)),
        ]
        assert overdue[0].patient == "Example, Alice (REMS-1)"
        assert rems.form_view(s, clinic.clock, form.id).overdue is True
        assert rems.form_view(s, clinic.clock, sent_form.id).overdue is False


# ---- CSV and PDF ---------------------------------------------------------------------------------

CSV_HEADER = (
    "form_id,session_id,form_version,patient,first_treatment,benzodiazepines,"
    "non_benzodiazepine_sedative_hypnotics,psychostimulants,maois,monitoring_clinician,site,"
    "session_date,dose,dose_mg,lot,minutes_first_device_to_end_of_monitoring,"
    "minutes_until_ready_without_2_hour_rule,vitals_acceptable_before_dosing,"
    "vitals_acceptable_before_leaving,blood_pressure_before_dosing,blood_pressure_at_40_minutes,"
    "blood_pressure_before_leaving,sedation,dissociation,respiratory_depression,due_on,"
    "submitted_at,submission_reference"
)


def test_csv_columns_and_values(clinic: Clinic) -> None:
    patient_id = enrolled(clinic)
    medicines(clinic, patient_id)
    session_id = session_of(clinic, patient_id=patient_id)
    form = built(clinic, session_id)
    with clinic.work() as s:
        rems.submit_form(s, clinic.nurse, clinic.clock, form.id, "CONF-9")
        text = rems.form_csv(s, [form.id])
    header, row, end = text.split("\n")
    assert header == CSV_HEADER
    assert end == ""
    assert row == (
        f"{form.id},{session_id},ketaclinic-1,"
        '"Example, Alice (born 1986-03-15; MRN REMS-1; REMS patient P-200)",yes,yes,no,yes,no,'
        "Nurse,REMS certified setting S-100,2026-11-02,56,56,ESK-2611,125,70,yes,yes,128/82,"
        "142/88,126/80,yes,yes,no,2026-11-09,2026-11-03 09:00,CONF-9"
    )


def test_pdf_text_field_by_field(clinic: Clinic, tmp_path: Path) -> None:
    patient_id = enrolled(clinic)
    medicines(clinic, patient_id)
    form = built(clinic, session_of(clinic, patient_id=patient_id))
    with clinic.work() as s:
        pdf = rems.form_pdf(s, clinic.clock, form.id)
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / "form.pdf"
    path.write_bytes(pdf)
    assert shutil.which(PDFTOTEXT)
    out = subprocess.run([PDFTOTEXT, str(path), "-"], capture_output=True, check=True, text=True)
    text = re.sub(r"\s+", " ", out.stdout)
    assert "Esketamine REMS Patient Monitoring Form" in text
    expected = [
        ("Patient", "Example, Alice (born 1986-03-15; MRN REMS-1; REMS patient P-200)"),
        ("First treatment with esketamine", "Yes"),
        ("Concomitant benzodiazepines", "Yes"),
        ("Concomitant non-benzodiazepine sedative hypnotics", "No"),
        ("Concomitant psychostimulants", "Yes"),
        ("Concomitant monoamine oxidase inhibitors (MAOIs)", "No"),
        ("Monitoring healthcare provider", "Nurse"),
        ("Healthcare setting (REMS certification)", "REMS certified setting S-100"),
        ("Date of treatment", "2026-11-02"),
        ("Dose (56 mg, 84 mg or other)", "56 mg"),
        ("Dose given (mg)", "56 mg"),
        ("Lot number", "ESK-2611"),
        ("Total minutes from the first device to the end of monitoring", "125 minutes"),
        ("Minutes until ready to leave had there been no 2-hour rule", "70 minutes"),
        ("Vital signs acceptable before dosing", "Yes"),
        ("Vital signs acceptable before leaving", "Yes"),
        ("Blood pressure before dosing", "128/82 mmHg"),
        ("Blood pressure at 40 minutes", "142/88 mmHg"),
        ("Blood pressure before leaving", "126/80 mmHg"),
        ("Sedation (MOAA/S below 5)", "Yes"),
        ("Dissociation (CADSS above 4)", "Yes"),
        ("Respiratory depression", "No"),
    ]
    for label, value in expected:
        assert f"{label} {value}" in text, f"{label!r} should read {value!r} in: {text}"
    assert f"Form {form.id} · session" in text
    assert "due 2026-11-09" in text
    assert "Not submitted yet." in text
