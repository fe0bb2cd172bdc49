"""Command line for monitored sessions: ``ketaclinic session check-in|predose|confirm|dose|
end-dosing|vitals|ack|score|adverse|ready|discharge|complete|cancel|stop|show|board``.

The same services as the web app. Every write names the staff member doing it (``--user``),
confirmed with their password (prompted, or read from standard input with
``--password-stdin``), and is audited with the patient's id; ``show`` and ``board`` read as the
command line and are audited too. Refusals (bad input, a move out of order, a role that may not)
exit 2 with one line; times are ISO 8601, naive times read as UTC.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any

import orjson
import typer
from sqlalchemy.orm import Session

from ketaclinic.services import audit, users
from ketaclinic.services import sessions as svc
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock, SystemClock
from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from ketaclinic.services.session_forms import (
    AdverseEventIn,
    DischargeIn,
    DoseIn,
    PredoseIn,
    VitalsIn,
)
from ketaclinic.store import db
from ketaclinic.store.models import PredoseCheck, SessionAlert

session_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Monitored sessions at the chair."
)
READER = Actor.system("command line")

UserOption = Annotated[str, typer.Option("--user", help="who records this (username)")]
StdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from standard input")
]
SessionArg = Annotated[int, typer.Argument(help="session number")]
AtOption = Annotated[str | None, typer.Option("--at", help="when (ISO 8601; default now)")]
Value = Annotated[str | None, typer.Option()]


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
        with db.immediate_transaction(db.session_factory(engine)) as session:
            yield session
    except InvalidInput as bad:
        raise _refuse(f"{bad.field}: {bad.message}") from None
    except (NotFound, Forbidden, Conflict) as refused:
        raise _refuse(str(refused)) from None
    finally:
        engine.dispose()


def _signed_in(session: Session, clock: Clock, username: str, from_stdin: bool) -> Actor:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(f"Password for {username}", hide_input=True)
    try:
        return users.actor_for(users.authenticate(session, clock, username, password))
    except users.SignInRefused as refused:
        raise _refuse(f"--user: {refused.message}") from None


def _time(option: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _refuse(f"{option}: {value!r} is not a time such as 2026-11-01T09:30") from None


def _day(value: str | None, clock: Clock) -> date:
    if value is None:
        return clock.now().date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _refuse(f"--day: {value!r} is not a date in the form YYYY-MM-DD") from None


def _write(user: str, from_stdin: bool, what: str, work: Any) -> None:
    """Sign in, do ``work(session, actor, clock) -> (patient_id, line)``, audit, print."""
    clock = SystemClock()
    with _unit_of_work() as session:
        actor = _signed_in(session, clock, user, from_stdin)
        patient_id, line = work(session, actor, clock)
        audit.record(session, actor, clock, audit.WRITE, what, patient_id)
    typer.echo(line)


def _state_line(row: Any) -> str:
    return f"session {row.id}: {row.state.replace('_', ' ')}"


@session_app.command("check-in")
def check_in(
    session_id: SessionArg,
    user: UserOption,
    chair: Annotated[str | None, typer.Option(help="chair or room")] = None,
    password_stdin: StdinOption = False,
) -> None:
    """The patient has arrived: scheduled -> checked in."""

    def work(s: Session, actor: Actor, clock: Clock) -> tuple[int, str]:
        row = svc.check_in(s, actor, clock, session_id, chair)
        return row.patient_id, _state_line(row) + (f" at {row.chair}" if row.chair else "")

    _write(user, password_stdin, f"session {session_id}: checked in", work)


@session_app.command("predose")
def predose(
    session_id: SessionArg,
    user: UserOption,
    systolic: Annotated[str, typer.Option()],
    diastolic: Annotated[str, typer.Option()],
    escort: Annotated[bool, typer.Option("--escort/--no-escort", help="escort or transport")],
    benzodiazepine: Annotated[
        bool, typer.Option("--benzodiazepine/--no-benzodiazepine", help="taken today")
    ],
    fasting: Annotated[
        bool | None,
        typer.Option("--fasting/--not-fasting", help="esketamine: 2 h food, 30 min drink"),
    ] = None,
    last_food: Annotated[str | None, typer.Option("--last-food")] = None,
    last_drink: Annotated[str | None, typer.Option("--last-drink")] = None,
    heart_rate: Value = None,
    spo2: Value = None,
    respiratory_rate: Value = None,
    password_stdin: StdinOption = False,
) -> None:
    """The pre-dose check; prints go, confirm (a prescriber must confirm) or stop, and why."""
    data = PredoseIn(
        systolic=systolic,
        diastolic=diastolic,
        escort_confirmed=escort,
        benzodiazepine_today=benzodiazepine,
        fasting_confirmed=fasting,
        last_food_at=_time("--last-food", last_food),
        last_drink_at=_time("--last-drink", last_drink),
        heart_rate=heart_rate,
        spo2=spo2,
        respiratory_rate=respiratory_rate,
    )

    def work(s: Session, actor: Actor, clock: Clock) -> tuple[int, str]:
        check = svc.run_predose_check(s, actor, clock, session_id, data)
        row = svc.get_treatment_session(s, session_id)
        lines = [f"pre-dose check {check.id}: {check.decision}"]
        lines += [f"- {r.message} ({r.source})" for r in svc.reasons_of(check)]
        return row.patient_id, "\n".join(lines)

    _write(user, password_stdin, f"session {session_id}: pre-dose check", work)


@session_app.command("confirm")
def confirm(
    session_id: SessionArg,
    user: UserOption,
    reason: Annotated[str, typer.Option(help="why the dose may go ahead")],
    password_stdin: StdinOption = False,
) -> None:
    """A prescriber confirms the session's latest pre-dose check."""

    def work(s: Session, actor: Actor, clock: Clock) -> tuple[int, str]:
        row = svc.get_treatment_session(s, session_id)
        latest = svc.latest_predose(s, session_id)
        if latest is None:
            raise Conflict(f"session {session_id} has no pre-dose check to confirm")
        check: PredoseCheck = svc.confirm_predose(s, actor, clock, latest.id, reason)
        return row.patient_id, f"pre-dose check {check.id}: confirmed"

    _write(user, password_stdin, f"session {session_id}: pre-dose check confirmed", work)


