"""Questionnaire pages: the patient's self-report page, staff entry, links, due lists and the
safety alerts (issue 6).

    GET  /r/{token}                                   public  the questionnaire a link opens
    POST /r/{token}                                   public  the patient's answers
    GET  /patients/{patient_id}/questionnaires        P N     responses, due and overdue, send a
                                                              link, assign a schedule
    GET  /patients/{patient_id}/questionnaires/new    P N     staff entry form, ?scale=phq9
    POST /patients/{patient_id}/questionnaires        P N     record a completed questionnaire
    GET  /patients/{patient_id}/questionnaires/due    P N     fragment for the chart: due list
    POST /patients/{patient_id}/questionnaires/assignments  P N  assign a scale on a schedule
    POST /patients/{patient_id}/self-report-links     P N     create a link (shown once)
    GET  /patients/{patient_id}/alerts/banner         P N     fragment for the chart: open alerts
    GET  /alerts                                      P N     dashboard of open safety alerts
    POST /alerts/{alert_id}/acknowledge               P       with the action taken

The public page needs no account: the single-use token in the address is the credential, and
the link names its patient on the server. It carries no CSRF token of its own (there is no
session to forge a request with), but when the browser also holds a staff session the form
includes that session's token, so the app-wide CSRF check lets it through. It is audited as
"patient-link", with the link's patient. A refused form shows the message beside its item and
stores nothing; a used or expired link answers 410 with the reason. Each address may open or
post /r/ links so often a minute (policy access.self_report_requests_per_minute, answered 429),
which slows anyone guessing tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.clinical import scales
from ketaclinic.services import audit as audit_trail
from ketaclinic.services import questionnaires, safety, self_report, web_sessions
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import InvalidInput
from ketaclinic.services.patients import get_patient
from ketaclinic.store.models import Patient, SafetyAlert
from ketaclinic.web import rate_limits, state
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles
from ketaclinic.web.pages_common import Submitted, staff_names
from ketaclinic.web.security import SESSION_COOKIE
from ketaclinic.web.templating import render, templates

router = APIRouter(include_in_schema=False)
Clinician = Annotated[Actor, Depends(require_roles("prescriber", "nurse"))]
Prescriber = Annotated[Actor, Depends(require_roles("prescriber"))]

# The answer words of each scale's printed form, for the radio buttons (the number is shown
# too). Scales whose forms word each item's answers differently show the numbers alone.
OFTEN = ("Not at all", "Several days", "More than half the days", "Nearly every day")
BOTHERED = ("Not at all", "A little bit", "Moderately", "Quite a bit", "Extremely")
YES_NO = ("No", "Yes")
ANSWER_WORDS: dict[str, tuple[str, ...]] = {
    "phq9": OFTEN,
    "gad7": OFTEN,
    "pcl5": BOTHERED,
    "cssrs_screener": YES_NO,
}
CSSRS_BEHAVIOUR = ("No", "Yes, more than 3 months ago", "Yes, within the past 3 months")
PAIN_ENDS = {0: "No pain", 10: "Worst pain imaginable"}
QUESTION = {
    "phq9": "Over the last 2 weeks, how often have you been bothered by any of the following?",
    "gad7": "Over the last 2 weeks, how often have you been bothered by the following?",
    "pcl5": "In the past month, how much were you bothered by each problem?",
    "qids_sr16": "Please choose the answer that best describes you for the past seven days.",
    "cssrs_screener": "In the past month (question 6: ever):",
    "pain_nrs": "How bad is your pain right now, from 0 (no pain) to 10 (worst imaginable)?",
}
SELF_REPORT_SCALES = self_report.SELF_REPORT_SCALES
PATIENT_LINK = "patient-link"
SAFE_BACK = ("/alerts", "/patients/")


@dataclass(frozen=True)
class Choice:
    value: int
    words: str


@dataclass(frozen=True)
class Question:
    number: int
    name: str
    label: str
    choices: tuple[Choice, ...]


def questions(rating: scales.Scale) -> list[Question]:
    """Each item with its answers, as the radio buttons show them."""
    words = ANSWER_WORDS.get(rating.id)
    found = []
    for item in rating.items:
        choices = []
        for value in range(item.low, item.high + 1):
            text = ""
            if rating.id == "cssrs_screener" and item.number == 6:
                text = CSSRS_BEHAVIOUR[value]
            elif words is not None and value < len(words):
                text = words[value]
            elif rating.id == "pain_nrs":
                text = PAIN_ENDS.get(value, "")
            choices.append(Choice(value, text))
        label = item.label[:1].upper() + item.label[1:]
        found.append(
            Question(item.number, questionnaires.item_field(item.number), label, tuple(choices))
        )
    return found


def scale_choices() -> list[tuple[str, str]]:
    return [(s.id, s.name) for s in scales.SCALES.values()]


def scale_name(scale_id: str) -> str:
    known = scales.SCALES.get(scale_id)
    return known.name if known is not None else scale_id


templates.env.globals.update(scale_name=scale_name)


def answers_from(form: Submitted, rating: scales.Scale) -> list[object]:
    """One value per item: a whole number, the text as typed (the scale refuses it by name),
    or None when left blank (the scale says "no answer")."""
    found: list[object] = []
    for item in rating.items:
        raw = form.text(questionnaires.item_field(item.number))
        if raw is None:
            found.append(None)
            continue
        try:
            found.append(int(raw))
        except ValueError:
            found.append(raw)
    return found


def item_errors(problem: InvalidInput) -> dict[str, str]:
    """The message beside its item (the scale's message names the item already)."""
    message = problem.message
    if problem.field.startswith("item_") and ": " in message:
        message = message.split(": ", 1)[1]
    return {problem.field: message}


# ---- the public self-report page --------------------------------------------------------------


def link_actor(request: Request) -> Actor:
    """Who the audit names for a patient answering by link: no user, and a role that opens
    nothing (it is used for the audit row only, never to authorise a service)."""
    return Actor(None, PATIENT_LINK, "front_desk", state.client_address(request))


def browser_csrf(request: Request, db: Session) -> str | None:
    """The staff session's CSRF token when this browser also holds one (see the module doc)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = web_sessions.find(db, cookie)
    return found.csrf_token if found is not None else None


def _public(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    values = {"crisis_text": safety.crisis_text(), **context}
    return templates.TemplateResponse(request, name, values, status_code=status_code)


def _refused(
    request: Request, db: Session, clock: Clock, refused: self_report.LinkRefused
) -> HTMLResponse:
    audit_trail.record(
        db,
        link_actor(request),
        clock,
        "refused",
        f"self-report link: {refused.message[:60]}",
        refused.patient_id,
    )
    return _public(request, "self_report_gone.html", {"message": refused.message}, refused.status)


def _form(
    request: Request,
    db: Session,
    token: str,
    scale_id: str,
    *,
    chosen: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rating = scales.scale(scale_id)
    return _public(
        request,
        "self_report.html",
        {
            "token": token,
            "rating": rating,
            "question": QUESTION.get(rating.id, ""),
            "questions": questions(rating),
            "chosen": chosen or {},
            "errors": errors or {},
            "csrf_token": browser_csrf(request, db),
        },
        status_code,
    )


@router.get("/r/{token}", response_class=HTMLResponse)
def self_report_page(token: str, request: Request, db: SessionDep, clock: ClockDep) -> Response:
    # Counted before the token is looked at: a wrong token is a guess and counts too.
    rate_limits.knock(request, "self_report")
    try:
        link = self_report.open_link(db, clock, token)
    except self_report.LinkRefused as refused:
        return _refused(request, db, clock, refused)
    audit_trail.record(
        db,
        link_actor(request),
        clock,
        "read",
        f"self-report link {link.id}: {link.scale} form",
        link.patient_id,
    )
    return _form(request, db, token, link.scale)


@router.post("/r/{token}", response_class=HTMLResponse)
async def self_report_submit(
    token: str, request: Request, db: SessionDep, clock: ClockDep
) -> Response:
    rate_limits.knock(request, "self_report")
    form = await Submitted.of(request)
    try:
        link = self_report.open_link(db, clock, token)
    except self_report.LinkRefused as refused:
        return _refused(request, db, clock, refused)
    rating = scales.scale(link.scale)
    try:
        # A savepoint: whatever the refusal, none of the submission is kept.
        with db.begin_nested():
            done = self_report.submit_by_link(db, clock, token, answers_from(form, rating))
    except self_report.LinkRefused as refused:
        return _refused(request, db, clock, refused)
    except InvalidInput as problem:
        return _form(
            request,
            db,
            token,
            link.scale,
            chosen=form.values,
            errors=item_errors(problem),
            status_code=422,
        )
    response = done.response
    who = link_actor(request)
    audit_trail.record(
        db,
        who,
        clock,
        "write",
        f"questionnaire {response.id}: {response.scale} by self-report link {link.id}",
        response.patient_id,
    )
    for alert in done.alerts:
        audit_trail.record(
            db,
            who,
            clock,
            "write",
            f"safety alert {alert.id} raised: {alert.rule}",
            alert.patient_id,
        )
    return _public(
        request, "self_report_done.html", {"rating": rating, "urgent": bool(done.alerts)}
    )


# ---- staff: a patient's questionnaires --------------------------------------------------------


def _overview(db: Session, clock: Clock, patient: Patient) -> dict[str, Any]:
    responses = questionnaires.responses_of(db, patient.id)
    links = self_report.links_of(db, patient.id)
    now = clock.now()
    return {
        "patient": patient,
        "responses": list(reversed(responses)),
        "answers": {r.id: questionnaires.answers_of(r) for r in responses},
        "due": questionnaires.due_questionnaires(db, clock, patient.id),
        "assignments": questionnaires.assignments_of(db, patient.id),
        "links": links,
        "now": now,
        "alerts": safety.alerts_of(db, patient.id),
        "people": staff_names(
            db,
            [r.recorded_by_id for r in responses] + [link.created_by_id for link in links],
        ),
        "scale_choices": scale_choices(),
        "self_report_choices": [(s, scale_name(s)) for s in SELF_REPORT_SCALES],
    }


def _questionnaires_page(
    request: Request,
    db: Session,
    clock: Clock,
    patient: Patient,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    values = {
        **_overview(db, clock, patient),
        "sent": None,
        "forms": {},
        "errors": {},
        "done": request.query_params.get("done", ""),
    }
    values.update(context)
    return render(request, "questionnaires.html", values, status_code)


DONE = {
    "recorded": "Questionnaire recorded.",
    "alert": "Questionnaire recorded. An urgent safety alert was raised for a prescriber.",
    "assigned": "Schedule saved.",
}


@router.get("/patients/{patient_id}/questionnaires", response_class=HTMLResponse)
def questionnaires_page(
    patient_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> HTMLResponse:
    patient = get_patient(db, patient_id)
    audit("read", "questionnaires", patient_id)
    done = DONE.get(request.query_params.get("done", ""), "")
    return _questionnaires_page(request, db, clock, patient, done=done)


@router.get("/patients/{patient_id}/questionnaires/due", response_class=HTMLResponse)
def questionnaires_due(
    patient_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> HTMLResponse:
    patient = get_patient(db, patient_id)
    audit("read", "questionnaires due", patient_id)
    due = questionnaires.due_questionnaires(db, clock, patient_id)
    return render(request, "questionnaire_due.html", {"patient": patient, "due": due})


def _entry_form(
    request: Request,
    patient: Patient,
    scale_id: str,
    clock: Clock,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rating = scales.SCALES.get(scale_id)
    values = dict(form or {})
    values.setdefault("completed_at", clock.now().strftime("%Y-%m-%dT%H:%M"))
    return render(
        request,
        "questionnaire_form.html",
        {
            "patient": patient,
            "rating": rating,
            "questions": questions(rating) if rating is not None else [],
            "question": QUESTION.get(scale_id, ""),
            "scale_choices": scale_choices(),
            "form": values,
            "errors": errors or {},
        },
        status_code,
    )


@router.get("/patients/{patient_id}/questionnaires/new", response_class=HTMLResponse)
def questionnaire_new(
    patient_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
    scale: str = "phq9",
) -> HTMLResponse:
    patient = get_patient(db, patient_id)
    audit("read", f"questionnaire form ({scale})", patient_id)
    errors = {} if scale in scales.SCALES else {"scale": f"unknown scale {scale!r}"}
    return _entry_form(request, patient, scale, clock, form={"scale": scale}, errors=errors)


@router.post("/patients/{patient_id}/questionnaires", response_class=HTMLResponse)
async def questionnaire_record(
    patient_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    patient = get_patient(db, patient_id)
    form = await Submitted.of(request)
    scale_id = form.raw("scale")
    try:
        with db.begin_nested():
            rating = questionnaires.known_scale(scale_id)
            completed = form.moment("completed_at")
            if completed is None:
                raise InvalidInput("completed_at", "is required")
            done = questionnaires.record_response(
                db, actor, clock, patient_id, rating.id, answers_from(form, rating), completed
            )
    except InvalidInput as problem:
        return _entry_form(
            request,
            patient,
            scale_id,
            clock,
            form=form.values,
            errors=item_errors(problem),
            status_code=422,
        )
    row = done.response
    audit("write", f"questionnaire {row.id}: {row.scale} recorded", patient_id)
    for alert in done.alerts:
        audit("write", f"safety alert {alert.id} raised: {alert.rule}", patient_id)
    outcome = "alert" if done.alerts else "recorded"
    return RedirectResponse(
        f"/patients/{patient_id}/questionnaires?done={outcome}", status_code=303
    )


@router.post("/patients/{patient_id}/questionnaires/assignments", response_class=HTMLResponse)
async def questionnaire_assign(
    patient_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    patient = get_patient(db, patient_id)
    form = await Submitted.of(request)
    try:
        with db.begin_nested():
            row = questionnaires.assign(
                db,
                actor,
                clock,
                patient_id,
                form.raw("scale"),
                form.checked("before_each_session"),
                form.whole("every_days"),
                form.day("starts_on"),
            )
    except InvalidInput as problem:
        audit("read", "questionnaires", patient_id)
        return _questionnaires_page(
            request,
            db,
            clock,
            patient,
            422,
            forms={"assign": form.values},
            errors={"assign": {problem.field: problem.message}},
        )
    audit("write", f"questionnaire assignment {row.id}: {row.scale}", patient_id)
    return RedirectResponse(f"/patients/{patient_id}/questionnaires?done=assigned", status_code=303)


@router.post("/patients/{patient_id}/self-report-links", response_class=HTMLResponse)
async def self_report_send(
    patient_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    patient = get_patient(db, patient_id)
    form = await Submitted.of(request)
    scale_id = form.raw("scale")
    try:
        with db.begin_nested():
            sent = self_report.send_link(db, actor, clock, patient_id, scale_id)
    except InvalidInput as problem:
        audit("read", "questionnaires", patient_id)
        return _questionnaires_page(
            request,
            db,
            clock,
            patient,
            422,
            forms={"link": form.values},
            errors={"link": {problem.field: problem.message}},
        )
    audit("write", f"self-report link {sent.link.id}: {sent.link.scale} sent", patient_id)
    audit("read", "questionnaires", patient_id)
    # Shown once, on this page: the token is not stored, so no later page can show it again.
    url = str(request.base_url).rstrip("/") + sent.path
    return _questionnaires_page(request, db, clock, patient, sent={"link": sent.link, "url": url})


# ---- safety alerts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertLine:
    alert: SafetyAlert
    patient: Patient
    scale: str
    source: str
    acknowledged_by: str


def alert_lines(db: Session, alerts: Sequence[SafetyAlert]) -> list[AlertLine]:
    people = staff_names(db, [a.acknowledged_by_id for a in alerts])
    lines = []
    for alert in alerts:
        response = safety.response_of(db, alert)
        lines.append(
            AlertLine(
                alert,
                get_patient(db, alert.patient_id),
                scale_name(response.scale),
                "the patient's self-report link" if response.source == "link" else "staff entry",
                people.get(alert.acknowledged_by_id or 0, ""),
            )
        )
    return lines


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request, db: SessionDep, clock: ClockDep, actor: Clinician, audit: AuditDep
) -> HTMLResponse:
    lines = alert_lines(db, safety.open_alerts(db))
    audit("read", "open safety alerts (dashboard)")
    for patient_id in sorted({line.patient.id for line in lines}):
        audit("read", "open safety alerts (dashboard)", patient_id)
    return render(
        request,
        "alerts.html",
        {
            "lines": lines,
            "may_acknowledge": actor.role == "prescriber",
            "now": clock.now(),
            "errors": {},
            "form": {},
            "done": request.query_params.get("done") == "acknowledged",
        },
    )


@router.get("/patients/{patient_id}/alerts/banner", response_class=HTMLResponse)
def alerts_banner(
    patient_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> HTMLResponse:
    get_patient(db, patient_id)
    audit("read", "open safety alerts (chart banner)", patient_id)
    lines = alert_lines(db, safety.open_alerts(db, patient_id))
    return render(
        request,
        "alerts_banner.html",
        {
            "lines": lines,
            "may_acknowledge": actor.role == "prescriber",
            "back": f"/patients/{patient_id}",
        },
    )


def safe_back(value: str | None) -> str:
    """Only a path of this app's alert or patient pages: never another site."""
    if not value:
        return "/alerts?done=acknowledged"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith(SAFE_BACK) or "//" in value:
        return "/alerts?done=acknowledged"
    return value


@router.post("/alerts/{alert_id}/acknowledge", response_class=HTMLResponse)
async def alert_acknowledge(
    alert_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> Response:
    form = await Submitted.of(request)
    try:
        with db.begin_nested():
            alert = safety.acknowledge_alert(db, actor, clock, alert_id, form.words("action_taken"))
    except InvalidInput as problem:
        found = safety.get_alert(db, alert_id)
        lines = alert_lines(db, safety.open_alerts(db))
        audit("read", "open safety alerts (dashboard)", found.patient_id)
        return render(
            request,
            "alerts.html",
            {
                "lines": lines,
                "may_acknowledge": True,
                "now": clock.now(),
                "errors": {alert_id: problem.message},
                "form": {alert_id: form.raw("action_taken")},
                "done": False,
            },
            422,
        )
    audit("write", f"safety alert {alert.id}: acknowledged", alert.patient_id)
    return RedirectResponse(safe_back(form.text("back")), status_code=303)
