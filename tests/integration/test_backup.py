"""Encrypted backups on SQLite and PostgreSQL: a seeded clinic backed up and restored into an
empty database is the same row for row, audit log included, and its ledger chain verifies; a
wrong key, a flipped byte or a cut-off file is refused (exit 2) with the target untouched."""

from __future__ import annotations

import base64
import itertools
import os
import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import MetaData, create_engine, inspect, select
from sqlalchemy.orm import Session

from ketaclinic.cli import main
from ketaclinic.services import audit, charting, ledger, patients, records, users
from ketaclinic.services import backup as backups
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import FixedClock
from ketaclinic.services.records_forms import ConditionIn, ObservationIn
from ketaclinic.store.db import (
    immediate_transaction,
    make_engine,
    migrate,
    session_factory,
    transaction,
)
from ketaclinic.store.models import Consent, PlanVersion, TreatmentPlan, User
from tests.integration.services_support import open_clinic

KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(100, 132))).decode()
# A moment with microseconds: the ledger's hashes cover them, so a restore must keep them.
MOMENT = datetime(2026, 11, 1, 9, 0, 0, 250_001)
PDF = b"%PDF-1.7\n\x00\xff\xfe binary consent \x80\x81"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_names = itertools.count()


# ---- databases ---------------------------------------------------------------------------------


