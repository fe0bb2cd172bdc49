"""What the clinic's pages share: reading a submitted form field by field, the roles of each
page, names of staff, and the plain words pages use for codes.

A form is read here, not by FastAPI's ``Form(...)`` types, so that a value that is not a date or
a number comes back as the message beside its field (an InvalidInput naming the field), exactly
as a value the services refuse does, instead of a bare JSON 422.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.clinical.facts import CPT, ICD10, LOINC, RXNORM, SNOMED
from ketaclinic.services.actor import Actor, Role
from ketaclinic.services.errors import InvalidInput
from ketaclinic.store.models import User
from ketaclinic.web.templating import templates

# The largest whole number a form may send: PostgreSQL's INTEGER, as the API's MAX_ROW_ID.
LARGEST_WHOLE = 2**31 - 1

# Who may use which page (the services check again: services/who_may.py).
DEMOGRAPHICS: tuple[Role, ...] = ("prescriber", "nurse", "front_desk")
CLINICAL: tuple[Role, ...] = ("prescriber", "nurse")
PRESCRIBER: tuple[Role, ...] = ("prescriber",)

# Record kinds as the services name them, and who writes each (services/records.py WRITERS).
WRITERS: dict[str, tuple[Role, ...]] = {
    "condition": PRESCRIBER,
    "medication": PRESCRIBER,
    "observation": CLINICAL,
    "allergy": PRESCRIBER,
    "procedure": PRESCRIBER,
}
KIND_WORDS = {
    "condition": "diagnosis",
    "medication": "medication trial",
    "observation": "observation",
    "allergy": "allergy",
    "procedure": "procedure",
}
# Evidence in a screening names ResourceType/id, where id is the row's id in its table
# (services/charting.py).
KIND_OF_RESOURCE = {
    "Condition": "condition",
    "MedicationStatement": "medication",
    "MedicationRequest": "medication",
    "Observation": "observation",
    "AllergyIntolerance": "allergy",
    "Procedure": "procedure",
}
SYSTEM_WORDS = {
    ICD10: "ICD-10-CM",
    SNOMED: "SNOMED CT",
    RXNORM: "RxNorm",
    LOINC: "LOINC",
    CPT: "CPT",
}
# Short names of the measures the forms know (LOINC), for tables and menus.
MEASURE_NAMES = {
    "85354-9": "Blood pressure",
    "55284-4": "Blood pressure",
    "8480-6": "Systolic blood pressure",
    "8462-4": "Diastolic blood pressure",
    "8867-4": "Heart rate",
    "59408-5": "SpO2 (pulse oximetry)",
    "2708-6": "SpO2 (arterial)",
    "29463-7": "Body weight",
    "1742-6": "ALT",
    "1920-8": "AST",
    "2160-0": "Creatinine",
    "33914-3": "eGFR",
    "3016-3": "TSH",
    "2106-3": "Pregnancy test (urine hCG)",
    "44261-6": "PHQ-9 total",
    "44260-8": "PHQ-9 item 9 (thoughts of self-harm)",
    "70274-6": "GAD-7 total",
}
DECISION_WORDS = {
    "eligible": "Eligible",
    "eligible_with_precautions": "Eligible with precautions",
    "not_eligible": "Not eligible",
    "needs_information": "Needs information",
}
ROUTE_WORDS = {
    "iv": "IV infusion",
    "esketamine": "Esketamine nasal spray",
    "im": "IM injection",
    "oral": "Oral or sublingual",
}
OUTCOME_WORDS = {
    "no-response": "No response",
    "partial-response": "Partial response",
    "response": "Response",
    "remission": "Remission",
    "intolerance": "Intolerance",
}
KIND_OF_FINDING_WORDS = {
    "absolute": "Absolute contraindication",
    "relative": "Relative contraindication",
    "interaction": "Interaction",
    "missing": "Missing information",
    "indication": "Indication",
    "note": "Note",
}


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def may(actor: Actor, roles: Iterable[Role]) -> bool:
    return actor.role in tuple(roles)


@dataclass
class Submitted:
    """The raw strings of a submitted form, kept to show them again beside any error."""

    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def of(cls, request: Request) -> Submitted:
        form = await request.form()
        return cls({k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"})

    def raw(self, name: str) -> str:
        value = self.values.get(name, "")
        # No text may hold a NUL: PostgreSQL refuses it in any string, stored or searched for.
        if "\x00" in value:
            raise InvalidInput(name, "contains a NUL character (\\x00), which no text may hold")
        return value

    def text(self, name: str) -> str | None:
        value = self.raw(name).strip()
        return value or None

    def words(self, name: str) -> str:
        """Text the service checks itself (required, length): passed on as typed."""
        return self.raw(name)

    def day(self, name: str) -> date | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise InvalidInput(name, f"is not a date (YYYY-MM-DD): {value!r}") from None

    def moment(self, name: str) -> datetime | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(
                name, f"is not a date and time (YYYY-MM-DD HH:MM): {value!r}"
            ) from None
        return moment

    def number(self, name: str) -> float | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            number = float(value.replace(",", "."))
        except ValueError:
            raise InvalidInput(name, f"is not a number: {value!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidInput(name, f"is not a number: {value!r}")
        return number

    def whole(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise InvalidInput(name, f"is not a whole number: {value!r}") from None
        # Every whole number a form sends is a row id or lands in an INTEGER column; beyond
        # PostgreSQL's INTEGER (SQLite's is wider) the database could not even look it up.
        if abs(number) > LARGEST_WHOLE:
            raise InvalidInput(name, f"is too large: {value[:30]!r}")
        return number

    def checked(self, name: str) -> bool:
        return self.raw(name) in ("on", "true", "1", "yes")


def required(name: str, value: Any) -> Any:
    if value is None:
        raise InvalidInput(name, "is required")
    return value


def errors_of(problem: InvalidInput, rename: Mapping[str, str] | None = None) -> dict[str, str]:
    """The message keyed by the form's field (a service may name it differently)."""
    name = (rename or {}).get(problem.field, problem.field)
    return {name: problem.message}


