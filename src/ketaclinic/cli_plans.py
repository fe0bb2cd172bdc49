"""Command line for treatment plans: ``ketaclinic plan create|show|change|pause|resume|end|
consent-text|sign-consent|withdraw-consent``.

Every command names the staff member (``--user``) and is confirmed with their password (prompted,
or the first line of standard input with ``--password-stdin``); every read and write is audited
with the patient. Refusals (bad input, a plan the record does not allow, a wrong role) exit 2
with one line; anything unexpected exits 1 (ketaclinic.cli.main). ``--json`` prints one JSON
object.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from sqlalchemy.orm import Session

from ketaclinic.services import audit, consent, plans, users
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import SystemClock
from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from ketaclinic.services.plan_forms import parse_plan
from ketaclinic.store import db

plan_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Treatment plans.")

UserOption = Annotated[str, typer.Option("--user", help="who does this (username)")]
StdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from standard input")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object")]
ReasonOption = Annotated[str, typer.Option("--reason", help="why (kept with the plan)")]
PlanArgument = Annotated[int, typer.Argument(help="the plan's id")]


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
    except (NotFound, Forbidden, Conflict) as refused:
        raise _refuse(str(refused)) from None
    finally:
        engine.dispose()


def _signed_in(session: Session, clock: SystemClock, username: str, from_stdin: bool) -> Actor:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(f"Password for {username}", hide_input=True)
    try:
        return users.actor_for(users.authenticate(session, clock, username, password))
    except users.SignInRefused as refused:
        raise _refuse(f"--user: {refused.message}") from None


def _show(session: Session, plan_id: int, as_json: bool) -> str:
    detail = plans.plan_detail(session, plan_id)
    if as_json:
        return orjson.dumps(plans.plan_json(detail)).decode()
    plan, version = detail.plan, detail.version
    lines = [
        f"plan {plan.id} (patient {plan.patient_id}): {plan.route} for {plan.indication}, "
        f"{plan.status}, version {plan.version}{'' if detail.on_label else ', off-label'}",
        f"dose {version.dose_mg:g} mg"
        + (
            f" ({version.mg_per_kg:g} mg/kg x {version.weight_kg:g} kg)"
            if version.mg_per_kg
            else ""
        ),
    ]
    visits: list[dict[str, Any]] = [_session_line(row) for row in detail.sessions] or [
        {"kind": v["kind"], "number": v["number"], "on": v["on"], "mg": v["mg"], "state": "planned"}
        for v in detail.schedule["sessions"]
    ]
    for row in visits:
        mg = f" {row['mg']:g} mg" if row["mg"] is not None else ""
        lines.append(f"  {row['on']} {row['kind']} {row['number']}{mg} [{row['state']}]")
    cost = detail.cost
    if cost["low_usd"] is not None:
        lines.append(f"expected cost ${cost['low_usd']:,} to ${cost['high_usd']:,}")
    lines.append(
        "billing: " + ", ".join(f"{b['code']} x {b['units']}" for b in cost["billing"])
        if cost["billing"]
        else "billing: none"
    )
    if detail.review is not None:
        lines.append(f"REVIEW: {detail.review.message} ({detail.review.source})")
    return "\n".join(lines)


def _session_line(row: Any) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "number": row.number,
        "on": row.planned_on.isoformat(),
        "mg": row.planned_mg,
        "state": row.state,
    }


def _plan_values(**given: Any) -> dict[str, object]:
    return {k: v for k, v in given.items() if v is not None}


Route = Annotated[str, typer.Option(help="iv, esketamine, im, oral or sublingual")]
Indication = Annotated[str, typer.Option(help="as the screening found it")]
StartOn = Annotated[str, typer.Option("--start-on", help="first session, YYYY-MM-DD")]
MgPerKg = Annotated[str | None, typer.Option("--mg-per-kg", help="IV or IM dose")]
Minutes = Annotated[str | None, typer.Option("--infusion-minutes", help="IV, default 40")]
Mg = Annotated[str | None, typer.Option("--mg", help="esketamine 56 or 84; oral, sublingual")]
Induction = Annotated[str | None, typer.Option("--induction-sessions")]
InductionDays = Annotated[str | None, typer.Option("--induction-days")]
Maintenance = Annotated[str | None, typer.Option("--maintenance-sessions")]
MaintenanceDays = Annotated[str | None, typer.Option("--maintenance-every-days")]
Integration = Annotated[bool, typer.Option("--integration-sessions")]
Chair = Annotated[str | None, typer.Option("--chair")]


@plan_app.command("create")
def create(
    user: UserOption,
    patient: Annotated[int, typer.Option("--patient", help="the patient's id")],
    route: Route,
    indication: Indication,
    start_on: StartOn,
    mg_per_kg: MgPerKg = None,
    infusion_minutes: Minutes = None,
    mg: Mg = None,
    induction_sessions: Induction = None,
    induction_days: InductionDays = None,
    maintenance_sessions: Maintenance = None,
    maintenance_every_days: MaintenanceDays = None,
    integration_sessions: Integration = False,
    chair: Chair = None,
    as_json: JsonOption = False,
    password_stdin: StdinOption = False,
) -> None:
    """Make a plan (prescribers): it waits for the patient's consent."""
    clock = SystemClock()
    values = _plan_values(
        route=route, indication=indication, start_on=start_on, mg_per_kg=mg_per_kg,
        infusion_minutes=infusion_minutes, mg=mg, induction_sessions=induction_sessions,
        induction_days=induction_days, maintenance_sessions=maintenance_sessions,
        maintenance_every_days=maintenance_every_days, integration_sessions=integration_sessions,
        chair=chair,
    )  # fmt: skip
    with _unit_of_work() as session:
        actor = _signed_in(session, clock, user, password_stdin)
        plan = plans.create_plan(session, actor, clock, patient, parse_plan(values))
        audit.record(session, actor, clock, audit.WRITE, f"plan {plan.id} created", patient)
        shown = _show(session, plan.id, as_json)
    typer.echo(shown)


