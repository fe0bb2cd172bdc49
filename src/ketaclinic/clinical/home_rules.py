"""The home programme's rules: oral or sublingual ketamine taken at home between clinic visits.

Sources: issue 5, item 5 (a prescription-monitoring check before each home prescription; a
check-in before each home dose: sitter present, no driving, side effects; missed check-ins
flagged; home doses never exceed the plan); clinical-facts.md, "Esketamine": never dispensed
for home use, so only the oral and sublingual routes go home; "Racemic ketamine": a home
sublingual programme. Limits are "above": a dose equal to the plan's is allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

HOME_ROUTES: frozenset[str] = frozenset({"oral", "sublingual"})
HOME_ROUTES_SOURCE = (
    "issue 5 item 5: home programme for oral or sublingual plans; clinical-facts.md: esketamine "
    "is never dispensed for home use"
)

# How long a PDMP check stays good for the prescription written after it. Working value: the
# facts give no window; 24 hours keeps the check to the same sitting as the prescription.
PDMP_WINDOW = timedelta(hours=24)
PDMP_SOURCE = (
    "issue 5 item 5: a PDMP check recorded before each home prescription; window of 24 hours "
    "is a ketaclinic working value (no source in clinical-facts.md), clinic may change"
)
PDMP_RESULTS: frozenset[str] = frozenset({"clear", "concern"})

DOSE_SOURCE = "issue 5 item 5: home doses never exceed the plan"
CHECKIN_SOURCE = (
    "issue 5 item 5: a check-in before each home dose (sitter present, no driving, side "
    "effects); clinical-facts.md: no driving until the next day"
)


@dataclass(frozen=True)
class Refusal:
    """Why a home-programme step is refused: the field it concerns, the words, the source."""

    field: str
    message: str
    source: str


def route_goes_home(route: str) -> Refusal | None:
    """Only oral and sublingual plans have a home programme."""
    if route in HOME_ROUTES:
        return None
    return Refusal(
        "plan_id",
        f"a {route} plan has no home programme: only oral or sublingual doses go home",
        HOME_ROUTES_SOURCE,
    )


def pdmp_check_problem(
    checked_at: datetime | None,
    result: str | None,
    used: bool,
    written_at: datetime,
    window: timedelta = PDMP_WINDOW,
) -> Refusal | None:
    """Whether the latest PDMP check of the plan clears a prescription written at
    ``written_at``: recorded before it, within the window, clear, and not used by another."""
    if checked_at is None or checked_at > written_at:
        return Refusal(
            "pdmp", "no prescription-monitoring (PDMP) check recorded before it", PDMP_SOURCE
        )
    if used:
        return Refusal(
            "pdmp",
            "the last PDMP check already cleared another prescription: check again",
            PDMP_SOURCE,
        )
    if written_at - checked_at > window:
        hours = window.total_seconds() / 3600
        return Refusal(
            "pdmp",
            f"the last PDMP check ({checked_at:%Y-%m-%d %H:%M}) is more than {hours:g} hours old",
            PDMP_SOURCE,
        )
    if result != "clear":
        return Refusal(
            "pdmp",
            "the last PDMP check found a concern: no home prescription on it",
            PDMP_SOURCE,
        )
    return None


def prescription_dose_problem(dose_mg: float, doses: int, plan_mg: float | None) -> Refusal | None:
    """A home prescription: a positive dose no higher than the plan's, a positive count."""
    if plan_mg is None:
        return Refusal("dose_mg", "the plan has no dose in mg to prescribe against", DOSE_SOURCE)
    if not dose_mg > 0:
        return Refusal("dose_mg", "must be more than 0 mg", DOSE_SOURCE)
    if dose_mg > plan_mg:
        return Refusal(
            "dose_mg", f"{dose_mg:g} mg is above the plan's dose of {plan_mg:g} mg", DOSE_SOURCE
        )
    if doses < 1:
        return Refusal("doses", "must be at least 1", DOSE_SOURCE)
    return None


def checkin_passes(sitter_present: bool | None, no_driving: bool | None) -> bool:
    """A check-in clears a dose only when a sitter is present and the patient will not drive."""
    return sitter_present is True and no_driving is True


def checkin_missed(due_at: datetime, done_at: datetime | None, now: datetime) -> bool:
    """A scheduled check-in not done by its due time; at the due time itself it is not late."""
    return done_at is None and now > due_at


def home_dose_problem(
    dose_mg: float,
    plan_mg: float | None,
    prescription_mg: float,
    doses_taken: int,
    doses_prescribed: int,
) -> Refusal | None:
    """A dose in the diary: within the plan and the prescription, and doses left to take."""
    if not dose_mg > 0:
        return Refusal("dose_mg", "must be more than 0 mg", DOSE_SOURCE)
    if plan_mg is not None and dose_mg > plan_mg:
        return Refusal(
            "dose_mg", f"{dose_mg:g} mg is above the plan's dose of {plan_mg:g} mg", DOSE_SOURCE
        )
    if dose_mg > prescription_mg:
        return Refusal(
            "dose_mg",
            f"{dose_mg:g} mg is above the prescription's dose of {prescription_mg:g} mg",
            DOSE_SOURCE,
        )
    if doses_taken >= doses_prescribed:
        return Refusal(
            "prescription_id",
            f"all {doses_prescribed} doses of this prescription are already in the diary",
            DOSE_SOURCE,
        )
    return None


@dataclass(frozen=True)
class CheckinFacts:
    """What the dose rule needs of a check-in: when it was done, its answers, whether a dose
    already used it."""

    id: int
    done_at: datetime | None
    sitter_present: bool | None
    no_driving: bool | None
    used: bool


def checkin_for_dose(checkins: Sequence[CheckinFacts], taken_at: datetime) -> int | None:
    """The check-in that clears a dose taken at ``taken_at``: done the same day at or before
    the dose, passing, and not used by another dose (one check-in before each home dose); the
    latest such one."""
    fitting = [
        c
        for c in checkins
        if c.done_at is not None
        and c.done_at.date() == taken_at.date()
        and c.done_at <= taken_at
        and checkin_passes(c.sitter_present, c.no_driving)
        and not c.used
    ]
    if not fitting:
        return None
    return max(fitting, key=lambda c: (c.done_at or taken_at, c.id)).id
