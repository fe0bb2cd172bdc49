"""Browser tests: the real app served by uvicorn on 127.0.0.1, driven by Debian's chromium.

The app runs with a FixedClock that tests move (idle sign-out) instead of sleeping. Without
chromium the tests skip locally and fail under CI=true.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import update

from ketaclinic.services.clock import FixedClock
from ketaclinic.store.db import make_engine, session_factory, transaction
from ketaclinic.store.models import User

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class LiveServer:
    url: str
    database_url: str
    clock: FixedClock
    # username -> TOTP secret, for the users given a second factor (prescribers, admins).
    second_factors: dict[str, str] = field(default_factory=dict)


def enrol_second_factor(server: LiveServer, username: str) -> None:
    """Give an existing user a second factor, as if enrolled, once; the tests keep the secret
    the way the user's phone does."""
    if username in server.second_factors:
        return
    secret = pyotp.random_base32()
    engine = make_engine(server.database_url)
    try:
        with transaction(session_factory(engine)) as s:
            s.execute(update(User).where(User.username == username).values(totp_secret=secret))
    finally:
        engine.dispose()
    server.second_factors[username] = secret


def type_code_if_asked(page: Any, server: LiveServer, username: str) -> None:
    """After the password: a user with a second factor types the code their phone shows at
    the server's time."""
    secret = server.second_factors.get(username)
    if secret is None:
        return
    page.wait_for_url(server.url + "/sign-in/code")
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(server.clock.now().replace(tzinfo=UTC)))
    page.get_by_role("button", name="Confirm").click()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    import uvicorn

    from ketaclinic.store.db import migrate
    from ketaclinic.web.app import create_app

    database_url = f"sqlite:///{tmp_path / 'clinic.db'}"
    migrate(database_url)
    clock = FixedClock(datetime(2026, 11, 1, 9, 0))
    app = create_app(database_url=database_url, clock=clock)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):  # waits for the socket, not for time to pass in the app
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", database_url, clock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not shutil.which("chromium") and not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
