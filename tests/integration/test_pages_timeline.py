"""The chart's trial timeline: daily doses, weeks taken and the drawing's geometry, from plain
medication rows (no database). Expected values are worked out by hand in the comments."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from ketaclinic.services.charting import TrialLine
from ketaclinic.store.models import MedicationRecord
from ketaclinic.web.pages_timeline import (
    LANE_HEIGHT,
    OUTCOME_FILL,
    TOP,
    UNKNOWN_FILL,
    daily_dose_mg,
    dose_words,
    outcome_words,
    trial_timeline,
    weeks_taken,
)

TODAY = date(2026, 11, 1)
# The plot runs from x=190 (after the lane names) to x=960-64=896: 706 units wide.
LEFT, RIGHT = 190, 896


def row(record_id: int = 1, **values: Any) -> MedicationRecord:
    base: dict[str, Any] = {
        "id": record_id,
        "name": "sertraline",
        "ingredient": "sertraline",
        "status": "completed",
        "dose_mg": 100.0,
        "frequency": 1,
        "period": 1.0,
        "period_unit": "d",
        "start": None,
        "end": None,
        "outcome": None,
        "outcome_text": None,
    }
    base.update(values)
    return MedicationRecord(**base)


@pytest.mark.parametrize(
    ("values", "daily"),
    [
        ({"dose_mg": 50.0, "frequency": 2}, 100.0),  # 50 mg twice a day
        ({"dose_mg": 10.0, "frequency": 1, "period": 8.0, "period_unit": "h"}, 30.0),  # every 8 h
        ({"dose_mg": 70.0, "period_unit": "wk"}, 10.0),  # 70 mg a week
        ({"dose_mg": 300.0, "period_unit": "mo"}, 10.0),  # 300 mg a month of 30 days
        ({"dose_mg": None}, None),
        ({"period_unit": "a"}, None),  # a unit the forms do not know
    ],
)
def test_the_daily_dose(values: dict[str, Any], daily: float | None) -> None:
    result = daily_dose_mg(row(**values))
    if daily is None:
        assert result is None
    else:
        assert result == pytest.approx(daily)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({}, "100 mg daily"),
        ({"dose_mg": 50.0, "frequency": 2}, "50 mg twice daily"),
        ({"dose_mg": 10.0, "frequency": 3}, "10 mg 3 times daily"),
        ({"dose_mg": 70.0, "period_unit": "wk"}, "70 mg 1 times every 1 wk (10 mg a day)"),
        ({"dose_mg": None}, "dose not recorded"),
    ],
)
def test_the_dose_in_words(values: dict[str, Any], words: str) -> None:
    assert dose_words(row(**values)) == words


def test_weeks_taken() -> None:
    start = TODAY - timedelta(days=250)
    # 70 days between start and end: 10 weeks.
    assert weeks_taken(row(start=start, end=start + timedelta(days=70)), TODAY) == 10.0
    # Still taken: counted to today (250 days = 35.7 weeks).
    assert weeks_taken(row(start=start, status="active"), TODAY) == 35.7
    # Completed with no end: the length is unknown, not guessed.
    assert weeks_taken(row(start=start, status="completed"), TODAY) is None
    assert weeks_taken(row(start=None, end=TODAY), TODAY) is None


def test_the_outcome_in_words() -> None:
    assert outcome_words(row(outcome="no-response")) == "No response"
    assert outcome_words(row(outcome="partial-response", outcome_text="a bit")) == (
        "Partial response (a bit)"
    )
    assert outcome_words(row(outcome_text="made her sleepy")) == "made her sleepy"
    assert outcome_words(row()) == "Outcome not recorded"


def test_one_lane_per_drug_one_bar_per_prescription_placed_in_time() -> None:
    first = TODAY - timedelta(days=200)
    sertraline = row(1, start=first, end=first + timedelta(days=70), outcome="no-response")
    venla_75 = row(
        2,
        name="venlafaxine",
        ingredient="venlafaxine",
        dose_mg=75.0,
        start=TODAY - timedelta(days=100),
        end=TODAY - timedelta(days=50),
    )
    venla_150 = row(
        3,
        name="venlafaxine",
        ingredient="venlafaxine",
        dose_mg=150.0,
        start=TODAY - timedelta(days=50),
        status="active",
        outcome="partial-response",
    )
    drawing = trial_timeline(
        [TrialLine("sertraline", [sertraline]), TrialLine("venlafaxine", [venla_75, venla_150])],
        TODAY,
    )
    assert drawing is not None
    assert (drawing.plot_left, drawing.plot_right) == (LEFT, RIGHT)
    assert [lane.label for lane in drawing.lanes] == ["sertraline", "venlafaxine"]
    assert [lane.y for lane in drawing.lanes] == [TOP, TOP + LANE_HEIGHT]
    # The newest prescription of a drug gives its lane's outcome.
    assert [lane.outcome for lane in drawing.lanes] == ["No response", "Partial response"]
    (s,) = drawing.lanes[0].bars
    v75, v150 = drawing.lanes[1].bars
    # 200 days from the first start to today over 706 units: 3.53 units a day.
    assert s.x == LEFT
    assert s.width == pytest.approx(70 * 3.53, abs=0.2)
    assert v75.x == pytest.approx(LEFT + 100 * 3.53, abs=0.1)
    # The ongoing prescription runs to today, the right end of the plot.
    assert v150.x + v150.width == pytest.approx(RIGHT, abs=0.2)
    assert drawing.today_x == RIGHT
    assert [b.label for b in (s, v75, v150)] == ["100 mg daily", "75 mg daily", "150 mg daily"]
    assert [b.fill for b in (s, v75, v150)] == [
        OUTCOME_FILL["no-response"],
        UNKNOWN_FILL,
        OUTCOME_FILL["partial-response"],
    ]
    assert "still taken" in v150.title and not v150.open_end


def test_a_prescription_of_unknown_length_is_a_short_open_stub_and_no_start_is_not_drawn() -> None:
    start = TODAY - timedelta(days=120)
    unknown_end = row(1, start=start, status="completed")
    no_start = row(2, start=None, end=TODAY - timedelta(days=10))
    drawing = trial_timeline([TrialLine("sertraline", [unknown_end, no_start])], TODAY)
    assert drawing is not None
    (bar,) = drawing.lanes[0].bars
    assert bar.open_end
    # 14 days of 120 over 706 units.
    assert bar.width == pytest.approx(14 / 120 * 706, abs=0.2)
    assert "end unknown" in bar.title
    assert drawing.undrawn == 1


def test_nothing_to_draw_without_a_start_date() -> None:
    assert trial_timeline([TrialLine("sertraline", [row(start=None)])], TODAY) is None
    assert trial_timeline([], TODAY) is None


def test_a_short_history_still_spans_sixty_days_with_monthly_ticks() -> None:
    start = TODAY - timedelta(days=10)
    drawing = trial_timeline([TrialLine("sertraline", [row(start=start, end=TODAY)])], TODAY)
    assert drawing is not None
    # The plot starts 60 days before today (2026-09-02): month starts Oct and Nov are marked.
    assert [t.label for t in drawing.ticks] == ["Oct 2026", "Nov 2026"]
    # Nov 1 is today, at the right edge: its label ends at the line instead of running off.
    assert [t.anchor for t in drawing.ticks] == ["start", "end"]
    assert drawing.lanes[0].bars[0].x == pytest.approx(LEFT + 50 / 60 * 706, abs=0.1)


def test_a_long_history_is_marked_by_years() -> None:
    start = date(2019, 5, 1)
    drawing = trial_timeline([TrialLine("sertraline", [row(start=start, end=TODAY)])], TODAY)
    assert drawing is not None
    # 91 months: every 12 months gives 8 labels at most; the ones on a year's first month.
    assert [t.label for t in drawing.ticks] == [str(y) for y in range(2020, 2027)]
