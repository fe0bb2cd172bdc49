"""The dose of one session by route: how many mg, from which weight, in how many devices.

Sources (clinical-facts.md): Sanacora 2017 (IV 0.5 mg/kg over 40 minutes, the best-studied dose);
Andrade 2017 (IV responses reported from 0.1 to 0.75 mg/kg; IM 0.25-0.5 mg/kg; oral studies
0.25-7 mg/kg or 25-300 mg); ASKP3 (clinics start IV at 0.5-1 mg/kg over 40-60 minutes); the Spravato
label (56 or 84 mg in 28 mg devices, 5 minutes between devices). The ``oral`` route covers oral and
sublingual doses (spec/screening.md, "Routes"); the facts give one range for both.

Refusals and warnings. A dose outside *every* range the facts report is refused: nothing supports
it, and the likeliest cause is a slip of the decimal point or the unit (0.05 for 0.5 mg/kg), which
must not reach a syringe. A dose inside one source's range but outside another's is allowed with a
warning that names the range it leaves, so the prescriber sees it when signing. The upper ends are
the policy's hard maximum per route (issue 5: "a dose above the policy's hard maximum for the route
is refused outright").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ketaclinic.clinical.findings import Route
from ketaclinic.policy import DEFAULT, Dosing

LABEL = "Spravato label"
SANACORA = "Sanacora 2017"
ANDRADE = "Andrade 2017"
ASKP3 = "ASKP3"


DOSING = DEFAULT.dosing

DEVICE_MG = 28
# Spravato label: 56 mg = 2 devices, 84 mg = 3. No other dose is on the label.
ESKETAMINE_DEVICES: dict[int, int] = {56: 2, 84: 3}
DEVICE_SOURCE = f"{LABEL}: device 28 mg; 56 mg = 2 devices, 84 mg = 3"


@dataclass(frozen=True)
class Weight:
    kg: float
    measured_on: date


@dataclass(frozen=True)
class DoseNote:
    """Why a dose is refused, or what a prescriber should see before signing it."""

    id: str
    message: str
    source: str


class DoseRefused(ValueError):
    """A dose that must not be given; ``reasons`` says why, each with its source."""

    def __init__(self, reasons: tuple[DoseNote, ...]) -> None:
        super().__init__("; ".join(r.message for r in reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class Dose:
    route: Route
    mg: float
    mg_per_kg: float | None = None
    weight_kg: float | None = None
    infusion_minutes: int | None = None
    devices: int | None = None
    device_interval_minutes: int | None = None
    warnings: tuple[DoseNote, ...] = ()
    source: str = ""


def _number(value: object) -> float | None:
    """The value as a finite positive number, or None: a dose typed as text is not a dose."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def weight_problem(weight: Weight | None, on: date, limits: Dosing = DOSING) -> DoseNote | None:
    """Why a weight cannot be dosed from on ``on``, or None when it can."""
    source = f"issue 5: weight measured within {limits.weight_max_age_days} days"
    if weight is None:
        return DoseNote("weight_missing", "No weight recorded: a mg/kg dose needs one.", source)
    if _number(weight.kg) is None:
        return DoseNote("weight_invalid", f"Weight {weight.kg!r} is not a weight in kg.", source)
    age = (on - weight.measured_on).days
    if age < 0:
        return DoseNote("weight_future", f"Weight dated {weight.measured_on}, after {on}.", source)
    if age > limits.weight_max_age_days:
        return DoseNote(
            "weight_stale",
            f"Weight measured {age} days ago ({weight.measured_on}); a mg/kg dose needs one "
            f"from the last {limits.weight_max_age_days} days. Weigh the patient.",
            source,
        )
    return None


def mg_from_weight(mg_per_kg: float, kg: float) -> float:
    """mg for a mg/kg dose, to 0.01 mg so that 0.1 x 70 is 7, not 7.000000000000001."""
    return round(mg_per_kg * kg, 2)


def _weighed(
    route: Route, mg_per_kg: object, weight: Weight | None, on: date, limits: Dosing
) -> tuple[float, float]:
    """(mg/kg, kg) for a weight-based dose, or DoseRefused with every reason at once."""
    reasons: list[DoseNote] = []
    per_kg = _number(mg_per_kg)
    if per_kg is None:
        reasons.append(
            DoseNote("dose_invalid", f"Dose {mg_per_kg!r} is not a number of mg/kg.", "issue 5")
        )
    stale = weight_problem(weight, on, limits)
    if stale is not None:
        reasons.append(stale)
    if per_kg is not None:
        reasons.extend(_outside_hard_range(route, per_kg, limits))
    if reasons:
        raise DoseRefused(tuple(reasons))
    assert per_kg is not None and weight is not None
    return per_kg, weight.kg


