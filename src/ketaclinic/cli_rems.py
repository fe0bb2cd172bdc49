"""Command line for the esketamine REMS: ``ketaclinic rems certify-site|enrol|form|submit|overdue|
pdf|csv``.

Writes name the staff member doing them (``--user``) and are confirmed with their password
(prompted, or read from standard input with ``--password-stdin``); their role is checked as in
the app (a prescriber certifies the site; prescribers and nurses enrol, fill and submit). Reads
(overdue, pdf, csv) act as the clinic itself. Every read and write is audited with the patient.
Refusals exit 2 with one line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from ketaclinic.services import audit, rems, users
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock, SystemClock
from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from ketaclinic.store import db

rems_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="The esketamine REMS: enrolments and forms."
)
CLI = Actor.system("cli")

UserOption = Annotated[str, typer.Option("--user", help="who records this (username)")]
StdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from standard input")
]


def refuse(message: str) -> Exception:
    # Imported here: ketaclinic.cli imports this module to register the commands.
    from ketaclinic.cli import BadInput

    return BadInput(message)


@contextmanager
def unit_of_work(*, writes: bool) -> Iterator[Session]:
    """One transaction on the clinic's database; a refusal rolls it back and exits 2."""
    url = db.database_url()
    db.migrate(url)
    engine = db.make_engine(url)
    factory = db.session_factory(engine)
    opened = db.immediate_transaction(factory) if writes else db.transaction(factory)
    try:
        with opened as session:
            yield session
    except InvalidInput as bad:
        raise refuse(f"{bad.field}: {bad.message}") from None
    except (NotFound, Forbidden, Conflict) as refused:
        raise refuse(str(refused)) from None
    finally:
        engine.dispose()


def signed_in(session: Session, clock: Clock, username: str, from_stdin: bool) -> Actor:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(f"Password for {username}", hide_input=True)
    try:
        return users.actor_for(users.authenticate(session, clock, username, password))
    except users.SignInRefused as refused:
        raise refuse(f"--user: {refused.message}") from None


