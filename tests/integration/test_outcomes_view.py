"""Outcomes per patient and across the clinic (issue 6, items 4 and 5), worked by hand.

Issue 6: baseline = the last score before the first session; response = a drop of at least
50 %; remission PHQ-9 < 5, MADRS <= 12; relapse after response or remission when two scores in
a row return above the response line; a maintenance suggestion when scores rise again after a
session. Every case runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from fractions import Fraction

import pytest

from ketaclinic.clinical.outcomes import Course
from ketaclinic.services.errors import Forbidden
from ketaclinic.services.outcomes_view import (
    RateRow,
    ScaleOutcome,
    change_words,
    clinic_rates,
    patient_outcomes,
    rate_words,
)
from tests.integration.api_support import Api, open_api
from tests.integration.outcomes_support import TRD, add_plan, add_response, add_session
from tests.integration.services_support import Clinic, open_clinic

OCT = 10


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, OCT, day, hour, 0)


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


def treated(clinic: Clinic, mrn: str, phq9: list[tuple[datetime, int]], **plan: str) -> int:
    """A patient with an IV plan, dosing sessions on 6, 8 and 10 October at 10:00 (a dose each),
    and these PHQ-9 scores."""
    patient = clinic.register(mrn)
    with clinic.work() as s:
        made = add_plan(s, clinic, patient.id, **plan)
        for number, day in enumerate((6, 8, 10), start=1):
            add_session(s, made, number, at(day, 10))
        for when, total in phq9:
            add_response(s, patient.id, "phq9", when, total=total)
    return patient.id


def must(course: Course | None) -> Course:
    assert course is not None
    return course


def course_of(clinic: Clinic, patient_id: int) -> Course:
    return must(phq9_of(clinic, patient_id).course)


def phq9_of(clinic: Clinic, patient_id: int) -> ScaleOutcome:
    with clinic.work() as s:
        outcomes = patient_outcomes(s, clinic.nurse, patient_id)
    [scale] = [o for o in outcomes.scales if o.scale.id == "phq9"]
    return scale


def test_baseline_20_then_9_is_a_response_then_4_a_remission(clinic: Clinic) -> None:
    # 22 on 1 Oct is older; 20 on 5 Oct is the last score before the first session (6 Oct).
    patient = treated(clinic, "A", [(at(1), 22), (at(5), 20), (at(9), 9)])
    phq9 = phq9_of(clinic, patient)
    course = must(phq9.course)
    assert course is not None and course.baseline is not None
    assert course.baseline.total == 20 and course.baseline.taken == at(5)
    # (20 - 9) / 20 = 11/20 = 55 %: a response; 9 is not below 5: no remission.
    assert course.improvement == Fraction(11, 20)
    assert course.response is True and course.remission is False
    assert phq9.level == "response"
    assert phq9.response_line == 10
    assert [r.is_baseline for r in phq9.rows] == [False, True, False]
    assert change_words(course.improvement) == "55 % lower than baseline"

    with clinic.work() as s:
        add_response(s, patient, "phq9", at(12), total=4)
    phq9 = phq9_of(clinic, patient)
    course = must(phq9.course)
    # (20 - 4) / 20 = 80 %, and 4 < 5: remission, which outranks response.
    assert course.improvement == Fraction(4, 5)
    assert course.response is True and course.remission is True
    assert phq9.level == "remission"
    assert course.relapse is None and course.maintenance is None


def test_five_is_not_a_phq9_remission_and_ten_of_twenty_is_a_response(clinic: Clinic) -> None:
    patient = treated(clinic, "B", [(at(5), 20), (at(12), 10)])
    course = course_of(clinic, patient)
    assert course.improvement == Fraction(1, 2)
    assert course.response is True  # exactly 50 % is "at least 50 %"
    with clinic.work() as s:
        add_response(s, patient, "phq9", at(13), total=11)
    course = course_of(clinic, patient)
    assert course.response is False  # 45 %
    other = treated(clinic, "B2", [(at(5), 10), (at(12), 5)])
    course = course_of(clinic, other)
    assert course.response is True and course.remission is False  # PHQ-9 < 5, not <= 5


def test_relapse_after_two_scores_in_a_row_above_the_response_line(clinic: Clinic) -> None:
    # Baseline 20, line 10. Remission on 12 Oct (4), then 11 and 12: two above the line.
    patient = treated(
        clinic, "C", [(at(5), 20), (at(9), 9), (at(12), 4), (at(20), 11), (at(27), 12)]
    )
    phq9 = phq9_of(clinic, patient)
    course = must(phq9.course)
    assert course.relapse is not None
    assert course.relapse.after.taken == at(12)
    assert [s.total for s in course.relapse.scores] == [11, 12]
    assert phq9.level == "neither"
    # After the last session (10 Oct) the best score was 4 (remission), now 12 (neither).
    assert course.maintenance is not None
    assert course.maintenance.best.total == 4 and course.maintenance.latest.total == 12


def test_one_score_above_the_line_or_back_on_it_is_no_relapse(clinic: Clinic) -> None:
    # 11 is above the line (10), 10 is on it (a response again): not two in a row.
    patient = treated(clinic, "D", [(at(5), 20), (at(12), 4), (at(20), 11), (at(27), 10)])
    course = course_of(clinic, patient)
    assert course.relapse is None
    # 4 (remission) -> 10 (response): a rise after the session, so maintenance is suggested.
    assert course.maintenance is not None
    single = treated(clinic, "D2", [(at(5), 20), (at(12), 4), (at(20), 11)])
    assert course_of(clinic, single).relapse is None


def test_the_first_session_is_the_first_with_a_dose(clinic: Clinic) -> None:
    patient = clinic.register("E")
    with clinic.work() as s:
        plan = add_plan(s, clinic, patient.id)
        # Cancelled on 3 Oct (no dose) and an integration visit on 4 Oct: not the first session.
        add_session(s, plan, 1, at(3, 10), state="cancelled", dose_mg=None)
        add_session(s, plan, 1, at(4, 10), kind="integration", dose_mg=None)
        # Checked in at 10:00 on 6 Oct, the dose itself at 10:30.
        add_session(s, plan, 2, at(6, 10), dose_at=at(6, 10).replace(minute=30))
        add_response(s, patient.id, "phq9", at(2), total=24)
        add_response(s, patient.id, "phq9", at(5), total=20)
        # At 10:15, before the dose: still the baseline.
        add_response(s, patient.id, "phq9", at(6, 10).replace(minute=15), total=18)
        # Exactly at the dose: not a baseline (outcomes.baseline: strictly before).
        add_response(s, patient.id, "phq9", at(6, 10).replace(minute=30), total=17)
        add_response(s, patient.id, "phq9", at(9), total=8)
        # Entered in error: left out everywhere.
        add_response(s, patient.id, "phq9", at(10), total=1, state="entered_in_error")
    with clinic.work() as s:
        outcomes = patient_outcomes(s, clinic.prescriber, patient.id)
    assert outcomes.first_session == at(6, 10).replace(minute=30)
    assert len(outcomes.sessions) == 1
    [phq9] = outcomes.scales
    assert phq9.course is not None and phq9.course.baseline is not None
    assert phq9.course.baseline.total == 18
    assert [r.total for r in phq9.rows] == [24, 20, 18, 17, 8]
    assert phq9.course.latest is not None and phq9.course.latest.total == 8
    # (18 - 8) / 18 = 5/9 = 56 %.
    assert phq9.course.improvement == Fraction(5, 9)
    assert phq9.level == "response"


def test_no_session_means_no_baseline_and_nothing_judged(clinic: Clinic) -> None:
    patient = clinic.register("F")
    with clinic.work() as s:
        add_response(s, patient.id, "phq9", at(5), total=20)
        add_response(s, patient.id, "gad7", at(5), total=12)
        add_response(s, patient.id, "cssrs_screener", at(5), answers=[1, 0, 0, 0, 0, 0])
    with clinic.work() as s:
        outcomes = patient_outcomes(s, clinic.nurse, patient.id)
    # In the order of clinical/scales.py SCALES: PHQ-9, GAD-7, ..., C-SSRS.
    assert [o.scale.id for o in outcomes.scales] == ["phq9", "gad7", "cssrs_screener"]
    for outcome in outcomes.scales[:2]:
        assert outcome.course is not None and outcome.course.baseline is None
        assert outcome.level is None and outcome.response_line is None
    cssrs = outcomes.scales[2]
    assert cssrs.course is None and cssrs.rows[0].band == "low risk"


def test_madrs_remission_is_twelve_or_less(clinic: Clinic) -> None:
    patient = clinic.register("G")
    with clinic.work() as s:
        plan = add_plan(s, clinic, patient.id, route="esketamine")
        add_session(s, plan, 1, at(6, 10), drug="esketamine", dose_mg=56)
        add_response(s, patient.id, "madrs", at(5), total=30)
        add_response(s, patient.id, "madrs", at(9), total=12)
    with clinic.work() as s:
        [madrs] = patient_outcomes(s, clinic.nurse, patient.id).scales
    assert madrs.course is not None
    assert madrs.course.remission is True  # 12 <= 12
    assert madrs.course.improvement == Fraction(3, 5)


def test_only_prescribers_and_nurses_read_outcomes(clinic: Clinic) -> None:
    patient = clinic.register()
    for actor in (clinic.front_desk, clinic.admin):
        with clinic.work() as s, pytest.raises(Forbidden):
            patient_outcomes(s, actor, patient.id)
        with clinic.work() as s, pytest.raises(Forbidden):
            clinic_rates(s, actor)


def test_clinic_rates_by_route_and_indication(clinic: Clinic) -> None:
    # IV, TRD: A 20 -> 4 (response and remission); B 20 -> 12 (40 %: neither);
    # C 20 -> 10 (response, not remission); D no score before the first session (no data);
    # E a plan and no dose (not treated).
    treated(clinic, "A", [(at(5), 20), (at(12), 4)])
    treated(clinic, "B", [(at(5), 20), (at(12), 12)])
    treated(clinic, "C", [(at(5), 20), (at(12), 10)])
    treated(clinic, "D", [(at(12), 10)])
    untreated = clinic.register("E")
    # Esketamine, TRD: F on MADRS 30 -> 12 (60 %, and 12 <= 12).
    eske = clinic.register("F")
    # IM, PTSD: G dosed, no rated scale at all.
    ptsd = clinic.register("G")
    with clinic.work() as s:
        add_plan(s, clinic, untreated.id, status="awaiting_consent")
        plan = add_plan(s, clinic, eske.id, route="esketamine")
        add_session(s, plan, 1, at(6, 10), drug="esketamine", dose_mg=56)
        add_response(s, eske.id, "madrs", at(5), total=30)
        add_response(s, eske.id, "madrs", at(9), total=12)
        im = add_plan(s, clinic, ptsd.id, route="im", indication="ptsd")
        add_session(s, im, 1, at(6, 10))
    with clinic.work() as s:
        rows = clinic_rates(s, clinic.nurse)
    assert rows == [
        RateRow("esketamine", TRD, "madrs", planned=1, treated=1, with_data=1, responders=1,
                in_remission=1),
        RateRow("im", "ptsd", None, planned=1, treated=1, with_data=0, responders=0,
                in_remission=0),
        RateRow("iv", TRD, "phq9", planned=5, treated=4, with_data=3, responders=2,
                in_remission=1),
    ]  # fmt: skip
    iv = rows[2]
    assert iv.share_with_data == Fraction(3, 4)
    assert iv.response_rate == Fraction(2, 3) and iv.remission_rate == Fraction(1, 3)
    assert rate_words(iv.responders, iv.with_data) == "2 of 3 (67 %)"
    assert rate_words(iv.in_remission, iv.with_data) == "1 of 3 (33 %)"
    assert rows[1].response_rate is None


# --- the pages ----------------------------------------------------------------------------


@pytest.fixture
def web(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def test_the_outcomes_page_shows_a_chart_per_scale_and_is_audited(web: Api) -> None:
    clinic = web.clinic
    patient = clinic.register("MRN-7", given_name="Dora", family_name="Sample")
    with clinic.work() as s:
        plan = add_plan(s, clinic, patient.id)
        add_session(s, plan, 1, at(6, 10))
        add_response(s, patient.id, "phq9", at(5), total=20)
        add_response(s, patient.id, "phq9", at(9), total=9)
        add_response(s, patient.id, "gad7", at(5), total=12)
    before = len(web.audit())
    response = web.get("nurse", f"/patients/{patient.id}/outcomes")
    assert response.status_code == 200, response.text
    page = response.text
    assert "Sample, Dora" in page
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2
    assert 'class="session-marker"' in page
    assert "55 % lower than baseline" in page
    assert "<script" not in page.split("</head>", 1)[1]
    [row] = web.audit()[before:]
    assert (row.username, row.action, row.patient_id) == ("nurse", "read", patient.id)
    assert web.get("front_desk", f"/patients/{patient.id}/outcomes").status_code == 403


def test_the_dashboard_shows_counts_and_no_names(web: Api) -> None:
    clinic = web.clinic
    patient = clinic.register("MRN-8", given_name="Zebedee", family_name="Quixote")
    with clinic.work() as s:
        plan = add_plan(s, clinic, patient.id)
        add_session(s, plan, 1, at(6, 10))
        add_response(s, patient.id, "phq9", at(5), total=20)
        add_response(s, patient.id, "phq9", at(9), total=9)
    before = len(web.audit())
    response = web.get("prescriber", "/outcomes")
    assert response.status_code == 200, response.text
    page = response.text
    assert "Zebedee" not in page and "Quixote" not in page and "MRN-8" not in page
    assert "IV infusion" in page and "PHQ-9" in page
    assert "1 of 1 (100 %)" in page  # with enough data, and responding
    assert "0 of 1 (0 %)" in page  # 9 is not a remission
    [row] = web.audit()[before:]
    assert row.patient_id is None
    assert web.get("admin", "/outcomes").status_code == 403
