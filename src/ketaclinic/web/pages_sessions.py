"""The nurse board and the session page (issue 5, items 3 and 6).

    GET  /board                                   P N F  today's sessions by chair
    GET  /board/live                              P N F  the board's body, polled every 5 s
    GET  /sessions/{id}                           P N    the session: state, forms, timeline
    POST /sessions/{id}/check-in                  P N F  the patient has arrived (chair)
    POST /sessions/{id}/predose                   P N    the pre-dose check
    POST /sessions/{id}/predose/{check_id}/confirm  P    a prescriber lets a "confirm" go ahead
    POST /sessions/{id}/doses                     P N    a dose or one esketamine device
    POST /sessions/{id}/end-dosing                P N    infusion or last device done
    POST /sessions/{id}/vitals                    P N    BP, heart rate, SpO2, respiratory rate
    POST /sessions/{id}/alerts/{alert_id}/acknowledge  P N  the action taken
    POST /sessions/{id}/scores                    P N    MOAA/S or CADSS
    POST /sessions/{id}/adverse-events            P N    nausea, vomiting, ... with severity
    POST /sessions/{id}/check-ready               P N    ask again whether observation is over
    POST /sessions/{id}/discharge                 P N    the checklist; a prescriber may override
    POST /sessions/{id}/complete                  P N    an integration visit done, with a note
    POST /sessions/{id}/cancel                    P N    called off before any dose, with reason
    POST /sessions/{id}/stop                      P N    ended for a clinical reason

The front desk sees the board with names, chairs, states and times (no vitals, doses or alerts)
and checks patients in from it; admins see nothing clinical. The rules and the state machine are
the services' (services/sessions.py); this module reads forms and shows answers. A refused form
comes back beside its field (422 for bad input, 409 for a step out of order or a discharge the
checklist refuses) with nothing written: the service runs in a savepoint that is rolled back.
Every page that shows a patient's data, and every write, is audited naming the patient.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.clinical.session_states import FINAL, IN_CLINIC, STATES
from ketaclinic.services import plans, rems
from ketaclinic.services import sessions as svc
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Conflict, InvalidInput, NotFound
from ketaclinic.services.session_forms import (
    ADVERSE_KINDS,
    SEVERITIES,
    AdverseEventIn,
    DischargeIn,
    DoseIn,
    PredoseIn,
    VitalsIn,
)
from ketaclinic.store.models import (
    AuditEvent,
    LedgerLot,
    LedgerProduct,
    PredoseCheck,
    SessionAlert,
)
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles
from ketaclinic.web.pages_common import Submitted, errors_of, is_htmx, required, staff_names
from ketaclinic.web.templating import render, templates

router = APIRouter(include_in_schema=False)
BoardReader = Annotated[Actor, Depends(require_roles("prescriber", "nurse", "front_desk"))]
Clinician = Annotated[Actor, Depends(require_roles("prescriber", "nurse"))]
Prescriber = Annotated[Actor, Depends(require_roles("prescriber"))]
CLINICAL = ("prescriber", "nurse")
DOSE_STATES = ("pre_dose_check", "dosing")

# A polled board would write an audit row per patient every 5 seconds; a poll records a patient
# again only when this user's last board read of them is older than this (the page load always
# records). The trail still says who saw whom, and from when.
BOARD_AUDIT_EVERY = timedelta(minutes=15)
BOARD_WHAT = "board: today's sessions"

STATE_WORDS = {
    "scheduled": "Scheduled",
    "checked_in": "Checked in",
    "pre_dose_check": "Pre-dose check",
    "dosing": "Dosing",
    "observation": "Observation",
    "ready_for_discharge": "Ready for discharge",
    "discharged": "Discharged",
    "cancelled": "Cancelled",
    "stopped": "Stopped",
}
# The timeline's order of moves within one minute (see Happening.rank); doses rank 3.
MOVE_RANKS = {"checked_in": 0, "pre_dose_check": 2, "dosing": 4}
# The path a session takes when all goes well, for the progress line on the session page.
STEPS = STATES[:7]
# An integration (psychotherapy) visit: no dose, so no pre-dose check, dosing or observation.
INTEGRATION_STEPS = ("scheduled", "checked_in", "discharged")
ROUTE_NAMES = {
    "iv": "IV infusion",
    "esketamine": "Esketamine nasal spray",
    "im": "IM injection",
    "oral": "Oral ketamine",
    "sublingual": "Sublingual ketamine",
}
SCALE_WORDS = {"moaas": "MOAA/S (sedation, 0-5)", "cadss": "CADSS (dissociation, 0-92)"}
GO_WORDS = {
    "go": "Go",
    "confirm": "A prescriber must confirm",
    "stop": "Stop: no dose today",
}
DONE = {
    "check_in": "Checked in.",
    "predose": "Pre-dose check recorded.",
    "confirm": "Pre-dose check confirmed: the dose may go ahead.",
    "dose": "Dose recorded.",
    "end_dosing": "Dosing ended: observation has started.",
    "vitals": "Vitals recorded.",
    "alert": "Alert acknowledged.",
    "score": "Score recorded.",
    "adverse": "Adverse event recorded.",
    "check_ready": "Discharge checklist checked again.",
    "discharge": "Discharged.",
    "complete": "Visit recorded as done.",
    "cancel": "Session cancelled.",
    "stop": "Session stopped.",
}

templates.env.globals.update(
    STATE_WORDS=STATE_WORDS, ROUTE_NAMES=ROUTE_NAMES, SCALE_WORDS=SCALE_WORDS, GO_WORDS=GO_WORDS
)


# ---- the board -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """One session as a board card shows it."""

    session_id: int
    patient_id: int
    name: str
    state: str
    what: str
    times: str
    observation_ends_at: datetime | None
    minutes_left: int | None
    alerts: tuple[str, ...]
    overdue_since: datetime | None
    next_vitals_due: datetime | None
    # The recorded discharge checklist passes now, though the stored state may lag behind.
    may_leave: bool = False


@dataclass(frozen=True)
class Lane:
    chair: str | None
    visits: tuple[Visit, ...]


def _hm(value: datetime | None) -> str:
    return value.strftime("%H:%M") if value is not None else ""


def _times(s: svc.SessionSummary) -> str:
    """The times the desk and the nurses both need, in the order they happen."""
    row = s.session
    parts = []
    if row.scheduled_at is not None:
        parts.append(f"booked {_hm(row.scheduled_at)}")
    if row.checked_in_at is not None:
        parts.append(f"in {_hm(row.checked_in_at)}")
    if row.dosing_started_at is not None:
        parts.append(f"first dose {_hm(row.dosing_started_at)}")
    if row.dosing_ended_at is not None:
        parts.append(f"dosing ended {_hm(row.dosing_ended_at)}")
    if row.discharged_at is not None:
        parts.append(f"left {_hm(row.discharged_at)}")
    elif row.state in ("cancelled", "stopped"):
        parts.append(f"{row.state} {_hm(row.state_at)}")
    return " · ".join(parts) or "not arrived"


def _visit(s: svc.SessionSummary) -> Visit:
    kind = "integration session" if s.session.kind == "integration" else ""
    what = kind or ROUTE_NAMES.get(s.route, s.route)
    return Visit(
        session_id=s.id,
        patient_id=s.patient.id,
        name=s.patient_name,
        state=s.state,
        what=f"{what}, session {s.session.number}",
        times=_times(s),
        observation_ends_at=s.observation_ends_at,
        minutes_left=s.observation_minutes_left,
        alerts=tuple(a.message for a in s.open_alerts),
        overdue_since=s.vitals_overdue[0] if s.vitals_overdue else None,
        next_vitals_due=s.next_vitals_due,
        may_leave=s.may_leave,
    )


def _lanes(summaries: Iterable[svc.SessionSummary]) -> list[Lane]:
    """Sessions by chair in the order the service gives them (chair, then time); sessions with
    no chair yet last."""
    chairs: dict[str | None, list[Visit]] = {}
    for s in summaries:
        chairs.setdefault(s.chair, []).append(_visit(s))
    named = [c for c in chairs if c is not None]
    order: list[str | None] = [*named, None] if None in chairs else list(named)
    return [Lane(c, tuple(chairs[c])) for c in order]


def _board_context(db: Session, clock: Clock, actor: Actor) -> dict[str, Any]:
    now = clock.now()
    summaries = svc.board(db, clock, now.date())
    clinical = actor.role in CLINICAL
    return {
        "now": now,
        "today": now.date(),
        "summaries": summaries,
        "lanes": _lanes(summaries),
        "clinical": clinical,
        "may_check_in": True,
        "counts": {
            "total": len(summaries),
            "in_chair": sum(1 for s in summaries if s.state in IN_CLINIC),
            "done": sum(1 for s in summaries if s.state in FINAL),
            "alerts": sum(len(s.open_alerts) for s in summaries) if clinical else 0,
            "overdue": sum(1 for s in summaries if s.vitals_overdue) if clinical else 0,
        },
    }


def _recently_audited(db: Session, actor: Actor, now: datetime) -> set[int]:
    """Patients this user read on the board within BOARD_AUDIT_EVERY."""
    rows = db.scalars(
        select(AuditEvent.patient_id).where(
            AuditEvent.user_id == actor.user_id,
            AuditEvent.what == BOARD_WHAT,
            AuditEvent.at > now - BOARD_AUDIT_EVERY,
            AuditEvent.patient_id.is_not(None),
        )
    )
    return {p for p in rows if p is not None}


def _audit_board(
    db: Session, actor: Actor, audit: AuditDep, context: dict[str, Any], *, poll: bool
) -> None:
    """One read per patient shown (on a poll, only those not recorded lately)."""
    shown = {s.patient.id for s in context["summaries"]}
    skip = _recently_audited(db, actor, context["now"]) if poll else set()
    for patient_id in sorted(shown - skip):
        audit("read", BOARD_WHAT, patient_id)


@router.get("/board", response_class=HTMLResponse)
def board_page(
    request: Request, db: SessionDep, clock: ClockDep, actor: BoardReader, audit: AuditDep
) -> HTMLResponse:
    context = _board_context(db, clock, actor)
    audit("read", BOARD_WHAT)
    _audit_board(db, actor, audit, context, poll=False)
    context["done"] = DONE.get(request.query_params.get("done", ""), "")
    return render(request, "board.html", context)


@router.get("/board/live", response_class=HTMLResponse)
def board_live(
    request: Request, db: SessionDep, clock: ClockDep, actor: BoardReader, audit: AuditDep
) -> Response:
    if not is_htmx(request):
        # Only the board polls this; a person sent here (e.g. after signing in) gets the board.
        return RedirectResponse("/board", status_code=303)
    context = _board_context(db, clock, actor)
    _audit_board(db, actor, audit, context, poll=True)
    return render(request, "_board_live.html", context)


# ---- the session page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Happening:
    """One line of the session's timeline."""

    at: datetime
    text: str
    by: str = ""
    # Within one minute: what was recorded comes before the move it caused (a check before
    # the pre-dose state, a dose before dosing, readings before ready for discharge).
    rank: int = 5