def day(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise refuse(f"{option}: {value!r} is not a date in the form YYYY-MM-DD") from None


def moment(option: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise refuse(f"{option}: {value!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None


def write_out(out: Path | None, data: bytes) -> None:
    if out is None:
        typer.get_binary_stream("stdout").write(data)
        return
    try:
        out.write_bytes(data)
    except OSError as error:
        raise refuse(f"--out {out}: cannot write the file ({error.strerror})") from None


def _check_writable(out: Path | None) -> None:
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        raise refuse(f"--out {out}: not a file in an existing directory")


@rems_app.command("certify-site")
def certify_site(
    user: UserOption,
    reference: Annotated[str, typer.Option(help="the setting's REMS certification")],
    certified_on: Annotated[str, typer.Option("--certified-on", help="YYYY-MM-DD")],
    password_stdin: StdinOption = False,
) -> None:
    """Record the site's REMS certification (a prescriber)."""
    clock = SystemClock()
    on = day("--certified-on", certified_on)
    with unit_of_work(writes=True) as session:
        actor = signed_in(session, clock, user, password_stdin)
        row = rems.record_site_certification(session, actor, clock, reference, on)
        audit.record(session, actor, clock, audit.WRITE, f"REMS site certification {row.reference}")
        line = f"site certified: {row.reference} on {row.enrolled_on.isoformat()}"
    typer.echo(line)


@rems_app.command("enrol")
def enrol(
    user: UserOption,
    patient: Annotated[int, typer.Option(help="the patient's number")],
    reference: Annotated[str, typer.Option(help="the patient's REMS enrolment")],
    enrolled_on: Annotated[str, typer.Option("--enrolled-on", help="YYYY-MM-DD")],
    password_stdin: StdinOption = False,
) -> None:
    """Record a patient's REMS enrolment."""
    clock = SystemClock()
    on = day("--enrolled-on", enrolled_on)
    with unit_of_work(writes=True) as session:
        actor = signed_in(session, clock, user, password_stdin)
        row = rems.record_patient_enrolment(session, actor, clock, patient, reference, on)
        words = f"REMS patient enrolment {row.reference}"
        audit.record(session, actor, clock, audit.WRITE, words, row.patient_id)
        line = f"patient {patient} enrolled: {row.reference} on {row.enrolled_on.isoformat()}"
    typer.echo(line)


@rems_app.command("form")
def form(
    session_id: Annotated[int, typer.Argument(help="the esketamine session (its number)")],
    user: UserOption,
    ready_at: Annotated[
        str | None,
        typer.Option("--ready-at", help="when ready to leave without the 2-hour rule"),
    ] = None,
    password_stdin: StdinOption = False,
) -> None:
    """Fill (or refill, until submitted) the session's Patient Monitoring Form; print it."""
    clock = SystemClock()
    ready = moment("--ready-at", ready_at)
    with unit_of_work(writes=True) as session:
        actor = signed_in(session, clock, user, password_stdin)
        built = rems.build_form(session, actor, clock, session_id, ready_at=ready)
        view = rems.form_view(session, clock, built.id)
        words = f"REMS form {built.id}: filled from session {session_id}"
        audit.record(session, actor, clock, audit.WRITE, words, view.patient_id)
        lines = [
            f"form {built.id} of session {session_id} (version {built.form_version}), due "
            f"{built.due_on.isoformat()}",
            *(f"  {f.label}: {text or 'not recorded'}" for f, text in view.rows),
            *(f"  problem: {p}" for p in view.problems),
        ]
    typer.echo("\n".join(lines))


@rems_app.command("submit")
def submit(
    form_id: Annotated[int, typer.Argument(help="the form's number")],
    user: UserOption,
    reference: Annotated[str, typer.Option(help="the REMS's confirmation")],
    password_stdin: StdinOption = False,
) -> None:
    """Mark a form as submitted to the REMS."""
    clock = SystemClock()
    with unit_of_work(writes=True) as session:
        actor = signed_in(session, clock, user, password_stdin)
        done = rems.submit_form(session, actor, clock, form_id, reference)
        words = f"REMS form {form_id}: submitted ({done.submission_reference})"
        audit.record(session, actor, clock, audit.WRITE, words, rems.patient_of_form(session, done))
        line = f"form {form_id} submitted: {done.submission_reference}"
    typer.echo(line)


@rems_app.command("overdue")
def overdue() -> None:
    """Sessions whose form is not submitted within 7 days, oldest first."""
    clock = SystemClock()
    with unit_of_work(writes=False) as session:
        rows = rems.overdue_forms(session, clock)
        audit.record(session, CLI, clock, audit.READ, "REMS forms overdue")
        for patient_id in dict.fromkeys(r.patient_id for r in rows):
            audit.record(session, CLI, clock, audit.READ, "REMS form overdue", patient_id)
    for r in rows:
        which = f"form {r.form_id}" if r.form_id is not None else "form not filled"
        typer.echo(f"session {r.session_id}\t{r.session_date.isoformat()}\t{r.patient}\t{which}")
    if not rows:
        typer.echo("no form is overdue")


@rems_app.command("pdf")
def pdf(
    form_id: Annotated[int, typer.Argument(help="the form's number")],
    out: Annotated[
        Path | None, typer.Option("--out", help="file (default: standard output)")
    ] = None,
) -> None:
    """Print a form to PDF."""
    _check_writable(out)
    clock = SystemClock()
    with unit_of_work(writes=False) as session:
        found = rems.get_form(session, form_id)
        data = rems.form_pdf(session, clock, form_id)
        words = f"REMS form {form_id}: PDF"
        audit.record(session, CLI, clock, audit.READ, words, rems.patient_of_form(session, found))
    write_out(out, data)


@rems_app.command("csv")
def csv(
    form_ids: Annotated[list[int], typer.Argument(help="the forms' numbers (one version)")],
    out: Annotated[
        Path | None, typer.Option("--out", help="file (default: standard output)")
    ] = None,
) -> None:
    """Export forms as CSV, one row each under their version's header."""
    _check_writable(out)
    clock = SystemClock()
    with unit_of_work(writes=False) as session:
        text = rems.form_csv(session, form_ids)
        for form_id in form_ids:
            found = rems.get_form(session, form_id)
            words = f"REMS form {form_id}: CSV"
            audit.record(
                session, CLI, clock, audit.READ, words, rems.patient_of_form(session, found)
            )
    write_out(out, text.encode())