def empty_database(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables at all: a new SQLite file name, or a new PostgreSQL database."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'restored-{next(_names)}.db'}"
    import psycopg

    server: str = request.getfixturevalue("postgres_server")
    name = f"restored_{os.getpid()}_{next(_names)}"
    plain = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def kind_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def every_row(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows in key order, as the database gives them back."""
    engine = create_engine(url)
    try:
        meta = MetaData()
        with engine.connect() as connection:
            meta.reflect(bind=connection)
            return {
                table.name: [
                    dict(row._mapping)
                    for row in connection.execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in meta.sorted_tables
            }
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def chain(url: str) -> Any:
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            return ledger.verify(session)
    finally:
        engine.dispose()


# ---- a clinic ----------------------------------------------------------------------------------


def seed_clinic(url: str) -> None:
    """Users, two patients with records (one corrected), a signed screening, a plan with a
    consent PDF, audit rows and a ledger with receipts, a dose, a witnessed waste and a count."""
    with open_clinic(url) as clinic:
        clinic.clock = clock = FixedClock(MOMENT)
        doctor = clinic.prescriber
        first = clinic.register("MRN-1")
        second = clinic.register("MRN-2", given_name="Zoë", family_name="Ōtsuka-Nuñez")
        with clinic.work() as s:
            records.add_condition(
                s, doctor, clock, first.id,
                ConditionIn("F33.1", "Major depressive disorder, recurrent, moderate",
                            onset=date(2023, 2, 1)),
            )  # fmt: skip
            bp = records.add_observation(
                s, clinic.nurse, clock, first.id,
                ObservationIn("85354-9", datetime(2026, 10, 29, 10, 15), systolic=118,
                              diastolic=76),
            )  # fmt: skip
            records.correct_record(
                s, doctor, clock, "observation", bp.id,
                ObservationIn("85354-9", datetime(2026, 10, 29, 10, 15), systolic=128,
                              diastolic=79),
                "typed the wrong reading",
            )  # fmt: skip
            records.add_observation(
                s,
                clinic.nurse,
                clock,
                second.id,
                ObservationIn("29463-7", date(2026, 10, 30), value=70.35),
            )
            screening = charting.screen_patient(s, doctor, clock, first.id, "iv")
            charting.sign_screening(s, doctor, clock, screening.id)
            plan = TreatmentPlan(
                patient_id=first.id, route="iv", indication="depression",
                screening_id=screening.id, status="active", integration_sessions=True,
                created_at=MOMENT, created_by_id=doctor.user_id,
            )  # fmt: skip
            s.add(plan)
            s.flush()
            s.add(
                PlanVersion(
                    plan_id=plan.id, version=1, dose_mg=35.175, mg_per_kg=0.5,
                    infusion_minutes=40, weight_kg=70.35, weight_on=date(2026, 10, 30),
                    dose="{}", schedule="[]", cost="{}", created_at=MOMENT,
                )
            )  # fmt: skip
            s.add(
                Consent(
                    plan_id=plan.id, plan_version=1, text="I agree.", text_sha256="0" * 64,
                    pdf=PDF, patient_typed_name="Alice Example", created_at=MOMENT,
                )
            )  # fmt: skip
            for patient in (first, second):
                audit.record(s, doctor, clock, audit.READ, "chart", patient.id)
        with clinic.work() as s:
            witness = User(
                username="wendy", full_name="Wendy Witness", role="nurse",
                password_hash=CHEAP.hash("witness password"), created_at=MOMENT,
            )  # fmt: skip
            s.add(witness)
            nurse = clinic.nurse
            ledger.define_product(s, nurse, clock, "ketamine", strength_mg_per_ml="50",
                                  volume_ml="10")  # fmt: skip
            lot = ledger.receive(
                s, nurse, clock,
                ledger.ReceiptIn("ketamine-50mg-ml-10ml", "K-1", date(2099, 6, 30), 10,
                                 "Acme Pharma", "RA1234563", "INV-1"),
            ).lot_id  # fmt: skip
            ledger.administer(s, nurse, clock, lot, first.id, "35.5")
            ledger.waste(s, nurse, clock, lot, "14.5", "remainder", "wendy", "witness password")
            ledger.count_lot(s, nurse, clock, lot, "4950")


def backup_to(url: str, path: Path) -> backups.Header:
    return backups.backup(url, path, base64.b64decode(KEY), FixedClock(MOMENT))


def run(*args: str, key: str | None = KEY, monkeypatch: pytest.MonkeyPatch) -> int:
    if key is None:
        monkeypatch.delenv(backups.KEY_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(backups.KEY_VARIABLE, key)
    return main(list(args))


# ---- the round trip ----------------------------------------------------------------------------


def test_a_restored_clinic_is_the_same_row_for_row_and_its_ledger_verifies(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    seed_clinic(database_url)
    file = tmp_path / "clinic.kcb"
    header = backup_to(database_url, file)
    before = every_row(database_url)
    target = empty_database(kind_of(database_url), request, tmp_path)

    restored = backups.restore(target, file, base64.b64decode(KEY))

    after = every_row(target)
    assert after == before
    assert header.tables == restored.tables
    assert header.tables["ledger_entries"] == 4
    assert header.tables["patients"] == 2
    # The backup's own audit row is in it: it was recorded before the snapshot.
    backup_rows = [
        r for r in after["audit_events"] if r["what"].startswith("backup of the database")
    ]
    assert len(backup_rows) == 1
    check = chain(target)
    assert check.intact, check.message
    assert check.head == chain(database_url).head
    assert check.head.count == 4


def test_the_restored_database_takes_new_rows_after_the_restored_ones(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    seed_clinic(database_url)
    file = tmp_path / "clinic.kcb"
    backup_to(database_url, file)
    target = empty_database(kind_of(database_url), request, tmp_path)
    backups.restore(target, file, base64.b64decode(KEY))
    engine = make_engine(target)
    try:
        with transaction(session_factory(engine)) as s:
            third = patients.register_patient(
                s, Actor.system(), FixedClock(MOMENT),
                patients.PatientIn("MRN-3", "Ada", "Lovelace", date(1980, 1, 1), "female"),
            )  # fmt: skip
            assert third.id == 3  # the sequence moved past the two restored patients
            nurse = users.actor_for(s.scalars(select(User).where(User.username == "nurse")).one())
            entry = ledger.administer(s, nurse, FixedClock(MOMENT), 1, third.id, "10").entry
            assert entry.seq == 5
    finally:
        engine.dispose()
    assert chain(target).intact


def test_a_backup_restores_into_the_other_kind_of_database(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    other = "sqlite" if kind_of(database_url) == "postgresql" else "postgresql"
    seed_clinic(database_url)
    file = tmp_path / "clinic.kcb"
    assert backup_to(database_url, file).database == kind_of(database_url)
    target = empty_database(other, request, tmp_path)
    backups.restore(target, file, base64.b64decode(KEY))
    assert every_row(target) == every_row(database_url)
    assert chain(target).intact


def test_restore_into_a_migrated_but_empty_database_works(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    seed_clinic(database_url)
    file = tmp_path / "clinic.kcb"
    backup_to(database_url, file)
    target = empty_database(kind_of(database_url), request, tmp_path)
    migrate(target)  # what `ketaclinic serve` leaves: the schema and the ledger's chain row
    backups.restore(target, file, base64.b64decode(KEY))
    assert every_row(target) == every_row(database_url)


def test_a_backup_taken_while_the_clinic_writes_is_one_consistent_moment(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Online: patients keep being registered (each with its audit row, in one transaction)
    while the backup runs; the copy holds whole transactions only, and a prefix of them."""
    seed_clinic(database_url)
    engine = make_engine(database_url)
    factory = session_factory(engine)
    done, started = threading.Event(), threading.Event()
    written: list[int] = []
    failures: list[BaseException] = []

    def keep_writing() -> None:
        clock = FixedClock(MOMENT)
        try:
            for n in itertools.count(100):
                if done.is_set():
                    return
                # A writer from its first statement, as the web app's requests are.
                with immediate_transaction(factory) as s:
                    patient = patients.register_patient(
                        s, Actor.system(), clock,
                        patients.PatientIn(f"MRN-{n}", "Busy", "Writer", date(1990, 1, 1),
                                           "male"),
                    )  # fmt: skip
                    audit.record(s, Actor.system(), clock, audit.WRITE, "registered", patient.id)
                written.append(patient.id)
                started.set()
        except BaseException as error:
            failures.append(error)
            started.set()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    file = tmp_path / "clinic.kcb"
    try:
        assert started.wait(timeout=60)
        backup_to(database_url, file)
        after_backup = len(written)
    finally:
        done.set()
        writer.join(timeout=60)
        engine.dispose()
    assert failures == []
    assert after_backup > 0  # writes went on before and while the backup ran
    target = empty_database(kind_of(database_url), request, tmp_path)
    backups.restore(target, file, base64.b64decode(KEY))
    rows = every_row(target)
    copied = {row["id"] for row in rows["patients"]} - {1, 2}
    audited = {row["patient_id"] for row in rows["audit_events"] if row["what"] == "registered"}
    assert copied == audited  # no patient without its audit row, nor the reverse
    assert copied == set(written[: len(copied)])  # the ones committed first, none skipped
    assert chain(target).intact


# ---- refusals ----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_backup(tmp_path: Path) -> tuple[str, Path]:
    source = f"sqlite:///{tmp_path / 'clinic.db'}"
    migrate(source)
    seed_clinic(source)
    file = tmp_path / "clinic.kcb"
    backup_to(source, file)
    return source, file


def test_the_cli_backs_up_and_restores(
    sqlite_backup: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, _file = sqlite_backup
    file = tmp_path / "by-cli.kcb"
    assert run("backup", str(file), "--database", source, monkeypatch=monkeypatch) == 0
    assert "backed up the sqlite database" in capsys.readouterr().out
    assert oct(file.stat().st_mode & 0o777) == "0o600"
    assert run("restore", "--check", str(file), monkeypatch=monkeypatch) == 0
    assert "intact sqlite backup" in capsys.readouterr().out
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    assert run("restore", str(file), "--database", target, monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert "ledger: the chain is intact (head 4:" in out
    assert every_row(target) == every_row(source)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, "KETACLINIC_BACKUP_KEY is not set"),
        ("not base64 at all!", "KETACLINIC_BACKUP_KEY is not valid base64"),
        (base64.b64encode(bytes(16)).decode(), "decodes to 16 bytes, not 32"),
    ],
)
def test_a_missing_or_malformed_key_is_refused(
    key: str | None,
    message: str,
    sqlite_backup: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, file = sqlite_backup
    out = tmp_path / "never.kcb"
    assert run("backup", str(out), "--database", source, key=key, monkeypatch=monkeypatch) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
    target = tmp_path / "never.db"
    restoring = ("restore", str(file), "--database", f"sqlite:///{target}")
    assert run(*restoring, key=key, monkeypatch=monkeypatch) == 2
    assert message in capsys.readouterr().err
    assert not target.exists()


def damaged_copies(file: Path) -> list[tuple[str, bytes]]:
    data = file.read_bytes()
    header_end = len(backups.MAGIC) + 4 + int.from_bytes(data[len(backups.MAGIC) :][:4], "big")

    def flipped(at: int) -> bytes:
        return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]

    return [
        ("a flipped byte in the magic", flipped(0)),
        ("a flipped byte in the header", flipped(header_end - 5)),
        ("a flipped byte in a chunk's length", flipped(header_end + 2)),
        ("a flipped byte in the data", flipped(header_end + 40)),
        ("a flipped byte in the last tag", flipped(len(data) - 1)),
        ("cut inside the header", data[: header_end - 10]),
        ("cut after the header", data[:header_end]),
        ("cut inside the data", data[: len(data) - 100]),
        ("the last byte missing", data[:-1]),
        ("a byte added", data + b"\x00"),
        ("empty", b""),
    ]


def test_a_damaged_backup_or_a_wrong_key_is_refused_and_nothing_is_written(
    database_url: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed_clinic(database_url)
    file = tmp_path / "clinic.kcb"
    backup_to(database_url, file)
    target = empty_database(kind_of(database_url), request, tmp_path)
    cases = [("the right file", file.read_bytes(), OTHER_KEY), *(
        (what, data, KEY) for what, data in damaged_copies(file)
    )]  # fmt: skip
    for what, data, key in cases:
        bad = tmp_path / "bad.kcb"
        bad.write_bytes(data)
        status = run("restore", str(bad), "--database", target, key=key, monkeypatch=monkeypatch)
        err = capsys.readouterr().err
        assert status == 2, (what, err)
        assert "nothing was written" in err, what
        if key == OTHER_KEY:
            assert "made with another key" in err
        if kind_of(target) == "sqlite":
            assert not Path(target.removeprefix("sqlite:///")).exists(), what
        else:
            assert table_names(target) == set(), what
        assert run("restore", "--check", str(bad), key=key, monkeypatch=monkeypatch) == 2


def test_restore_into_a_database_with_records_is_refused_and_changes_nothing(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    seed_clinic(database_url)
    file = tmp_path / "clinic.kcb"
    backup_to(database_url, file)
    before = every_row(database_url)
    status = run("restore", str(file), "--database", database_url, monkeypatch=monkeypatch)
    assert status == 2
    assert "is not empty" in capsys.readouterr().err
    assert every_row(database_url) == before


def test_a_new_table_row_beside_the_migrations_own_rows_counts_as_not_empty(
    sqlite_backup: tuple[str, Path], tmp_path: Path
) -> None:
    _source, file = sqlite_backup
    target = f"sqlite:///{tmp_path / 'one-user.db'}"
    migrate(target)
    engine = make_engine(target)
    try:
        with Session(engine) as s, s.begin():
            s.add(User(username="x", full_name="X", role="admin", password_hash="-",
                       created_at=MOMENT))  # fmt: skip
    finally:
        engine.dispose()
    with pytest.raises(backups.BackupRefused, match=r"not empty \(1 rows in users\)"):
        backups.restore(target, file, base64.b64decode(KEY))


def test_a_backup_is_not_written_over_its_own_database(
    sqlite_backup: tuple[str, Path],
) -> None:
    source, _file = sqlite_backup
    path = Path(source.removeprefix("sqlite:///"))
    with pytest.raises(backups.BackupRefused, match="is the database itself"):
        backup_to(source, path)
