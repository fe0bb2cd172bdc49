"""The JSON API of treatment plans and their consent (issue 5).

    GET  /api/patients/{patient_id}/plans         P N  the patient's plans, newest first
    POST /api/patients/{patient_id}/plans         P    make a plan (awaiting consent)
    GET  /api/plans/{plan_id}                     P N  the plan: version, dose, series, cost,
                                                       sessions, events, consents, review flag
    POST /api/plans/{plan_id}/change              P    a new version, with a reason
    POST /api/plans/{plan_id}/pause|resume|end    P    with a reason
    GET  /api/plans/{plan_id}/consent-text        P N  the consent text the patient reads
    POST /api/plans/{plan_id}/consent             P N  the patient's and clinician's signatures
    POST /api/plans/{plan_id}/consent/withdraw    P N  withdrawn consent ends the plan

Roles (issue 5 and the session brief): prescribers plan; nurses read plans and take consent
signatures beside the patient; the front desk and admins see no plan. The services check again.
Bad input (a dose that is not a number, a start in the past) is 422 with the field named; a plan
the record does not allow (no signed screening, stale weight) is 409 with every reason.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from ketaclinic.services import consent, patients, plans
from ketaclinic.services.actor import Actor
from ketaclinic.services.plan_forms import parse_plan
from ketaclinic.web.api_common import RowId
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles

router = APIRouter(prefix="/api", tags=["plans"])
Clinician = Annotated[Actor, Depends(require_roles("prescriber", "nurse"))]
Prescriber = Annotated[Actor, Depends(require_roles("prescriber"))]


class PlanBody(BaseModel):
    """A plan's values; they are checked by the service (422 naming the field)."""

    model_config = ConfigDict(extra="forbid")

    route: Any = None
    indication: Any = None
    start_on: Any = None
    mg_per_kg: Any = None
    infusion_minutes: Any = None
    mg: Any = None
    induction_sessions: Any = None
    induction_days: Any = None
    maintenance_sessions: Any = None
    maintenance_every_days: Any = None
    integration_sessions: Any = None
    chair: Any = None


class ChangeBody(PlanBody):
    reason: str = ""


class ReasonBody(BaseModel):
    reason: str = ""


class SignatureBody(BaseModel):
    """The patient's typed name and/or drawn signature (a PNG data URL)."""

    typed_name: str | None = None
    signature: str | None = None


def _values(body: PlanBody) -> dict[str, object]:
    return body.model_dump(exclude={"reason"})


def _shown(db: Session, plan_id: int) -> dict[str, Any]:
    return plans.plan_json(plans.plan_detail(db, plan_id))


@router.get("/patients/{patient_id}/plans")
def list_plans(
    patient_id: RowId, db: SessionDep, actor: Clinician, audit: AuditDep
) -> list[dict[str, Any]]:
    patients.get_patient(db, patient_id)
    found = plans.plans_of(db, patient_id)
    audit("read", "treatment plans", patient_id)
    return [_shown(db, p.id) for p in found]


@router.post("/patients/{patient_id}/plans", status_code=201)
def make_plan(
    patient_id: RowId,
    body: PlanBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> dict[str, Any]:
    """Make a plan from the latest signed screening for its route (prescribers)."""
    plan = plans.create_plan(db, actor, clock, patient_id, parse_plan(_values(body)))
    audit("write", f"plan {plan.id} created ({plan.route})", patient_id)
    return _shown(db, plan.id)


@router.get("/plans/{plan_id}")
def open_plan(plan_id: RowId, db: SessionDep, actor: Clinician, audit: AuditDep) -> dict[str, Any]:
    shown = _shown(db, plan_id)
    audit("read", f"plan {plan_id}", shown["patient_id"])
    return shown


@router.post("/plans/{plan_id}/change")
def change(
    plan_id: RowId,
    body: ChangeBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> dict[str, Any]:
    version = plans.change_plan(db, actor, clock, plan_id, parse_plan(_values(body)), body.reason)
    plan = plans.get_plan(db, plan_id)
    audit("write", f"plan {plan_id} changed to version {version.version}", plan.patient_id)
    return _shown(db, plan_id)


def _moved(
    verb: str, plan_id: int, body: ReasonBody, db: Session, actor: Actor, clock: Any, audit: Any
) -> dict[str, Any]:
    move = {"pause": plans.pause_plan, "resume": plans.resume_plan, "end": plans.end_plan}[verb]
    plan = move(db, actor, clock, plan_id, body.reason)
    audit("write", f"plan {plan_id} {plan.status}", plan.patient_id)
    return _shown(db, plan_id)


@router.post("/plans/{plan_id}/pause")
def pause(
    plan_id: RowId, body: ReasonBody, db: SessionDep, clock: ClockDep, actor: Prescriber,
    audit: AuditDep,
) -> dict[str, Any]:  # fmt: skip
    return _moved("pause", plan_id, body, db, actor, clock, audit)


@router.post("/plans/{plan_id}/resume")
def resume(
    plan_id: RowId, body: ReasonBody, db: SessionDep, clock: ClockDep, actor: Prescriber,
    audit: AuditDep,
) -> dict[str, Any]:  # fmt: skip
    return _moved("resume", plan_id, body, db, actor, clock, audit)


@router.post("/plans/{plan_id}/end")
def end(
    plan_id: RowId, body: ReasonBody, db: SessionDep, clock: ClockDep, actor: Prescriber,
    audit: AuditDep,
) -> dict[str, Any]:  # fmt: skip
    return _moved("end", plan_id, body, db, actor, clock, audit)


@router.get("/plans/{plan_id}/consent-text")
def consent_text(
    plan_id: RowId, db: SessionDep, actor: Clinician, audit: AuditDep
) -> dict[str, Any]:
    plan = plans.get_plan(db, plan_id)
    text = consent.consent_text(db, plan_id)
    audit("read", f"plan {plan_id} consent text", plan.patient_id)
    return {"plan_id": plan_id, "version": plan.version, "text": text}


def _consent_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "plan_id": row.plan_id,
        "plan_version": row.plan_version,
        "text_sha256": row.text_sha256,
        "patient_typed_name": row.patient_typed_name,
        "patient_drew": row.patient_drawn_png is not None,
        "patient_signed_at": row.patient_signed_at,
        "clinician_id": row.clinician_id,
        "clinician_signed_at": row.clinician_signed_at,
        "withdrawn_at": row.withdrawn_at,
        "withdrawn_reason": row.withdrawn_reason,
        "pdf": f"/consents/{row.id}.pdf",
    }


@router.post("/plans/{plan_id}/consent", status_code=201)
def sign(
    plan_id: RowId,
    body: SignatureBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> dict[str, Any]:
    """Both signatures at once; the plan becomes active and its sessions are made."""
    row = consent.sign_consent(
        db, actor, clock, plan_id, typed_name=body.typed_name, drawn_png=body.signature
    )
    plan = plans.get_plan(db, plan_id)
    audit("write", f"plan {plan_id} consent {row.id} signed; plan active", plan.patient_id)
    return _consent_json(row)


@router.post("/plans/{plan_id}/consent/withdraw")
def withdraw(
    plan_id: RowId,
    body: ReasonBody,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> dict[str, Any]:
    row = consent.withdraw_consent(db, actor, clock, plan_id, body.reason)
    plan = plans.get_plan(db, plan_id)
    audit("write", f"plan {plan_id} consent {row.id} withdrawn; plan ended", plan.patient_id)
    return _consent_json(row)
