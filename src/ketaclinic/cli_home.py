"""Command line for a plan's home programme: ``ketaclinic home pdmp|prescribe|schedule|checkin|
dose|show|missed``.

Writes name the staff member (``--user``) and are confirmed with their password, as in
``ketaclinic rems``; PDMP checks and prescriptions need a prescriber, check-ins and the diary a
nurse or prescriber. Patients have no accounts yet: what a patient reports is entered by staff
with ``--reported-by patient``. Every read and write is audited with the plan's patient.
Refusals exit 2 with one line.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ketaclinic.cli_rems import (
    CLI,
    StdinOption,
    UserOption,
    moment,
    refuse,
    signed_in,
    unit_of_work,
)
from ketaclinic.services import audit
from ketaclinic.services import home_programme as home
from ketaclinic.services.clock import SystemClock

home_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Home programme of oral or sublingual plans."
)
PlanArgument = Annotated[int, typer.Argument(help="the plan's number")]


def _reported_by(value: str) -> str:
    if value not in home.REPORTERS:
        raise refuse(f"--reported-by: {value!r} is not one of {', '.join(home.REPORTERS)}")
    return value


@home_app.command("pdmp")
def pdmp(
    plan: PlanArgument,
    user: UserOption,
    result: Annotated[str, typer.Option(help="clear or concern")],
    note: Annotated[str | None, typer.Option(help="what it showed (required for concern)")] = None,
    password_stdin: StdinOption = False,
) -> None:
    """Record a prescription-monitoring (PDMP) check (a prescriber)."""
    clock = SystemClock()
    with unit_of_work(writes=True) as session:
        actor = signed_in(session, clock, user, password_stdin)
        row = home.record_pdmp_check(session, actor, clock, plan, result, note)
        patient_id = home.get_plan(session, plan).patient_id
        words = f"PDMP check ({row.result}) (plan {plan})"
        audit.record(session, actor, clock, audit.WRITE, words, patient_id)
        line = f"PDMP check {row.id}: {row.result}"
    typer.echo(line)


@home_app.command("prescribe")
def prescribe(
    plan: PlanArgument,
    user: UserOption,
    dose: Annotated[float, typer.Option(help="mg per dose")],
    doses: Annotated[int, typer.Option(help="number of doses")],
    password_stdin: StdinOption = False,
) -> None:
    """Write a home prescription (a prescriber, after a PDMP check)."""
    clock = SystemClock()
    with unit_of_work(writes=True) as session:
        actor = signed_in(session, clock, user, password_stdin)
        row = home.write_home_prescription(session, actor, clock, plan, dose, doses)
        patient_id = home.get_plan(session, plan).patient_id
        words = f"home prescription {row.id}: {row.doses} x {row.dose_mg:g} mg (plan {plan})"
        audit.record(session, actor, clock, audit.WRITE, words, patient_id)
        line = f"prescription {row.id}: {row.doses} x {row.dose_mg:g} mg"
    typer.echo(line)


@home_app.command("schedule")
def schedule(
    plan: PlanArgument,
    user: UserOption,
    due_at: Annotated[str, typer.Option("--due-at", help="YYYY-MM-DDTHH:MM")],
    password_stdin: StdinOption = False,
) -> None:
    """Schedule a check-in before a home dose."""
    clock = SystemClock()
    due = moment("--due-at", due_at)
    assert due is not None
    with unit_of_work(writes=True) as session:
        actor = signed_in(session, clock, user, password_stdin)
        row = home.schedule_checkin(session, actor, clock, plan, due)
        patient_id = home.get_plan(session, plan).patient_id
        words = f"home check-in {row.id} scheduled {row.due_at:%Y-%m-%d %H:%M} (plan {plan})"
        audit.record(session, actor, clock, audit.WRITE, words, patient_id)
        line = f"check-in {row.id} due {row.due_at:%Y-%m-%d %H:%M}"
    typer.echo(line)


@home_app.command("checkin")
def checkin(
    plan: PlanArgument,
    user: UserOption,
    sitter_present: Annotated[
        bool, typer.Option("--sitter-present", help="a sitter is with the patient")
    ] = False,
    no_driving: Annotated[
        bool, typer.Option("--no-driving", help="the patient will not drive until the next day")
    ] = False,
    side_effects: Annotated[str | None, typer.Option("--side-effects")] = None,
    reported_by: Annotated[str, typer.Option("--reported-by", help="patient or staff")] = "staff",
    checkin_id: Annotated[
        int | None, typer.Option("--checkin", help="the scheduled check-in answered")
    ] = None,
    done_at: Annotated[str | None, typer.Option("--done-at", help="default: now")] = None,
    password_stdin: StdinOption = False,
) -> None:
    """Record a check-in's answers (a scheduled one with --checkin, else a new one)."""
    clock = SystemClock()
    given = home.CheckinIn(
        sitter_present,
        no_driving,
        side_effects,
        _reported_by(reported_by),
        moment("--done-at", done_at),
        checkin_id,
    )
    with unit_of_work(writes=True) as session:
        actor = signed_in(session, clock, user, password_stdin)
        row = home.record_checkin(session, actor, clock, plan, given)
        patient_id = home.get_plan(session, plan).patient_id
        words = f"home check-in {row.id} recorded (plan {plan})"
        audit.record(session, actor, clock, audit.WRITE, words, patient_id)
        passes = "passes" if row.sitter_present and row.no_driving else "does not clear a dose"
        line = f"check-in {row.id} recorded: {passes}"
    typer.echo(line)