def _timeline(s: svc.SessionSummary, people: dict[int, str]) -> list[Happening]:
    """Everything recorded at the chair, in time order: moves, checks, doses, vitals, alerts,
    scores, adverse events."""

    def who(user_id: int | None) -> str:
        return people.get(user_id, "") if user_id is not None else ""

    lines: list[Happening] = []
    for e in s.events:
        moved = STATE_WORDS.get(e.from_state, e.from_state), STATE_WORDS.get(e.to_state, e.to_state)
        text = f"{moved[0]} → {moved[1]}"
        if e.reason:
            text += f": {e.reason}"
        rank = MOVE_RANKS.get(e.to_state, 6)
        lines.append(Happening(e.at, text, who(e.by_id), rank))
    if s.predose is not None:
        p = s.predose
        lines.append(
            Happening(
                p.at, f"Pre-dose check: {GO_WORDS.get(p.decision, p.decision)}", who(p.by_id), 1
            )
        )
        if p.confirmed_at is not None:
            lines.append(
                Happening(
                    p.confirmed_at,
                    f"Pre-dose check confirmed: {p.confirmation_reason}",
                    who(p.confirmed_by_id),
                    1,
                )
            )
    for d in s.doses:
        device = f" (device {d.device_number})" if d.device_number else ""
        lines.append(
            Happening(
                d.started_at,
                f"Dose {d.dose_mg:g} mg{device}, lot {d.lot}",
                who(d.recorded_by_id),
                3,
            )
        )
    for v in s.vitals:
        lines.append(Happening(v.taken_at, f"Vitals {_vitals_words(v)}", who(v.recorded_by_id)))
    for a in s.alerts:
        lines.append(Happening(a.raised_at, f"Alert: {a.message}"))
        if a.acknowledged_at is not None:
            stopped = " (infusion stopped)" if a.infusion_stopped else ""
            lines.append(
                Happening(
                    a.acknowledged_at,
                    f"Alert acknowledged{stopped}: {a.action_taken}",
                    who(a.acknowledged_by_id),
                )
            )
    for sc in s.scores:
        name = "MOAA/S" if sc.scale == "moaas" else "CADSS"
        lines.append(Happening(sc.taken_at, f"{name} {sc.score}", who(sc.recorded_by_id)))
    for ae in s.adverse_events:
        lines.append(
            Happening(
                ae.onset_at,
                f"Adverse event: {ae.kind.replace('_', ' ')} ({ae.severity})",
                who(ae.recorded_by_id),
            )
        )
    lines.sort(key=lambda h: (h.at, h.rank))
    return lines


