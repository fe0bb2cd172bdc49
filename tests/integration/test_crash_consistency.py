"""Crash consistency: the real server (uvicorn serving the app, as ``ketaclinic serve`` does)
takes concurrent writes - vitals through the records API, doses through /api/ledger - and is
killed with SIGKILL after a seeded-random number of acknowledged writes; on PostgreSQL (fsync on)
the database is crashed too (immediate stop, WAL recovery at the next start). After each restart
every acknowledged write is there, nothing is half-written (each request is one transaction: a
row and its audit row, a dose and its chain entry), balances add up, and the ledger chain
verifies. Three kills per database.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from ketaclinic.services import ledger, patients, users
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import SystemClock
from ketaclinic.store.db import make_engine, migrate, session_factory, transaction
from ketaclinic.store.models import AuditEvent, LedgerEntry, ObservationRecord, User
from tests.integration.crash_support import Cluster, Server

pytestmark = pytest.mark.timeout(240)

KILLS = 3
CLIENTS = 6
# Each request is acknowledged or in doubt; the kill comes after this many acknowledgements.
KILL_AFTER = (3, 40)
VIAL_UG = 500_000  # ketamine 50 mg/mL x 10 mL
VIALS = 100
DOSE_UG = 1_000  # each administration: 1 mg
PRODUCT = "ketamine-50mg-ml-10ml"
FIRST_MOMENT = datetime(2020, 1, 1)  # observations lie in the past of any server clock


@dataclass
class Clinic:
    token: str
    patient_id: int
    lot_id: int


@dataclass
class Tally:
    """What the clients saw: acknowledged writes, and writes whose answer never came."""

    observations: dict[int, datetime] = field(default_factory=dict)  # row id -> effective time
    doses: dict[int, tuple[int, str]] = field(default_factory=dict)  # dose_ref -> (seq, sha256)
    in_doubt_observations: set[datetime] = field(default_factory=set)
    in_doubt_doses: set[int] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)  # any other answer: a failure
    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: threading.Condition = field(init=False)
    count: int = 0

    def __post_init__(self) -> None:
        self.acknowledged = threading.Condition(self.lock)


def open_clinic(url: str) -> Clinic:
    """Users, a patient and plenty of stock, written before the server starts."""
    migrate(url)
    clock = SystemClock()
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as s:
            nurse = User(username="nurse", full_name="Nina Nurse", role="nurse",
                         password_hash="unused", created_at=clock.now())  # fmt: skip
            s.add(nurse)
            s.flush()
            token = users.issue_token(s, clock, nurse)
            patient = patients.register_patient(
                s, Actor.system(), clock,
                patients.PatientIn("MRN-CRASH", "Kim", "Crash", date(1980, 5, 5), "female"),
            )  # fmt: skip
            actor = users.actor_for(nurse)
            ledger.define_product(s, actor, clock, "ketamine", strength_mg_per_ml="50",
                                  volume_ml="10")  # fmt: skip
            lot = ledger.receive(
                s, actor, clock,
                ledger.ReceiptIn(PRODUCT, "K-CRASH", date(2099, 1, 31), VIALS, "Acme Pharma",
                                 "RA1234563", "INV-CRASH"),
            ).lot_id  # fmt: skip
            return Clinic(token, patient.id, lot)
    finally:
        engine.dispose()


def client_loop(
    server: Server, clinic: Clinic, tally: Tally, numbers: Iterator[int], seed: str
) -> None:
    """Writes until the server stops answering; every write is tallied before the next."""
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {clinic.token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:
        while True:
            n = next(numbers)
            if rng.random() < 0.5:
                effective = FIRST_MOMENT + timedelta(seconds=n)
                body = {"loinc": "8867-4", "effective": f"{effective.isoformat()}Z",
                        "value": 40 + n % 100}  # fmt: skip
                path = f"/api/patients/{clinic.patient_id}/observations"
            else:
                body = {"lot_id": clinic.lot_id, "patient_id": clinic.patient_id,
                        "dose_mg": "1", "dose_ref": n}  # fmt: skip
                path = "/api/ledger/administer"
            try:
                response = http.post(path, json=body)
            except httpx.TransportError:
                # The server died with this request in flight: it may or may not have committed.
                with tally.lock:
                    if path.endswith("observations"):
                        tally.in_doubt_observations.add(effective)
                    else:
                        tally.in_doubt_doses.add(n)
                return
            with tally.lock:
                if response.status_code != 201:
                    tally.refused.append(f"{path} {response.status_code} {response.text[:200]}")
                    tally.acknowledged.notify_all()
                    return
                answer = response.json()
                if path.endswith("observations"):
                    tally.observations[answer["id"]] = effective
                else:
                    tally.doses[n] = (answer["seq"], answer["sha256"])
                tally.count += 1
                tally.acknowledged.notify_all()


def write_then_kill(server: Server, clinic: Clinic, tally: Tally, rng: random.Random,
                    numbers: Iterator[int], crash_database: Cluster | None) -> None:  # fmt: skip
    """Concurrent clients write; after a random number of acknowledgements, SIGKILL."""
    with tally.lock:
        kill_at = tally.count + rng.randint(*KILL_AFTER)
    clients = [
        threading.Thread(
            target=client_loop, args=(server, clinic, tally, numbers, f"{rng.random()}-{i}")
        )
        for i in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    with tally.lock:
        reached = tally.acknowledged.wait_for(
            lambda: tally.count >= kill_at or bool(tally.refused), timeout=120
        )
    server.kill()
    if crash_database is not None:
        crash_database.crash()
    for client in clients:
        client.join(timeout=120)
    assert not tally.refused, f"{tally.refused}\n{server.tail()}"
    assert reached, f"only {tally.count} writes acknowledged\n{server.tail()}"


def check_nothing_lost_nothing_half_written(url: str, clinic: Clinic, tally: Tally) -> None:
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as s:
            stored = {
                row.id: row.effective_at
                for row in s.scalars(
                    select(ObservationRecord).where(
                        ObservationRecord.patient_id == clinic.patient_id
                    )
                )
            }
            entries = {
                e.dose_ref: e
                for e in s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "administered"))
            }
            writes = [
                (a.what, a.patient_id)
                for a in s.scalars(select(AuditEvent).where(AuditEvent.action == "write"))
            ]
            last = s.scalars(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(1)).one()
            total = s.scalar(select(func.sum(LedgerEntry.change_ug))) or 0
            chain = ledger.verify(s)
    finally:
        engine.dispose()

    # Every acknowledged write is there, as acknowledged.
    for row_id, effective in tally.observations.items():
        assert stored.get(row_id) == effective, f"acknowledged observation {row_id} lost"
    for dose_ref, (seq, sha256) in tally.doses.items():
        entry = entries.get(dose_ref)
        assert entry is not None, f"acknowledged dose {dose_ref} lost"
        assert (entry.seq, entry.sha256) == (seq, sha256)
    # Nothing else but writes whose answer never came.
    unacknowledged = set(stored) - set(tally.observations)
    assert {stored[i] for i in unacknowledged} <= tally.in_doubt_observations
    assert set(entries) - set(tally.doses) <= tally.in_doubt_doses
    # Nothing half-written: each row with the audit row of its transaction, and no audit row
    # claiming a write that is not there.
    audited = sorted(writes)
    expected = sorted(
        [(f"observation {i}: added", clinic.patient_id) for i in stored]
        + [(f"ledger entry #{e.seq} administered (lot {e.lot_id})", clinic.patient_id)
           for e in entries.values()]
    )  # fmt: skip
    assert audited == expected
    # The stock adds up: the lot's running balance, the sum of its changes, and the doses.
    assert last.balance_ug == total == VIALS * VIAL_UG - DOSE_UG * len(entries)
    assert chain.intact, chain.message
    assert chain.head.count == 1 + len(entries)  # the receipt, then the doses


def crash_rounds(url: str, tmp_path: Path, seed: str, cluster: Cluster | None = None) -> None:
    clinic = open_clinic(url)
    server = Server(url, tmp_path / "server.log")
    rng = random.Random(seed)
    numbers = itertools.count(1)
    tally = Tally()
    try:
        for _ in range(KILLS):
            server.start()
            write_then_kill(server, clinic, tally, rng, numbers, cluster)
            if cluster is not None:
                cluster.start()
            check_nothing_lost_nothing_half_written(url, clinic, tally)
        # The restarted server answers, and finds its chain whole.
        server.start()
        verified = httpx.get(
            f"{server.base_url}/api/ledger/verify",
            headers={"Authorization": f"Bearer {clinic.token}"},
            timeout=60,
        )
        assert verified.status_code == 200, verified.text
        assert verified.json()["intact"] is True
    finally:
        server.kill()
    assert tally.count >= KILLS * KILL_AFTER[0]


def test_sqlite_keeps_every_acknowledged_write_through_sigkill(tmp_path: Path) -> None:
    crash_rounds(f"sqlite:///{tmp_path / 'clinic.db'}", tmp_path, seed="sqlite")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    made = Cluster()
    try:
        made.start()
        yield made
    finally:
        made.remove()


def test_postgresql_keeps_every_acknowledged_write_through_sigkill_and_a_crash(
    cluster: Cluster, tmp_path: Path
) -> None:
    assert cluster.setting("fsync") == "on"
    assert cluster.setting("synchronous_commit") == "on"
    url = cluster.new_database(f"crash_{os.getpid()}")
    crash_rounds(url, tmp_path, seed="postgresql", cluster=cluster)