@home_app.command("dose")
def dose(
    plan: PlanArgument,
    user: UserOption,
    prescription: Annotated[int, typer.Option(help="the prescription's number")],
    mg: Annotated[float, typer.Option("--dose", help="mg taken")],
    taken_at: Annotated[str | None, typer.Option("--taken-at", help="default: now")] = None,
    reported_by: Annotated[str, typer.Option("--reported-by", help="patient or staff")] = "patient",
    note: Annotated[str | None, typer.Option()] = None,
    password_stdin: StdinOption = False,
) -> None:
    """Record a home dose in the diary (needs a passing check-in that day)."""
    clock = SystemClock()
    given = home.HomeDoseIn(
        prescription, mg, moment("--taken-at", taken_at), _reported_by(reported_by), note
    )
    with unit_of_work(writes=True) as session:
        actor = signed_in(session, clock, user, password_stdin)
        row = home.record_home_dose(session, actor, clock, plan, given)
        patient_id = home.get_plan(session, plan).patient_id
        words = f"home dose {row.id}: {row.dose_mg:g} mg (plan {plan})"
        audit.record(session, actor, clock, audit.WRITE, words, patient_id)
        line = f"dose {row.id}: {row.dose_mg:g} mg at {row.taken_at:%Y-%m-%d %H:%M}"
    typer.echo(line)


@home_app.command("show")
def show(plan: PlanArgument) -> None:
    """The plan's home programme: prescriptions, check-ins (missed flagged), diary."""
    clock = SystemClock()
    with unit_of_work(writes=False) as session:
        view = home.programme(session, clock, plan)
        words = f"home programme of plan {plan}"
        audit.record(session, CLI, clock, audit.READ, words, view.plan.patient_id)
        missed = {c.id for c in view.missed}
        dose_words = f"{view.plan_dose_mg:g} mg" if view.plan_dose_mg is not None else "not set"
        lines = [f"plan {plan} ({view.plan.route}, {view.plan.status}); plan dose {dose_words}"]
        lines += [
            f"prescription {p.prescription.id}: {p.prescription.doses} x "
            f"{p.prescription.dose_mg:g} mg, {p.doses_taken} taken"
            for p in view.prescriptions
        ]
        lines += [
            f"check-in {c.id}: due {c.due_at:%Y-%m-%d %H:%M}, "
            + (f"done {c.done_at:%Y-%m-%d %H:%M}" if c.done_at else "not done")
            + (" MISSED" if c.id in missed else "")
            for c in view.checkins
        ]
        lines += [
            f"dose {d.id}: {d.dose_mg:g} mg at {d.taken_at:%Y-%m-%d %H:%M} ({d.reported_by})"
            for d in view.doses
        ]
    typer.echo("\n".join(lines))


@home_app.command("missed")
def missed(plan: PlanArgument) -> None:
    """Scheduled check-ins past due and not done."""
    clock = SystemClock()
    with unit_of_work(writes=False) as session:
        rows = home.missed_checkins(session, clock, plan)
        patient_id = home.get_plan(session, plan).patient_id
        words = f"missed home check-ins of plan {plan}"
        audit.record(session, CLI, clock, audit.READ, words, patient_id)
    for c in rows:
        typer.echo(f"check-in {c.id} was due {c.due_at:%Y-%m-%d %H:%M}")
    if not rows:
        typer.echo("no check-in missed")
