"""Series, costs and the review flag. Dates by hand from a calendar: 2026-03-02 is a Monday; March
has 31 days, April 30. Costs by hand: 6 x $400 = $2,400; 590 + 11 x 885 = 10,325."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from ketaclinic.clinical.dosing import DoseRefused
from ketaclinic.clinical.schedule import (
    SERIES,
    BillingLine,
    PlannedSession,
    esketamine_suicidal_ideation,
    esketamine_trd,
    improved,
    induction,
    infusion_extra_hours,
    maintenance,
    review_flag,
    series_cost,
    session_billing,
    spacing_problems,
)

START = date(2026, 3, 2)


def days(*pairs: tuple[int, int]) -> list[date]:
    return [date(2026, m, d) for m, d in pairs]


def codes(lines: tuple[BillingLine, ...]) -> dict[str, int]:
    return {line.code: line.units for line in lines}


# ---- series ------------------------------------------------------------------------------------


def test_iv_induction_is_6_sessions_over_2_weeks_by_default() -> None:
    plan = induction(START)
    assert [s.on for s in plan.sessions] == days((3, 2), (3, 4), (3, 7), (3, 9), (3, 12), (3, 15))
    assert [s.number for s in plan.sessions] == [1, 2, 3, 4, 5, 6]
    assert {s.phase for s in plan.sessions} == {"induction"}
    assert {s.mg for s in plan.sessions} == {None}


def test_iv_induction_over_3_weeks() -> None:
    plan = induction(START, sessions=6, days=21)
    assert [s.on for s in plan.sessions] == days((3, 2), (3, 6), (3, 10), (3, 14), (3, 18), (3, 22))


def test_induction_of_8_over_14_days_never_doubles_a_day() -> None:
    plan = induction(START, sessions=8, days=14)
    assert len(plan.sessions) == 8
    assert spacing_problems([s.on for s in plan.sessions]) == ()


def test_more_sessions_than_days_are_refused() -> None:
    with pytest.raises(ValueError):
        induction(START, sessions=8, days=7)


def test_esketamine_has_no_weight_based_induction() -> None:
    with pytest.raises(ValueError):
        induction(START, route="esketamine")


def test_maintenance_every_2_weeks_after_induction() -> None:
    sessions = maintenance(date(2026, 3, 15), 3, first_number=7)
    assert [s.on for s in sessions] == days((3, 29), (4, 12), (4, 26))
    assert [s.number for s in sessions] == [7, 8, 9]
    assert {s.phase for s in sessions} == {"maintenance"}


def test_esketamine_trd_label_schedule() -> None:
    plan = esketamine_trd(START, later_mg=84, maintenance_sessions=2, maintenance_every_weeks=2)
    on = [s.on for s in plan.sessions]
    assert on[:8] == days((3, 2), (3, 5), (3, 9), (3, 12), (3, 16), (3, 19), (3, 23), (3, 26))
    assert on[8:12] == days((3, 30), (4, 6), (4, 13), (4, 20))
    assert on[12:] == days((4, 27), (5, 11))
    assert [s.mg for s in plan.sessions] == [56] + [84] * 13
    assert [s.phase for s in plan.sessions] == (
        ["induction"] * 8 + ["weeks_5_to_8"] * 4 + ["maintenance"] * 2
    )
    assert [s.number for s in plan.sessions] == list(range(1, 15))
    assert plan.review_on == date(2026, 3, 29)


def test_esketamine_twice_weekly_sessions_are_at_least_2_days_apart() -> None:
    on = [s.on for s in esketamine_trd(START).sessions[:8]]
    assert spacing_problems(on, minimum_gap_days=2) == ()


def test_esketamine_trd_weekly_maintenance() -> None:
    plan = esketamine_trd(START, maintenance_sessions=2)
    assert [s.on for s in plan.sessions[12:]] == days((4, 27), (5, 4))


def test_esketamine_trd_refuses_a_dose_off_the_label() -> None:
    with pytest.raises(DoseRefused):
        esketamine_trd(START, later_mg=70)


def test_esketamine_maintenance_every_3_weeks_is_refused() -> None:
    with pytest.raises(ValueError):
        esketamine_trd(START, maintenance_sessions=2, maintenance_every_weeks=3)


def test_esketamine_suicidal_ideation_is_84_mg_twice_weekly_for_4_weeks() -> None:
    plan = esketamine_suicidal_ideation(START)
    assert [s.on for s in plan.sessions] == days(
        (3, 2), (3, 5), (3, 9), (3, 12), (3, 16), (3, 19), (3, 23), (3, 26)
    )
    assert {s.mg for s in plan.sessions} == {84}


def test_esketamine_suicidal_ideation_at_56_mg_when_84_is_not_tolerated() -> None:
    assert {s.mg for s in esketamine_suicidal_ideation(START, mg=56).sessions} == {56}


def test_twice_weekly_one_day_apart_is_refused() -> None:
    with pytest.raises(ValueError):
        esketamine_suicidal_ideation(START, limits=replace(SERIES, twice_weekly_gap_days=1))


def test_two_sessions_on_the_same_day_are_a_problem() -> None:
    assert len(spacing_problems([START, START])) == 1
    assert spacing_problems([START, date(2026, 3, 3)]) == ()


def test_twice_weekly_needs_2_days_between() -> None:
    assert len(spacing_problems([START, date(2026, 3, 3)], minimum_gap_days=2)) == 1
    assert spacing_problems([START, date(2026, 3, 4)], minimum_gap_days=2) == ()


# ---- cost --------------------------------------------------------------------------------------


def test_iv_series_of_6_costs_2400_to_4800_with_its_codes() -> None:
    cost = series_cost("iv", induction(START).sessions)
    assert (cost.sessions, cost.low_usd, cost.high_usd) == (6, 2400, 4800)
    assert codes(cost.billing) == {"96365": 6, "J3490": 6}


@pytest.mark.parametrize(
    ("minutes", "extra"), [(40, 0), (60, 0), (90, 0), (91, 1), (120, 1), (150, 1), (151, 2)]
)
def test_extra_infusion_hours(minutes: int, extra: int) -> None:
    assert infusion_extra_hours(minutes) == extra


def test_an_infusion_under_16_minutes_is_not_96365() -> None:
    assert codes(session_billing("iv", infusion_minutes=15)) == {"J3490": 1}
    assert codes(session_billing("iv", infusion_minutes=16)) == {"96365": 1, "J3490": 1}


def test_a_100_minute_infusion_adds_one_96366() -> None:
    assert codes(session_billing("iv", infusion_minutes=100)) == {
        "96365": 1,
        "96366": 1,
        "J3490": 1,
    }


def test_56_mg_is_g2082_and_84_mg_is_g2083() -> None:
    assert codes(session_billing("esketamine", 56)) == {"G2082": 1, "J0013": 56}
    assert codes(session_billing("esketamine", 84)) == {"G2083": 1, "J0013": 84}


def test_esketamine_trd_series_cost_at_84_mg() -> None:
    cost = series_cost("esketamine", esketamine_trd(START, later_mg=84).sessions)
    assert cost.sessions == 12
    assert codes(cost.billing) == {"G2082": 1, "G2083": 11, "J0013": 980}
    assert (cost.low_usd, cost.high_usd) == (10325, 10325)
    assert "more often covered" in cost.insurance_note


def test_esketamine_session_without_a_dose_cannot_be_priced() -> None:
    with pytest.raises(ValueError):
        series_cost("esketamine", [PlannedSession(1, START, "induction")])


def test_im_and_oral_have_no_price_in_the_facts() -> None:
    im = series_cost("im", induction(START, route="im").sessions)
    assert (im.low_usd, im.high_usd) == (None, None)
    assert codes(im.billing) == {"J3490": 6}
    oral = series_cost("oral", [PlannedSession(1, START, "induction")])
    assert oral.billing == ()
    assert "less often covered" in oral.insurance_note


# ---- review ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scale", "baseline", "latest", "expected"),
    [
        ("phq9", 20, 10, True),
        ("phq9", 20, 11, False),
        ("madrs", 30, 15, True),
        ("pcl5", 50, 40, True),
        ("pcl5", 50, 41, False),
        ("pain_nrs", 10, 7, True),
        ("pain_nrs", 10, 7.5, False),
        ("phq9", 0, 0, False),
    ],
)
def test_improvement_per_scale(scale: str, baseline: float, latest: float, expected: bool) -> None:
    assert improved(scale, baseline, latest) is expected


def test_an_unknown_scale_has_no_improvement_rule() -> None:
    with pytest.raises(ValueError):
        improved("beck", 20, 10)


def test_review_flag_after_3_iv_sessions_without_improvement() -> None:
    flag = review_flag("iv", 3, "phq9", 20, 11)
    assert flag is not None
    assert "Sanacora 2017" in flag.source


def test_no_review_flag_after_2_iv_sessions() -> None:
    assert review_flag("iv", 2, "phq9", 20, 20) is None


def test_no_review_flag_when_improved() -> None:
    assert review_flag("iv", 3, "phq9", 20, 10) is None


def test_no_review_flag_on_esketamine() -> None:
    assert review_flag("esketamine", 5, "phq9", 20, 20) is None


def test_review_flag_when_no_score_since_baseline() -> None:
    assert review_flag("iv", 3, "phq9", 20, None) is not None
