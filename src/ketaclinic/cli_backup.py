"""``ketaclinic backup FILE`` and ``ketaclinic restore FILE [--check]``: encrypted, online backups.

The database is KETACLINIC_DATABASE_URL (default ./ketaclinic.db) unless ``--database`` names
one; the key is KETACLINIC_BACKUP_KEY (32 random bytes in base64), or the file that
KETACLINIC_BACKUP_KEY_FILE names holds it. A missing, unreadable or malformed key, a damaged
file, a wrong key or a target that is not empty exits 2 with one line, writing nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ketaclinic.services import backup as backups
from ketaclinic.services import ledger
from ketaclinic.services.clock import SystemClock
from ketaclinic.store import db

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database", help="SQLAlchemy URL (default: KETACLINIC_DATABASE_URL or ./ketaclinic.db)"
    ),
]


def _refuse(message: str) -> Exception:
    # Imported here: ketaclinic.cli imports this module to register the commands.
    from ketaclinic.cli import BadInput

    return BadInput(message)


def _tables(header: backups.Header) -> str:
    return f"{header.rows} rows in {len(header.tables)} tables"


def backup(
    file: Annotated[Path, typer.Argument(help="the backup file to write (replaced when complete)")],
    database: DatabaseOption = None,
) -> None:
    """Back up the whole database, online, to FILE encrypted with KETACLINIC_BACKUP_KEY."""
    try:
        key = backups.key_from_environment()
        header = backups.backup(database or db.database_url(), file, key, SystemClock())
    except backups.BackupRefused as refused:
        raise _refuse(str(refused)) from None
    typer.echo(
        f"backed up the {header.database} database (schema {header.schema_revision}, "
        f"{header.created_at.isoformat(timespec='seconds')} UTC): {_tables(header)} to {file}"
    )


def restore(
    file: Annotated[Path, typer.Argument(help="a backup file made by `ketaclinic backup`")],
    database: DatabaseOption = None,
    check: Annotated[
        bool, typer.Option("--check", help="only read and authenticate the file; write nothing")
    ] = False,
) -> None:
    """Restore FILE into an EMPTY database (refused otherwise), then verify the ledger chain.
    With --check, only prove the file whole and readable with the key."""
    try:
        key = backups.key_from_environment()
        if check:
            header = backups.check(file, key)
        else:
            url = database or db.database_url()
            header = backups.restore(url, file, key)
    except backups.BackupRefused as refused:
        raise _refuse(f"{file}: {refused}; nothing was written") from None
    made = (
        f"{header.database} backup of {header.created_at.isoformat(timespec='seconds')} UTC "
        f"(schema {header.schema_revision}): {_tables(header)}"
    )
    if check:
        typer.echo(f"{file}: intact {made}")
        return
    typer.echo(f"restored the {made}")
    engine = db.make_engine(url)
    try:
        with db.transaction(db.session_factory(engine)) as session:
            chain = ledger.verify(session)
    finally:
        engine.dispose()
    typer.echo(f"ledger: {chain.message} (head {chain.head.text()})")
