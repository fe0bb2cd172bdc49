"""Registering, finding and opening patients (demographics only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketaclinic.services import who_may
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import InvalidInput, NotFound
from ketaclinic.services.vitals import check_not_future, check_text
from ketaclinic.store.models import Patient

# FHIR AdministrativeGender.
SEXES = ("female", "male", "other", "unknown")
MAX_PAGE_SIZE = 100

T = TypeVar("T")


@dataclass(frozen=True)
class PatientIn:
    mrn: str
    given_name: str
    family_name: str
    birth_date: date
    sex: str
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    escort_name: str | None = None
    escort_phone: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def mrn_taken(session: Session, mrn: str) -> bool:
    return session.scalar(select(Patient.id).where(Patient.mrn == mrn)) is not None


def _checked(values: PatientIn, clock: Clock) -> dict[str, object]:
    mrn = check_text("mrn", values.mrn, limit=40, required=True)
    email = check_text("email", values.email, limit=200)
    if email is not None and "@" not in email:
        raise InvalidInput("email", "is not an e-mail address")
    if values.sex not in SEXES:
        raise InvalidInput("sex", f"must be one of {', '.join(SEXES)}")
    check_not_future("birth_date", values.birth_date, clock)
    return {
        "mrn": mrn,
        "given_name": check_text("given_name", values.given_name, limit=100, required=True),
        "family_name": check_text("family_name", values.family_name, limit=100, required=True),
        "birth_date": values.birth_date,
        "sex": values.sex,
        "phone": check_text("phone", values.phone, limit=40),
        "email": email,
        "address": check_text("address", values.address, limit=400),
        "escort_name": check_text("escort_name", values.escort_name, limit=200),
        "escort_phone": check_text("escort_phone", values.escort_phone, limit=40),
    }


def register_patient(session: Session, actor: Actor, clock: Clock, values: PatientIn) -> Patient:
    """A new patient; a duplicate MRN is refused (InvalidInput on ``mrn``) with nothing written."""
    who_may.require(actor, who_may.REGISTER, "register patients")
    fields = _checked(values, clock)
    if mrn_taken(session, str(fields["mrn"])):
        raise InvalidInput("mrn", f"MRN {fields['mrn']} is already registered")
    patient = Patient(**fields, created_at=clock.now(), created_by_id=actor.user_id)
    session.add(patient)
    try:
        session.flush()
    except IntegrityError:
        # Another registration of the same MRN committed between the check and the insert; the
        # caller's transaction is rolled back whole, so nothing of this one is written.
        raise InvalidInput("mrn", f"MRN {fields['mrn']} is already registered") from None
    return patient


def get_patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"no patient {patient_id}")
    return patient


def _name_matches(query: Select[Any], text: str) -> Select[Any]:
    """Every word of the text in the given or the family name, ignoring case."""
    for word in text.lower().split():
        query = query.where(
            or_(
                func.lower(Patient.given_name).contains(word, autoescape=True),
                func.lower(Patient.family_name).contains(word, autoescape=True),
            )
        )
    return query


def search_patients(
    session: Session,
    *,
    text: str | None = None,
    birth_date: date | None = None,
    mrn: str | None = None,
    page: int = 1,
    size: int = 20,
) -> Page[Patient]:
    """Patients matching every filter given (name words, birth date, MRN), by family name."""
    if page < 1:
        raise InvalidInput("page", "must be 1 or more")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput("size", f"must be between 1 and {MAX_PAGE_SIZE}")
    query: Select[Any] = select(Patient)
    if text and text.strip():
        query = _name_matches(query, text)
    if birth_date is not None:
        query = query.where(Patient.birth_date == birth_date)
    if mrn and mrn.strip():
        query = query.where(Patient.mrn == mrn.strip())
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(
        query.order_by(func.lower(Patient.family_name), func.lower(Patient.given_name), Patient.id)
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return Page(list(items), total, page, size)
