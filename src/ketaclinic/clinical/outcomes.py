"""Outcomes over time: baseline, response, remission, relapse, a maintenance suggestion, and the
meaningful changes for pain and PTSD.

Source: issue 6, "Outcome logic", and clinical-facts.md, "Rating scales". Plain values only: a
score is a moment and a total, sessions are moments. Totals are compared as exact fractions so
that "at least 50 %" means exactly that for whole-number totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Literal

FACTS = "clinical-facts.md, Rating scales"

BASELINE_SOURCE = "issue 6: baseline = the last score before the first session"
RESPONSE_SOURCE = (
    f"{FACTS} (PHQ-9 and MADRS rows) and issue 6: response = a drop of at least 50 % from baseline"
)
REMISSION_SOURCE = (
    f"{FACTS} and issue 6: remission PHQ-9 < 5, MADRS <= 12 (esketamine trials), QIDS-SR16 <= 5, "
    "GAD-7 < 5"
)
RELAPSE_SOURCE = (
    "issue 6: relapse after response or remission when scores return above the response line on "
    "two scores in a row; the count is a policy candidate (default 2, not yet in policy.py). Read "
    "here as: after a score that is a response or a remission, that many consecutive later scores "
    "that are neither (above half the baseline and not in remission)"
)
MAINTENANCE_SOURCE = (
    "issue 6: a maintenance suggestion when scores rise again after a session; Seeds: one "
    "session's effect lasts 1-2 weeks. Read here as: the latest score after the latest session "
    "sits at a lower level (remission > response > neither) than the best earlier score since "
    "that session, and that best score was a response or a remission"
)
PAIN_SOURCE = f"{FACTS}: pain NRS, a drop of 30 % is meaningful (working value)"
PCL5_CHANGE_SOURCE = f"{FACTS}: PCL-5, a change of 10 points is meaningful (taken as >= 10)"

RESPONSE_SHARE = Fraction(1, 2)
PAIN_RELIEF_SHARE = Fraction(3, 10)  # working value, PAIN_SOURCE
PCL5_MEANINGFUL_POINTS = 10
RELAPSE_IN_A_ROW = 2  # policy candidate, RELAPSE_SOURCE


@dataclass(frozen=True)
class Score:
    taken: datetime
    total: float


@dataclass(frozen=True)
class Remission:
    scale_id: str
    limit: int
    # False: below the limit (PHQ-9 < 5); True: at or below it (MADRS <= 12).
    inclusive: bool
    source: str


REMISSION: dict[str, Remission] = {
    "phq9": Remission("phq9", 5, inclusive=False, source=REMISSION_SOURCE),
    "madrs": Remission("madrs", 12, inclusive=True, source=REMISSION_SOURCE),
    "qids_sr16": Remission("qids_sr16", 5, inclusive=True, source=REMISSION_SOURCE),
    "gad7": Remission("gad7", 5, inclusive=False, source=REMISSION_SOURCE),
}

Level = Literal["remission", "response", "neither"]
_RANK: dict[Level, int] = {"neither": 0, "response": 1, "remission": 2}


@dataclass(frozen=True)
class Relapse:
    # The response or remission score the relapse follows.
    after: Score
    # The consecutive scores above the response line; the last one is when it is called.
    scores: tuple[Score, ...]
    source: str


@dataclass(frozen=True)
class MaintenanceSuggestion:
    session: datetime
    best: Score
    latest: Score
    reason: str
    source: str


@dataclass(frozen=True)
class Course:
    """One scale's course for one patient: the parts a chart or a dashboard shows."""

    scale_id: str
    baseline: Score | None
    latest: Score | None
    improvement: Fraction | None
    response: bool
    # None when the scale has no remission line (PCL-5, pain NRS, ...).
    remission: bool | None
    relapse: Relapse | None
    maintenance: MaintenanceSuggestion | None


def in_time_order(scores: Sequence[Score]) -> list[Score]:
    return sorted(scores, key=lambda s: s.taken)


def baseline(scores: Sequence[Score], first_session: datetime) -> Score | None:
    """The last score taken strictly before the first session; None when there is none.

    A score taken at the session's own moment is not a baseline: it cannot be told from one
    taken during the session.
    """
    before = [s for s in in_time_order(scores) if s.taken < first_session]
    return before[-1] if before else None


def improvement(baseline_total: float, total: float) -> Fraction | None:
    """The share of the baseline that is gone (0.5 = halved; negative = worse); None for a zero
    baseline, where no drop is possible."""
    if baseline_total <= 0:
        return None
    start = Fraction(baseline_total)
    return (start - Fraction(total)) / start


def is_response(baseline_total: float, total: float) -> bool:
    """A drop of at least 50 % from baseline (RESPONSE_SOURCE)."""
    share = improvement(baseline_total, total)
    return share is not None and share >= RESPONSE_SHARE


