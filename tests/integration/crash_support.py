"""The real server in a process of its own that a test can SIGKILL, and a PostgreSQL cluster with
fsync on that a test can crash (``pg_ctl stop -m immediate``: no shutdown checkpoint, recovery
from the WAL at the next start, as after a power cut of the database alone)."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI") == "true"
PORT_WAIT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Server:
    """The app under uvicorn in a process of its own, on a migrated database; its output goes to
    ``log``. This is ``ketaclinic serve`` without its migrate step (done once by the test), which
    saves each restart a second or two."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.database_url = database_url
        self.log = log
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        env = {**os.environ, "KETACLINIC_DATABASE_URL": self.database_url}
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "ketaclinic.web.app:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + PORT_WAIT_SECONDS
        # Polls for the socket (the only wait on time in these tests), bounded.
        while not _port_open(self.port):
            if self._process.poll() is not None:
                raise AssertionError(f"the server exited at start:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"the server did not open its port:\n{self.tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no rollback runs in the server."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=30)
        self._process = None

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def pg_bin() -> Path:
    """Debian's PostgreSQL binaries; without them the test skips, or fails under CI=true."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        message = "PostgreSQL binaries not found (/usr/lib/postgresql/*/bin)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return Path(found[-1]).parent


def _as_postgres(*args: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return list(args)


class Cluster:
    """A throwaway PostgreSQL cluster with fsync and synchronous commit on (the defaults)."""

    def __init__(self) -> None:
        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="ketaclinic-crash-pg-"))
        self.data = self.root / "data"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.port = free_port()
        subprocess.run(
            _as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                         "-U", "postgres"),
            check=True,
            capture_output=True,
        )  # fmt: skip

    @property
    def server_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def start(self) -> None:
        options = (
            f"-c fsync=on -c synchronous_commit=on -c full_page_writes=on "
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -k {self.root}"
        )
        subprocess.run(
            _as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                         "-l", str(self.root / "log"), "-w", "-t", "60", "start"),
            check=True,
            capture_output=True,
        )  # fmt: skip

    def crash(self) -> None:
        subprocess.run(
            _as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                         "-w", "stop"),
            check=True,
            capture_output=True,
        )  # fmt: skip

    def remove(self) -> None:
        subprocess.run(
            _as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                         "stop"),
            capture_output=True,
        )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def new_database(self, name: str) -> str:
        import psycopg

        plain = self.server_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.server_url}/{name}"

    def setting(self, name: str) -> str:
        import psycopg

        plain = self.server_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(f"{plain}/postgres") as conn:
            row = conn.execute(f"SHOW {name}").fetchone()
        assert row is not None
        return str(row[0])