def _vitals_words(v: Any) -> str:
    parts = []
    if v.systolic is not None and v.diastolic is not None:
        parts.append(f"BP {v.systolic:g}/{v.diastolic:g}")
    if v.heart_rate is not None:
        parts.append(f"HR {v.heart_rate:g}")
    if v.spo2 is not None:
        parts.append(f"SpO2 {v.spo2:g} %")
    if v.respiratory_rate is not None:
        parts.append(f"RR {v.respiratory_rate:g}")
    return ", ".join(parts)


def _lots(db: Session, drug: str, today: date) -> list[tuple[str, str]]:
    """Ledger lots of the session's drug not yet expired, as (id, words) for the dose form."""
    rows = db.execute(
        select(LedgerLot, LedgerProduct)
        .join(LedgerProduct, LedgerProduct.id == LedgerLot.product_id)
        .where(LedgerProduct.substance == drug, LedgerLot.expiry >= today)
        .order_by(LedgerProduct.code, LedgerLot.lot_number)
    ).all()
    return [(str(lot.id), f"{product.name} · lot {lot.lot_number}") for lot, product in rows]


def _session_context(db: Session, clock: Clock, actor: Actor, session_id: int) -> dict[str, Any]:
    s = svc.session_summary(db, clock, session_id)
    row = s.session
    people = staff_names(
        db,
        [e.by_id for e in s.events]
        + [d.recorded_by_id for d in s.doses]
        + [a.acknowledged_by_id for a in s.alerts]
        + ([s.predose.by_id, s.predose.confirmed_by_id] if s.predose else [])
        + [v.recorded_by_id for v in s.vitals]
        + [sc.recorded_by_id for sc in s.scores]
        + [ae.recorded_by_id for ae in s.adverse_events]
        + ([s.discharge.by_id, s.discharge.override_by_id] if s.discharge else []),
    )
    esketamine = s.route == "esketamine"
    drug = "esketamine" if esketamine else "ketamine"
    cleared = s.predose is not None and (
        s.predose.decision == "go"
        or (s.predose.decision == "confirm" and s.predose.confirmed_at is not None)
    )
    # The form offers what is left of the planned dose (one 28 mg device on esketamine).
    planned, given = row.planned_mg, s.dosed_mg
    suggested = planned - given if planned and planned > given else planned
    if esketamine:
        suggested = 28.0
    discharge_blockers: list[Any] = []
    if row.state in ("observation", "ready_for_discharge"):
        discharge_blockers = svc.discharge_checklist(db, clock, session_id)
    steps = INTEGRATION_STEPS if row.kind == "integration" else STEPS
    return {
        "s": s,
        "row": row,
        "patient": s.patient,
        "people": people,
        "esketamine": esketamine,
        "timeline": _timeline(s, people),
        "steps": steps,
        "step_index": steps.index(row.state) if row.state in steps else -1,
        "integration": row.kind == "integration",
        "cleared": cleared,
        "lots": _lots(db, drug, clock.now().date()) if row.state in DOSE_STATES else [],
        "suggested_mg": suggested,
        "discharge_blockers": discharge_blockers,
        "may_prescribe": actor.role == "prescriber",
        "in_clinic": row.state in IN_CLINIC,
        "final": row.state in FINAL,
        "adverse_kinds": [(k, k.replace("_", " ").capitalize()) for k in ADVERSE_KINDS],
        "severities": [(k, k.capitalize()) for k in SEVERITIES],
        "scales": list(SCALE_WORDS.items()),
        "rems_form": rems.form_of_session(db, session_id) if esketamine else None,
    }


