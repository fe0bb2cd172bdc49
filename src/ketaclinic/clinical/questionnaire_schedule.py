"""Which assigned questionnaires are due or overdue: before each dosing session, and every so
many days.

Source: issue 6, "Patient self-report": questionnaires are assigned on a schedule (e.g. PHQ-9
before each session and every 14 days in maintenance) and the chart shows which are due and
overdue. Plain values only: sessions are the days they are planned for, responses the moments
they were completed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

BEFORE_SESSION_SOURCE = (
    "issue 6: a questionnaire assigned 'before each session' is due for the next planned dosing "
    "session until one is completed after the previous session's day (a response on the "
    "previous session's own day belongs to that session) and no later than the session's day. "
    "Before the first session, a response counts for the same number of days as a baseline "
    "scale does in the screening workup (policy workup.baseline_scale_days, 30 days, working "
    "value). Planned sessions carry a day, not a time, so a response on the session's day "
    "counts as taken before it"
)
INTERVAL_SOURCE = (
    "issue 6: a questionnaire assigned 'every N days' (e.g. every 14 days in maintenance; Seeds: "
    "one session's effect lasts 1-2 weeks) is due N days after the last completed one, or on "
    "the day the assignment starts when none was completed since; due on that day, overdue from "
    "the day after"
)
BASELINE_DAYS = 30  # policy workup.baseline_scale_days, BEFORE_SESSION_SOURCE

Status = Literal["due", "overdue"]


@dataclass(frozen=True)
class Schedule:
    """One assignment of a scale to a patient."""

    scale_id: str
    before_each_session: bool
    every_days: int | None
    starts_on: date


@dataclass(frozen=True)
class Due:
    scale_id: str
    status: Status
    due_on: date
    reason: str
    source: str


def due_before_session(
    schedule: Schedule,
    today: date,
    upcoming: Sequence[date],
    held: Sequence[date],
    completed: Sequence[datetime],
    baseline_days: int = BASELINE_DAYS,
) -> Due | None:
    """Due for the next session (``upcoming``: dosing sessions not yet started, planned for
    today or later; ``held``: the days of sessions that took place) when no response counts
    for it (BEFORE_SESSION_SOURCE). Never overdue: once a session has passed, the next one is
    what the questionnaire is due for."""
    if not schedule.before_each_session:
        return None
    ahead = sorted(d for d in upcoming if d >= today and d >= schedule.starts_on)
    if not ahead:
        return None
    session_day = ahead[0]
    earlier = [d for d in held if d < session_day]
    if earlier:
        counts_from = max(earlier) + timedelta(days=1)
    else:
        counts_from = session_day - timedelta(days=baseline_days)
    if any(counts_from <= c.date() <= session_day for c in completed):
        return None
    return Due(
        scale_id=schedule.scale_id,
        status="due",
        due_on=session_day,
        reason=f"before the session on {session_day.isoformat()}",
        source=BEFORE_SESSION_SOURCE,
    )


def due_on_interval(schedule: Schedule, today: date, completed: Sequence[datetime]) -> Due | None:
    """Due ``every_days`` after the last completed response (INTERVAL_SOURCE)."""
    if schedule.every_days is None:
        return None
    if schedule.every_days < 1:
        raise ValueError("every_days must be at least 1")
    last = max(completed, default=None)
    due_on = schedule.starts_on
    if last is not None:
        due_on = max(due_on, last.date() + timedelta(days=schedule.every_days))
    if today < due_on:
        return None
    status: Status = "due" if today == due_on else "overdue"
    since = f"last completed {last.date().isoformat()}" if last is not None else "none yet"
    return Due(
        scale_id=schedule.scale_id,
        status=status,
        due_on=due_on,
        reason=f"every {schedule.every_days} days ({since})",
        source=INTERVAL_SOURCE,
    )


def due(
    schedule: Schedule,
    today: date,
    upcoming: Sequence[date],
    held: Sequence[date],
    completed: Sequence[datetime],
    baseline_days: int = BASELINE_DAYS,
) -> list[Due]:
    """What the assignment asks for today: none, one or both rules' entries."""
    found = [
        due_before_session(schedule, today, upcoming, held, completed, baseline_days),
        due_on_interval(schedule, today, completed),
    ]
    return [d for d in found if d is not None]


def most_pressing_first(entries: Sequence[Due]) -> list[Due]:
    """Overdue before due, then the earliest day first."""
    return sorted(entries, key=lambda d: (d.status != "overdue", d.due_on, d.scale_id))
