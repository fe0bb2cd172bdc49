"""A series of sessions as planned dates, what it is expected to cost, and when to review it.

Sources (clinical-facts.md): Seeds (6-8 IV infusions over 2-3 weeks then maintenance, a working
value; one session's effect lasts 1-2 weeks; IV $400-800 a session; esketamine more often covered
by insurance); Spravato label (TRD and suicidal-ideation schedules; judge benefit at the end of
week 4); Sanacora 2017 (few respond after 3 infusions if they did not before); "Codes and costs"
(G2082/G2083, J0013, 96365/96366, J3490; esketamine list $590 for 56 mg, $885 for 84 mg).

Dates only: the clinic books the hour. No two sessions fall on the same day, and "twice weekly"
means at least 2 days apart (issue 5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Literal

from ketaclinic.clinical.dosing import devices_for
from ketaclinic.clinical.findings import Route
from ketaclinic.policy import DEFAULT, WORKING, Series

LABEL = "Spravato label"
SEEDS = "Seeds"
SANACORA = "Sanacora 2017"
COSTS = "clinical-facts.md, Codes and costs"

Phase = Literal["induction", "weeks_5_to_8", "maintenance"]


SERIES = DEFAULT.series


@dataclass(frozen=True)
class PlannedSession:
    number: int
    on: date
    phase: Phase
    # Esketamine only: weight-based routes are dosed on the day, from that day's weight.
    mg: int | None = None


@dataclass(frozen=True)
class Plan:
    route: Route
    sessions: tuple[PlannedSession, ...]
    # The day to judge whether the series helps (label: end of week 4 for esketamine).
    review_on: date | None
    source: str


def spacing_problems(days: Sequence[date], minimum_gap_days: int = 1) -> tuple[str, ...]:
    """Pairs of consecutive planned days closer than ``minimum_gap_days`` (1: not the same day)."""
    ordered = sorted(days)
    return tuple(
        f"{a} and {b} are {(b - a).days} days apart; at least {minimum_gap_days} needed"
        for a, b in pairwise(ordered)
        if (b - a).days < minimum_gap_days
    )


def _numbered(
    start_number: int, days: Sequence[date], phase: Phase, mg: Sequence[int | None]
) -> tuple[PlannedSession, ...]:
    return tuple(
        PlannedSession(start_number + i, day, phase, dose)
        for i, (day, dose) in enumerate(zip(days, mg, strict=True))
    )


def induction(
    start: date,
    sessions: int | None = None,
    days: int | None = None,
    route: Route = "iv",
    limits: Series = SERIES,
) -> Plan:
    """IV (or IM) induction: ``sessions`` spread evenly over ``days`` from ``start`` (inclusive).

    The default, 6 over 14 days, falls on days 0, 2, 5, 7, 10 and 13: about three a week.
    IM follows the IV series (IM is about as effective as IV, Andrade 2017); a working value.
    """
    if route not in ("iv", "im"):
        raise ValueError(f"induction is for iv or im, not {route}")
    count = limits.iv_induction_sessions if sessions is None else sessions
    span = limits.iv_induction_days if days is None else days
    if count < 1 or span < count:
        raise ValueError(f"{count} sessions do not fit on separate days in {span} days")
    offsets = [0] if count == 1 else [i * (span - 1) // (count - 1) for i in range(count)]
    on = [start + timedelta(days=d) for d in offsets]
    return Plan(
        route=route,
        sessions=_numbered(1, on, "induction", [None] * count),
        review_on=None,
        source=f"{SEEDS}: 6-8 infusions over 2-3 weeks, then maintenance; {WORKING}",
    )


def maintenance(
    after: date,
    count: int,
    every_days: int | None = None,
    first_number: int = 1,
    mg: int | None = None,
    limits: Series = SERIES,
) -> tuple[PlannedSession, ...]:
    """``count`` maintenance sessions every ``every_days``, the first one gap after ``after``."""
    gap = limits.maintenance_every_days if every_days is None else every_days
    if gap < 1 or count < 0:
        raise ValueError("maintenance needs a positive interval and a count of 0 or more")
    on = [after + timedelta(days=gap * (i + 1)) for i in range(count)]
    return _numbered(first_number, on, "maintenance", [mg] * count)


def _twice_weekly(start: date, weeks: int, gap_days: int) -> list[date]:
    if not 2 <= gap_days <= 5:
        # Below 2 is not "twice weekly"; above 5 leaves less than 2 days to next week's first.
        raise ValueError(f"twice weekly needs the second day 2-5 days after the first: {gap_days}")
    return [start + timedelta(days=7 * w + d) for w in range(weeks) for d in (0, gap_days)]


def esketamine_trd(
    start: date,
    later_mg: int = 56,
    maintenance_sessions: int = 0,
    maintenance_every_weeks: int = 1,
    limits: Series = SERIES,
) -> Plan:
    """Esketamine for TRD on the label's schedule.

    Weeks 1-4 twice weekly, 56 mg on day 1 then ``later_mg`` (56 or 84); weeks 5-8 once weekly;
    from week 9 ``maintenance_sessions`` weekly or every 2 weeks (the least frequent that keeps
    the response, which only follow-up can tell: the prescriber sets the count and interval).
    """
    devices_for(later_mg)
    if maintenance_every_weeks not in (1, 2):
        raise ValueError("from week 9 the label doses weekly or every 2 weeks")
    weeks_1_4 = _twice_weekly(start, 4, limits.twice_weekly_gap_days)
    weeks_5_8 = [start + timedelta(days=7 * w) for w in range(4, 8)]
    week_9_on = [
        start + timedelta(days=56 + 7 * maintenance_every_weeks * i)
        for i in range(maintenance_sessions)
    ]
    sessions = (
        _numbered(1, weeks_1_4, "induction", [56] + [later_mg] * 7)
        + _numbered(9, weeks_5_8, "weeks_5_to_8", [later_mg] * 4)
        + _numbered(13, week_9_on, "maintenance", [later_mg] * len(week_9_on))
    )
    return Plan(
        route="esketamine",
        sessions=sessions,
        review_on=start + timedelta(days=27),
        source=f"{LABEL}: TRD weeks 1-4 twice weekly (day 1 56 mg, then 56 or 84), weeks 5-8 "
        "weekly, week 9 on weekly or every 2 weeks; judge benefit at the end of week 4",
    )


def esketamine_suicidal_ideation(start: date, mg: int = 84, limits: Series = SERIES) -> Plan:
    """Esketamine for MDD with acute suicidal ideation: 84 mg twice weekly for 4 weeks (56 mg if
    84 is not tolerated)."""
    devices_for(mg)
    on = _twice_weekly(start, 4, limits.twice_weekly_gap_days)
    return Plan(
        route="esketamine",
        sessions=_numbered(1, on, "induction", [mg] * 8),
        review_on=start + timedelta(days=27),
        source=f"{LABEL}: suicidal ideation, 84 mg twice weekly for 4 weeks (56 mg if not "
        "tolerated)",
    )


# ---- cost ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BillingLine:
    code: str
    units: int
    description: str
    source: str


@dataclass(frozen=True)
class SeriesCost:
    route: Route
    sessions: int
    # Whole US dollars; None where the facts give no figure (IM, oral: "cheaper").
    low_usd: int | None
    high_usd: int | None
    billing: tuple[BillingLine, ...]
    insurance_note: str
    notes: tuple[str, ...]


def infusion_extra_hours(minutes: int) -> int:
    """96366 units: each hour after the first, counted when more than 30 minutes of it is used.

    The half-hour rule is the CPT time convention for 96366, not in clinical-facts.md: a working
    value. 90 minutes is 0 extra hours, 91 is 1, 151 is 2.
    """
    beyond = max(0, minutes - 60)
    return beyond // 60 + (1 if beyond % 60 > 30 else 0)


def session_billing(
    route: Route, mg: int | None = None, infusion_minutes: int = 40
) -> tuple[BillingLine, ...]:
    """The billing codes of one session."""
    if route == "esketamine":
        if mg is None:
            raise ValueError("an esketamine session is billed by its dose in mg")
        devices_for(mg)
        observation = "G2082" if mg <= 56 else "G2083"
        return (
            BillingLine(
                observation,
                1,
                f"esketamine observation, {'up to' if mg <= 56 else 'over'} 56 mg, 2 h",
                f"{COSTS}: G2082 (<= 56 mg) / G2083 (> 56 mg), established patients",
            ),
            BillingLine("J0013", mg, "esketamine, 1 mg", f"{COSTS}: J0013 per mg from 2026"),
        )
    drug = BillingLine("J3490", 1, "racemic ketamine, unclassified drug", f"{COSTS}: J3490")
    if route == "iv":
        lines = []
        if infusion_minutes >= 16:
            lines.append(
                BillingLine("96365", 1, "IV infusion, first hour", f"{COSTS}: 96365 (>= 16 min)")
            )
        extra = infusion_extra_hours(infusion_minutes)
        if extra:
            lines.append(
                BillingLine(
                    "96366",
                    extra,
                    "IV infusion, each additional hour",
                    f"{COSTS}: 96366 each extra hour; > 30 minutes of an hour counts ({WORKING})",
                )
            )
        return (*lines, drug)
    if route == "im":
        return (drug,)
    # Oral and sublingual doses are dispensed, not administered in clinic: no code in the facts.
    return ()


def _summed(lines: Sequence[BillingLine]) -> tuple[BillingLine, ...]:
    totals: dict[str, BillingLine] = {}
    for line in lines:
        seen = totals.get(line.code)
        totals[line.code] = (
            line
            if seen is None
            else BillingLine(line.code, seen.units + line.units, line.description, line.source)
        )
    return tuple(totals.values())


def insurance_note(route: Route) -> str:
    if route == "esketamine":
        return (
            "Esketamine (Spravato) is more often covered by insurance than racemic ketamine; "
            "check the patient's plan and any prior authorisation before the first session. "
            f"({SEEDS})"
        )
    return (
        "Racemic ketamine is less often covered by insurance than esketamine; check the "
        f"patient's plan before the series: without cover the patient pays the cost. ({SEEDS})"
    )


def series_cost(
    route: Route,
    sessions: Sequence[PlannedSession],
    infusion_minutes: int = 40,
    limits: Series = SERIES,
) -> SeriesCost:
    """Expected cost of a series with its billing codes, summed over the sessions."""
    lines = [
        line
        for s in sessions
        for line in session_billing(
            route, s.mg if route == "esketamine" else None, infusion_minutes
        )
    ]
    notes: list[str] = []
    low: int | None
    high: int | None
    if route == "iv":
        low = limits.iv_session_low_usd * len(sessions)
        high = limits.iv_session_high_usd * len(sessions)
        notes.append(f"{SEEDS}: IV $400-800 per session (up to $2,000 elsewhere).")
    elif route == "esketamine":
        price = {56: limits.esketamine_56_usd, 84: limits.esketamine_84_usd}
        low = high = sum(price[s.mg] for s in sessions if s.mg is not None)
        notes.append(
            f"{COSTS}: list price of the drug, $590 for 56 mg and $885 for 84 mg (Seeds: "
            "$590-900 per dose); the observation fee is not included."
        )
    else:
        low = high = None
        notes.append(f"{SEEDS}: IM and oral are cheaper than IV; the facts give no figure.")
    return SeriesCost(
        route=route,
        sessions=len(sessions),
        low_usd=low,
        high_usd=high,
        billing=_summed(lines),
        insurance_note=insurance_note(route),
        notes=tuple(notes),
    )


# ---- review -------------------------------------------------------------------------------------

# The smallest change clinical-facts.md calls meaningful on each scale, as (kind, amount, source).
# For the depression and anxiety scales the facts give only response (a drop of 50 %): Sanacora's
# point is about response after 3 infusions, so that is the bar here.
IMPROVEMENT: dict[str, tuple[Literal["fraction", "points"], float, str]] = {
    "phq9": ("fraction", 0.5, "PHQ-9: response is a drop of at least 50 %"),
    "madrs": ("fraction", 0.5, "MADRS: response is a drop of at least 50 %"),
    "qids_sr16": ("fraction", 0.5, f"QIDS-SR16: PHQ-9/MADRS response rule applied; {WORKING}"),
    "gad7": ("fraction", 0.5, f"GAD-7: PHQ-9/MADRS response rule applied; {WORKING}"),
    "pcl5": ("points", 10, "PCL-5: a change of 10 points is meaningful"),
    "pain_nrs": ("fraction", 0.3, f"Pain NRS: a drop of 30 % is meaningful; {WORKING}"),
}


def improved(scale: str, baseline: float, latest: float) -> bool:
    """Whether ``latest`` is a meaningful improvement on ``baseline`` (lower is better on all)."""
    if scale not in IMPROVEMENT:
        raise ValueError(
            f"no improvement rule for scale {scale!r} (known: {', '.join(IMPROVEMENT)})"
        )
    kind, amount, _ = IMPROVEMENT[scale]
    drop = baseline - latest
    if kind == "points":
        return drop >= amount
    return baseline > 0 and drop >= amount * baseline


@dataclass(frozen=True)
class ReviewFlag:
    message: str
    source: str


def review_flag(
    route: Route,
    sessions_done: int,
    scale: str,
    baseline: float | None,
    latest: float | None,
    limits: Series = SERIES,
) -> ReviewFlag | None:
    """A flag on an IV plan after 3 sessions without improvement on the patient's scale."""
    after = limits.review_after_iv_sessions
    if route != "iv" or sessions_done < after:
        return None
    source = f"{SANACORA}: few patients respond after 3 infusions if they did not before"
    if baseline is None or latest is None:
        return ReviewFlag(
            f"{sessions_done} IV sessions done and no {scale} score to compare with baseline: "
            "record one and review the plan.",
            source,
        )
    if improved(scale, baseline, latest):
        return None
    return ReviewFlag(
        f"{sessions_done} IV sessions done and {scale} {baseline:g} -> {latest:g}, short of "
        f"{IMPROVEMENT[scale][2]}: review the plan.",
        f"{source}; {IMPROVEMENT[scale][2]}",
    )