def _page(
    request: Request,
    db: Session,
    clock: Clock,
    actor: Actor,
    session_id: int,
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    values = _session_context(db, clock, actor, session_id)
    done = DONE.get(request.query_params.get("done", ""), "")
    values.update({"forms": {}, "errors": {}, "done": done, "refused": None})
    values.update(extra)
    return render(request, "session.html", values, status)


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
def session_page(
    session_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> HTMLResponse:
    response = _page(request, db, clock, actor, session_id)
    audit("read", f"session {session_id}", svc.get_treatment_session(db, session_id).patient_id)
    return response


async def _write(
    form_name: str,
    session_id: int,
    request: Request,
    db: Session,
    clock: Clock,
    actor: Actor,
    audit: AuditDep,
    write: Callable[[Submitted], str],
    back: str | None = None,
) -> Response:
    """Run ``write`` (it answers the audit's words) in a savepoint. Bad input comes back as 422
    and a refused step (out of order, discharge refused) as 409, beside the form, with nothing
    written; the page shown is audited as a read."""
    patient_id = svc.get_treatment_session(db, session_id).patient_id
    form = await Submitted.of(request)
    problem: InvalidInput | Conflict | None = None
    try:
        with db.begin_nested():
            words = write(form)
    except InvalidInput as bad:
        problem = bad
    except Conflict as refused:
        problem = refused
    if problem is not None:
        audit("read", f"session {session_id} (form {form_name} refused)", patient_id)
        status = 422 if isinstance(problem, InvalidInput) else 409
        if back == "board":
            context = _board_context(db, clock, actor)
            _audit_board(db, actor, audit, context, poll=False)
            context["refused"] = str(problem)
            return render(request, "board.html", context, status)
        extra: dict[str, Any] = {"forms": {form_name: form.values}}
        if isinstance(problem, InvalidInput):
            extra["errors"] = {form_name: errors_of(problem)}
            return _page(request, db, clock, actor, session_id, status, **extra)
        # A step refused as a whole (out of order, or the discharge checklist) is said at the
        # top of the page: its form may not even be shown in the session's state.
        extra["refused"] = {"form": form_name, "message": str(problem)}
        if isinstance(problem, svc.DischargeRefused):
            extra["refused"]["message"] = "Discharge refused: the checklist is not met."
            extra["refused_blockers"] = list(problem.blockers)
        return _page(request, db, clock, actor, session_id, status, **extra)
    audit("write", f"session {session_id}: {words}", patient_id)
    kind = form_name.split("-")[0]
    if back == "board":
        return RedirectResponse(f"/board?done={kind}", status_code=303)
    return RedirectResponse(f"/sessions/{session_id}?done={kind}#{_anchor(kind)}", status_code=303)


def _anchor(kind: str) -> str:
    return {
        "alert": "alerts",
        "vitals": "vitals",
        "score": "scores",
        "adverse": "adverse",
        "dose": "doses",
        "discharge": "discharge",
        "check_ready": "discharge",
    }.get(kind, "next-step")


@router.post("/sessions/{session_id}/check-in", response_class=HTMLResponse)
async def check_in(
    session_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: BoardReader,
    audit: AuditDep,
) -> Response:
    form = await Submitted.of(request)
    # The front desk has no session page: it checks in from the board and goes back there.
    back = "board" if form.raw("back") == "board" or actor.role == "front_desk" else None

    def write(form: Submitted) -> str:
        row = svc.check_in(db, actor, clock, session_id, form.text("chair"))
        return f"checked in{f' at {row.chair}' if row.chair else ''}"

    return await _write("check_in", session_id, request, db, clock, actor, audit, write, back)


@router.post("/sessions/{session_id}/predose", response_class=HTMLResponse)
async def predose(
    session_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        row = svc.get_treatment_session(db, session_id)
        esketamine = plans.get_plan(db, row.plan_id).route == "esketamine"
        check = svc.run_predose_check(
            db,
            actor,
            clock,
            session_id,
            PredoseIn(
                systolic=form.text("systolic"),
                diastolic=form.text("diastolic"),
                escort_confirmed=form.checked("escort_confirmed"),
                benzodiazepine_today=form.checked("benzodiazepine_today"),
                fasting_confirmed=form.checked("fasting_confirmed") if esketamine else None,
                last_food_at=form.moment("last_food_at") if esketamine else None,
                last_drink_at=form.moment("last_drink_at") if esketamine else None,
                heart_rate=form.text("heart_rate"),
                spo2=form.text("spo2"),
                respiratory_rate=form.text("respiratory_rate"),
                taken_at=form.moment("taken_at"),
            ),
        )
        return f"pre-dose check {check.id}: {check.decision}"

    return await _write("predose", session_id, request, db, clock, actor, audit, write)


@router.post("/sessions/{session_id}/predose/{check_id}/confirm", response_class=HTMLResponse)
async def confirm(
    session_id: int,
    check_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> Response:
    check = db.get(PredoseCheck, check_id)
    if check is None or check.session_id != session_id:
        raise NotFound(f"no pre-dose check {check_id} in session {session_id}")

    def write(form: Submitted) -> str:
        svc.confirm_predose(db, actor, clock, check_id, form.words("reason"))
        return f"pre-dose check {check_id} confirmed"

    return await _write("confirm", session_id, request, db, clock, actor, audit, write)


@router.post("/sessions/{session_id}/doses", response_class=HTMLResponse)
async def dose(
    session_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        given = svc.record_dose(
            db,
            actor,
            clock,
            session_id,
            DoseIn(
                dose_mg=required("dose_mg", form.text("dose_mg")),
                lot=form.text("lot"),
                lot_id=form.whole("lot_id"),
                started_at=form.moment("started_at"),
                ended_at=form.moment("ended_at"),
                confirm_reason=form.text("confirm_reason"),
            ),
        )
        device = f" (device {given.device_number})" if given.device_number else ""
        return f"dose {given.dose_mg:g} mg{device}, lot {given.lot}"

    return await _write("dose", session_id, request, db, clock, actor, audit, write)


@router.post("/sessions/{session_id}/end-dosing", response_class=HTMLResponse)
async def end_dosing(
    session_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        row = svc.end_dosing(db, actor, clock, session_id, form.moment("at"))
        return f"dosing ended, observation until {_hm(row.observation_ends_at)}"

    return await _write("end_dosing", session_id, request, db, clock, actor, audit, write)


@router.post("/sessions/{session_id}/vitals", response_class=HTMLResponse)
async def vitals(
    session_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        reading, alerts = svc.record_vitals(
            db,
            actor,
            clock,
            session_id,
            VitalsIn(
                systolic=form.text("systolic"),
                diastolic=form.text("diastolic"),
                heart_rate=form.text("heart_rate"),
                spo2=form.text("spo2"),
                respiratory_rate=form.text("respiratory_rate"),
                taken_at=form.moment("taken_at"),
            ),
        )
        raised = f"; {len(alerts)} alert(s) raised" if alerts else ""
        return f"vitals {_vitals_words(reading)}{raised}"

    return await _write("vitals", session_id, request, db, clock, actor, audit, write)


@router.post("/sessions/{session_id}/alerts/{alert_id}/acknowledge", response_class=HTMLResponse)
async def acknowledge(
    session_id: int,
    alert_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    alert = db.get(SessionAlert, alert_id)
    if alert is None or alert.session_id != session_id:
        raise NotFound(f"no alert {alert_id} in session {session_id}")

    def write(form: Submitted) -> str:
        done = svc.acknowledge_alert(
            db,
            actor,
            clock,
            alert_id,
            form.words("action_taken"),
            infusion_stopped=form.checked("infusion_stopped"),
        )
        stopped = " (infusion stopped)" if done.infusion_stopped else ""
        return f"alert {alert_id} acknowledged{stopped}"

    return await _write(f"alert-{alert_id}", session_id, request, db, clock, actor, audit, write)


@router.post("/sessions/{session_id}/scores", response_class=HTMLResponse)
async def score(
    session_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        found = svc.record_score(
            db,
            actor,
            clock,
            session_id,
            form.raw("scale"),
            required("score", form.text("score")),
            form.moment("taken_at"),
        )
        return f"{found.scale} {found.score}"

    return await _write("score", session_id, request, db, clock, actor, audit, write)


@router.post("/sessions/{session_id}/adverse-events", response_class=HTMLResponse)
async def adverse(
    session_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        event = svc.record_adverse_event(
            db,
            actor,
            clock,
            session_id,
            AdverseEventIn(
                kind=form.raw("kind"),
                severity=form.raw("severity"),
                description=form.text("description"),
                onset_at=form.moment("onset_at"),
            ),
        )
        return f"adverse event {event.kind} ({event.severity})"

    return await _write("adverse", session_id, request, db, clock, actor, audit, write)


@router.post("/sessions/{session_id}/check-ready", response_class=HTMLResponse)
async def check_ready(
    session_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        row = svc.check_ready(db, actor, clock, session_id)
        return f"discharge checklist checked ({row.state})"

    return await _write("check_ready", session_id, request, db, clock, actor, audit, write)


@router.post("/sessions/{session_id}/discharge", response_class=HTMLResponse)
async def discharge(
    session_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        svc.discharge(
            db,
            actor,
            clock,
            session_id,
            DischargeIn(
                alert_and_oriented=form.checked("alert_and_oriented"),
                escort_present=form.checked("escort_present"),
                no_driving_acknowledged=form.checked("no_driving_acknowledged"),
                override_reason=form.text("override_reason"),
            ),
        )
        override = form.text("override_reason")
        return "discharged" + (f" by override: {override}" if override else "")

    return await _write("discharge", session_id, request, db, clock, actor, audit, write)


@router.post("/sessions/{session_id}/complete", response_class=HTMLResponse)
async def complete(
    session_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        svc.complete_visit(db, actor, clock, session_id, form.words("note"))
        return "visit done"

    return await _write("complete", session_id, request, db, clock, actor, audit, write)


@router.post("/sessions/{session_id}/cancel", response_class=HTMLResponse)
async def cancel(
    session_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        svc.cancel_session(db, actor, clock, session_id, form.words("reason"))
        return f"cancelled: {form.words('reason')}"

    return await _write("cancel", session_id, request, db, clock, actor, audit, write)


@router.post("/sessions/{session_id}/stop", response_class=HTMLResponse)
async def stop(
    session_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        svc.stop_session(db, actor, clock, session_id, form.words("reason"))
        return f"stopped: {form.words('reason')}"

    return await _write("stop", session_id, request, db, clock, actor, audit, write)
