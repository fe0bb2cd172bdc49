"""What staff type at the chair, and how it is checked before anything is written.

A vital sign outside what a living, monitored outpatient can show, a dose that is not a number or
a time in the future is refused with the field named (issue 5, "Bad input"). The ranges below are
data-entry limits, wider than any alert: a reading inside them is recorded (and may raise an
alert); a reading outside them is a typing slip or a loose cuff, and is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from ketaclinic.clinical.monitoring import Vitals, dissociation_is_notable, lost_consciousness
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import InvalidInput
from ketaclinic.services.vitals import Range, as_utc, check_text

# Working values (issue 5, "Bad input": a vital sign outside the physiological range is refused).
# Systolic 50-300 and SpO2 50-100 % are the record's data-entry limits (issue 4). Diastolic from
# 30: below that no outpatient sits up and talks; 30-200 mmHg. Heart rate 20-300/min covers
# profound bradycardia to the fastest tachyarrhythmias. Respiratory rate 4-60/min: below 4 is
# apnoea to be acted on, not charted; above 60 is not seen in adults.
PHYSIOLOGICAL = "issue 5, 'Bad input': physiologically possible range; working value of ketaclinic"
SYSTOLIC = Range(50, 300, "mmHg", PHYSIOLOGICAL)
DIASTOLIC = Range(30, 200, "mmHg", PHYSIOLOGICAL)
HEART_RATE = Range(20, 300, "/min", PHYSIOLOGICAL)
SPO2 = Range(50, 100, "%", PHYSIOLOGICAL)
RESPIRATORY_RATE = Range(4, 60, "/min", PHYSIOLOGICAL)

Number = float | int | str | Decimal
AdverseKind = Literal[
    "nausea", "vomiting", "hypertension", "agitation", "respiratory_depression", "other"
]
ADVERSE_KINDS: tuple[str, ...] = (
    "nausea",
    "vomiting",
    "hypertension",
    "agitation",
    "respiratory_depression",
    "other",
)
SEVERITIES: tuple[str, ...] = ("mild", "moderate", "severe")
SCALES: tuple[str, ...] = ("moaas", "cadss")
REASON_WIDTH = 500
DESCRIPTION_WIDTH = 1000


@dataclass(frozen=True)
class VitalsIn:
    systolic: Number | None = None
    diastolic: Number | None = None
    heart_rate: Number | None = None
    spo2: Number | None = None
    respiratory_rate: Number | None = None
    taken_at: datetime | None = None


@dataclass(frozen=True)
class PredoseIn:
    """The checks before dosing. The blood pressure is taken now (it is also kept as the
    session's first vitals); the times of the last food and drink are optional detail."""

    systolic: Number | None
    diastolic: Number | None
    escort_confirmed: bool
    benzodiazepine_today: bool
    fasting_confirmed: bool | None = None
    last_food_at: datetime | None = None
    last_drink_at: datetime | None = None
    heart_rate: Number | None = None
    spo2: Number | None = None
    respiratory_rate: Number | None = None
    taken_at: datetime | None = None


@dataclass(frozen=True)
class DoseIn:
    """One dose: an infusion, an injection, an oral dose, or one esketamine device.

    ``lot_id`` names a ledger lot (the ledger entry is then written with the dose); ``lot`` is
    the lot number as printed, needed when no ledger lot is named. ``confirm_reason``: a
    prescriber's reason for a dose outside the plan."""

    dose_mg: Number
    lot: str | None = None
    lot_id: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    route: str | None = None
    confirm_reason: str | None = None


@dataclass(frozen=True)
class AdverseEventIn:
    kind: str
    severity: str
    description: str | None = None
    onset_at: datetime | None = None


@dataclass(frozen=True)
class DischargeIn:
    alert_and_oriented: bool
    escort_present: bool
    no_driving_acknowledged: bool
    override_reason: str | None = None


# ---- checks -------------------------------------------------------------------------------------


def number(field: str, value: object) -> float:
    """A finite number typed as a number or as text ("35", "35.5"); anything else is refused."""
    if isinstance(value, bool):
        raise InvalidInput(field, f"must be a number (got {value!r})")
    if isinstance(value, int | float | Decimal):
        found = float(value)
    elif isinstance(value, str):
        try:
            found = float(Decimal(value.strip()))
        except (InvalidOperation, ValueError):
            raise InvalidInput(field, f"must be a number (got {value!r})") from None
    else:
        raise InvalidInput(field, f"must be a number (got {value!r})")
    if not math.isfinite(found):
        raise InvalidInput(field, f"must be a number (got {value!r})")
    return found


def whole_number(field: str, value: object) -> int:
    found = number(field, value)
    if not found.is_integer():
        raise InvalidInput(field, f"must be a whole number (got {value!r})")
    return int(found)


def _in_range(field: str, value: object, limits: Range) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    found = number(field, value)
    limits.check(field, found)
    return found


def moment(field: str, at: datetime | None, clock: Clock) -> datetime:
    """A time at the chair: now when not given, naive UTC, never in the future."""
    now = clock.now()
    if at is None:
        return now
    found = as_utc(at)
    if found > now:
        raise InvalidInput(field, f"is in the future ({at.isoformat()})")
    return found


def checked_vitals(values: VitalsIn | PredoseIn, *, need_pressure: bool = False) -> Vitals:
    """The readings as numbers within their ranges; blood pressure as a pair, systolic above
    diastolic; at least one reading."""
    systolic = _in_range("systolic", values.systolic, SYSTOLIC)
    diastolic = _in_range("diastolic", values.diastolic, DIASTOLIC)
    heart_rate = _in_range("heart_rate", values.heart_rate, HEART_RATE)
    spo2 = _in_range("spo2", values.spo2, SPO2)
    respiratory_rate = _in_range("respiratory_rate", values.respiratory_rate, RESPIRATORY_RATE)
    if (systolic is None) != (diastolic is None) or (need_pressure and systolic is None):
        missing = "systolic" if systolic is None else "diastolic"
        raise InvalidInput(missing, "blood pressure needs both systolic and diastolic")
    if systolic is not None and diastolic is not None and diastolic >= systolic:
        raise InvalidInput(
            "diastolic", f"must be below the systolic ({diastolic:g} >= {systolic:g})"
        )
    found = Vitals(systolic, diastolic, heart_rate, spo2, respiratory_rate)
    if found == Vitals():
        raise InvalidInput("systolic", "give at least one reading")
    return found


def reason(field: str, value: str | None, *, required: bool = True) -> str | None:
    return check_text(field, value, limit=REASON_WIDTH, required=required)


def score(scale: str, value: object) -> tuple[str, int]:
    """(scale, score): MOAA/S 0-5 or CADSS 0-92 (clinical-facts.md, label)."""
    name = (scale or "").strip().lower().replace("/", "").replace("-", "")
    if name not in SCALES:
        raise InvalidInput("scale", f"must be moaas or cadss (got {scale!r})")
    found = whole_number("score", value)
    try:
        # The clinical rules refuse a score outside the scale's range (label: MOAA/S 0-5,
        # CADSS 0-92).
        if name == "moaas":
            lost_consciousness(found)
        else:
            dissociation_is_notable(found)
    except ValueError as bad:
        raise InvalidInput("score", str(bad)) from None
    return name, found


def adverse_event(event: AdverseEventIn) -> tuple[str, str, str | None]:
    kind = (event.kind or "").strip().lower().replace(" ", "_")
    if kind not in ADVERSE_KINDS:
        raise InvalidInput(
            "kind", f"must be one of {', '.join(ADVERSE_KINDS)} (got {event.kind!r})"
        )
    severity = (event.severity or "").strip().lower()
    if severity not in SEVERITIES:
        raise InvalidInput(
            "severity", f"must be one of {', '.join(SEVERITIES)} (got {event.severity!r})"
        )
    description = check_text(
        "description", event.description, limit=DESCRIPTION_WIDTH, required=kind == "other"
    )
    return kind, severity, description
