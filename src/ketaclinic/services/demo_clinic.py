"""Seed a demo clinic: one user per role and the demo patients, screened once. Done only once."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.demo.patients import demo_patients
from ketaclinic.services import charting, importing, patients, second_factor, users
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.demo_sessions import seed_todays_sessions
from ketaclinic.store.db import transaction
from ketaclinic.store.models import Patient, User

# Demo credentials, printed by `ketaclinic demo` and `make run`. A demo database only: a real
# clinic creates its users with `ketaclinic user add`.
DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    ("prescriber", "Dr Maya Okafor", "prescriber", "demo-prescriber-pass"),
    ("nurse", "Sam Lindqvist RN", "nurse", "demo-nurse-password"),
    ("frontdesk", "Jo Alvarez", "front_desk", "demo-frontdesk-pass"),
    ("admin", "Clinic Administrator", "admin", "demo-admin-password"),
)


# The demo users whose roles sign in with a second factor under the default policy. Each gets a
# random secret when seeded (never one written here), printed by `ketaclinic demo`.
SECOND_FACTOR_USERS = ("prescriber", "admin")


@dataclass(frozen=True)
class SeedReport:
    users_created: int
    patients_created: int
    screenings: int
    sessions: int = 0
    # (username, secret) of the demo users with a second factor, for the demo's output.
    second_factors: tuple[tuple[str, str], ...] = ()

    @property
    def already_seeded(self) -> bool:
        return self.users_created == 0 and self.patients_created == 0


def seed(factory: sessionmaker[Session], clock: Clock) -> SeedReport:
    """Create what is missing of the demo clinic; a second run creates nothing."""
    users_created = 0
    with transaction(factory) as session:
        for username, name, role, password in DEMO_USERS:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                user = users.create_user(session, clock, username, name, role, password)
                users_created += 1
            if username in SECOND_FACTOR_USERS and user.totp_secret is None:
                # Enrolled without a confirming code: whoever seeds the demo is shown the secret.
                user.totp_secret = second_factor.new_secret()
    with transaction(factory) as session:
        prescriber = session.scalars(select(User).where(User.username == "prescriber")).one()
        actor = users.actor_for(prescriber, "127.0.0.1")
        enrolled = tuple(
            (user.username, user.totp_secret)
            for user in session.scalars(
                select(User).where(User.username.in_(SECOND_FACTOR_USERS)).order_by(User.id)
            )
            if user.totp_secret is not None
        )
    if _has_patients(factory):
        return SeedReport(users_created, 0, 0, second_factors=enrolled)

    created = screened = 0
    today = clock.now().date()
    for demo in demo_patients(today):
        # One patient per transaction: a failure names the patient and leaves the others.
        with transaction(factory) as session:
            patient = patients.register_patient(
                session,
                Actor.system("demo"),
                clock,
                patients.PatientIn(
                    mrn=demo.mrn,
                    given_name=demo.given_name,
                    family_name=demo.family_name,
                    birth_date=demo.birth_date,
                    sex=demo.sex,
                    phone=demo.phone,
                    escort_name=demo.escort_name,
                    escort_phone=demo.escort_phone,
                ),
            )
            data = json.dumps(demo.bundle).encode()
            importing.import_bundle(session, Actor.system("demo"), clock, patient.id, data)
            charting.screen_patient(session, actor, clock, patient.id, demo.route)
            created += 1
            screened += 1
    sessions = seed_todays_sessions(factory, clock)
    return SeedReport(users_created, created, screened, sessions, enrolled)


def _has_patients(factory: sessionmaker[Session]) -> bool:
    with factory() as session:
        return bool(session.scalar(select(func.count()).select_from(Patient)))
