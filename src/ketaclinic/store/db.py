"""Connecting to the clinic's database and bringing its schema up to date.

SQLite by default (``./ketaclinic.db``, WAL, foreign keys on); any SQLAlchemy URL in
``KETACLINIC_DATABASE_URL``, such as ``postgresql+psycopg://user@host/db``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = "sqlite:///ketaclinic.db"
# Connection execution option: on SQLite, open the transaction with BEGIN IMMEDIATE, taking the
# write lock before the first read (the ledger reads a balance, then writes what it read).
IMMEDIATE = "ketaclinic_immediate"


def database_url() -> str:
    return os.environ.get("KETACLINIC_DATABASE_URL") or DEFAULT_URL


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


def _sqlite_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get(IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str | None = None) -> Engine:
    url = url or database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


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
    second writer waits here rather than failing later); a plain transaction elsewhere."""
    with factory() as session, session.begin():
        session.connection(execution_options={IMMEDIATE: True})
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
