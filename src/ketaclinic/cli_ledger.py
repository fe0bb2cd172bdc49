"""Command line for the controlled-substance ledger: ``ketaclinic ledger receive|administer|waste|
count|inventory|report|verify|head``.

Every write names the staff member doing it (``--user``) and is confirmed with their password; a
waste also with the witness's own password. Passwords are prompted for, or read one per line from
standard input with ``--password-stdin`` (the user's first, then the witness's). Refusals exit 2
with one line; ``verify`` exits 3 when the chain is broken.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from ketaclinic.clinical import ledger_rules as rules
from ketaclinic.services import audit, ledger, ledger_reports, users
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import SystemClock
from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from ketaclinic.store import db
from ketaclinic.store.models import LedgerCount, LedgerEntry

ledger_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="The controlled-substance ledger."
)
READER = Actor.system("command line")
BROKEN = 3  # exit status of a verify that found tampering

UserOption = Annotated[str, typer.Option("--user", help="who records this (username)")]
StdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="read passwords from standard input, one per line"),
]
LotOption = Annotated[int, typer.Option("--lot", help="lot number in the ledger (its id)")]


def _refuse(message: str) -> Exception:
    # Imported here: ketaclinic.cli imports this module to register the commands.
    from ketaclinic.cli import BadInput

    return BadInput(message)


@contextmanager
def _unit_of_work(*, writes: bool) -> Iterator[Session]:
    url = db.database_url()
    db.migrate(url)
    engine = db.make_engine(url)
    factory = db.session_factory(engine)
    opened = db.immediate_transaction(factory) if writes else db.transaction(factory)
    try:
        with opened as session:
            yield session
    except InvalidInput as bad:
        raise _refuse(f"{bad.field}: {bad.message}") from None
    except (NotFound, Forbidden, Conflict) as refused:
        raise _refuse(str(refused)) from None
    finally:
        engine.dispose()


def _password(prompt: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt(prompt, hide_input=True)
    return value


def _signed_in(session: Session, clock: SystemClock, username: str, from_stdin: bool) -> Actor:
    password = _password(f"Password for {username}", from_stdin)
    try:
        return users.actor_for(users.authenticate(session, clock, username, password))
    except users.SignInRefused as refused:
        raise _refuse(f"--user: {refused.message}") from None


def _day(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _refuse(f"{option}: {value!r} is not a date in the form YYYY-MM-DD") from None


def _audited(session: Session, actor: Actor, clock: SystemClock, entry: LedgerEntry) -> None:
    what = f"ledger entry #{entry.seq} {entry.kind} (lot {entry.lot_id})"
    audit.record(session, actor, clock, audit.WRITE, what, entry.patient_id)


def _line(entry_seq: int, kind: str, change_ug: int, balance_ug: int) -> str:
    return (
        f"#{entry_seq} {kind} {rules.as_mg(change_ug)} mg; lot balance {rules.as_mg(balance_ug)} mg"
    )


@ledger_app.command("receive")
def receive(
    user: UserOption,
    substance: Annotated[str, typer.Option(help="ketamine or esketamine")],
    lot_number: Annotated[str, typer.Option("--lot-number", help="the supplier's lot number")],
    expiry: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    units: Annotated[int, typer.Option(help="whole vials or devices received")],
    supplier: Annotated[str, typer.Option()],
    supplier_dea: Annotated[str, typer.Option("--supplier-dea", help="supplier's DEA number")],
    invoice: Annotated[str, typer.Option()],
    strength: Annotated[str | None, typer.Option(help="ketamine mg/mL")] = None,
    volume: Annotated[str | None, typer.Option(help="ketamine vial volume, mL")] = None,
    password_stdin: StdinOption = False,
) -> None:
    """Record stock received from a supplier (the lot is created when new)."""
    clock = SystemClock()
    day = _day("--expiry", expiry)
    with _unit_of_work(writes=True) as session:
        actor = _signed_in(session, clock, user, password_stdin)
        product = ledger.define_product(
            session, actor, clock, substance, strength_mg_per_ml=strength, volume_ml=volume
        )
        entry = ledger.receive(
            session,
            actor,
            clock,
            ledger.ReceiptIn(product.code, lot_number, day, units, supplier, supplier_dea, invoice),
        )
        _audited(session, actor, clock, entry)
        line = f"lot {entry.lot_id}: " + _line(
            entry.seq, entry.kind, entry.change_ug, entry.balance_ug
        )
    typer.echo(line)


@ledger_app.command("administer")
def administer(
    user: UserOption,
    lot: LotOption,
    patient: Annotated[int, typer.Option(help="patient number")],
    dose: Annotated[str, typer.Option(help="mg given")],
    session_ref: Annotated[int | None, typer.Option("--session", help="session number")] = None,
    dose_ref: Annotated[int | None, typer.Option("--dose-id", help="the session's dose")] = None,
    password_stdin: StdinOption = False,
) -> None:
    """Record a dose given to a patient; prints what is left in the opened vials to waste."""
    clock = SystemClock()
    with _unit_of_work(writes=True) as session:
        actor = _signed_in(session, clock, user, password_stdin)
        given = ledger.administer(
            session, actor, clock, lot, patient, dose, session_ref=session_ref, dose_ref=dose_ref
        )
        e = given.entry
        _audited(session, actor, clock, e)
        line = _line(e.seq, e.kind, e.change_ug, e.balance_ug)
    typer.echo(line)
    if given.remainder_ug:
        typer.echo(f"remainder to waste with a witness: {rules.as_mg(given.remainder_ug)} mg")


@ledger_app.command("waste")
def waste(
    user: UserOption,
    lot: LotOption,
    amount: Annotated[str, typer.Option(help="mg wasted")],
    reason: Annotated[str, typer.Option()],
    witness: Annotated[str, typer.Option(help="the second person's username")],
    password_stdin: StdinOption = False,
) -> None:
    """Record drug wasted, seen by a witness who confirms with their own password."""
    clock = SystemClock()
    with _unit_of_work(writes=True) as session:
        actor = _signed_in(session, clock, user, password_stdin)
        witness_password = _password(f"Password for the witness {witness}", password_stdin)
        e = ledger.waste(session, actor, clock, lot, amount, reason, witness, witness_password)
        _audited(session, actor, clock, e)
        line = _line(e.seq, e.kind, e.change_ug, e.balance_ug) + f"; witness {witness}"
    typer.echo(line)


@ledger_app.command("count")
def count(
    user: UserOption,
    lot: LotOption,
    counted: Annotated[str, typer.Option(help="mg found on hand")],
    password_stdin: StdinOption = False,
) -> None:
    """Record a physical count of one lot; a difference stays listed until resolved."""
    clock = SystemClock()
    with _unit_of_work(writes=True) as session:
        actor = _signed_in(session, clock, user, password_stdin)
        found = ledger.count_lot(session, actor, clock, lot, counted)
        _audited(session, actor, clock, session.get_one(LedgerEntry, found.entry_id))
        line = _count_line(found)
    typer.echo(line)


def _count_line(found: LedgerCount) -> str:
    difference = found.counted_ug - found.expected_ug
    return (
        f"lot {found.lot_id}: counted {rules.as_mg(found.counted_ug)} mg, balance "
        f"{rules.as_mg(found.expected_ug)} mg"
        + (f": DISCREPANCY {rules.as_mg(difference)} mg" if difference else ": matches")
    )


def _lot_counts(values: list[str]) -> dict[int, str]:
    counts: dict[int, str] = {}
    for value in values:
        lot, _, mg = value.partition("=")
        if not lot.strip().isdigit() or not mg.strip():
            raise _refuse(f"--count: {value!r} is not LOT=MG (a lot id and the mg found)")
        counts[int(lot)] = mg.strip()
    return counts


@ledger_app.command("inventory")
def inventory(
    user: UserOption,
    kind: Annotated[str, typer.Option(help="initial or biennial")],
    counts: Annotated[
        list[str], typer.Option("--count", help="LOT=MG for every lot on hand (repeat)")
    ],
    password_stdin: StdinOption = False,
) -> None:
    """Take the initial or biennial inventory (21 CFR 1304.11): every lot on hand counted."""
    if kind not in ("initial", "biennial"):
        raise _refuse(f"--kind: {kind!r} is not initial or biennial")
    which: ledger.Inventory = "initial" if kind == "initial" else "biennial"
    found_mg = _lot_counts(counts)
    clock = SystemClock()
    with _unit_of_work(writes=True) as session:
        actor = _signed_in(session, clock, user, password_stdin)
        found = ledger.take_inventory(session, actor, clock, which, found_mg)
        for row in found:
            _audited(session, actor, clock, session.get_one(LedgerEntry, row.entry_id))
        lines = [_count_line(row) for row in found]
    for line in lines:
        typer.echo(line)


@ledger_app.command("report")
def report(
    product: Annotated[str | None, typer.Option(help="product code")] = None,
    lot: Annotated[int | None, typer.Option("--lot", help="lot id")] = None,
    out: Annotated[Path | None, typer.Option(help="write the CSV here")] = None,
) -> None:
    """The running log as CSV (first line: the chain's head), open discrepancies and loss
    reports on stderr."""
    with _unit_of_work(writes=False) as session:
        rows = ledger_reports.running_log(session, READER, product_code=product, lot_id=lot)
        head = ledger.head(session)
        text = ledger_reports.running_log_csv(rows, head)
        open_counts = [
            f"discrepancy: count {c.id} of lot {c.lot_id}: counted {rules.as_mg(c.counted_ug)} "
            f"mg, balance {rules.as_mg(c.expected_ug)} mg"
            for c in ledger.discrepancies(session)
        ]
        now = SystemClock().now()
        losses = [
            f"loss report {r.id} due {r.due_at:%Y-%m-%d %H:%M} UTC, not filed"
            + (" (OVERDUE)" if rules.report_overdue(r.due_at, r.filed_at, now) else "")
            for r in ledger.open_loss_reports(session)
        ]
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
    for line in [*open_counts, *losses, f"ledger head {head.text()}"]:
        typer.echo(line, err=True)


@ledger_app.command("head")
def show_head() -> None:
    """Print the chain's head, COUNT:SHA256; keep it to verify against later."""
    with _unit_of_work(writes=False) as session:
        head = ledger.head(session)
    typer.echo(head.text())


def _anchor(value: str) -> rules.Head:
    path = Path(value)
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else value
        return rules.parse_head(text)
    except (OSError, UnicodeDecodeError, ValueError) as bad:
        raise _refuse(f"--anchor: {bad}") from None


@ledger_app.command("verify")
def verify(
    anchor: Annotated[
        str | None,
        typer.Option(help="a head exported earlier: COUNT:SHA256, or a file holding it"),
    ] = None,
) -> None:
    """Check the whole chain and name the first entry edited, deleted or reordered; with
    --anchor, also a cut-off end or a chain rebuilt from scratch. Exit 3 when broken."""
    exported = None if anchor is None else _anchor(anchor)
    with _unit_of_work(writes=False) as session:
        check = ledger.verify(session, exported)
    if not check.intact:
        typer.echo(f"BROKEN: {check.message}")
        raise SystemExit(BROKEN)
    typer.echo(f"intact: {check.head.count} entries, head {check.head.text()}")
