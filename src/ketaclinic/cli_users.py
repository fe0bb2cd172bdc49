"""Command line for accounts and the audit log: ``ketaclinic user add|token|reset-second-factor``,
``ketaclinic audit``.

The database is KETACLINIC_DATABASE_URL (default ./ketaclinic.db), created or migrated on
first use. The command line acts as the clinic itself (an admin "system" actor): it is how the
first admin account is made.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from ketaclinic.services import audit, second_factor, users
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import SystemClock
from ketaclinic.services.errors import Forbidden, InvalidInput, NotFound
from ketaclinic.store import db

user_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Clinic staff accounts and API tokens."
)
COMMAND_LINE = Actor.system("command line")


def _refuse(message: str) -> Exception:
    # Imported here: ketaclinic.cli imports this module to register the commands.
    from ketaclinic.cli import BadInput

    return BadInput(message)


@contextmanager
def _unit_of_work() -> Iterator[Session]:
    url = db.database_url()
    db.migrate(url)
    engine = db.make_engine(url)
    try:
        with db.transaction(db.session_factory(engine)) as session:
            yield session
    except InvalidInput as bad:
        raise _refuse(f"{bad.field}: {bad.message}") from None
    except (NotFound, Forbidden) as refused:
        raise _refuse(str(refused)) from None
    finally:
        engine.dispose()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line; only the line ending is dropped, so spaces inside the password are kept.
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@user_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="sign-in name (letters, digits, . _ -)")],
    role: Annotated[str, typer.Option(help="prescriber, nurse, front_desk or admin")],
    name: Annotated[str, typer.Option(help="full name, as shown in the app")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Create a user. The password (at least 12 characters) is prompted for, or read from
    standard input with --password-stdin."""
    password = _read_password(password_stdin)
    clock = SystemClock()
    with _unit_of_work() as session:
        user = users.create_user(session, clock, username, name, role, password)
        audit.record(
            session, COMMAND_LINE, clock, audit.WRITE, f"created user {user.username} ({role})"
        )
        created = f"created {user.username} ({user.role})"
    typer.echo(created)


@user_app.command("token")
def token(username: Annotated[str, typer.Argument(help="whose token")]) -> None:
    """Issue an API token for a user and print it. It is shown only this once."""
    clock = SystemClock()
    with _unit_of_work() as session:
        user = users.find_user(session, username)
        plaintext = users.issue_token(session, clock, user)
        audit.record(
            session, COMMAND_LINE, clock, audit.WRITE, f"issued an API token for {user.username}"
        )
    typer.echo(plaintext)


@user_app.command("reset-second-factor")
def reset_second_factor(
    username: Annotated[str, typer.Argument(help="whose second factor to forget")],
) -> None:
    """Forget a user's second factor (a lost or replaced phone). Their next sign-in shows a new
    secret to enrol; API tokens are not affected."""
    with _unit_of_work() as session:
        user = users.find_user(session, username)
        name = user.username
        done = second_factor.reset(session, COMMAND_LINE, SystemClock(), name)
    if done:
        typer.echo(f"reset the second factor of {name}: they enrol a new one at their next sign-in")
    else:
        typer.echo(f"{name} has no second factor enrolled: nothing to reset")


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time())
    except ValueError:
        raise _refuse(f"--since: {value!r} is not a date in the form YYYY-MM-DD") from None


def audit_log(
    patient: Annotated[int | None, typer.Option("--patient", help="patient number")] = None,
    user: Annotated[str | None, typer.Option("--user", help="username")] = None,
    since: Annotated[str | None, typer.Option(help="from this date (YYYY-MM-DD, UTC)")] = None,
    page: Annotated[int, typer.Option(min=1, help="page, newest first")] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=500, help="events per page")] = 100,
) -> None:
    """Show the audit log, newest first: who read or wrote what, when and from where."""
    clock = SystemClock()
    moment = _since(since)
    with _unit_of_work() as session:
        found = audit.query(
            session,
            COMMAND_LINE,
            clock,
            patient_id=patient,
            username=users.normal_username(user) if user else None,
            since=moment,
            page=page,
            per_page=per_page,
        )
        lines = [
            "\t".join(
                [
                    f"{e.at:%Y-%m-%d %H:%M:%S}",
                    e.username,
                    e.action,
                    e.what,
                    "" if e.patient_id is None else f"patient {e.patient_id}",
                    e.address or "",
                ]
            )
            for e in found.events
        ]
    for line in lines:
        typer.echo(line)
    typer.echo(f"({found.total} events; page {found.page} of {found.pages})", err=True)