@session_app.command("dose")
def dose(
    session_id: SessionArg,
    user: UserOption,
    mg: Annotated[str, typer.Option("--mg", help="mg given; an esketamine device is 28")],
    lot: Annotated[str | None, typer.Option(help="lot number as printed")] = None,
    lot_id: Annotated[
        int | None, typer.Option("--lot-id", help="ledger lot (writes the entry)")
    ] = None,
    at: AtOption = None,
    confirm_reason: Annotated[
        str | None, typer.Option("--confirm-reason", help="prescriber: a dose outside the plan")
    ] = None,
    password_stdin: StdinOption = False,
) -> None:
    """A dose, or one esketamine device."""
    data = DoseIn(
        dose_mg=mg,
        lot=lot,
        lot_id=lot_id,
        started_at=_time("--at", at),
        confirm_reason=confirm_reason,
    )

    def work(s: Session, actor: Actor, clock: Clock) -> tuple[int, str]:
        given = svc.record_dose(s, actor, clock, session_id, data)
        row = svc.get_treatment_session(s, session_id)
        device = f" (device {given.device_number})" if given.device_number else ""
        ledger = f"; ledger #{given.ledger_seq}" if given.ledger_seq else ""
        return row.patient_id, f"dose {given.id}: {given.dose_mg:g} mg{device}{ledger}"

    _write(user, password_stdin, f"session {session_id}: dose", work)


@session_app.command("end-dosing")
def end_dosing(
    session_id: SessionArg,
    user: UserOption,
    at: AtOption = None,
    password_stdin: StdinOption = False,
) -> None:
    """Dosing is over: observation starts; prints when it may end."""

    def work(s: Session, actor: Actor, clock: Clock) -> tuple[int, str]:
        row = svc.end_dosing(s, actor, clock, session_id, _time("--at", at))
        ends = row.observation_ends_at
        return row.patient_id, _state_line(row) + (f" until {ends:%Y-%m-%d %H:%M}" if ends else "")

    _write(user, password_stdin, f"session {session_id}: dosing ended", work)


@session_app.command("vitals")
def vitals(
    session_id: SessionArg,
    user: UserOption,
    systolic: Value = None,
    diastolic: Value = None,
    heart_rate: Value = None,
    spo2: Value = None,
    respiratory_rate: Value = None,
    at: AtOption = None,
    password_stdin: StdinOption = False,
) -> None:
    """A set of readings; prints each alert raised."""
    data = VitalsIn(systolic, diastolic, heart_rate, spo2, respiratory_rate, _time("--at", at))

    def work(s: Session, actor: Actor, clock: Clock) -> tuple[int, str]:
        reading, alerts = svc.record_vitals(s, actor, clock, session_id, data)
        row = svc.get_treatment_session(s, session_id)
        lines = [f"vitals {reading.id} recorded; {_state_line(row)}"]
        lines += [f"ALERT {a.id}: {a.message}" for a in alerts]
        return row.patient_id, "\n".join(lines)

    _write(user, password_stdin, f"session {session_id}: vitals", work)


