"""Whether a treatment plan may be made from a screening, and what its series and label are.

Sources: issue 5 ("a plan needs a signed screening that is eligible, eligible with precautions,
or overridden, no older than 90 days (policy), a complete workup"); spec/screening.md (routes:
``oral`` covers oral and sublingual; the workup table and ``workup_complete``; the ``off_label``
note for every indication except TRD and MDD with suicidal ideation on the esketamine route);
clinical-facts.md (Esketamine: the label's TRD and suicidal-ideation indications).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from ketaclinic.clinical.findings import Route
from ketaclinic.clinical.schedule import PlannedSession
from ketaclinic.policy import DEFAULT, Plans

PlanRoute = Literal["iv", "esketamine", "im", "oral", "sublingual"]
PLAN_SOURCE = "issue 5: a plan needs a signed, positive screening no older than 90 days (policy)"
WORKUP_SOURCE = "spec/screening.md: booking a first session needs a complete workup"
LABEL_SOURCE = (
    "spec/screening.md, Indications: off-label except TRD and MDD with suicidal ideation on the "
    "esketamine route (clinical-facts.md, Esketamine); ketamine is approved only for anaesthesia"
)
POSITIVE = ("eligible", "eligible_with_precautions")
ON_LABEL_ESKETAMINE = ("treatment_resistant_depression", "mdd_with_suicidal_ideation")
# Never required, reported when present (spec/screening.md, Workup).
NEVER_REQUIRED = ("urinalysis",)


@dataclass(frozen=True)
class Refusal:
    id: str
    message: str
    source: str


def screening_route(route: str) -> Route:
    """The screening route a plan's route needs: a sublingual plan uses the oral screening."""
    if route == "sublingual":
        return "oral"
    if route in ("iv", "esketamine", "im", "oral"):
        return route  # type: ignore[return-value]
    raise ValueError(f"no screening route for a plan by {route!r}")


def on_label(route: str, indication: str) -> bool:
    """Esketamine for TRD or MDD with suicidal ideation; every racemic-ketamine use is off-label."""
    return route == "esketamine" and indication in ON_LABEL_ESKETAMINE


def suicidal_ideation_schedule(route: str, indication: str) -> bool:
    """Esketamine for MDD with suicidal ideation follows the label's 4-week schedule."""
    return route == "esketamine" and indication == "mdd_with_suicidal_ideation"


@dataclass(frozen=True)
class ScreeningFacts:
    """What a plan needs to know of the screening, as plain values."""

    signed: bool
    decision: str  # the effective one: the engine's, or the prescriber's override
    overridden: bool
    screened_on: date
    indications: tuple[str, ...]
    workup: tuple[tuple[str, str], ...]  # (test, status)


def plan_refusals(
    facts: ScreeningFacts | None,
    indication: str,
    today: date,
    limits: Plans = DEFAULT.plans,
) -> tuple[Refusal, ...]:
    """Every reason the screening does not allow a plan for ``indication`` on ``today``."""
    if facts is None:
        return (
            Refusal(
                "no_screening", "No screening for this route: screen the patient.", PLAN_SOURCE
            ),
        )
    reasons: list[Refusal] = []
    if not facts.signed:
        reasons.append(
            Refusal(
                "screening_unsigned", "The screening is not signed by a prescriber.", PLAN_SOURCE
            )
        )
    if facts.decision not in POSITIVE:
        how = "overridden to" if facts.overridden else "decided"
        reasons.append(
            Refusal(
                "screening_not_positive",
                f"The screening {how} {facts.decision}; a plan needs eligible or eligible with "
                "precautions.",
                PLAN_SOURCE,
            )
        )
    age = (today - facts.screened_on).days
    if age > limits.screening_max_age_days:
        reasons.append(
            Refusal(
                "screening_too_old",
                f"The screening is {age} days old ({facts.screened_on}); a plan needs one from "
                f"the last {limits.screening_max_age_days} days.",
                f"{PLAN_SOURCE}; policy plans.screening_max_age_days",
            )
        )
    elif age < 0:
        reasons.append(
            Refusal(
                "screening_future",
                f"The screening is dated {facts.screened_on}, after {today}.",
                PLAN_SOURCE,
            )
        )
    unfinished = [
        f"{test} {status}"
        for test, status in facts.workup
        if test not in NEVER_REQUIRED and status not in ("done", "not_required")
    ]
    if unfinished:
        reasons.append(
            Refusal(
                "workup_incomplete",
                f"The workup is not complete: {', '.join(unfinished)}.",
                WORKUP_SOURCE,
            )
        )
    if facts.decision in POSITIVE and indication not in facts.indications:
        found = ", ".join(facts.indications) or "none"
        reasons.append(
            Refusal(
                "indication_not_screened",
                f"The screening does not show {indication} (it shows: {found}).",
                "spec/screening.md, Indications: an indication qualifies only as screened",
            )
        )
    return tuple(reasons)


def home_doses(start: date, doses: int, days: int) -> tuple[PlannedSession, ...]:
    """Oral or sublingual doses spread evenly over ``days`` from ``start``, one a day at most.

    The facts give no home schedule (Andrade 2017 reports doses, not frequencies): the count and
    the span are the prescriber's, placed like the IV induction (first and last day included).
    """
    if doses < 1 or days < doses:
        raise ValueError(f"{doses} doses do not fit on separate days in {days} days")
    offsets = [0] if doses == 1 else [i * (days - 1) // (doses - 1) for i in range(doses)]
    return tuple(
        PlannedSession(i + 1, start + timedelta(days=d), "induction") for i, d in enumerate(offsets)
    )


def workup_statuses(items: Sequence[dict[str, object]]) -> tuple[tuple[str, str], ...]:
    """The (test, status) pairs of the contract's ``workup`` list."""
    return tuple((str(i.get("test")), str(i.get("status"))) for i in items)