def _outside_hard_range(route: Route, mg_per_kg: float, limits: Dosing) -> list[DoseNote]:
    low, high = {
        "iv": (limits.iv_minimum_mg_per_kg, limits.iv_maximum_mg_per_kg),
        "im": (limits.im_minimum_mg_per_kg, limits.im_maximum_mg_per_kg),
        "oral": (limits.oral_minimum_mg_per_kg, limits.oral_maximum_mg_per_kg),
    }[route]
    sources = {
        "iv": f"{ANDRADE}: 0.1-0.75 mg/kg reported; {ASKP3}: clinics 0.5-1 mg/kg",
        "im": f"{ANDRADE}: IM 0.25-0.5 mg/kg",
        "oral": f"{ANDRADE}: oral studies 0.25-7 mg/kg",
    }
    if mg_per_kg > high:
        return [
            DoseNote(
                "dose_above_maximum",
                f"{mg_per_kg:g} mg/kg {route.upper()} is above the maximum of {high:g} mg/kg.",
                f"{sources[route]}; policy hard maximum",
            )
        ]
    if mg_per_kg < low:
        return [
            DoseNote(
                "dose_below_minimum",
                f"{mg_per_kg:g} mg/kg {route.upper()} is below the lowest studied dose, "
                f"{low:g} mg/kg (a decimal slip?).",
                sources[route],
            )
        ]
    return []


def iv_dose(
    mg_per_kg: float,
    weight: Weight | None,
    on: date,
    minutes: int | None = None,
    limits: Dosing = DOSING,
) -> Dose:
    """IV racemic ketamine: mg/kg from a fresh weight, infused over ``minutes`` (default 40)."""
    per_kg, kg = _weighed("iv", mg_per_kg, weight, on, limits)
    infusion = limits.iv_infusion_minutes if minutes is None else minutes
    if isinstance(infusion, bool) or not isinstance(infusion, int) or infusion <= 0:
        raise DoseRefused(
            (DoseNote("infusion_minutes_invalid", f"{infusion!r} is not minutes.", "issue 5"),)
        )
    warnings: list[DoseNote] = []
    if not limits.iv_usual_low_mg_per_kg <= per_kg <= limits.iv_usual_high_mg_per_kg:
        warnings.append(
            DoseNote(
                "dose_outside_usual_range",
                f"{per_kg:g} mg/kg is outside {limits.iv_usual_low_mg_per_kg:g}-"
                f"{limits.iv_usual_high_mg_per_kg:g} mg/kg, where clinics start and responses "
                "are reported; within the maximum.",
                f"{SANACORA}; {ANDRADE}: 0.1-0.75 mg/kg; {ASKP3}: 0.5-1 mg/kg",
            )
        )
    if not limits.iv_infusion_minutes_low <= infusion <= limits.iv_infusion_minutes_high:
        warnings.append(
            DoseNote(
                "infusion_time_unusual",
                f"Infusion over {infusion} minutes; clinics infuse over "
                f"{limits.iv_infusion_minutes_low}-{limits.iv_infusion_minutes_high} minutes.",
                f"{ASKP3}: over 40-60 minutes; {SANACORA}: over 40 minutes",
            )
        )
    return Dose(
        route="iv",
        mg=mg_from_weight(per_kg, kg),
        mg_per_kg=per_kg,
        weight_kg=kg,
        infusion_minutes=infusion,
        warnings=tuple(warnings),
        source=f"{SANACORA}: 0.5 mg/kg over 40 minutes; {ASKP3}: 0.5-1 mg/kg over 40-60",
    )


def im_dose(mg_per_kg: float, weight: Weight | None, on: date, limits: Dosing = DOSING) -> Dose:
    """IM racemic ketamine: mg/kg from a fresh weight."""
    per_kg, kg = _weighed("im", mg_per_kg, weight, on, limits)
    return Dose(
        route="im",
        mg=mg_from_weight(per_kg, kg),
        mg_per_kg=per_kg,
        weight_kg=kg,
        source=f"{ANDRADE}: IM 0.25-0.5 mg/kg about as effective as 0.5 mg/kg IV",
    )


