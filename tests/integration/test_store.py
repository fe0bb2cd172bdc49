"""The schema on both databases: migrations, constraints, append-only tables."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import delete, inspect, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from ketaclinic.store.db import make_engine, session_factory, transaction
from ketaclinic.store.models import AuditEvent, Patient

NOW = datetime(2026, 11, 1, 9, 0)


def patient(mrn: str) -> Patient:
    return Patient(
        mrn=mrn,
        given_name="Ada",
        family_name="Lovelace",
        birth_date=date(1980, 5, 1),
        sex="female",
        created_at=NOW,
    )


def test_migrations_create_every_table(database_url: str) -> None:
    tables = set(inspect(make_engine(database_url)).get_table_names())
    assert {
        "patients", "conditions", "medications", "observations", "allergies", "procedures",
        "screenings", "screening_signatures", "screening_overrides", "users", "audit_events",
        "api_tokens", "web_sessions", "imports",
    } <= tables  # fmt: skip


def test_a_duplicate_mrn_is_refused(database_url: str) -> None:
    factory = session_factory(make_engine(database_url))
    with transaction(factory) as s:
        s.add(patient("MRN-1"))
    with pytest.raises(IntegrityError), transaction(factory) as s:
        s.add(patient("MRN-1"))


@pytest.mark.parametrize("change", ["update", "delete"])
def test_audit_rows_cannot_be_changed_or_deleted(database_url: str, change: str) -> None:
    factory = session_factory(make_engine(database_url))
    with transaction(factory) as s:
        s.add(AuditEvent(at=NOW, username="nurse", action="read", what="chart"))
    statement = (
        update(AuditEvent).values(username="someone else")
        if change == "update"
        else delete(AuditEvent)
    )
    with pytest.raises(DBAPIError, match="append-only"), transaction(factory) as s:
        s.execute(statement)
    with factory() as s:
        [row] = s.query(AuditEvent).all()
        assert row.username == "nurse"


def test_a_nested_transaction_rolls_back_with_its_parent(database_url: str) -> None:
    factory = session_factory(make_engine(database_url))
    with pytest.raises(RuntimeError), transaction(factory) as s:
        with s.begin_nested():
            s.add(patient("MRN-NESTED"))
        raise RuntimeError("the outer unit of work fails")
    with factory() as s:
        assert s.query(Patient).filter_by(mrn="MRN-NESTED").count() == 0
