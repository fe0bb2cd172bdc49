"""Safety alerts: a response that trips a suicidality rule raises an alert a prescriber must
acknowledge, with the action taken; the patient's page shows the clinic's crisis text.

Source: issue 6, "Safety": PHQ-9 item 9 >= 1, or a C-SSRS result of moderate or high, raises
an urgent alert on the clinic dashboard and the chart. The rules themselves are in
clinical/scales.py (phq9_suicidality_alerts, cssrs_alerts); this module only keeps the alerts
they raise. The services write no audit rows: the web layer audits every read and write.
"""

from __future__ import annotations

import os

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ketaclinic.clinical.scales import ScaleResult
from ketaclinic.services import who_may
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Conflict, NotFound
from ketaclinic.services.vitals import check_text
from ketaclinic.store.models import QuestionnaireResponse, SafetyAlert

SAFETY_SOURCE = (
    "issue 6, 'Safety': PHQ-9 item 9 >= 1 or C-SSRS moderate or high raises an urgent alert a "
    "prescriber must acknowledge; clinical-facts.md: item 9 >= 1 -> same-day safety assessment"
)
# The alerts of clinical/scales.py that are about suicidality. MOAA/S 0 is urgent too, but it
# belongs to the session at the chair (issue 5), not to the safety alerts of issue 6.
SUICIDALITY_ALERTS = frozenset({"phq9_item9", "cssrs_moderate", "cssrs_high"})

CRISIS_TEXT_VARIABLE = "KETACLINIC_CRISIS_TEXT"
DEFAULT_CRISIS_TEXT = (
    "If you are thinking about harming yourself, or you do not feel safe, please get help now: "
    "call or text 988 (Suicide and Crisis Lifeline, United States), call 911 or go to the "
    "nearest emergency department. You can also call the clinic."
)
ACTION_LIMIT = 1000  # safety_alerts.action_taken


def crisis_text() -> str:
    """The clinic's crisis text: the environment variable KETACLINIC_CRISIS_TEXT when set and
    not blank, else a default that points to 988 (US). Read on every call, so a change needs no
    code change (the server picks it up at its next start at the latest)."""
    text = os.environ.get(CRISIS_TEXT_VARIABLE, "").strip()
    return text or DEFAULT_CRISIS_TEXT


def raise_alerts(
    session: Session, clock: Clock, response: QuestionnaireResponse, result: ScaleResult
) -> list[SafetyAlert]:
    """One alert per suicidality rule the scored response tripped (SAFETY_SOURCE)."""
    raised = []
    for alert in result.alerts:
        if alert.id not in SUICIDALITY_ALERTS or not alert.urgent:
            continue
        row = SafetyAlert(
            patient_id=response.patient_id,
            response_id=response.id,
            rule=alert.id,
            message=alert.message[:500],
            raised_at=clock.now(),
        )
        session.add(row)
        raised.append(row)
    session.flush()
    return raised


def get_alert(session: Session, alert_id: int) -> SafetyAlert:
    alert = session.get(SafetyAlert, alert_id)
    if alert is None:
        raise NotFound(f"no safety alert {alert_id}")
    return alert


def acknowledge_alert(
    session: Session, actor: Actor, clock: Clock, alert_id: int, action_taken: str
) -> SafetyAlert:
    """A prescriber acknowledges the alert with the action taken (required).

    Conflict when it was already acknowledged: the first acknowledgement stands, and is
    changed by nobody (the update only touches an alert still open)."""
    who_may.require(actor, who_may.PRESCRIBER, "acknowledge a safety alert", system=False)
    alert = get_alert(session, alert_id)
    action = check_text("action_taken", action_taken, limit=ACTION_LIMIT, required=True)
    if alert.acknowledged_at is not None:
        raise Conflict(f"safety alert {alert_id} was already acknowledged")
    done = session.execute(
        update(SafetyAlert)
        .where(SafetyAlert.id == alert_id, SafetyAlert.acknowledged_at.is_(None))
        .values(
            acknowledged_at=clock.now(),
            acknowledged_by_id=actor.user_id,
            action_taken=action,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 1) != 1:
        raise Conflict(f"safety alert {alert_id} was already acknowledged")
    session.refresh(alert)
    return alert


def open_alerts(session: Session, patient_id: int | None = None) -> list[SafetyAlert]:
    """Alerts not yet acknowledged, oldest first (the longest waiting is the most urgent);
    every patient's for the dashboard, one patient's for the chart."""
    query = select(SafetyAlert).where(SafetyAlert.acknowledged_at.is_(None))
    if patient_id is not None:
        query = query.where(SafetyAlert.patient_id == patient_id)
    return list(session.scalars(query.order_by(SafetyAlert.raised_at, SafetyAlert.id)))


def alerts_of(session: Session, patient_id: int) -> list[SafetyAlert]:
    """All of a patient's alerts, acknowledged ones included, newest first."""
    return list(
        session.scalars(
            select(SafetyAlert)
            .where(SafetyAlert.patient_id == patient_id)
            .order_by(SafetyAlert.raised_at.desc(), SafetyAlert.id.desc())
        )
    )


def response_of(session: Session, alert: SafetyAlert) -> QuestionnaireResponse:
    return session.get_one(QuestionnaireResponse, alert.response_id)