def devices_for(mg: float) -> int:
    """Number of 28 mg devices for a label dose (56 mg: 2, 84 mg: 3); other doses are refused."""
    amount = _number(mg)
    whole = amount is not None and amount.is_integer()
    devices = ESKETAMINE_DEVICES.get(int(amount)) if whole and amount is not None else None
    if devices is None:
        raise DoseRefused(
            (
                DoseNote(
                    "esketamine_dose_not_on_label",
                    f"Esketamine {mg!r} mg: the label doses are 56 mg (2 devices) or 84 mg "
                    "(3 devices).",
                    DEVICE_SOURCE,
                ),
            )
        )
    return devices


def esketamine_dose(mg: float, limits: Dosing = DOSING) -> Dose:
    """Esketamine nasal spray: 56 or 84 mg, in 28 mg devices 5 minutes apart."""
    devices = devices_for(mg)
    return Dose(
        route="esketamine",
        mg=float(mg),
        devices=devices,
        device_interval_minutes=limits.device_interval_minutes,
        source=f"{DEVICE_SOURCE}; 5 minutes between devices",
    )


def device_times(
    first_device_at: datetime, mg: float, limits: Dosing = DOSING
) -> tuple[datetime, ...]:
    """When each device is due: the first, then one every 5 minutes (label)."""
    gap = timedelta(minutes=limits.device_interval_minutes)
    return tuple(first_device_at + i * gap for i in range(devices_for(mg)))


def device_too_soon(
    previous_at: datetime, at: datetime, limits: Dosing = DOSING
) -> DoseNote | None:
    """Why a device given at ``at`` is refused after one at ``previous_at``; None when in time."""
    if at - previous_at >= timedelta(minutes=limits.device_interval_minutes):
        return None
    waited = (at - previous_at).total_seconds() / 60
    return DoseNote(
        "device_too_soon",
        f"Device {waited:g} minutes after the previous one; the label asks "
        f"{limits.device_interval_minutes} minutes between devices.",
        f"{LABEL}: 5 minutes between devices",
    )


def oral_dose(mg: float, weight: Weight | None, on: date, limits: Dosing = DOSING) -> Dose:
    """Oral or sublingual racemic ketamine in mg; checked per kg too when a fresh weight exists.

    A weight is not required (the studies dosed in mg as well as mg/kg); a stale or missing one
    only means the mg/kg check is skipped, which the prescriber is told.
    """
    amount = _number(mg)
    if amount is None:
        raise DoseRefused(
            (DoseNote("dose_invalid", f"Dose {mg!r} is not a number of mg.", "issue 5"),)
        )
    source = f"{ANDRADE}: oral studies used 0.25-7 mg/kg or 25-300 mg"
    reasons: list[DoseNote] = []
    if amount > limits.oral_maximum_mg:
        reasons.append(
            DoseNote(
                "dose_above_maximum",
                f"{amount:g} mg oral is above the maximum of {limits.oral_maximum_mg:g} mg.",
                f"{source}; policy hard maximum",
            )
        )
    elif amount < limits.oral_minimum_mg:
        reasons.append(
            DoseNote(
                "dose_below_minimum",
                f"{amount:g} mg oral is below the lowest studied dose, "
                f"{limits.oral_minimum_mg:g} mg (a decimal slip?).",
                source,
            )
        )
    warnings: list[DoseNote] = []
    per_kg: float | None = None
    kg: float | None = None
    unusable = weight_problem(weight, on, limits)
    if unusable is None:
        assert weight is not None
        kg = weight.kg
        per_kg = round(amount / kg, 2)
        reasons.extend(_outside_hard_range("oral", amount / kg, limits))
    else:
        warnings.append(
            DoseNote(
                "mg_per_kg_not_checked",
                f"The dose per kg was not checked: {unusable.message}",
                unusable.source,
            )
        )
    if reasons:
        raise DoseRefused(tuple(reasons))
    return Dose(
        route="oral",
        mg=amount,
        mg_per_kg=per_kg,
        weight_kg=kg,
        warnings=tuple(warnings),
        source=source,
    )


def infusion_ends_at(start: datetime, dose: Dose) -> datetime:
    """When an IV infusion started at ``start`` is due to end."""
    if dose.infusion_minutes is None:
        raise ValueError(f"a {dose.route} dose is not an infusion")
    return start + timedelta(minutes=dose.infusion_minutes)
