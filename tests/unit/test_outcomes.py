"""Outcome logic; expected values worked out by hand from issue 6 and clinical-facts.md."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

import pytest

from ketaclinic.clinical.outcomes import Score as S
from ketaclinic.clinical.outcomes import (
    baseline,
    course,
    improvement,
    is_meaningful_pain_relief,
    is_remission,
    is_response,
    maintenance_suggestion,
    pcl5_change,
    relapse,
    response_line,
)


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour)


def series(*pairs: tuple[datetime, float]) -> list[S]:
    return [S(taken, total) for taken, total in pairs]


# --- baseline -------------------------------------------------------------------------------


def test_baseline_is_the_last_score_before_the_first_session() -> None:
    scores = series((at(1, 1), 22), (at(1, 5), 19), (at(1, 6, 8), 18), (at(1, 9), 9))
    sessions = [at(1, 6, 10), at(1, 8, 10)]
    assert baseline(scores, min(sessions)) == S(at(1, 6, 8), 18)


def test_baseline_ignores_input_order() -> None:
    scores = series((at(1, 5), 19), (at(1, 1), 22))
    assert baseline(scores, at(1, 6)) == S(at(1, 5), 19)


def test_a_score_at_the_session_moment_is_not_the_baseline() -> None:
    scores = series((at(1, 1), 22), (at(1, 6, 10), 18))
    assert baseline(scores, at(1, 6, 10)) == S(at(1, 1), 22)


def test_no_score_before_the_first_session_means_no_baseline() -> None:
    assert baseline(series((at(1, 7), 12)), at(1, 6)) is None
    assert baseline([], at(1, 6)) is None


# --- response -------------------------------------------------------------------------------


def test_response_at_exactly_50_percent() -> None:
    assert is_response(20, 10)
    assert is_response(100, 50)
    assert improvement(20, 10) == Fraction(1, 2)


def test_no_response_at_49_percent() -> None:
    assert not is_response(100, 51)
    assert improvement(100, 51) == Fraction(49, 100)


def test_no_response_at_45_percent() -> None:
    assert not is_response(20, 11)


def test_madrs_response() -> None:
    assert is_response(30, 15)
    assert not is_response(30, 16)


def test_a_zero_baseline_cannot_respond() -> None:
    assert not is_response(0, 0)
    assert improvement(0, 0) is None


def test_worsening_is_negative_improvement() -> None:
    assert improvement(10, 15) == Fraction(-1, 2)
    assert not is_response(10, 15)


def test_response_line_is_half_the_baseline() -> None:
    assert response_line(21) == Fraction(21, 2)


# --- remission ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scale_id", "total", "expected"),
    [
        ("phq9", 4, True),
        ("phq9", 5, False),
        ("madrs", 12, True),
        ("madrs", 13, False),
        ("qids_sr16", 5, True),
        ("qids_sr16", 6, False),
        ("gad7", 4, True),
        ("gad7", 5, False),
    ],
)
def test_remission_lines(scale_id: str, total: int, expected: bool) -> None:
    assert is_remission(scale_id, total) is expected


@pytest.mark.parametrize("scale_id", ["pcl5", "pain_nrs", "cadss"])
def test_scales_without_a_remission_line_say_so(scale_id: str) -> None:
    assert is_remission(scale_id, 0) is None


# --- relapse (baseline 20: the response line is 10) -----------------------------------------


def test_relapse_needs_two_scores_in_a_row_above_the_response_line() -> None:
    later = series((at(2, 1), 8), (at(2, 8), 12), (at(2, 15), 13))
    found = relapse("phq9", 20, later)
    assert found is not None
    assert found.after == S(at(2, 1), 8)
    assert found.scores == (S(at(2, 8), 12), S(at(2, 15), 13))


def test_one_score_above_the_line_between_responses_is_not_a_relapse() -> None:
    later = series((at(2, 1), 8), (at(2, 8), 12), (at(2, 15), 9), (at(2, 22), 12))
    assert relapse("phq9", 20, later) is None


def test_a_score_on_the_response_line_still_counts_as_response() -> None:
    later = series((at(2, 1), 8), (at(2, 8), 10), (at(2, 15), 12))
    assert relapse("phq9", 20, later) is None


def test_no_relapse_without_a_response_first() -> None:
    later = series((at(2, 1), 15), (at(2, 8), 12), (at(2, 15), 13))
    assert relapse("phq9", 20, later) is None


def test_the_count_in_a_row_is_a_parameter() -> None:
    three = series((at(2, 1), 8), (at(2, 8), 12), (at(2, 15), 13))
    assert relapse("phq9", 20, three, in_a_row=3) is None
    four = [*three, S(at(2, 22), 14)]
    found = relapse("phq9", 20, four, in_a_row=3)
    assert found is not None
    assert found.scores[-1] == S(at(2, 22), 14)
    with pytest.raises(ValueError):
        relapse("phq9", 20, three, in_a_row=0)


def test_remission_without_response_then_still_in_remission_is_no_relapse() -> None:
    # Baseline 7: line 3.5. PHQ-9 4 is remission (< 5) but only a 43 % drop.
    later = series((at(2, 1), 4), (at(2, 8), 4), (at(2, 15), 4))
    assert relapse("phq9", 7, later) is None


def test_remission_without_response_then_two_scores_out_of_it_is_relapse() -> None:
    later = series((at(2, 1), 4), (at(2, 8), 6), (at(2, 15), 6))
    found = relapse("phq9", 7, later)
    assert found is not None
    assert found.after == S(at(2, 1), 4)


def test_the_latest_relapse_is_reported() -> None:
    later = series(
        (at(2, 1), 8),
        (at(2, 8), 12),
        (at(2, 15), 13),
        (at(2, 22), 6),
        (at(3, 1), 11),
        (at(3, 8), 14),
    )
    found = relapse("phq9", 20, later)
    assert found is not None
    assert found.after == S(at(2, 22), 6)
    assert found.scores == (S(at(3, 1), 11), S(at(3, 8), 14))


# --- maintenance suggestion (baseline 20) ---------------------------------------------------

SESSION = at(3, 1, 10)


def test_remission_fading_to_response_after_a_session_suggests_maintenance() -> None:
    scores = series((at(3, 3), 4), (at(3, 10), 8))
    found = maintenance_suggestion("phq9", 20, scores, [SESSION])
    assert found is not None
    assert found.best == S(at(3, 3), 4)
    assert found.latest == S(at(3, 10), 8)
    assert "remission" in found.reason and "response" in found.reason


def test_response_fading_to_neither_suggests_maintenance() -> None:
    scores = series((at(3, 3), 8), (at(3, 10), 12))
    assert maintenance_suggestion("phq9", 20, scores, [SESSION]) is not None


def test_a_rise_inside_remission_suggests_nothing() -> None:
    scores = series((at(3, 3), 2), (at(3, 10), 4))
    assert maintenance_suggestion("phq9", 20, scores, [SESSION]) is None


def test_a_rise_inside_response_suggests_nothing() -> None:
    scores = series((at(3, 3), 6), (at(3, 10), 10))
    assert maintenance_suggestion("phq9", 20, scores, [SESSION]) is None


def test_rising_scores_in_a_non_responder_suggest_nothing() -> None:
    scores = series((at(3, 3), 14), (at(3, 10), 16))
    assert maintenance_suggestion("phq9", 20, scores, [SESSION]) is None


def test_one_score_after_the_session_cannot_show_a_rise() -> None:
    scores = series((at(2, 25), 4), (at(3, 3), 12))
    assert maintenance_suggestion("phq9", 20, scores, [SESSION]) is None


def test_a_rise_before_the_latest_session_suggests_nothing() -> None:
    scores = series((at(3, 3), 4), (at(3, 10), 12))
    later_session = at(3, 12, 10)
    assert maintenance_suggestion("phq9", 20, scores, [SESSION, later_session]) is None


def test_a_rise_that_came_back_down_suggests_nothing() -> None:
    scores = series((at(3, 3), 4), (at(3, 10), 12), (at(3, 17), 4))
    assert maintenance_suggestion("phq9", 20, scores, [SESSION]) is None


def test_no_sessions_no_suggestion() -> None:
    scores = series((at(3, 3), 4), (at(3, 10), 12))
    assert maintenance_suggestion("phq9", 20, scores, []) is None


# --- pain and PTSD --------------------------------------------------------------------------


def test_pain_relief_of_exactly_30_percent_is_meaningful() -> None:
    assert is_meaningful_pain_relief(10, 7)
    assert is_meaningful_pain_relief(7, 4)  # 43 %


def test_pain_relief_below_30_percent_is_not() -> None:
    assert not is_meaningful_pain_relief(10, 8)  # 20 %
    assert not is_meaningful_pain_relief(7, 5)  # 28.6 %
    assert not is_meaningful_pain_relief(0, 0)


def test_pain_relief_share_is_a_parameter() -> None:
    assert not is_meaningful_pain_relief(10, 7, share=Fraction(1, 2))


@pytest.mark.parametrize(
    ("start", "now", "expected"),
    [
        (40, 30, "meaningful improvement"),
        (40, 31, "no meaningful change"),
        (40, 50, "meaningful worsening"),
        (40, 49, "no meaningful change"),
        (40, 40, "no meaningful change"),
    ],
)
def test_pcl5_ten_point_change(start: int, now: int, expected: str) -> None:
    assert pcl5_change(start, now) == expected


# --- the course -----------------------------------------------------------------------------


def test_course_of_a_patient_who_responds_then_relapses() -> None:
    scores = series(
        (at(1, 1), 22),
        (at(1, 5), 20),
        (at(1, 20), 9),
        (at(2, 3), 4),
        (at(2, 17), 11),
        (at(3, 3), 12),
    )
    sessions = [at(1, 6), at(1, 9), at(1, 13), at(1, 16), at(1, 20, 12), at(2, 10)]
    result = course("phq9", scores, sessions)
    assert result.baseline == S(at(1, 5), 20)
    assert result.latest == S(at(3, 3), 12)
    assert result.improvement == Fraction(8, 20)
    assert not result.response
    assert result.remission is False
    assert result.relapse is not None
    assert result.relapse.after == S(at(2, 3), 4)
    assert result.relapse.scores == (S(at(2, 17), 11), S(at(3, 3), 12))
    # After the session of 2-10 the scores are 11 then 12: never a response, so no suggestion.
    assert result.maintenance is None


def test_course_in_remission() -> None:
    scores = series((at(1, 5), 18), (at(1, 20), 4))
    result = course("phq9", scores, [at(1, 6)])
    assert result.response
    assert result.remission is True
    assert result.relapse is None


def test_course_without_baseline_judges_nothing() -> None:
    scores = series((at(1, 20), 4))
    result = course("phq9", scores, [at(1, 6)])
    assert result.baseline is None
    assert result.latest == S(at(1, 20), 4)
    assert not result.response
    assert result.remission is None
    assert result.improvement is None


def test_course_of_a_scale_without_remission_line() -> None:
    scores = series((at(1, 5), 8), (at(1, 20), 5))
    result = course("pain_nrs", scores, [at(1, 6)])
    assert result.remission is None
    assert not result.response  # 37.5 %
    assert result.improvement == Fraction(3, 8)