@plan_app.command("show")
def show(
    plan_id: PlanArgument,
    user: UserOption,
    as_json: JsonOption = False,
    password_stdin: StdinOption = False,
) -> None:
    """The plan: dose, series, cost with billing codes, review flag."""
    clock = SystemClock()
    with _unit_of_work() as session:
        actor = _signed_in(session, clock, user, password_stdin)
        if actor.role not in plans.CLINICIANS:
            raise Forbidden(f"a {actor.role.replace('_', ' ')} may not read treatment plans")
        plan = plans.get_plan(session, plan_id)
        shown = _show(session, plan_id, as_json)
        audit.record(session, actor, clock, audit.READ, f"plan {plan_id}", plan.patient_id)
    typer.echo(shown)


@plan_app.command("change")
def change(
    plan_id: PlanArgument,
    user: UserOption,
    reason: ReasonOption,
    route: Route,
    indication: Indication,
    start_on: StartOn,
    mg_per_kg: MgPerKg = None,
    infusion_minutes: Minutes = None,
    mg: Mg = None,
    induction_sessions: Induction = None,
    induction_days: InductionDays = None,
    maintenance_sessions: Maintenance = None,
    maintenance_every_days: MaintenanceDays = None,
    integration_sessions: Integration = False,
    chair: Chair = None,
    as_json: JsonOption = False,
    password_stdin: StdinOption = False,
) -> None:
    """A new version of the plan; sessions not yet begun are re-planned."""
    clock = SystemClock()
    values = _plan_values(
        route=route, indication=indication, start_on=start_on, mg_per_kg=mg_per_kg,
        infusion_minutes=infusion_minutes, mg=mg, induction_sessions=induction_sessions,
        induction_days=induction_days, maintenance_sessions=maintenance_sessions,
        maintenance_every_days=maintenance_every_days, integration_sessions=integration_sessions,
        chair=chair,
    )  # fmt: skip
    with _unit_of_work() as session:
        actor = _signed_in(session, clock, user, password_stdin)
        version = plans.change_plan(session, actor, clock, plan_id, parse_plan(values), reason)
        plan = plans.get_plan(session, plan_id)
        what = f"plan {plan_id} changed to version {version.version}"
        audit.record(session, actor, clock, audit.WRITE, what, plan.patient_id)
        shown = _show(session, plan_id, as_json)
    typer.echo(shown)


def _move(verb: str, plan_id: int, user: str, reason: str, as_json: bool, stdin: bool) -> None:
    clock = SystemClock()
    move = {"pause": plans.pause_plan, "resume": plans.resume_plan, "end": plans.end_plan}[verb]
    with _unit_of_work() as session:
        actor = _signed_in(session, clock, user, stdin)
        plan = move(session, actor, clock, plan_id, reason)
        what = f"plan {plan_id} {plan.status}"
        audit.record(session, actor, clock, audit.WRITE, what, plan.patient_id)
        shown = _show(session, plan_id, as_json) if as_json else f"plan {plan_id}: {plan.status}"
    typer.echo(shown)


