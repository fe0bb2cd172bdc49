from alembic import command
from sqlalchemy import create_engine, inspect

from ketaclinic.store.db import alembic_config, migrate
from tests.conftest import _fresh_postgres_database


def test_down_and_up(postgres_server: str) -> None:
    url = _fresh_postgres_database(postgres_server)
    migrate(url)
    assert "received_resources" in inspect(create_engine(url)).get_table_names()
    command.downgrade(alembic_config(url), "0004")
    assert "received_resources" not in inspect(create_engine(url)).get_table_names()
    migrate(url)