def staff_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.full_name).where(User.id.in_(wanted))).all()
    return {row.id: row.full_name for row in rows}


def words(value: str | None) -> str:
    """An identifier in words: ``treatment_resistant_depression`` -> Treatment resistant
    depression."""
    if not value:
        return ""
    text = value.replace("_", " ").replace("-", " ")
    return text[:1].upper() + text[1:]


def number(value: float | None, digits: int = 1) -> str:
    """100.0 -> "100", 15.64 -> "15.6"; None -> an empty string."""
    if value is None:
        return ""
    return f"{round(value, digits):g}"


def day_text(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


UNITS = {
    "mm[Hg]": "mmHg",
    "m[IU]/L": "mIU/L",
    "m[IU]/mL": "mIU/mL",
    "{score}": "",
    "mL/min/{1.73_m2}": "mL/min/1.73 m²",
}


def unit_words(unit: str | None) -> str:
    """A UCUM unit as a reader writes it."""
    if unit is None:
        return ""
    return UNITS.get(unit, unit)


def age_on(birth: date, today: date) -> int:
    before_birthday = (today.month, today.day) < (birth.month, birth.day)
    return today.year - birth.year - int(before_birthday)


templates.env.filters["words"] = words
templates.env.filters["number"] = number
templates.env.filters["day"] = day_text
templates.env.filters["unit"] = unit_words
templates.env.globals.update(
    MEASURE_NAMES=MEASURE_NAMES,
    age_on=age_on,
    DECISION_WORDS=DECISION_WORDS,
    ROUTE_WORDS=ROUTE_WORDS,
    OUTCOME_WORDS=OUTCOME_WORDS,
    SYSTEM_WORDS=SYSTEM_WORDS,
    KIND_WORDS=KIND_WORDS,
    KIND_OF_FINDING_WORDS=KIND_OF_FINDING_WORDS,
)
