"""Treatment plans: made from a signed screening, versioned on change, paused, resumed, ended.

A plan is made by a prescriber and waits for consent ("awaiting_consent"); signing the consent
(services/consent.py) makes it "active" and creates its planned sessions. Every change is a new
PlanVersion (never edited) and every step a PlanEvent. The dose, the series and its cost come
from the pure rules (clinical/dosing.py, clinical/schedule.py, clinical/plan_rules.py); this
module only gathers their inputs from the stored record and keeps their answers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.clinical import plan_rules
from ketaclinic.clinical.dosing import (
    Dose,
    DoseRefused,
    Weight,
    esketamine_dose,
    im_dose,
    iv_dose,
    oral_dose,
)
from ketaclinic.clinical.findings import Route
from ketaclinic.clinical.plan_rules import Refusal, ScreeningFacts
from ketaclinic.clinical.schedule import (
    PlannedSession,
    ReviewFlag,
    esketamine_suicidal_ideation,
    esketamine_trd,
    induction,
    maintenance,
    review_flag,
    series_cost,
)
from ketaclinic.policy import DEFAULT, Policy
from ketaclinic.services import who_may
from ketaclinic.services.actor import Actor, Role
from ketaclinic.services.charting import effective_decision, output_of
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Conflict, InvalidInput, NotFound
from ketaclinic.services.patients import get_patient
from ketaclinic.services.plan_forms import MAX_DAYS, PlanIn, checked_plan
from ketaclinic.services.vitals import check_text
from ketaclinic.store.models import (
    Consent,
    ObservationRecord,
    PlanEvent,
    PlanVersion,
    QuestionnaireResponse,
    Screening,
    SessionEvent,
    TreatmentPlan,
    TreatmentSession,
)

JSON = dict[str, Any]
WEIGHT_LOINC = "29463-7"
# Who may read plans and sign consents (issue 5: prescribers plan; nurses run sessions and take
# consent signatures beside the prescriber).
CLINICIANS: frozenset[Role] = frozenset({"prescriber", "nurse"})
# The scales a review compares, in order of preference (issue 5: "the patient's scale"; PHQ-9
# first, as the screening's baseline scale is PHQ-9).
REVIEW_SCALES = ("phq9", "madrs", "qids_sr16", "gad7", "pcl5", "pain_nrs")
NOT_STARTED = "scheduled"
OPEN_STATES = ("awaiting_consent", "active", "paused")


class PlanRefused(Conflict):
    """A plan the stored record does not allow; ``reasons`` each carry their source."""

    def __init__(self, reasons: tuple[Refusal, ...]) -> None:
        super().__init__(" ".join(r.message for r in reasons))
        self.reasons = reasons


# ---- reading --------------------------------------------------------------------------------


def get_plan(session: Session, plan_id: int) -> TreatmentPlan:
    plan = session.get(TreatmentPlan, plan_id)
    if plan is None:
        raise NotFound(f"no plan {plan_id}")
    return plan


def plans_of(session: Session, patient_id: int) -> list[TreatmentPlan]:
    """The patient's plans, newest first."""
    query = (
        select(TreatmentPlan)
        .where(TreatmentPlan.patient_id == patient_id)
        .order_by(TreatmentPlan.created_at.desc(), TreatmentPlan.id.desc())
    )
    return list(session.scalars(query).all())


def current_version(session: Session, plan: TreatmentPlan) -> PlanVersion:
    query = select(PlanVersion).where(
        PlanVersion.plan_id == plan.id, PlanVersion.version == plan.version
    )
    version = session.scalars(query).one_or_none()
    if version is None:
        raise NotFound(f"plan {plan.id} has no version {plan.version}")
    return version


def versions_of(session: Session, plan_id: int) -> list[PlanVersion]:
    query = select(PlanVersion).where(PlanVersion.plan_id == plan_id).order_by(PlanVersion.version)
    return list(session.scalars(query).all())


def events_of(session: Session, plan_id: int) -> list[PlanEvent]:
    query = select(PlanEvent).where(PlanEvent.plan_id == plan_id).order_by(PlanEvent.id)
    return list(session.scalars(query).all())