@plan_app.command("pause")
def pause(
    plan_id: PlanArgument, user: UserOption, reason: ReasonOption, as_json: JsonOption = False,
    password_stdin: StdinOption = False,
) -> None:  # fmt: skip
    """Pause an active plan."""
    _move("pause", plan_id, user, reason, as_json, password_stdin)


@plan_app.command("resume")
def resume(
    plan_id: PlanArgument, user: UserOption, reason: ReasonOption, as_json: JsonOption = False,
    password_stdin: StdinOption = False,
) -> None:  # fmt: skip
    """Resume a paused plan."""
    _move("resume", plan_id, user, reason, as_json, password_stdin)


@plan_app.command("end")
def end(
    plan_id: PlanArgument, user: UserOption, reason: ReasonOption, as_json: JsonOption = False,
    password_stdin: StdinOption = False,
) -> None:  # fmt: skip
    """End a plan; its sessions not yet begun are cancelled."""
    _move("end", plan_id, user, reason, as_json, password_stdin)


@plan_app.command("consent-text")
def consent_text(
    plan_id: PlanArgument,
    user: UserOption,
    as_json: JsonOption = False,
    password_stdin: StdinOption = False,
) -> None:
    """The consent text generated from the plan's current version."""
    clock = SystemClock()
    with _unit_of_work() as session:
        actor = _signed_in(session, clock, user, password_stdin)
        if actor.role not in plans.CLINICIANS:
            raise Forbidden(f"a {actor.role.replace('_', ' ')} may not read treatment plans")
        plan = plans.get_plan(session, plan_id)
        text = consent.consent_text(session, plan_id)
        what = f"plan {plan_id} consent text"
        audit.record(session, actor, clock, audit.READ, what, plan.patient_id)
    typer.echo(orjson.dumps({"plan_id": plan_id, "text": text}).decode() if as_json else text)


@plan_app.command("sign-consent")
def sign_consent(
    plan_id: PlanArgument,
    user: UserOption,
    typed_name: Annotated[
        str | None, typer.Option("--typed-name", help="typed by the patient")
    ] = None,
    signature_png: Annotated[
        Path | None, typer.Option("--signature-png", help="the patient's drawn signature")
    ] = None,
    pdf: Annotated[
        Path | None, typer.Option("--pdf", help="also write the signed PDF here")
    ] = None,
    as_json: JsonOption = False,
    password_stdin: StdinOption = False,
) -> None:
    """The patient's signature and yours (prescriber or nurse): the plan becomes active."""
    clock = SystemClock()
    drawn: bytes | None = None
    if signature_png is not None:
        try:
            drawn = signature_png.read_bytes()
        except OSError as error:
            raise _refuse(f"--signature-png {signature_png}: {error.strerror}") from None
    with _unit_of_work() as session:
        actor = _signed_in(session, clock, user, password_stdin)
        row = consent.sign_consent(
            session, actor, clock, plan_id, typed_name=typed_name, drawn_png=drawn
        )
        plan = plans.get_plan(session, plan_id)
        what = f"plan {plan_id} consent {row.id} signed; plan active"
        audit.record(session, actor, clock, audit.WRITE, what, plan.patient_id)
        result = {"consent_id": row.id, "plan_id": plan_id, "status": plan.status}
        document = row.pdf
    if pdf is not None and document is not None:
        pdf.write_bytes(document)
    line = f"consent {result['consent_id']} signed; plan {plan_id} {result['status']}"
    typer.echo(orjson.dumps(result).decode() if as_json else line)


@plan_app.command("withdraw-consent")
def withdraw_consent(
    plan_id: PlanArgument,
    user: UserOption,
    reason: ReasonOption,
    as_json: JsonOption = False,
    password_stdin: StdinOption = False,
) -> None:
    """The patient withdraws consent: the plan ends."""
    clock = SystemClock()
    with _unit_of_work() as session:
        actor = _signed_in(session, clock, user, password_stdin)
        row = consent.withdraw_consent(session, actor, clock, plan_id, reason)
        plan = plans.get_plan(session, plan_id)
        what = f"plan {plan_id} consent {row.id} withdrawn; plan ended"
        audit.record(session, actor, clock, audit.WRITE, what, plan.patient_id)
        result = {"consent_id": row.id, "plan_id": plan_id, "status": plan.status}
    line = f"consent {result['consent_id']} withdrawn; plan {plan_id} {result['status']}"
    typer.echo(orjson.dumps(result).decode() if as_json else line)
