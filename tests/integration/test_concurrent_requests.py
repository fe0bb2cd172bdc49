"""Many clients at once against the real server: every audited read and write succeeds.

Each request writes an audit row, so on SQLite every request is a writer; they must queue for
the write turn, never fail with "database is locked" (a 500).
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime

import httpx
import uvicorn
from sqlalchemy import func, select

from ketaclinic.services import patients, users
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import FixedClock
from ketaclinic.store.db import make_engine, session_factory, transaction
from ketaclinic.store.models import AuditEvent
from ketaclinic.web.app import create_app

CLIENTS = 40
REQUESTS = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_concurrent_audited_requests_all_succeed(database_url: str) -> None:
    clock = FixedClock(datetime(2026, 11, 1, 9, 0))
    factory = session_factory(make_engine(database_url))
    with transaction(factory) as s:
        user = users.create_user(s, clock, "nurse1", "Nurse One", "nurse", "a-long-password-1")
        token = users.issue_token(s, clock, user)
        patient = patients.register_patient(
            s, Actor.system(), clock,
            patients.PatientIn("MRN-C1", "Ada", "Lovelace", date(1980, 1, 1), "female"),
        )  # fmt: skip
        patient_id = patient.id
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(database_url, clock), host="127.0.0.1", port=port,
                       log_level="warning")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # waits for the socket, not for the app's clock
        time.sleep(0.05)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        url = f"http://127.0.0.1:{port}/api/patients/{patient_id}/chart"

        def fetch(_: int) -> int:
            return httpx.get(url, headers=headers, timeout=60).status_code

        with ThreadPoolExecutor(CLIENTS) as pool:
            codes = list(pool.map(fetch, range(REQUESTS)))
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert codes == [200] * REQUESTS
    with factory() as s:
        reads = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.patient_id == patient_id, AuditEvent.action == "read")
        )
    assert reads == REQUESTS
