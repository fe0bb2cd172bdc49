"""A session's safety rules: go or no-go before the dose, alerts during it, observation, discharge,
and the esketamine REMS Patient Monitoring Form.

Sources (clinical-facts.md): Spravato label (blood pressure before dosing, above about 140/90
consider delaying, the phase-3 trials withheld at systolic > 140, > 150 from age 65, or diastolic
> 90; recheck at 40 minutes; observe at least 2 hours; no driving until the next day; sedation by
MOAA/S, dissociation by CADSS > 4); REMS (the form's fields, within 7 days); Seeds (uncontrolled
hypertension; IV observation 30-60 minutes and until back to baseline; an adult escort home);
working values for in-session alerts (systolic > 180 or diastolic > 110, SpO2 < 92 %, heart rate
> 120 or < 50). Every limit is "above" or "below": a reading equal to the limit does not trip it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from ketaclinic.clinical.findings import Finding, Route
from ketaclinic.policy import DEFAULT, WORKING, Monitoring, Policy

LABEL = "Spravato label"
REMS = "Spravato REMS"
SEEDS = "Seeds"
ALERTS = "clinical-facts.md, Racemic ketamine: working values for in-session alerts"


MONITORING = DEFAULT.monitoring


@dataclass(frozen=True)
class Vitals:
    systolic: float | None = None
    diastolic: float | None = None
    heart_rate: float | None = None
    spo2: float | None = None
    respiratory_rate: float | None = None


@dataclass(frozen=True)
class Reason:
    """One rule that fired: its id, what to tell the nurse or prescriber, and its source."""

    id: str
    message: str
    source: str


# ---- before the dose ----------------------------------------------------------------------------

GoDecision = Literal["go", "confirm", "stop"]


@dataclass(frozen=True)
class GoNoGo:
    """``stop``: no dose today; ``confirm``: a prescriber weighs it and confirms; ``go``."""

    decision: GoDecision
    reasons: tuple[Reason, ...]


def predose_check(
    route: Route,
    blood_pressure: Vitals,
    age: int | None,
    new_findings: Sequence[Finding] = (),
    policy: Policy = DEFAULT,
    limits: Monitoring = MONITORING,
) -> GoNoGo:
    """Go or no-go before dosing, from today's blood pressure and today's screening findings.

    An absolute finding stops the session (issue 5); a relative one needs a prescriber. Blood
    pressure above the uncontrolled threshold stops every route (Seeds); on esketamine, above the
    label's threshold needs a prescriber (label: "weigh the risk and consider delaying"). Without
    an age the stricter under-65 systolic limit applies.
    """
    reasons: list[tuple[GoDecision, Reason]] = []
    for f in new_findings:
        if f.kind == "absolute":
            reasons.append(
                ("stop", Reason(f.id, f"New absolute contraindication: {f.message}", f.source))
            )
        elif f.kind == "relative":
            reasons.append(
                ("confirm", Reason(f.id, f"New relative contraindication: {f.message}", f.source))
            )
    systolic, diastolic = blood_pressure.systolic, blood_pressure.diastolic
    if systolic is None or diastolic is None:
        reasons.append(
            (
                "stop",
                Reason(
                    "blood_pressure_missing",
                    "No blood pressure before dosing: take one.",
                    f"{LABEL}: check blood pressure before dosing; {SEEDS}: baseline",
                ),
            )
        )
    else:
        bp = policy.blood_pressure
        reading = f"{systolic:g}/{diastolic:g}"
        if systolic > bp.uncontrolled_systolic or diastolic > bp.uncontrolled_diastolic:
            reasons.append(
                (
                    "stop",
                    Reason(
                        "blood_pressure_uncontrolled",
                        f"Blood pressure {reading} is above {bp.uncontrolled_systolic:g}/"
                        f"{bp.uncontrolled_diastolic:g}: no dose today.",
                        f"{SEEDS}: uncontrolled hypertension, systolic > 160 or diastolic > 90",
                    ),
                )
            )
        elif route == "esketamine":
            older = age is not None and age >= limits.older_age
            limit = limits.older_systolic if older else bp.elevated_systolic
            if systolic > limit or diastolic > bp.elevated_diastolic:
                reasons.append(
                    (
                        "confirm",
                        Reason(
                            "blood_pressure_elevated",
                            f"Blood pressure {reading} is above {limit:g}/"
                            f"{bp.elevated_diastolic:g}: weigh the risk and consider delaying; "
                            "a prescriber confirms before dosing.",
                            f"{LABEL}: above about 140/90 consider delaying; trials withheld at "
                            "systolic > 140, > 150 from age 65, or diastolic > 90",
                        ),
                    )
                )
    fired = {d for d, _ in reasons}
    decision: GoDecision = "stop" if "stop" in fired else "confirm" if "confirm" in fired else "go"
    return GoNoGo(decision, tuple(r for _, r in reasons))


# ---- during the session -------------------------------------------------------------------------


def vital_alerts(vitals: Vitals, limits: Monitoring = MONITORING) -> tuple[Reason, ...]:
    """The alerts one set of vitals raises; a missing value raises none."""
    checks: list[tuple[str, float | None, bool, float, str]] = [
        ("systolic_high", vitals.systolic, True, limits.alert_systolic, "Systolic"),
        ("diastolic_high", vitals.diastolic, True, limits.alert_diastolic, "Diastolic"),
        ("spo2_low", vitals.spo2, False, limits.alert_spo2, "SpO2"),
        ("heart_rate_high", vitals.heart_rate, True, limits.alert_heart_rate_high, "Heart rate"),
        ("heart_rate_low", vitals.heart_rate, False, limits.alert_heart_rate_low, "Heart rate"),
    ]
    return tuple(
        Reason(
            alert_id,
            f"{name} {value:g} is {'above' if high else 'below'} {limit:g}.",
            f"{ALERTS}; {WORKING}",
        )
        for alert_id, value, high, limit, name in checks
        if value is not None and (value > limit if high else value < limit)
    )


def blood_pressure_recheck_at(
    first_device_at: datetime, limits: Monitoring = MONITORING
) -> datetime:
    """Esketamine: the blood-pressure recheck, 40 minutes after the first device (label)."""
    return first_device_at + timedelta(minutes=limits.esketamine_bp_recheck_minutes)


def vitals_due(
    route: Route,
    dosing_started: datetime,
    observation_ends: datetime,
    limits: Monitoring = MONITORING,
) -> tuple[datetime, ...]:
    """When vitals are due: IV and IM every 15 minutes from the start to the end of observation;
    esketamine before dosing, at 40 minutes and before leaving (issue 5, label)."""
    if route == "esketamine":
        return (
            dosing_started,
            blood_pressure_recheck_at(dosing_started, limits),
            observation_ends,
        )
    step = timedelta(minutes=limits.iv_vitals_every_minutes)
    due = [dosing_started]
    while due[-1] + step < observation_ends:
        due.append(due[-1] + step)
    return (*due, observation_ends)


def dissociation_is_notable(cadss: int, limits: Monitoring = MONITORING) -> bool:
    """CADSS above 4 counts as notable dissociation (label); 0-92."""
    if not 0 <= cadss <= 92:
        raise ValueError(f"CADSS runs 0-92, not {cadss}")
    return cadss > limits.cadss_notable


def lost_consciousness(moaas: int) -> bool:
    """MOAA/S 0, no response to pain, is loss of consciousness (label); 0-5."""
    if not 0 <= moaas <= 5:
        raise ValueError(f"MOAA/S runs 0-5, not {moaas}")
    return moaas == 0


# ---- observation and discharge ------------------------------------------------------------------


def observation_ends_at(
    route: Route,
    dosing_started: datetime,
    dosing_ended: datetime,
    limits: Monitoring = MONITORING,
) -> datetime:
    """The earliest discharge time.

    Esketamine: 2 hours from the first device (label, REMS). IV: 60 minutes after the infusion
    ends (Seeds: 30-60; the top of the range is the policy default). IM and oral in clinic follow
    the IV rule, a working value: the facts give no observation time for them.
    """
    if dosing_ended < dosing_started:
        raise ValueError("dosing ended before it started")
    if route == "esketamine":
        return dosing_started + timedelta(minutes=limits.esketamine_observation_minutes)
    return dosing_ended + timedelta(minutes=limits.observation_minutes)


def near_baseline(latest: float, baseline: float, limits: Monitoring = MONITORING) -> bool:
    """Within 20 % of the pre-dose value (a working value, after PADSS)."""
    return abs(latest - baseline) <= baseline * limits.near_baseline_percent / 100


def _blood_pressure_settled(
    baseline: Vitals, latest: Vitals, previous: Vitals | None, limits: Monitoring
) -> bool:
    """Back near baseline, or falling and under the alert limits (issue 5)."""
    if latest.systolic is None or latest.diastolic is None:
        return False
    if (
        baseline.systolic is not None
        and baseline.diastolic is not None
        and (
            near_baseline(latest.systolic, baseline.systolic, limits)
            and near_baseline(latest.diastolic, baseline.diastolic, limits)
        )
    ):
        return True
    falling = (
        previous is not None
        and previous.systolic is not None
        and previous.diastolic is not None
        and latest.systolic < previous.systolic
        and latest.diastolic <= previous.diastolic
    )
    under = latest.systolic <= limits.alert_systolic and latest.diastolic <= limits.alert_diastolic
    return falling and under


def discharge_blockers(
    route: Route,
    now: datetime,
    observation_ends: datetime,
    baseline: Vitals,
    latest: Vitals,
    moaas: int | None,
    alert_and_oriented: bool,
    escort_present: bool,
    no_driving_acknowledged: bool,
    previous: Vitals | None = None,
    limits: Monitoring = MONITORING,
) -> tuple[Reason, ...]:
    """The discharge checklist items not met; empty when the patient may go.

    No driving until the next day is on the esketamine label; ketaclinic asks it on every route
    because every consent says it (issue 5) and the Seeds send IV patients home with an escort.
    """
    blockers: list[Reason] = []
    if now < observation_ends:
        left = int((observation_ends - now).total_seconds() // 60)
        source = (
            f"{LABEL}, {REMS}: at least 2 hours from the first device"
            if route == "esketamine"
            else f"{SEEDS}: 30-60 minutes after the infusion ends; {WORKING}"
        )
        blockers.append(
            Reason(
                "observation_not_over",
                f"Observation ends at {observation_ends:%H:%M} ({left} minutes left).",
                source,
            )
        )
    if not _blood_pressure_settled(baseline, latest, previous, limits):
        blockers.append(
            Reason(
                "blood_pressure_not_settled",
                "Blood pressure is not back within "
                f"{limits.near_baseline_percent:g} % of baseline, nor falling under the alert "
                "limits.",
                f"{SEEDS}: until back to baseline; within 20 % (PADSS), {WORKING}",
            )
        )
    open_alerts = vital_alerts(latest, limits)
    if open_alerts:
        blockers.append(
            Reason(
                "vitals_alerting",
                "Latest vitals raise an alert: " + " ".join(a.message for a in open_alerts),
                ALERTS,
            )
        )
    if moaas != 5:
        blockers.append(
            Reason(
                "not_fully_alert",
                f"MOAA/S is {moaas if moaas is not None else 'not recorded'}; discharge needs 5 "
                "(responds readily to name).",
                f"{LABEL}: observe until stable; MOAA/S 5 responds to name",
            )
        )
    if not alert_and_oriented:
        blockers.append(
            Reason("not_oriented", "Not confirmed alert and oriented.", f"{LABEL}: until stable")
        )
    if not escort_present:
        blockers.append(
            Reason("no_escort", "No adult escort present to take the patient home.", SEEDS)
        )
    if not no_driving_acknowledged:
        blockers.append(
            Reason(
                "no_driving_not_acknowledged",
                "The patient has not acknowledged: no driving until the next day.",
                f"{LABEL}: no driving until the next day after restful sleep; issue 5 consent",
            )
        )
    return tuple(blockers)


# ---- REMS Patient Monitoring Form ---------------------------------------------------------------


@dataclass(frozen=True)
class RemsMonitoringForm:
    """The REMS Patient Monitoring Form's fields (clinical-facts.md, "Esketamine")."""

    patient: str
    first_treatment: bool
    benzodiazepines: bool
    non_benzodiazepine_sedative_hypnotics: bool
    psychostimulants: bool
    maois: bool
    monitoring_clinician: str
    site: str
    session_date: date
    dose: Literal["56", "84", "other"]
    dose_mg: float
    lot: str
    minutes_first_device_to_end_of_monitoring: int
    minutes_until_ready_without_2_hour_rule: int
    vitals_acceptable_before_dosing: bool
    vitals_acceptable_before_leaving: bool
    blood_pressure_before_dosing: str
    blood_pressure_at_40_minutes: str
    blood_pressure_before_leaving: str
    sedation: bool
    dissociation: bool
    respiratory_depression: bool
    due_on: date
    source: str = f"{REMS}: Patient Monitoring Form after every session, within 7 days"