@session_app.command("ack")
def acknowledge(
    alert_id: Annotated[int, typer.Argument(help="alert number")],
    user: UserOption,
    action: Annotated[str, typer.Option(help="the action taken")],
    infusion_stopped: Annotated[bool, typer.Option("--infusion-stopped")] = False,
    password_stdin: StdinOption = False,
) -> None:
    """Acknowledge an alert with the action taken (``--infusion-stopped`` ends the infusion)."""

    def work(s: Session, actor: Actor, clock: Clock) -> tuple[int, str]:
        alert: SessionAlert = svc.acknowledge_alert(
            s, actor, clock, alert_id, action, infusion_stopped
        )
        row = svc.get_treatment_session(s, alert.session_id)
        return row.patient_id, f"alert {alert.id} acknowledged; {_state_line(row)}"

    _write(user, password_stdin, f"alert {alert_id}: acknowledged", work)


@session_app.command("score")
def score(
    session_id: SessionArg,
    user: UserOption,
    scale: Annotated[str, typer.Option(help="moaas or cadss")],
    value: Annotated[str, typer.Option("--score")],
    at: AtOption = None,
    password_stdin: StdinOption = False,
) -> None:
    """Sedation (MOAA/S 0-5) or dissociation (CADSS 0-92)."""

    def work(s: Session, actor: Actor, clock: Clock) -> tuple[int, str]:
        found = svc.record_score(s, actor, clock, session_id, scale, value, _time("--at", at))
        row = svc.get_treatment_session(s, session_id)
        return row.patient_id, f"{found.scale} {found.score} recorded; {_state_line(row)}"

    _write(user, password_stdin, f"session {session_id}: score", work)


@session_app.command("adverse")
def adverse(
    session_id: SessionArg,
    user: UserOption,
    kind: Annotated[str, typer.Option(help="nausea, vomiting, hypertension, agitation, ...")],
    severity: Annotated[str, typer.Option(help="mild, moderate or severe")],
    description: Annotated[str | None, typer.Option()] = None,
    at: AtOption = None,
    password_stdin: StdinOption = False,
) -> None:
    """An adverse event with its severity."""
    data = AdverseEventIn(kind, severity, description, _time("--at", at))

    def work(s: Session, actor: Actor, clock: Clock) -> tuple[int, str]:
        event = svc.record_adverse_event(s, actor, clock, session_id, data)
        return event.patient_id, f"adverse event {event.id}: {event.kind} ({event.severity})"

    _write(user, password_stdin, f"session {session_id}: adverse event", work)


@session_app.command("ready")
def ready(session_id: SessionArg, user: UserOption, password_stdin: StdinOption = False) -> None:
    """Ask again whether the patient is ready for discharge; prints what is still unmet."""

    def work(s: Session, actor: Actor, clock: Clock) -> tuple[int, str]:
        row = svc.check_ready(s, actor, clock, session_id)
        unmet = svc.discharge_checklist(s, clock, session_id)
        lines = [_state_line(row)] + [f"- {r.message}" for r in unmet]
        return row.patient_id, "\n".join(lines)

    _write(user, password_stdin, f"session {session_id}: readiness checked", work)


@session_app.command("discharge")
def discharge(
    session_id: SessionArg,
    user: UserOption,
    oriented: Annotated[bool, typer.Option("--alert-oriented/--not-oriented")] = False,
    escort: Annotated[bool, typer.Option("--escort/--no-escort")] = False,
    no_driving: Annotated[
        bool, typer.Option("--no-driving-acknowledged/--no-driving-not-acknowledged")
    ] = False,
    override: Annotated[
        str | None, typer.Option("--override", help="prescriber: reason to discharge anyway")
    ] = None,
    password_stdin: StdinOption = False,
) -> None:
    """The patient leaves; refused with the unmet items unless a prescriber overrides."""
    data = DischargeIn(oriented, escort, no_driving, override)

    def work(s: Session, actor: Actor, clock: Clock) -> tuple[int, str]:
        row = svc.discharge(s, actor, clock, session_id, data)
        return row.patient_id, _state_line(row)

    _write(user, password_stdin, f"session {session_id}: discharged", work)


