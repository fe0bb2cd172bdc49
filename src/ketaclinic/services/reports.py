"""Printed documents of issue 6, item 6, as PDF (WeasyPrint, as services/ledger_pdf.py):

- the progress report of one patient: diagnoses, treatment plans, sessions with their doses,
  each scale's scores in a table with its chart (the same SVG as the outcomes page, embedded),
  and adverse events;
- the letter to the referring clinician after a screening: the decision that stands, its
  reasons in plain words (the engine's own messages, with the words of screening_text.py), and
  what is still needed (missing information and workup not done or out of date).

The HTML is rendered from templates/report_progress.html and templates/letter_referral.html,
read by path as ledger_pdf does. The services check no role and write no audit row: the routes
admit prescribers and nurses and audit the read with the patient's id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import screening_text
from ketaclinic.services import charting
from ketaclinic.services.clock import Clock
from ketaclinic.services.outcomes_view import (
    LEVEL_WORDS,
    PatientOutcomes,
    change_words,
    outcomes_of,
)
from ketaclinic.services.patients import get_patient
from ketaclinic.services.records import current_records
from ketaclinic.store.models import (
    AdverseEvent,
    PlanVersion,
    SessionDose,
    TreatmentPlan,
    TreatmentSession,
    User,
)
from ketaclinic.web.trajectory_svg import chart_of

TEMPLATES = Path(__file__).parents[1] / "web" / "templates"
_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    # Names, diagnoses and free text are typed by staff or imported: escaped.
    autoescape=select_autoescape(["html"]),
)
_env.globals.update(LEVEL_WORDS=LEVEL_WORDS, change_words=change_words)
# Workup statuses as the letter says them (spec/screening.md: done, missing, stale,
# not_required).
WORKUP_WORDS = {
    "missing": "not done yet",
    "stale": "done, but too long ago: please repeat",
}


@dataclass(frozen=True)
class PlanLine:
    plan: TreatmentPlan
    version: PlanVersion | None


@dataclass(frozen=True)
class SessionLine:
    session: TreatmentSession
    doses: tuple[SessionDose, ...]

    @property
    def total_mg(self) -> float:
        return sum(d.dose_mg for d in self.doses)


# "(Observation/6)", "(MedicationStatement/3, Condition/2)": the record's internal names, which
# the engine's messages carry for the chart and which mean nothing to a reader outside.
_RECORD_NAMES = re.compile(r" ?\((?:[A-Z][A-Za-z]+/[A-Za-z0-9\-.]+(?:, )?)+\)")


def plain(message: str) -> str:
    """An engine message without the internal record names it carries."""
    return _RECORD_NAMES.sub("", message)


def _words(code: str) -> str:
    return code.replace("_", " ")


def _decision_words(decision: str) -> str:
    return screening_text.DECISION_WORDS[decision][0].capitalize()


def _plans(session: Session, patient_id: int) -> list[PlanLine]:
    plans = session.scalars(
        select(TreatmentPlan)
        .where(TreatmentPlan.patient_id == patient_id)
        .order_by(TreatmentPlan.created_at, TreatmentPlan.id)
    )
    lines = []
    for plan in plans:
        version = session.scalar(
            select(PlanVersion)
            .where(PlanVersion.plan_id == plan.id)
            .order_by(PlanVersion.version.desc())
            .limit(1)
        )
        lines.append(PlanLine(plan, version))
    return lines


def _sessions(session: Session, patient_id: int) -> list[SessionLine]:
    """Sessions that were at least checked in, or cancelled or stopped: not the ones only
    planned (the plan lists those)."""
    rows = list(
        session.scalars(
            select(TreatmentSession)
            .where(
                TreatmentSession.patient_id == patient_id,
                TreatmentSession.state != "scheduled",
            )
            .order_by(TreatmentSession.planned_on, TreatmentSession.id)
        )
    )
    doses: dict[int, list[SessionDose]] = {}
    if rows:
        for dose in session.scalars(
            select(SessionDose)
            .where(SessionDose.session_id.in_([r.id for r in rows]))
            .order_by(SessionDose.started_at, SessionDose.id)
        ):
            doses.setdefault(dose.session_id, []).append(dose)
    return [SessionLine(r, tuple(doses.get(r.id, []))) for r in rows]


def _charts(outcomes: PatientOutcomes) -> dict[str, Any]:
    return {s.scale.id: chart_of(s, outcomes.sessions, "report") for s in outcomes.scales}


def progress_report_html(session: Session, patient_id: int, clock: Clock) -> str:
    outcomes = outcomes_of(session, patient_id)
    adverse = session.scalars(
        select(AdverseEvent)
        .where(AdverseEvent.patient_id == patient_id)
        .order_by(AdverseEvent.onset_at, AdverseEvent.id)
    ).all()
    return _env.get_template("report_progress.html").render(
        patient=outcomes.patient,
        printed_at=clock.now(),
        diagnoses=current_records(session, patient_id).conditions,
        plans=_plans(session, patient_id),
        sessions=_sessions(session, patient_id),
        outcomes=outcomes,
        charts=_charts(outcomes),
        adverse_events=adverse,
        route_words=screening_text.ROUTE_WORDS,
        words=_words,
    )


def progress_report_pdf(session: Session, patient_id: int, clock: Clock) -> bytes:
    """The patient's progress report (see the module docstring) as a PDF."""
    return print_pdf(progress_report_html(session, patient_id, clock))


