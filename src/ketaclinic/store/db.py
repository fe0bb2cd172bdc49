"""Connecting to the clinic's database and bringing its schema up to date.

SQLite by default (``./ketaclinic.db``, WAL, foreign keys on); any SQLAlchemy URL in
``KETACLINIC_DATABASE_URL``, such as ``postgresql+psycopg://user@host/db``, or in the file
``KETACLINIC_DATABASE_URL_FILE`` names when the URL carries a password (secret_settings).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.secret_settings import secret_setting

DEFAULT_URL = "sqlite:///ketaclinic.db"
DATABASE_URL_VARIABLE = "KETACLINIC_DATABASE_URL"
# Connection execution option: on SQLite, open the transaction with BEGIN IMMEDIATE, taking the
# write lock before the first read (the ledger reads a balance, then writes what it read).
IMMEDIATE = "ketaclinic_immediate"


def database_url() -> str:
    """The configured URL, else DEFAULT_URL; SecretUnreadable when its file cannot be used."""
    found = secret_setting(DATABASE_URL_VARIABLE)
    return (found.value.strip() if found is not None else "") or DEFAULT_URL


def shown_url(url: str) -> str:
    """The URL as printed: its password, if any, as ***."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling commits a released SAVEPOINT as if it were the outer
    # transaction; hand BEGIN to SQLAlchemy instead (its documented pysqlite recipe), so nested
    # transactions roll back with their parent.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # A writer waits for another instead of failing at once ("database is locked").
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


WRITE_WAIT_SECONDS = 30


class _Writers:
    """Queues this process's SQLite writers on a lock instead of SQLite's busy polling.

    SQLite has one writer at a time and its busy handler retries by sleeping, so under many
    concurrent requests some wait past any timeout. Taking a process lock at BEGIN IMMEDIATE and
    releasing it at COMMIT or ROLLBACK lets them queue; the busy timeout still covers writers in
    other processes (the command line beside the server). A web server must have more worker
    threads than concurrent requests (see web.app), or a writer holding the turn could wait for a
    thread to commit in while every thread waits for the turn.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders: set[int] = set()

    def begin(self, connection: Any) -> None:
        if connection.get_execution_options().get(IMMEDIATE, False):
            if not self._lock.acquire(timeout=WRITE_WAIT_SECONDS):
                raise sqlite3.OperationalError(
                    f"database is locked: no write turn within {WRITE_WAIT_SECONDS} s"
                )
            self._holders.add(id(connection))
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                self.end(connection)
                raise
        else:
            connection.exec_driver_sql("BEGIN")

    def end(self, connection: Any) -> None:
        if id(connection) in self._holders:
            self._holders.discard(id(connection))
            self._lock.release()


def make_engine(url: str | None = None) -> Engine:
    url = url or database_url()
    if url.startswith("sqlite"):
        in_memory = make_url(url).database in (None, "", ":memory:")
        # An in-memory database lives in one connection: no pool to size.
        pool: dict[str, int] = {} if in_memory else {"pool_size": 10, "max_overflow": 40}
        engine = create_engine(url, connect_args={"check_same_thread": False}, **pool)
        writers = _Writers()
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", writers.begin)
        event.listen(engine, "commit", writers.end)
        event.listen(engine, "rollback", writers.end)
        return engine
    # Room for the web server's worker threads (50 concurrent clients in bench/api.py).
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=40)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back whole on any error."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def immediate_transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Like ``transaction``, but a writer from its first statement: BEGIN IMMEDIATE on SQLite (a
    second writer waits here rather than failing later); a plain transaction elsewhere.

    The connection is taken at the first statement, not on entry, so a request may hold this
    session open while its sign-in check runs in a transaction of its own without waiting on
    itself for the write lock."""
    engine = factory.kw["bind"].execution_options(**{IMMEDIATE: True})
    with factory(bind=engine) as session, session.begin():
        yield session


def alembic_config(url: str) -> Config:
    config = Config()
    location = resources.files("ketaclinic.store").joinpath("migrations")
    config.set_main_option("script_location", str(location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str | None = None) -> None:
    """Create or upgrade the schema to the newest migration."""
    command.upgrade(alembic_config(url or database_url()), "head")