@session_app.command("complete")
def complete(
    session_id: SessionArg,
    user: UserOption,
    note: Annotated[str, typer.Option(help="what was done in the visit (required)")],
    password_stdin: StdinOption = False,
) -> None:
    """An integration (psychotherapy) visit is done, with a note of what was done."""

    def work(s: Session, actor: Actor, clock: Clock) -> tuple[int, str]:
        row = svc.complete_visit(s, actor, clock, session_id, note)
        return row.patient_id, f"session {row.id}: visit done"

    _write(user, password_stdin, f"session {session_id}: visit done", work)


@session_app.command("cancel")
def cancel(
    session_id: SessionArg,
    user: UserOption,
    reason: Annotated[str, typer.Option()],
    password_stdin: StdinOption = False,
) -> None:
    """Call a visit off before any dose."""

    def work(s: Session, actor: Actor, clock: Clock) -> tuple[int, str]:
        row = svc.cancel_session(s, actor, clock, session_id, reason)
        return row.patient_id, _state_line(row)

    _write(user, password_stdin, f"session {session_id}: cancelled", work)


@session_app.command("stop")
def stop(
    session_id: SessionArg,
    user: UserOption,
    reason: Annotated[str, typer.Option()],
    password_stdin: StdinOption = False,
) -> None:
    """End the session for a clinical reason."""

    def work(s: Session, actor: Actor, clock: Clock) -> tuple[int, str]:
        row = svc.stop_session(s, actor, clock, session_id, reason)
        return row.patient_id, _state_line(row)

    _write(user, password_stdin, f"session {session_id}: stopped", work)


def _as_json(summary: svc.SessionSummary) -> dict[str, Any]:
    # The API's answer, so scripts read the same fields from either.
    from ketaclinic.web.api_sessions import SessionOut

    return SessionOut.of_summary(summary).model_dump(mode="json")


def _text(summary: svc.SessionSummary) -> str:
    row = summary.session
    lines = [
        f"session {row.id} ({summary.route}, {row.kind} {row.number}) - {summary.patient_name} - "
        f"{row.state.replace('_', ' ')}" + (f" - {row.chair}" if row.chair else "")
    ]
    if row.stop_reason:
        lines.append(f"  reason: {row.stop_reason}")
    for d in summary.doses:
        lines.append(f"  dose {d.started_at:%H:%M} {d.dose_mg:g} mg lot {d.lot}")
    if summary.observation_ends_at:
        lines.append(f"  observation until {summary.observation_ends_at:%H:%M}")
    if summary.next_vitals_due:
        lines.append(f"  next vitals {summary.next_vitals_due:%H:%M}")
    for due in summary.vitals_overdue:
        lines.append(f"  OVERDUE vitals {due:%H:%M}")
    for a in summary.open_alerts:
        lines.append(f"  ALERT {a.id}: {a.message}")
    if summary.may_leave:
        lines.append("  ready for discharge: checklist passes")
    for b in summary.blockers:
        lines.append(f"  not yet: {b.message}")
    return "\n".join(lines)


def _show(summaries: list[svc.SessionSummary], fmt: str) -> None:
    if fmt == "json":
        data = [_as_json(s) for s in summaries]
        sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        typer.echo("\n".join(_text(s) for s in summaries) or "no sessions")


FormatOption = Annotated[str, typer.Option("--format", help="text or json")]


def _format(fmt: str) -> str:
    if fmt not in ("text", "json"):
        raise _refuse(f"--format: {fmt!r} is not one of text, json")
    return fmt


@session_app.command("show")
def show(session_id: SessionArg, fmt: FormatOption = "text") -> None:
    """The session as the chair sees it (``--format json``: the API's fields)."""
    chosen, clock = _format(fmt), SystemClock()
    with _unit_of_work() as s:
        summary = svc.session_summary(s, clock, session_id)
        audit.record(s, READER, clock, audit.READ, f"session {session_id}", summary.patient.id)
    _show([summary], chosen)


@session_app.command("board")
def board(
    day: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default today")] = None,
    fmt: FormatOption = "text",
) -> None:
    """The day's sessions by chair."""
    chosen, clock = _format(fmt), SystemClock()
    with _unit_of_work() as s:
        chosen_day = _day(day, clock)
        found = svc.board(s, clock, chosen_day)
        for patient_id in sorted({x.patient.id for x in found}):
            audit.record(s, READER, clock, audit.READ, f"board {chosen_day}", patient_id)
    _show(found, chosen)