def sessions_of(session: Session, plan_id: int) -> list[TreatmentSession]:
    """The plan's sessions by day, each dosing session before its integration session."""
    query = (
        select(TreatmentSession)
        .where(TreatmentSession.plan_id == plan_id)
        .order_by(TreatmentSession.planned_on, TreatmentSession.kind, TreatmentSession.number)
    )
    return list(session.scalars(query).all())


def loaded(text: str) -> JSON:
    value: JSON = orjson.loads(text)
    return value


def request_of(version: PlanVersion) -> PlanIn:
    """The values the version was made from (kept in its schedule JSON)."""
    values = dict(loaded(version.schedule)["request"])
    values["start_on"] = date.fromisoformat(values["start_on"])
    return PlanIn(**values)


# ---- what a plan needs from the record ------------------------------------------------------


def signed_screening(session: Session, patient_id: int, route: str) -> Screening | None:
    """The newest screening for the plan's route that a prescriber signed."""
    query = (
        select(Screening)
        .where(
            Screening.patient_id == patient_id,
            Screening.route == plan_rules.screening_route(route),
        )
        .order_by(Screening.created_at.desc(), Screening.id.desc())
    )
    return next((s for s in session.scalars(query) if s.signature is not None), None)


def screening_facts(screening: Screening) -> ScreeningFacts:
    output = output_of(screening)
    decision = effective_decision(screening)
    return ScreeningFacts(
        signed=screening.signature is not None,
        decision=decision.decision,
        overridden=decision.overridden,
        screened_on=screening.as_of,
        indications=tuple(str(i["id"]) for i in output.get("indications", [])),
        workup=plan_rules.workup_statuses(output.get("workup", [])),
    )


def latest_weight(session: Session, patient_id: int, now: datetime) -> Weight | None:
    """The patient's newest current body weight (LOINC 29463-7) measured by ``now``."""
    query = (
        select(ObservationRecord)
        .where(
            ObservationRecord.patient_id == patient_id,
            ObservationRecord.loinc == WEIGHT_LOINC,
            ObservationRecord.state == "current",
            ObservationRecord.value.is_not(None),
            ObservationRecord.effective_at.is_not(None),
            ObservationRecord.effective_at <= now,
        )
        .order_by(ObservationRecord.effective_at.desc(), ObservationRecord.id.desc())
        .limit(1)
    )
    row = session.scalars(query).first()
    if row is None or row.value is None or row.effective_at is None:
        return None
    return Weight(row.value, row.effective_at.date())


# ---- dose, series and cost ------------------------------------------------------------------

_DOSE_FIELDS = {
    "dose_invalid": "dose",
    "dose_above_maximum": "dose",
    "dose_below_minimum": "dose",
    "esketamine_dose_not_on_label": "mg",
    "infusion_minutes_invalid": "infusion_minutes",
}


def _dose(values: PlanIn, weight: Weight | None, today: date, policy: Policy) -> Dose:
    limits = policy.dosing
    try:
        if values.route == "iv":
            assert values.mg_per_kg is not None
            return iv_dose(values.mg_per_kg, weight, today, values.infusion_minutes, limits)
        if values.route == "im":
            assert values.mg_per_kg is not None
            return im_dose(values.mg_per_kg, weight, today, limits)
        assert values.mg is not None
        if values.route == "esketamine":
            return esketamine_dose(values.mg, limits)
        return oral_dose(values.mg, weight, today, limits)
    except DoseRefused as refused:
        bad_input = [r for r in refused.reasons if r.id in _DOSE_FIELDS]
        if bad_input:
            field = _DOSE_FIELDS[bad_input[0].id]
            if field == "dose":
                field = "mg" if values.route in ("oral", "sublingual") else "mg_per_kg"
            raise InvalidInput(field, " ".join(r.message for r in refused.reasons)) from None
        raise PlanRefused(
            tuple(Refusal(r.id, r.message, r.source) for r in refused.reasons)
        ) from None


