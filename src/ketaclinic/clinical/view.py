"""The record as of a screening date: what counts, what is active, what is ongoing.

Source: spec/screening.md, "A screening is a view of the record as of the
screening date".
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar

from ketaclinic.clinical.facts import Condition, Medication, Record

NOT_READ_STATUSES = frozenset({"entered-in-error", "not-done", "not-taken"})
NOT_READ_VERIFICATIONS = frozenset({"refuted", "entered-in-error"})
ACTIVE_CLINICAL = frozenset({"active", "recurrence", "relapse"})
PAST_CLINICAL = frozenset({"inactive", "remission", "resolved"})
# Statuses under which a prescription is still being taken when it has no end.
TAKING_STATUSES = frozenset({"active", "on-hold"})

T = TypeVar("T")


# What is read, kind by kind. A fact with no date counts: ``(day or as_of) <= as_of``. Each test
# is written out in one comprehension per kind rather than called once per fact, since every
# fact of every patient screened passes here (bench/cohort.py, issue 8).
# Conditions: not refuted or entered in error; first known (onset, else recorded) by ``as_of``.
# Medications and procedures: not entered in error, not done or not taken; begun by ``as_of``.
# Observations: neither that nor cancelled; taken by ``as_of``.
# Allergies: not refuted or entered in error; recorded by ``as_of``.
NOT_READ_OBSERVATION_STATUSES = NOT_READ_STATUSES | {"cancelled"}


def _kept(facts: tuple[T, ...], kept: list[T]) -> tuple[T, ...]:
    """``facts`` itself when nothing was dropped, else what was kept."""
    return facts if len(kept) == len(facts) else tuple(kept)


def as_of_view(record: Record, as_of: date) -> Record:
    """Drop what is dated after ``as_of`` or marked as not to be read.

    A record with nothing to drop is its own view: the facts are frozen, and building a copy
    was a tenth of a population screening's time (bench/cohort.py, issue 8).
    """
    conditions = _kept(
        record.conditions,
        [
            c
            for c in record.conditions
            if c.verification_status not in NOT_READ_VERIFICATIONS
            and (c.onset or c.recorded or as_of) <= as_of
        ],
    )
    medications = _kept(
        record.medications,
        [
            m
            for m in record.medications
            if m.status not in NOT_READ_STATUSES and (m.start or as_of) <= as_of
        ],
    )
    observations = _kept(
        record.observations,
        [
            o
            for o in record.observations
            if o.status not in NOT_READ_OBSERVATION_STATUSES
            and (o.when is None or o.when.day <= as_of)
        ],
    )
    allergies = _kept(
        record.allergies,
        [
            a
            for a in record.allergies
            if a.verification_status not in NOT_READ_VERIFICATIONS
            and (a.recorded or as_of) <= as_of
        ],
    )
    procedures = _kept(
        record.procedures,
        [
            p
            for p in record.procedures
            if p.status not in NOT_READ_STATUSES and (p.performed or as_of) <= as_of
        ],
    )
    unchanged = (
        conditions is record.conditions
        and medications is record.medications
        and observations is record.observations
        and allergies is record.allergies
        and procedures is record.procedures
    )
    if unchanged:
        return record
    return Record(
        patient=record.patient,
        conditions=conditions,
        medications=medications,
        observations=observations,
        allergies=allergies,
        procedures=procedures,
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
