"""Shared test fixtures: real databases (a SQLite file and a throwaway PostgreSQL cluster).

PostgreSQL: when ``KETACLINIC_TEST_PG_URL`` names a server it is used; otherwise a cluster is
started for the session from Debian's binaries (as the ``postgres`` user, on 127.0.0.1 and a
free port, fsync off) and stopped at the end. Without the binaries the PostgreSQL cases skip,
except under ``CI=true``, where they fail: CI must run them.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI") == "true"
_counter = itertools.count()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_postgres(*args: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return list(args)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server URL (without a database name) for the whole test session."""
    given = os.environ.get("KETACLINIC_TEST_PG_URL")
    if given:
        yield given.rstrip("/")
        return
    bin_dir = _pg_bin()
    if bin_dir is None:
        message = "PostgreSQL binaries not found (/usr/lib/postgresql/*/bin)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="ketaclinic-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    subprocess.run(
        _as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"),
        check=True,
        capture_output=True,
    )
    options = f"-c fsync=off -c listen_addresses=127.0.0.1 -c port={port} -k {root}"
    subprocess.run(
        _as_postgres(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"),
            "-w", "start",
        ),
        check=True,
        capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def _fresh_postgres_database(server: str, template: str | None = None) -> str:
    import psycopg

    name = f"t{os.getpid()}_{next(_counter)}"
    plain = server.replace("postgresql+psycopg://", "postgresql://")
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    return f"{server}/{name}"


# Migrating takes longer than copying: each kind is migrated once per test session and every
# test gets a copy (a file copy for SQLite, CREATE DATABASE ... TEMPLATE for PostgreSQL).
@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ketaclinic.store.db import migrate

    path = tmp_path_factory.mktemp("template") / "clinic.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres_server: str) -> str:
    """The name of a migrated PostgreSQL database that tests copy."""
    from ketaclinic.store.db import migrate

    url = _fresh_postgres_database(postgres_server)
    migrate(url)
    return url.rsplit("/", 1)[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database of each kind: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "clinic.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        return f"sqlite:///{path}"
    return _fresh_postgres_database(
        request.getfixturevalue("postgres_server"), request.getfixturevalue("migrated_postgres")
    )
