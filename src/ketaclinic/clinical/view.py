"""The record as of a screening date: what counts, what is active, what is ongoing.

Source: spec/screening.md, "A screening is a view of the record as of the
screening date".
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from ketaclinic.clinical.facts import Allergy, Condition, Medication, Observation, Procedure, Record

NOT_READ_STATUSES = frozenset({"entered-in-error", "not-done", "not-taken"})
NOT_READ_VERIFICATIONS = frozenset({"refuted", "entered-in-error"})
ACTIVE_CLINICAL = frozenset({"active", "recurrence", "relapse"})
PAST_CLINICAL = frozenset({"inactive", "remission", "resolved"})
# Statuses under which a prescription is still being taken when it has no end.
TAKING_STATUSES = frozenset({"active", "on-hold"})


def _not_after(day: date | None, as_of: date) -> bool:
    return day is None or day <= as_of


def _condition_counts(c: Condition, as_of: date) -> bool:
    if c.verification_status in NOT_READ_VERIFICATIONS:
        return False
    first = c.onset or c.recorded
    return _not_after(first, as_of)


def _medication_counts(m: Medication, as_of: date) -> bool:
    return m.status not in NOT_READ_STATUSES and _not_after(m.start, as_of)


def _observation_counts(o: Observation, as_of: date) -> bool:
    if o.status in NOT_READ_STATUSES or o.status == "cancelled":
        return False
    return o.when is None or o.when.day <= as_of


def _allergy_counts(a: Allergy, as_of: date) -> bool:
    return a.verification_status not in NOT_READ_VERIFICATIONS and _not_after(a.recorded, as_of)


def _procedure_counts(p: Procedure, as_of: date) -> bool:
    return p.status not in NOT_READ_STATUSES and _not_after(p.performed, as_of)


def as_of_view(record: Record, as_of: date) -> Record:
    """Drop what is dated after ``as_of`` or marked as not to be read."""
    return replace(
        record,
        conditions=tuple(c for c in record.conditions if _condition_counts(c, as_of)),
        medications=tuple(m for m in record.medications if _medication_counts(m, as_of)),
        observations=tuple(o for o in record.observations if _observation_counts(o, as_of)),
        allergies=tuple(a for a in record.allergies if _allergy_counts(a, as_of)),
        procedures=tuple(p for p in record.procedures if _procedure_counts(p, as_of)),
    )


def is_active(c: Condition, as_of: date) -> bool:
    """Active: clinical status active, recurrence or relapse, or absent; not abated by ``as_of``."""
    if c.abatement is not None and c.abatement <= as_of:
        return False
    return c.clinical_status not in PAST_CLINICAL


def is_ongoing(m: Medication, as_of: date) -> bool:
    """Still being taken on ``as_of``: active with no end, or an end not yet reached."""
    if m.start is not None and m.start > as_of:
        return False
    if m.end is not None:
        return m.end >= as_of and m.status not in {"stopped", "completed", "cancelled"}
    return m.status in TAKING_STATUSES or m.status is None


def age_on(birth_date: date, as_of: date) -> int:
    """Whole years of age on ``as_of``."""
    before_birthday = (as_of.month, as_of.day) < (birth_date.month, birth_date.day)
    return as_of.year - birth_date.year - before_birthday
