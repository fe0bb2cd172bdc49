"""A small clinic for the service tests: a migrated database, a fixed clock, one user per role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.services.actor import Actor, Role
from ketaclinic.services.clock import FixedClock
from ketaclinic.services.patients import PatientIn, register_patient
from ketaclinic.store.db import make_engine, session_factory, transaction
from ketaclinic.store.models import Base, Patient, User

NOW = datetime(2026, 11, 1, 9, 0)
TODAY = date(2026, 11, 1)
ROLES: tuple[Role, ...] = ("prescriber", "nurse", "front_desk", "admin")


@dataclass
class Clinic:
    engine: Engine
    factory: sessionmaker[Session]
    clock: FixedClock
    actors: dict[Role, Actor]

    @property
    def prescriber(self) -> Actor:
        return self.actors["prescriber"]

    @property
    def nurse(self) -> Actor:
        return self.actors["nurse"]

    @property
    def front_desk(self) -> Actor:
        return self.actors["front_desk"]

    @property
    def admin(self) -> Actor:
        return self.actors["admin"]

    @contextmanager
    def work(self) -> Iterator[Session]:
        """One transaction, committed at the end of the block, rolled back on error."""
        with transaction(self.factory) as session:
            yield session

    def counts(self) -> dict[str, int]:
        """Rows in every table: a refusal must leave them all as they were."""
        with self.factory() as session:
            return {
                table.name: session.scalar(select(func.count()).select_from(table)) or 0
                for table in Base.metadata.sorted_tables
            }

    def register(self, mrn: str = "MRN-1", **changes: Any) -> Patient:
        values: dict[str, Any] = {
            "mrn": mrn,
            "given_name": "Alice",
            "family_name": "Example",
            "birth_date": date(1986, 3, 15),
            "sex": "female",
        }
        values.update(changes)
        with self.work() as session:
            return register_patient(session, self.prescriber, self.clock, PatientIn(**values))


@contextmanager
def open_clinic(url: str) -> Iterator[Clinic]:
    engine = make_engine(url)
    factory = session_factory(engine)
    actors: dict[Role, Actor] = {}
    with transaction(factory) as session:
        for role in ROLES:
            user = User(
                username=role,
                full_name=role.replace("_", " ").title(),
                role=role,
                password_hash="not used here",
                created_at=NOW,
            )
            session.add(user)
            session.flush()
            actors[role] = Actor(user.id, role, role, "127.0.0.1")
    try:
        yield Clinic(engine, factory, FixedClock(NOW), actors)
    finally:
        engine.dispose()