def _series(values: PlanIn, policy: Policy) -> tuple[tuple[PlannedSession, ...], date | None, str]:
    """The planned dosing sessions, the day to judge benefit, and the schedule's source."""
    limits = policy.series
    start = values.start_on
    try:
        if values.route in ("iv", "im"):
            route: Route = "iv" if values.route == "iv" else "im"
            plan = induction(start, values.induction_sessions, values.induction_days, route, limits)
            last = plan.sessions[-1]
            later = maintenance(
                last.on,
                values.maintenance_sessions,
                values.maintenance_every_days,
                first_number=last.number + 1,
                limits=limits,
            )
            return plan.sessions + later, plan.review_on, plan.source
        if values.route == "esketamine":
            assert values.mg is not None
            mg = int(values.mg)
            if plan_rules.suicidal_ideation_schedule(values.route, values.indication):
                if values.maintenance_sessions:
                    raise InvalidInput(
                        "maintenance_sessions",
                        "the suicidal-ideation schedule is 4 weeks, with no maintenance",
                    )
                plan = esketamine_suicidal_ideation(start, mg, limits)
            else:
                every = values.maintenance_every_days or 7
                if every not in (7, 14):
                    raise InvalidInput(
                        "maintenance_every_days",
                        "from week 9 the label doses every 7 or 14 days",
                    )
                plan = esketamine_trd(start, mg, values.maintenance_sessions, every // 7, limits)
            return plan.sessions, plan.review_on, plan.source
        if values.induction_sessions is None or values.induction_days is None:
            field = "induction_sessions" if values.induction_sessions is None else "induction_days"
            raise InvalidInput(field, "a home series needs its number of doses and its days")
        doses = plan_rules.home_doses(start, values.induction_sessions, values.induction_days)
        return doses, None, "prescriber's home series (clinical-facts.md gives no home schedule)"
    except ValueError as error:
        if isinstance(error, InvalidInput):
            raise
        raise InvalidInput("induction_sessions", str(error)) from None


@dataclass(frozen=True)
class Worked:
    """A version's answers before it is stored."""

    dose: Dose
    weight: Weight | None
    sessions: tuple[PlannedSession, ...]
    review_on: date | None
    schedule_source: str
    cost: JSON


def work_out(
    session: Session, values: PlanIn, patient_id: int, now: datetime, policy: Policy
) -> Worked:
    """Dose, series and cost of ``values`` for the patient today, or the refusal."""
    today = now.date()
    weight = latest_weight(session, patient_id, now)
    dose = _dose(values, weight, today, policy)
    sessions, review_on, source = _series(values, policy)
    cost_route = plan_rules.screening_route(values.route)
    cost = series_cost(cost_route, sessions, dose.infusion_minutes or 40, policy.series)
    used = weight if dose.weight_kg is not None else None
    return Worked(dose, used, sessions, review_on, source, asdict(cost))


def planned_mg(route: str, dose: Dose, planned: PlannedSession) -> float:
    """The mg of one session: esketamine by the schedule (56 mg on day 1), else the dose."""
    if route == "esketamine" and planned.mg is not None:
        return float(planned.mg)
    return dose.mg


def _schedule_json(values: PlanIn, worked: Worked) -> JSON:
    visits = []
    for s in worked.sessions:
        mg = planned_mg(values.route, worked.dose, s)
        visits.append(
            {"kind": "dosing", "number": s.number, "on": s.on, "phase": s.phase, "mg": mg}
        )
        if values.integration_sessions:
            # Psychotherapy after the dosing session (issue 5: ketamine-assisted psychotherapy).
            visits.append(
                {
                    "kind": "integration",
                    "number": s.number,
                    "on": s.on,
                    "phase": s.phase,
                    "mg": None,
                }
            )
    request = asdict(values)
    return {
        "request": request,
        "sessions": visits,
        "review_on": worked.review_on,
        "source": worked.schedule_source,
    }


def _version(
    plan: TreatmentPlan,
    number: int,
    values: PlanIn,
    worked: Worked,
    actor: Actor,
    now: datetime,
    reason: str | None,
) -> PlanVersion:
    dose = worked.dose
    return PlanVersion(
        plan_id=plan.id,
        version=number,
        dose_mg=dose.mg,
        mg_per_kg=dose.mg_per_kg,
        infusion_minutes=dose.infusion_minutes,
        weight_kg=dose.weight_kg,
        weight_on=worked.weight.measured_on if worked.weight is not None else None,
        dose=orjson.dumps(asdict(dose)).decode(),
        schedule=orjson.dumps(_schedule_json(values, worked)).decode(),
        cost=orjson.dumps(worked.cost).decode(),
        reason=reason,
        created_at=now,
        created_by_id=actor.user_id,
    )


def _event(
    plan: TreatmentPlan, actor: Actor, now: datetime, action: str, reason: str | None
) -> PlanEvent:
    return PlanEvent(plan_id=plan.id, at=now, by_id=actor.user_id, action=action, reason=reason)


def _reason(value: str | None) -> str:
    written = check_text("reason", value, limit=500, required=True)
    assert written is not None
    return written


# ---- writing --------------------------------------------------------------------------------


def _check_start(start_on: date, today: date, *, past_allowed: bool) -> None:
    if not past_allowed and start_on < today:
        raise InvalidInput("start_on", f"is in the past ({start_on.isoformat()})")
    # A data-entry limit (issue 5, "Bad input"), not a clinical one: a start more than a year
    # ahead is a typing slip, and one near the year 9999 would run the series past the calendar.
    if start_on > today + timedelta(days=MAX_DAYS):
        raise InvalidInput(
            "start_on", f"is more than {MAX_DAYS} days ahead ({start_on.isoformat()})"
        )


def create_plan(
    session: Session,
    actor: Actor,
    clock: Clock,
    patient_id: int,
    values: PlanIn,
    policy: Policy = DEFAULT,
) -> TreatmentPlan:
    """A plan awaiting consent, or PlanRefused (409) / InvalidInput (422) with the reasons."""
    who_may.require(actor, who_may.PRESCRIBER, "make treatment plans", system=False)
    values = checked_plan(values)
    get_patient(session, patient_id)
    now = clock.now()
    _check_start(values.start_on, now.date(), past_allowed=False)
    screening = signed_screening(session, patient_id, values.route)
    if screening is None:
        unsigned = session.scalars(
            select(Screening.id).where(
                Screening.patient_id == patient_id,
                Screening.route == plan_rules.screening_route(values.route),
            )
        ).first()
        message = (
            "The screening for this route is not signed by a prescriber."
            if unsigned is not None
            else "No signed screening for this route: screen the patient and sign it."
        )
        raise PlanRefused((Refusal("no_signed_screening", message, plan_rules.PLAN_SOURCE),))
    refusals = plan_rules.plan_refusals(
        screening_facts(screening), values.indication, now.date(), policy.plans
    )
    if refusals:
        raise PlanRefused(refusals)
    worked = work_out(session, values, patient_id, now, policy)
    plan = TreatmentPlan(
        patient_id=patient_id,
        route=values.route,
        indication=values.indication,
        screening_id=screening.id,
        status="awaiting_consent",
        version=1,
        integration_sessions=values.integration_sessions,
        created_at=now,
        created_by_id=actor.user_id,
    )
    session.add(plan)
    session.flush()
    session.add(_version(plan, 1, values, worked, actor, now, None))
    session.add(_event(plan, actor, now, "created", None))
    session.flush()
    return plan


def _open(plan: TreatmentPlan, doing: str) -> None:
    if plan.status not in OPEN_STATES:
        raise Conflict(f"plan {plan.id} is {plan.status}: cannot {doing}")


def change_plan(
    session: Session,
    actor: Actor,
    clock: Clock,
    plan_id: int,
    values: PlanIn,
    reason: str,
    policy: Policy = DEFAULT,
) -> PlanVersion:
    """Version n+1 of the plan; the sessions not yet begun are re-planned to it."""
    who_may.require(actor, who_may.PRESCRIBER, "change treatment plans", system=False)
    written = _reason(reason)
    values = checked_plan(values)
    plan = get_plan(session, plan_id)
    _open(plan, "change it")
    if values.route != plan.route:
        raise InvalidInput("route", f"a plan keeps its route ({plan.route}); make a new plan")
    if values.indication != plan.indication:
        raise InvalidInput("indication", f"a plan keeps its indication ({plan.indication})")
    now = clock.now()
    _check_start(values.start_on, now.date(), past_allowed=plan.status != "awaiting_consent")
    worked = work_out(session, values, plan.patient_id, now, policy)
    number = plan.version + 1
    version = _version(plan, number, values, worked, actor, now, written)
    if plan.status != "awaiting_consent":
        _replan(session, actor, plan, version, now)
    plan.version = number
    plan.integration_sessions = values.integration_sessions
    session.add(version)
    session.add(_event(plan, actor, now, "changed", written))
    session.flush()
    return version


def _replan(
    session: Session, actor: Actor, plan: TreatmentPlan, version: PlanVersion, now: datetime
) -> None:
    """Give each session not yet begun its date and dose in ``version``; cancel those it drops.

    A session that has begun (checked in or later, or cancelled) keeps what it was."""
    existing = {(s.kind, s.number): s for s in sessions_of(session, plan.id)}
    schedule = loaded(version.schedule)
    chair = schedule["request"].get("chair")
    wanted = {(v["kind"], v["number"]): {**v, "chair": chair} for v in schedule["sessions"]}
    for key, visit in wanted.items():
        row = existing.get(key)
        if row is not None and row.state != NOT_STARTED:
            continue
        on = date.fromisoformat(visit["on"])
        if on < now.date():
            raise InvalidInput(
                "start_on",
                f"{key[0]} session {key[1]} would fall on {on}, before today: move the start",
            )
        if row is None:
            session.add(_session_row(plan, visit, now))
        else:
            row.planned_on, row.planned_mg, row.phase = on, visit["mg"], visit["phase"]
            row.chair = chair
    dropped = [s for key, s in existing.items() if key not in wanted and s.state == NOT_STARTED]
    cancel_sessions(session, actor, dropped, now, f"re-planned in version {version.version}")


def _session_row(plan: TreatmentPlan, visit: JSON, now: datetime) -> TreatmentSession:
    return TreatmentSession(
        plan_id=plan.id,
        patient_id=plan.patient_id,
        kind=visit["kind"],
        number=visit["number"],
        phase=visit["phase"],
        planned_on=date.fromisoformat(visit["on"]),
        chair=visit.get("chair"),
        planned_mg=visit["mg"],
        state=NOT_STARTED,
        state_at=now,
        created_at=now,
    )


def cancel_sessions(
    session: Session,
    actor: Actor,
    rows: list[TreatmentSession],
    now: datetime,
    reason: str,
) -> None:
    for row in rows:
        session.add(
            SessionEvent(
                session_id=row.id,
                at=now,
                by_id=actor.user_id,
                from_state=row.state,
                to_state="cancelled",
                reason=reason,
            )
        )
        row.state, row.state_at, row.stop_reason = "cancelled", now, reason


def check_startable(session: Session, plan: TreatmentPlan, today: date) -> None:
    """Conflict unless the plan awaits consent and its series does not begin before today."""
    if plan.status != "awaiting_consent":
        raise Conflict(f"plan {plan.id} is {plan.status}: consent is taken before it starts")
    schedule = loaded(current_version(session, plan).schedule)
    first = min((date.fromisoformat(v["on"]) for v in schedule["sessions"]), default=None)
    if first is not None and first < today:
        # Consent signed after the planned start: the series would begin in the past.
        raise Conflict(
            f"plan {plan.id} starts on {first}, before today: change the plan's start first"
        )


def start_plan(session: Session, actor: Actor, clock: Clock, plan: TreatmentPlan) -> None:
    """Consent is signed: the plan becomes active and its planned sessions are made."""
    now = clock.now()
    check_startable(session, plan, now.date())
    schedule = loaded(current_version(session, plan).schedule)
    chair = schedule["request"].get("chair")
    for visit in schedule["sessions"]:
        session.add(_session_row(plan, {**visit, "chair": chair}, now))
    plan.status, plan.started_at = "active", now
    session.add(_event(plan, actor, now, "started", None))
    session.flush()


def pause_plan(
    session: Session, actor: Actor, clock: Clock, plan_id: int, reason: str
) -> TreatmentPlan:
    """Active -> paused: its sessions stay planned but are not to be run until it resumes."""
    return _move(session, actor, clock, plan_id, reason, ("active",), "paused", "pause")


def resume_plan(
    session: Session, actor: Actor, clock: Clock, plan_id: int, reason: str
) -> TreatmentPlan:
    return _move(session, actor, clock, plan_id, reason, ("paused",), "active", "resume")


def end_plan(
    session: Session, actor: Actor, clock: Clock, plan_id: int, reason: str
) -> TreatmentPlan:
    """Any open plan -> ended; its sessions not yet begun are cancelled."""
    return _move(session, actor, clock, plan_id, reason, OPEN_STATES, "ended", "end")


def _move(
    session: Session,
    actor: Actor,
    clock: Clock,
    plan_id: int,
    reason: str,
    from_states: tuple[str, ...],
    to_state: str,
    verb: str,
) -> TreatmentPlan:
    who_may.require(actor, who_may.PRESCRIBER, f"{verb} treatment plans", system=False)
    written = _reason(reason)
    plan = get_plan(session, plan_id)
    if plan.status not in from_states:
        raise Conflict(f"plan {plan.id} is {plan.status}: cannot {verb} it")
    action = {"pause": "paused", "resume": "resumed", "end": "ended"}[verb]
    close_plan(session, actor, clock.now(), plan, to_state, action, written)
    return plan


def close_plan(
    session: Session,
    actor: Actor,
    now: datetime,
    plan: TreatmentPlan,
    to_state: str,
    action: str,
    reason: str,
) -> None:
    """Move the plan and write its event; an ended plan cancels its sessions not yet begun."""
    plan.status = to_state
    if to_state == "ended":
        plan.ended_at, plan.end_reason = now, reason
        waiting = [s for s in sessions_of(session, plan.id) if s.state == NOT_STARTED]
        cancel_sessions(session, actor, waiting, now, f"plan ended: {reason}")
    session.add(_event(plan, actor, now, action, reason))
    session.flush()


# ---- review ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewInputs:
    sessions_done: int
    scale: str
    baseline: float | None
    latest: float | None


def review_inputs(session: Session, plan: TreatmentPlan) -> ReviewInputs:
    """Discharged dosing sessions, and the scale's last score before the first session and the
    latest after it (issue 5; PHQ-9 first)."""
    dosing = [s for s in sessions_of(session, plan.id) if s.kind == "dosing"]
    done = [s for s in dosing if s.state == "discharged"]
    begun = [
        s.dosing_started_at or s.checked_in_at
        for s in dosing
        if (s.dosing_started_at or s.checked_in_at) is not None
    ]
    first: datetime | None = min((b for b in begun if b is not None), default=None)
    responses = list(
        session.scalars(
            select(QuestionnaireResponse)
            .where(
                QuestionnaireResponse.patient_id == plan.patient_id,
                QuestionnaireResponse.state == "current",
                QuestionnaireResponse.scale.in_(REVIEW_SCALES),
            )
            .order_by(QuestionnaireResponse.completed_at, QuestionnaireResponse.id)
        ).all()
    )
    scale = next((s for s in REVIEW_SCALES if any(r.scale == s for r in responses)), "phq9")
    scores = [r for r in responses if r.scale == scale]
    if first is None:
        return ReviewInputs(len(done), scale, scores[-1].total if scores else None, None)
    before = [r for r in scores if r.completed_at < first]
    after = [r for r in scores if r.completed_at >= first]
    return ReviewInputs(
        len(done),
        scale,
        before[-1].total if before else None,
        after[-1].total if after else None,
    )


def review_flag_of(session: Session, plan_id: int, policy: Policy = DEFAULT) -> ReviewFlag | None:
    """The Sanacora 2017 review flag of an IV plan, or None."""
    plan = get_plan(session, plan_id)
    inputs = review_inputs(session, plan)
    route = plan_rules.screening_route(plan.route)
    return review_flag(
        route, inputs.sessions_done, inputs.scale, inputs.baseline, inputs.latest, policy.series
    )


# ---- the plan as shown --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanDetail:
    """Everything the plan page, the API and the command line show of one plan."""

    plan: TreatmentPlan
    version: PlanVersion
    dose: JSON
    schedule: JSON
    cost: JSON
    versions: list[PlanVersion]
    events: list[PlanEvent]
    sessions: list[TreatmentSession]
    consents: list[Consent]
    review: ReviewFlag | None
    on_label: bool


def plan_detail(session: Session, plan_id: int, policy: Policy = DEFAULT) -> PlanDetail:
    plan = get_plan(session, plan_id)
    version = current_version(session, plan)
    consents = session.scalars(
        select(Consent).where(Consent.plan_id == plan_id).order_by(Consent.id)
    ).all()
    return PlanDetail(
        plan=plan,
        version=version,
        dose=loaded(version.dose),
        schedule=loaded(version.schedule),
        cost=loaded(version.cost),
        versions=versions_of(session, plan_id),
        events=events_of(session, plan_id),
        sessions=sessions_of(session, plan_id),
        consents=list(consents),
        review=review_flag_of(session, plan_id, policy),
        on_label=plan_rules.on_label(plan.route, plan.indication),
    )


def _when(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def plan_json(detail: PlanDetail) -> JSON:
    """The plan as JSON (API and ``ketaclinic plan show --json``)."""
    plan, version = detail.plan, detail.version
    return {
        "id": plan.id,
        "patient_id": plan.patient_id,
        "route": plan.route,
        "indication": plan.indication,
        "on_label": detail.on_label,
        "screening_id": plan.screening_id,
        "status": plan.status,
        "version": plan.version,
        "integration_sessions": plan.integration_sessions,
        "created_at": _when(plan.created_at),
        "started_at": _when(plan.started_at),
        "ended_at": _when(plan.ended_at),
        "end_reason": plan.end_reason,
        "current": {
            "version": version.version,
            "dose_mg": version.dose_mg,
            "mg_per_kg": version.mg_per_kg,
            "infusion_minutes": version.infusion_minutes,
            "weight_kg": version.weight_kg,
            "weight_on": _when(version.weight_on),
            "reason": version.reason,
            "created_at": _when(version.created_at),
            "dose": detail.dose,
            "schedule": detail.schedule,
            "cost": detail.cost,
        },
        "versions": [
            {
                "version": v.version,
                "dose_mg": v.dose_mg,
                "reason": v.reason,
                "created_at": _when(v.created_at),
            }
            for v in detail.versions
        ],
        "events": [
            {"action": e.action, "at": _when(e.at), "by_id": e.by_id, "reason": e.reason}
            for e in detail.events
        ],
        "sessions": [
            {
                "id": s.id,
                "kind": s.kind,
                "number": s.number,
                "phase": s.phase,
                "planned_on": _when(s.planned_on),
                "planned_mg": s.planned_mg,
                "state": s.state,
                "chair": s.chair,
            }
            for s in detail.sessions
        ],
        "consents": [
            {
                "id": c.id,
                "plan_version": c.plan_version,
                "patient_signed_at": _when(c.patient_signed_at),
                "clinician_id": c.clinician_id,
                "withdrawn_at": _when(c.withdrawn_at),
                "pdf": f"/consents/{c.id}.pdf",
            }
            for c in detail.consents
        ],
        "review_flag": None
        if detail.review is None
        else {"message": detail.review.message, "source": detail.review.source},
    }
