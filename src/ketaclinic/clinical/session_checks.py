"""The session rules monitoring.py and dosing.py leave to the chair: what is new since the plan's
screening, fasting, REMS enrolment, escort and pregnancy test before the dose; whether a dose
keeps to the plan; when a vital reading is overdue; what keeps a patient from being ready to go.

Sources: the Spravato label (no food for 2 h, no drink for 30 min before dosing; 28 mg devices,
56 or 84 mg); the Spravato REMS (site certified, each outpatient enrolled before the first dose);
Seeds (an adult escort home); spec/screening.md (pregnancy test for females 12-55, fresh within
7 days); issue 5 (a new absolute contraindication stops the session, a dose outside the plan
needs a prescriber, overdue readings flagged, an alert stays until acknowledged).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from ketaclinic.clinical.dosing import DEVICE_MG, DEVICE_SOURCE, ESKETAMINE_DEVICES, DoseNote
from ketaclinic.clinical.findings import Finding, Route
from ketaclinic.clinical.monitoring import GoNoGo, Reason
from ketaclinic.policy import WORKING

LABEL = "Spravato label"
REMS = "Spravato REMS"
ISSUE = "issue 5"

# Spravato label, "Before dosing": no food for 2 hours, no drink for 30 minutes.
NO_FOOD = timedelta(hours=2)
NO_DRINK = timedelta(minutes=30)
FASTING_SOURCE = f"{LABEL}: no food for 2 h and no drink for 30 min before dosing"
# A reading counts for a due time taken up to 5 minutes either side of it: the issue asks IV
# vitals every 10-15 minutes, so 5 minutes keeps two due times apart (working value).
VITALS_SLACK = timedelta(minutes=5)
VITALS_SLACK_SOURCE = f"{ISSUE}: overdue readings flagged; 5 minutes' slack, {WORKING}"
# The most the label gives in one session: 84 mg, three 28 mg devices.
ESKETAMINE_MAXIMUM_MG = max(ESKETAMINE_DEVICES) * 1.0


# ---- before the dose ----------------------------------------------------------------------------


def new_findings(today: Sequence[Finding], baseline: Sequence[Finding]) -> tuple[Finding, ...]:
    """Today's contraindications the plan's screening did not have (same id and kind); a
    finding that grew stricter (relative then, absolute now) counts as new."""
    known = {(f.id, f.kind) for f in baseline}
    return tuple(
        f for f in today if f.kind in ("absolute", "relative") and (f.id, f.kind) not in known
    )


def fasting_problem(
    route: Route,
    now: datetime,
    confirmed: bool | None,
    last_food_at: datetime | None = None,
    last_drink_at: datetime | None = None,
) -> Reason | None:
    """Esketamine only: fasting must be confirmed, and the times, when given, must agree."""
    if route != "esketamine":
        return None
    if last_food_at is not None and now - last_food_at < NO_FOOD:
        minutes = int((now - last_food_at).total_seconds() // 60)
        return Reason(
            "fasting_food",
            f"Ate {minutes} minutes ago; esketamine needs 2 hours without food.",
            FASTING_SOURCE,
        )
    if last_drink_at is not None and now - last_drink_at < NO_DRINK:
        minutes = int((now - last_drink_at).total_seconds() // 60)
        return Reason(
            "fasting_drink",
            f"Drank {minutes} minutes ago; esketamine needs 30 minutes without drinks.",
            FASTING_SOURCE,
        )
    if confirmed is not True:
        return Reason(
            "fasting_not_confirmed",
            "Fasting not confirmed (no food for 2 hours, no drink for 30 minutes).",
            FASTING_SOURCE,
        )
    return None


def rems_problems(route: Route, site_certified: bool, patient_enrolled: bool) -> tuple[Reason, ...]:
    """Esketamine only: the site's certification and the patient's enrolment, before any dose."""
    if route != "esketamine":
        return ()
    problems = []
    if not site_certified:
        problems.append(
            Reason(
                "rems_site_not_certified",
                "The site's REMS certification is not recorded.",
                f"{REMS}: only certified sites may give esketamine",
            )
        )
    if not patient_enrolled:
        problems.append(
            Reason(
                "rems_patient_not_enrolled",
                "The patient's REMS enrolment is not recorded.",
                f"{REMS}: each outpatient enrolled before the first dose",
            )
        )
    return tuple(problems)


def escort_problem(confirmed: bool) -> Reason | None:
    if confirmed:
        return None
    return Reason(
        "escort_not_confirmed",
        "No adult escort or transport home confirmed.",
        "Seeds: an adult escort home; Spravato label: no driving until the next day",
    )


def pregnancy_test_problem(status: str | None) -> Reason | None:
    """The screening's ``pregnancy_test`` workup status today: missing or stale stops the dose
    (required for females aged 12-55, fresh within 7 days); done or not required passes."""
    if status not in ("missing", "stale"):
        return None
    return Reason(
        "pregnancy_test_not_fresh",
        f"Pregnancy test {status}: a test from the last 7 days is needed before dosing.",
        "spec/screening.md, Workup: pregnancy_test for females 12-55, fresh within 7 days",
    )


def with_stops(outcome: GoNoGo, stops: Sequence[Reason]) -> GoNoGo:
    """The go/no-go with more reasons that each stop the session."""
    if not stops:
        return outcome
    return GoNoGo("stop", (*outcome.reasons, *stops))


# ---- the dose -----------------------------------------------------------------------------------


def device_problem(mg: float, given_mg: float) -> DoseNote | None:
    """An esketamine device is 28 mg, and no session goes above 84 mg (label)."""
    if mg != DEVICE_MG:
        return DoseNote(
            "device_dose", f"An esketamine device is {DEVICE_MG} mg, not {mg:g} mg.", DEVICE_SOURCE
        )
    if given_mg + mg > ESKETAMINE_MAXIMUM_MG:
        return DoseNote(
            "dose_above_maximum",
            f"{given_mg + mg:g} mg in one session is above the label maximum of "
            f"{ESKETAMINE_MAXIMUM_MG:g} mg.",
            DEVICE_SOURCE,
        )
    return None


def outside_plan(route: Route, given_mg: float, mg: float, planned_mg: float) -> DoseNote | None:
    """Why this dose leaves the plan, or None. Esketamine: the devices may not add up to more
    than planned. Other routes: the session's doses must add up to the planned mg (to 0.01 mg,
    the precision of a mg/kg dose); less is outside the plan too (a slip of the decimal)."""
    total = round(given_mg + mg, 2)
    planned = round(planned_mg, 2)
    if route == "esketamine":
        if total <= planned:
            return None
    elif total == planned:
        return None
    return DoseNote(
        "dose_outside_plan",
        f"{total:g} mg this session; the plan says {planned:g} mg. A prescriber confirms a "
        "dose outside the plan, with a reason.",
        f"{ISSUE}: a dose outside the plan is refused unless a prescriber confirms it",
    )


# ---- during the session -------------------------------------------------------------------------


def _met(index: int, due: Sequence[datetime], taken: Sequence[datetime], slack: timedelta) -> bool:
    at = due[index]
    if index == 0:
        # Before dosing: any reading up to the start counts (the pre-dose one).
        return any(t <= at + slack for t in taken)
    if index == len(due) - 1:
        # Before leaving: any reading from then on.
        return any(t >= at - slack for t in taken)
    return any(at - slack <= t <= at + slack for t in taken)


def vitals_overdue(
    due: Sequence[datetime],
    taken: Sequence[datetime],
    now: datetime,
    slack: timedelta = VITALS_SLACK,
) -> tuple[datetime, ...]:
    """The due times with no reading near them, now more than ``slack`` past."""
    return tuple(
        at for i, at in enumerate(due) if now > at + slack and not _met(i, due, taken, slack)
    )


def next_vitals_due(
    due: Sequence[datetime],
    taken: Sequence[datetime],
    now: datetime,
    slack: timedelta = VITALS_SLACK,
) -> datetime | None:
    """The first due time still to come (or within its slack) with no reading for it yet."""
    for i, at in enumerate(due):
        if now <= at + slack and not _met(i, due, taken, slack):
            return at
    return None


def open_alerts_reason(count: int) -> Reason | None:
    """Open alerts keep the patient in observation until a nurse acknowledges them."""
    if count == 0:
        return None
    return Reason(
        "alerts_open",
        f"{count} alert{'s' if count > 1 else ''} not yet acknowledged.",
        f"{ISSUE}: an alert stays until a nurse acknowledges it with the action taken",
    )


# The discharge items a nurse attests at the door; the others come from the session's records.
ATTESTED = frozenset({"not_oriented", "no_escort", "no_driving_not_acknowledged"})


def recorded_blockers(blockers: Sequence[Reason]) -> tuple[Reason, ...]:
    """The checklist items the session's records decide (time, blood pressure, vitals, MOAA/S,
    alerts): when none is left the session is ready for discharge."""
    return tuple(b for b in blockers if b.id not in ATTESTED)