def _bp(v: Vitals) -> str:
    if v.systolic is None or v.diastolic is None:
        return ""
    return f"{v.systolic:g}/{v.diastolic:g}"


def rems_form(
    *,
    patient: str,
    first_treatment: bool,
    benzodiazepines: bool,
    non_benzodiazepine_sedative_hypnotics: bool,
    psychostimulants: bool,
    maois: bool,
    monitoring_clinician: str,
    site: str,
    dose_mg: float,
    lot: str,
    first_device_at: datetime,
    monitoring_ended_at: datetime,
    ready_without_2_hour_rule_at: datetime,
    before_dosing: Vitals,
    at_40_minutes: Vitals,
    before_leaving: Vitals,
    vitals_acceptable_before_dosing: bool,
    vitals_acceptable_before_leaving: bool,
    lowest_moaas: int,
    highest_cadss: int,
    respiratory_depression: bool,
    limits: Monitoring = MONITORING,
) -> RemsMonitoringForm:
    """The form built from the session's values.

    Sedation is any MOAA/S below 5 (not responding readily to name); dissociation is CADSS above
    4, the label's notable level. Whether vitals were acceptable is the clinician's attestation.
    """
    if monitoring_ended_at < first_device_at or ready_without_2_hour_rule_at < first_device_at:
        raise ValueError("monitoring cannot end before the first device")
    lost_consciousness(lowest_moaas)
    dose: Literal["56", "84", "other"] = (
        "56" if dose_mg == 56 else "84" if dose_mg == 84 else "other"
    )
    return RemsMonitoringForm(
        patient=patient,
        first_treatment=first_treatment,
        benzodiazepines=benzodiazepines,
        non_benzodiazepine_sedative_hypnotics=non_benzodiazepine_sedative_hypnotics,
        psychostimulants=psychostimulants,
        maois=maois,
        monitoring_clinician=monitoring_clinician,
        site=site,
        session_date=first_device_at.date(),
        dose=dose,
        dose_mg=dose_mg,
        lot=lot,
        minutes_first_device_to_end_of_monitoring=int(
            (monitoring_ended_at - first_device_at).total_seconds() // 60
        ),
        minutes_until_ready_without_2_hour_rule=int(
            (ready_without_2_hour_rule_at - first_device_at).total_seconds() // 60
        ),
        vitals_acceptable_before_dosing=vitals_acceptable_before_dosing,
        vitals_acceptable_before_leaving=vitals_acceptable_before_leaving,
        blood_pressure_before_dosing=_bp(before_dosing),
        blood_pressure_at_40_minutes=_bp(at_40_minutes),
        blood_pressure_before_leaving=_bp(before_leaving),
        sedation=lowest_moaas < 5,
        dissociation=dissociation_is_notable(highest_cadss, limits),
        respiratory_depression=respiratory_depression,
        due_on=first_device_at.date() + timedelta(days=limits.rems_form_days),
    )


def rems_form_problems(
    form: RemsMonitoringForm, limits: Monitoring = MONITORING
) -> tuple[str, ...]:
    """What on a form contradicts the REMS (e.g. monitored under 2 hours)."""
    problems = []
    if form.minutes_first_device_to_end_of_monitoring < limits.esketamine_observation_minutes:
        problems.append(
            f"Monitored {form.minutes_first_device_to_end_of_monitoring} minutes from the first "
            f"device; the REMS asks at least {limits.esketamine_observation_minutes}."
        )
    return tuple(problems)


def rems_form_overdue(
    session_date: date, submitted_on: date | None, today: date, limits: Monitoring = MONITORING
) -> bool:
    """A form not submitted within 7 days after its session; day 7 itself is still in time."""
    if submitted_on is not None:
        return False
    return today > session_date + timedelta(days=limits.rems_form_days)
