"""`ketaclinic demo` (seed the demo clinic) and `ketaclinic serve` (the web app)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ketaclinic.services import second_factor
from ketaclinic.services.clock import SystemClock
from ketaclinic.services.demo_clinic import DEMO_USERS, seed
from ketaclinic.store.db import database_url, make_engine, migrate, session_factory, shown_url


def demo() -> None:
    """Create or migrate the database and seed the demo clinic once; print the sign-ins."""
    url = database_url()
    migrate(url)
    report = seed(session_factory(make_engine(url)), SystemClock())
    console = Console(highlight=False)
    if report.already_seeded:
        console.print(f"Demo clinic already seeded in {shown_url(url)}")
    else:
        console.print(
            f"Seeded {shown_url(url)}: {report.users_created} users, "
            f"{report.patients_created} patients, "
            f"{report.screenings} screenings, {report.sessions} sessions on today's board"
        )
    table = Table("username", "role", "password", title="Demo sign-ins")
    for username, _name, role, password in DEMO_USERS:
        table.add_row(username, role, password)
    console.print(table)
    if report.second_factors:
        console.print(
            "Second factor: these users also type a code from an authenticator app. Add each "
            "key to the app by hand (time-based), or open its otpauth address on the phone:"
        )
    for username, secret in report.second_factors:
        # Printed whole, never wrapped: the key and the address must survive copying.
        console.print(f"  {username}: key {second_factor.grouped(secret)}", soft_wrap=True)
        console.print(f"  {second_factor.enrolment_uri(secret, username)}", soft_wrap=True)


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Serve the web app (pages and /api) after bringing the database up to date."""
    import uvicorn

    from ketaclinic.web.app import create_app

    url = database_url()
    migrate(url)
    Console(highlight=False).print(
        f"ketaclinic on http://{host}:{port}  (database {shown_url(url)})"
    )
    uvicorn.run(create_app(database_url=url), host=host, port=port, log_level="info")