@dataclass(frozen=True)
class Needed:
    what: str
    why: str


def still_needed(output: dict[str, Any]) -> list[Needed]:
    """Missing information and workup not done or out of date, in the screening's order."""
    needed = [
        Needed(_words(f["id"]).capitalize(), plain(f["message"]))
        for f in output["findings"]
        if f["kind"] == "missing"
    ]
    for item in output["workup"]:
        if item["status"] in WORKUP_WORDS:
            needed.append(Needed(_words(item["test"]).capitalize(), WORKUP_WORDS[item["status"]]))
    return needed


def _signed_by(session: Session, signed_by_id: int | None) -> str | None:
    if signed_by_id is None:
        return None
    user = session.get(User, signed_by_id)
    return user.full_name if user is not None else None


def referral_letter_html(session: Session, screening_id: int) -> str:
    screening = charting.get_screening(session, screening_id)
    output = charting.output_of(screening)
    decided = charting.effective_decision(screening)
    patient = get_patient(session, screening.patient_id)
    signature = screening.signature
    reasons = [f for f in output["findings"] if f["kind"] != "missing"]
    return _env.get_template("letter_referral.html").render(
        patient=patient,
        screening=screening,
        output=output,
        decided=decided,
        decision_words=_decision_words(decided.decision),
        engine_words=_decision_words(decided.engine_decision),
        route_words=screening_text.ROUTE_WORDS.get(screening.route, screening.route),
        kind_words=screening_text.KIND_WORDS,
        reasons=reasons,
        needed=still_needed(output),
        signed_by=_signed_by(session, signature.signed_by_id if signature else None),
        signed_at=signature.signed_at if signature else None,
        letter_date=(signature.signed_at if signature else screening.created_at).date(),
        words=_words,
        plain=plain,
    )


def referral_letter_pdf(session: Session, screening_id: int) -> bytes:
    """The letter to the referring clinician about one screening, as a PDF."""
    return print_pdf(referral_letter_html(session, screening_id))


def print_pdf(html: str) -> bytes:
    """WeasyPrint, imported when a PDF is asked for (it costs about a second to load)."""
    from weasyprint import HTML  # type: ignore[import-untyped]

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def report_file_name(kind: str, mrn: str, day: date | datetime) -> str:
    """A file name safe in a Content-Disposition header: letters, digits, '-' and '.'."""
    safe = "".join(c if c.isalnum() or c in "-." else "-" for c in mrn)
    return f"{kind}-{safe}-{day:%Y-%m-%d}.pdf"
