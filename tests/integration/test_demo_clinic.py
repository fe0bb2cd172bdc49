"""The demo clinic `make run` serves: seeded once, every decision as its chart intends."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select

from ketaclinic.demo.patients import demo_patients
from ketaclinic.services.clock import FixedClock
from ketaclinic.services.demo_clinic import seed
from ketaclinic.store.db import make_engine, session_factory
from ketaclinic.store.models import Patient, Screening, User


def test_seeding_twice_creates_the_clinic_once_with_the_intended_decisions(
    database_url: str,
) -> None:
    clock = FixedClock(datetime(2026, 11, 1, 8, 0))
    factory = session_factory(make_engine(database_url))
    first = seed(factory, clock)
    again = seed(factory, clock)
    expected = {p.mrn: p.expected_decision for p in demo_patients(clock.now().date())}
    assert first.patients_created == len(expected) >= 30
    assert again.already_seeded
    with factory() as s:
        roles = sorted(u.role for u in s.scalars(select(User)))
        assert roles == ["admin", "front_desk", "nurse", "prescriber"]
        rows = s.execute(select(Patient.mrn, Screening.decision).join(Screening)).all()
    decided = dict(rows)
    assert decided == expected
    # Every decision occurs in the demo clinic.
    assert set(Counter(decided.values())) == {
        "eligible", "eligible_with_precautions", "not_eligible", "needs_information",
    }  # fmt: skip
