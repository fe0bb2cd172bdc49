"""What a prescriber sends to make or change a plan, and its checks (InvalidInput names the field).

Values come from the plan form (text), the JSON API (numbers or text) or the command line (text):
``parse_plan`` reads any of them into a ``PlanIn``; ``checked_plan`` refuses what cannot be a
plan before anything is written. Clinical limits (the dose maximum, the weight's age) are not
checked here: they are the rules of ``clinical/dosing.py`` and ``clinical/schedule.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

from ketaclinic.services.errors import InvalidInput
from ketaclinic.services.vitals import check_text

PLAN_ROUTES = ("iv", "esketamine", "im", "oral", "sublingual")
# Data-entry limits (issue 5, "Bad input"), not clinical ones: a series longer than this is a
# typing slip. The schedule rules refuse what does not fit on separate days.
MAX_SESSIONS = 52
MAX_DAYS = 365
MAX_MINUTES = 600


@dataclass(frozen=True)
class PlanIn:
    """A plan as asked for. ``mg_per_kg`` (and ``infusion_minutes``) for IV and IM, ``mg`` for
    esketamine (56 or 84: the later doses of the TRD schedule, every dose of the
    suicidal-ideation one) and for oral or sublingual."""

    route: str
    indication: str
    start_on: date
    mg_per_kg: float | None = None
    infusion_minutes: int | None = None
    mg: float | None = None
    induction_sessions: int | None = None
    induction_days: int | None = None
    maintenance_sessions: int = 0
    maintenance_every_days: int | None = None
    integration_sessions: bool = False
    chair: str | None = None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(field: str, value: object) -> float | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise InvalidInput(field, f"is not a number ({value!r})")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise InvalidInput(field, f"is not a number ({value.strip()!r})") from None
    else:
        raise InvalidInput(field, f"is not a number ({value!r})")
    if not math.isfinite(number):
        raise InvalidInput(field, f"is not a number ({value!r})")
    return number


def _whole(field: str, value: object) -> int | None:
    number = _number(field, value)
    if number is None:
        return None
    if not number.is_integer():
        raise InvalidInput(field, f"must be a whole number (got {number:g})")
    return int(number)


def _flag(field: str, value: object) -> bool:
    if _blank(value):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "on", "yes", "1"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "off", "no", "0"):
        return False
    raise InvalidInput(field, f"must be true or false (got {value!r})")


def _day(field: str, value: object) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(field, f"is not a date YYYY-MM-DD ({value.strip()!r})") from None
    raise InvalidInput(field, "is required (a date YYYY-MM-DD)")


def _text(field: str, value: object, *, limit: int, required: bool = False) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidInput(field, f"must be text (got {value!r})")
    return check_text(field, value, limit=limit, required=required)


def parse_plan(data: Mapping[str, object]) -> PlanIn:
    """A PlanIn from form, JSON or command-line values; InvalidInput names the first bad field."""
    known = set(PlanIn.__dataclass_fields__)
    unknown = sorted(k for k in data if k not in known and k != "csrf_token" and k != "reason")
    if unknown:
        raise InvalidInput(unknown[0], "is not a plan field")
    route = _text("route", data.get("route"), limit=20, required=True)
    indication = _text("indication", data.get("indication"), limit=40, required=True)
    assert route is not None and indication is not None
    maintenance = _whole("maintenance_sessions", data.get("maintenance_sessions"))
    return checked_plan(
        PlanIn(
            route=route.lower(),
            indication=indication,
            start_on=_day("start_on", data.get("start_on")),
            mg_per_kg=_number("mg_per_kg", data.get("mg_per_kg")),
            infusion_minutes=_whole("infusion_minutes", data.get("infusion_minutes")),
            mg=_number("mg", data.get("mg")),
            induction_sessions=_whole("induction_sessions", data.get("induction_sessions")),
            induction_days=_whole("induction_days", data.get("induction_days")),
            maintenance_sessions=0 if maintenance is None else maintenance,
            maintenance_every_days=_whole(
                "maintenance_every_days", data.get("maintenance_every_days")
            ),
            integration_sessions=_flag("integration_sessions", data.get("integration_sessions")),
            chair=_text("chair", data.get("chair"), limit=40),
        )
    )


def _in_range(field: str, value: float | None, low: float, high: float) -> None:
    if value is not None and not low <= value <= high:
        raise InvalidInput(field, f"must be between {low:g} and {high:g} (got {value:g})")


def checked_plan(values: PlanIn) -> PlanIn:
    """The same values, trimmed, or InvalidInput for one that cannot be part of any plan."""
    if values.route not in PLAN_ROUTES:
        raise InvalidInput(
            "route", f"must be one of {', '.join(PLAN_ROUTES)} (got {values.route!r})"
        )
    indication = check_text("indication", values.indication, limit=40, required=True)
    chair = check_text("chair", values.chair, limit=40)
    assert indication is not None
    for field, number in (("mg_per_kg", values.mg_per_kg), ("mg", values.mg)):
        if number is not None and (not math.isfinite(number) or number <= 0):
            raise InvalidInput(field, f"must be more than 0 (got {number:g})")
    _in_range("infusion_minutes", values.infusion_minutes, 1, MAX_MINUTES)
    _in_range("induction_sessions", values.induction_sessions, 1, MAX_SESSIONS)
    _in_range("induction_days", values.induction_days, 1, MAX_DAYS)
    _in_range("maintenance_sessions", values.maintenance_sessions, 0, MAX_SESSIONS)
    _in_range("maintenance_every_days", values.maintenance_every_days, 1, MAX_DAYS)
    weighed = values.route in ("iv", "im")
    if weighed and values.mg_per_kg is None:
        raise InvalidInput("mg_per_kg", f"is required for a {values.route.upper()} plan")
    if weighed and values.mg is not None:
        raise InvalidInput("mg", f"a {values.route.upper()} dose is given in mg/kg, not mg")
    if not weighed and values.mg is None:
        raise InvalidInput("mg", f"is required for a {values.route} plan")
    if not weighed and values.mg_per_kg is not None:
        raise InvalidInput("mg_per_kg", f"a {values.route} dose is given in mg")
    if values.route != "iv" and values.infusion_minutes is not None:
        raise InvalidInput("infusion_minutes", "only an IV dose is infused")
    return replace(values, indication=indication, chair=chair)