def response_line(baseline_total: float) -> Fraction:
    """Half the baseline: a score above it is no longer a response."""
    return Fraction(baseline_total) * (1 - RESPONSE_SHARE)


def is_remission(scale_id: str, total: float) -> bool | None:
    """Below the scale's remission line (REMISSION_SOURCE); None when it has none."""
    rule = REMISSION.get(scale_id)
    if rule is None:
        return None
    return total <= rule.limit if rule.inclusive else total < rule.limit


def level(scale_id: str, baseline_total: float, total: float) -> Level:
    """Remission outranks response: a patient in remission is reported as such."""
    if is_remission(scale_id, total):
        return "remission"
    if is_response(baseline_total, total):
        return "response"
    return "neither"


def relapse(
    scale_id: str,
    baseline_total: float,
    later: Sequence[Score],
    in_a_row: int = RELAPSE_IN_A_ROW,
) -> Relapse | None:
    """The latest relapse among the scores after baseline (RELAPSE_SOURCE), or None.

    A relapse needs a response or remission first; after one is called, another needs a new
    response or remission. A later recovery does not erase it: the chart keeps the history.
    """
    if in_a_row < 1:
        raise ValueError("in_a_row must be at least 1")
    found: Relapse | None = None
    benefit: Score | None = None
    run: list[Score] = []
    for s in in_time_order(later):
        if level(scale_id, baseline_total, s.total) != "neither":
            benefit, run = s, []
            continue
        if benefit is None:
            continue
        run.append(s)
        if len(run) == in_a_row:
            found = Relapse(after=benefit, scores=tuple(run), source=RELAPSE_SOURCE)
            benefit, run = None, []
    return found


def maintenance_suggestion(
    scale_id: str,
    baseline_total: float,
    scores: Sequence[Score],
    sessions: Sequence[datetime],
) -> MaintenanceSuggestion | None:
    """Scores rising again after the latest session (MAINTENANCE_SOURCE), or None.

    The best score since the session must have reached response or remission: if the session
    never helped, a rising score is non-response, not a fading effect. Two scores after the
    session are the least that can show a rise. Only the latest score is judged, so a rise that
    has since come back down suggests nothing.
    """
    if not sessions:
        return None
    session = max(sessions)
    after = [s for s in in_time_order(scores) if s.taken > session]
    if len(after) < 2:
        return None
    latest = after[-1]
    best = min(after[:-1], key=lambda s: s.total)
    best_level = level(scale_id, baseline_total, best.total)
    latest_level = level(scale_id, baseline_total, latest.total)
    if best_level == "neither" or _RANK[latest_level] >= _RANK[best_level]:
        return None
    return MaintenanceSuggestion(
        session=session,
        best=best,
        latest=latest,
        reason=(
            f"score rose from {best.total:g} ({best_level}) to {latest.total:g} "
            f"({latest_level}) after the session of {session:%Y-%m-%d}"
        ),
        source=MAINTENANCE_SOURCE,
    )


def is_meaningful_pain_relief(
    baseline_total: float, total: float, share: Fraction = PAIN_RELIEF_SHARE
) -> bool:
    """Pain NRS down by at least 30 % of baseline (working value, PAIN_SOURCE)."""
    drop = improvement(baseline_total, total)
    return drop is not None and drop >= share


PtsdChange = Literal["meaningful improvement", "meaningful worsening", "no meaningful change"]


def pcl5_change(
    baseline_total: float, total: float, points: int = PCL5_MEANINGFUL_POINTS
) -> PtsdChange:
    """A PCL-5 change of at least 10 points either way (PCL5_CHANGE_SOURCE)."""
    if baseline_total - total >= points:
        return "meaningful improvement"
    if total - baseline_total >= points:
        return "meaningful worsening"
    return "no meaningful change"


def course(
    scale_id: str,
    scores: Sequence[Score],
    sessions: Sequence[datetime],
    in_a_row: int = RELAPSE_IN_A_ROW,
) -> Course:
    """Baseline, latest, and what they mean; with no baseline nothing is judged."""
    first = min(sessions) if sessions else None
    start = baseline(scores, first) if first is not None else None
    ordered = in_time_order(scores)
    if start is None or first is None:
        return Course(
            scale_id, start, ordered[-1] if ordered else None, None, False, None, None, None
        )
    later = [s for s in ordered if s.taken >= first]
    latest = later[-1] if later else None
    if latest is None:
        return Course(scale_id, start, None, None, False, None, None, None)
    return Course(
        scale_id=scale_id,
        baseline=start,
        latest=latest,
        improvement=improvement(start.total, latest.total),
        response=is_response(start.total, latest.total),
        remission=is_remission(scale_id, latest.total),
        relapse=relapse(scale_id, start.total, later, in_a_row),
        maintenance=maintenance_suggestion(scale_id, start.total, later, sessions),
    )
