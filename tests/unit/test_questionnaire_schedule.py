"""What an assignment makes due: before each session, every N days (issue 6, item 2).

Expected values worked by hand from the rules' sources in clinical/questionnaire_schedule.py.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from ketaclinic.clinical.questionnaire_schedule import (
    Due,
    Schedule,
    due,
    due_before_session,
    due_on_interval,
    most_pressing_first,
)

TODAY = date(2026, 11, 10)
BEFORE = Schedule("phq9", before_each_session=True, every_days=None, starts_on=date(2026, 10, 1))
EVERY_14 = Schedule("phq9", before_each_session=False, every_days=14, starts_on=date(2026, 10, 1))


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


# ---- before each session ------------------------------------------------------------------------


def test_due_for_the_next_session_when_nothing_was_answered_since_the_previous_one() -> None:
    # Previous session Nov 6, next Nov 12; last PHQ-9 Nov 5 belongs to the earlier session.
    found = due_before_session(
        BEFORE, TODAY, [date(2026, 11, 12), date(2026, 11, 16)], [date(2026, 11, 6)],
        [at(date(2026, 11, 5))],
    )  # fmt: skip
    assert found is not None
    assert (found.status, found.due_on) == ("due", date(2026, 11, 12))
    assert "2026-11-12" in found.reason


def test_a_response_the_day_after_the_previous_session_counts_for_the_next() -> None:
    found = due_before_session(
        BEFORE, TODAY, [date(2026, 11, 12)], [date(2026, 11, 6)], [at(date(2026, 11, 7))]
    )
    assert found is None


def test_a_response_on_the_previous_sessions_own_day_does_not_count_for_the_next() -> None:
    found = due_before_session(
        BEFORE, TODAY, [date(2026, 11, 12)], [date(2026, 11, 6)], [at(date(2026, 11, 6), 8)]
    )
    assert found is not None


def test_a_response_on_the_sessions_own_day_counts_as_before_it() -> None:
    today = date(2026, 11, 12)
    found = due_before_session(BEFORE, today, [today], [date(2026, 11, 6)], [at(today, 7)])
    assert found is None


def test_first_session_counts_a_response_within_the_baseline_window() -> None:
    # Session Nov 12, no session before: window 30 days, from Oct 13 on.
    inside = due_before_session(BEFORE, TODAY, [date(2026, 11, 12)], [], [at(date(2026, 10, 13))])
    outside = due_before_session(BEFORE, TODAY, [date(2026, 11, 12)], [], [at(date(2026, 10, 12))])
    assert inside is None
    assert outside is not None and outside.due_on == date(2026, 11, 12)


def test_no_upcoming_session_nothing_due_before_one() -> None:
    assert due_before_session(BEFORE, TODAY, [], [date(2026, 11, 6)], []) is None
    # A session planned in the past is not upcoming.
    assert due_before_session(BEFORE, TODAY, [date(2026, 11, 9)], [], []) is None


def test_sessions_before_the_assignment_starts_are_not_counted() -> None:
    later = Schedule("phq9", True, None, starts_on=date(2026, 11, 20))
    assert due_before_session(later, TODAY, [date(2026, 11, 12)], [], []) is None


def test_before_session_rule_off_when_not_assigned_so() -> None:
    assert due_before_session(EVERY_14, TODAY, [date(2026, 11, 12)], [], []) is None


# ---- every N days -------------------------------------------------------------------------------


def test_every_14_days_due_on_the_14th_day_and_overdue_the_day_after() -> None:
    last = [at(date(2026, 10, 27))]  # + 14 days = Nov 10
    not_yet = due_on_interval(EVERY_14, date(2026, 11, 9), last)
    on_day = due_on_interval(EVERY_14, date(2026, 11, 10), last)
    after = due_on_interval(EVERY_14, date(2026, 11, 11), last)
    assert not_yet is None
    assert on_day is not None and (on_day.status, on_day.due_on) == ("due", date(2026, 11, 10))
    assert after is not None and (after.status, after.due_on) == ("overdue", date(2026, 11, 10))


def test_never_completed_is_due_from_the_start_day() -> None:
    found = due_on_interval(EVERY_14, TODAY, [])
    assert found is not None
    assert (found.status, found.due_on) == ("overdue", date(2026, 10, 1))
    assert "none yet" in found.reason


def test_latest_of_several_responses_counts() -> None:
    found = due_on_interval(
        EVERY_14, TODAY, [at(date(2026, 11, 3)), at(date(2026, 10, 1))]
    )  # Nov 3 + 14 = Nov 17
    assert found is None


def test_interval_off_when_no_days_given() -> None:
    assert due_on_interval(BEFORE, TODAY, []) is None


def test_interval_of_zero_days_is_a_defect() -> None:
    with pytest.raises(ValueError):
        due_on_interval(Schedule("phq9", False, 0, date(2026, 10, 1)), TODAY, [])


# ---- both, and their order ----------------------------------------------------------------------


def test_both_rules_can_be_due_at_once() -> None:
    both = Schedule("phq9", True, 14, date(2026, 10, 1))
    found = due(both, TODAY, [date(2026, 11, 12)], [], [at(date(2026, 10, 1))])
    assert sorted(d.status for d in found) == ["due", "overdue"]


def test_overdue_comes_first_then_the_earliest() -> None:
    a = Due("gad7", "due", date(2026, 11, 10), "", "")
    b = Due("phq9", "overdue", date(2026, 11, 8), "", "")
    c = Due("pcl5", "due", date(2026, 11, 12), "", "")
    d = Due("qids_sr16", "overdue", date(2026, 11, 1), "", "")
    assert most_pressing_first([a, b, c, d]) == [d, b, a, c]
