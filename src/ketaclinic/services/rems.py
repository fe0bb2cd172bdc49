"""The esketamine REMS: the site's certification, patients' enrolments, and the Patient
Monitoring Form of every esketamine session, built from what was recorded at the chair.

The form is filled from the session's rows (doses, vitals, scores, adverse events, the pre-dose
check and the discharge), the patient's current medicines (``clinical.medications`` groups) and
the REMS enrolments, by ``clinical.monitoring.rems_form``; it is stored as the data of its form
version (``clinical.rems_versions``) and printed, exported and listed with that version. A form
is due within 7 days of its session; an esketamine session discharged more than 7 days ago whose
form is not marked submitted is overdue, whether or not the form was built.

Roles: prescribers and nurses enrol patients and fill and submit forms; only a prescriber
records the site's certification (the REMS certifies the healthcare setting through an
authorised representative). The services write no audit rows: the web and the command line do.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.clinical import medications, monitoring, rems_versions
from ketaclinic.clinical.facts import Medication
from ketaclinic.clinical.monitoring import Vitals
from ketaclinic.clinical.rems_readiness import ready_to_leave_at
from ketaclinic.clinical.view import is_ongoing
from ketaclinic.services import who_may
from ketaclinic.services.actor import Actor, Role
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Conflict, InvalidInput, NotFound
from ketaclinic.services.patients import get_patient
from ketaclinic.services.vitals import as_utc
from ketaclinic.store.models import (
    AdverseEvent,
    Discharge,
    MedicationRecord,
    Patient,
    PredoseCheck,
    RemsEnrolment,
    RemsForm,
    SessionDose,
    SessionScore,
    SessionVitals,
    TreatmentPlan,
    TreatmentSession,
    User,
)

FILLERS: frozenset[Role] = frozenset({"prescriber", "nurse"})
CERTIFIERS: frozenset[Role] = frozenset({"prescriber"})
REFERENCE_WIDTH = 100
TEMPLATES = Path(__file__).parents[1] / "web" / "templates"

# The concomitant-medicine questions and the drug groups that answer them (clinical-facts.md,
# "Interaction and other groups": non-benzodiazepine sedative-hypnotics are there for the REMS).
CONCOMITANT: dict[str, str] = {
    "benzodiazepines": "benzodiazepine",
    "non_benzodiazepine_sedative_hypnotics": "sedative_hypnotic",
    "psychostimulants": "psychostimulant",
    "maois": "maoi",
}
# Discharge blockers that mean the vitals were not acceptable when the patient left.
VITALS_BLOCKERS = frozenset({"blood_pressure_not_settled", "vitals_alerting"})
RESPIRATORY_DEPRESSION = frozenset({"respiratory_depression", "respiratory depression"})


# ---- enrolments ---------------------------------------------------------------------------------


def _reference(value: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput("reference", "is required")
    if len(text) > REFERENCE_WIDTH:
        raise InvalidInput("reference", f"is longer than {REFERENCE_WIDTH} characters")
    return text


def _not_future(field: str, day: date, clock: Clock) -> date:
    if day > clock.now().date():
        raise InvalidInput(field, f"{day.isoformat()} is in the future")
    return day


def record_site_certification(
    session: Session, actor: Actor, clock: Clock, reference: str, certified_on: date
) -> RemsEnrolment:
    """The healthcare setting's REMS certification (its REMS identifier and date)."""
    who_may.require(actor, CERTIFIERS, "record the site's REMS certification")
    row = RemsEnrolment(
        kind="site",
        patient_id=None,
        reference=_reference(reference),
        enrolled_on=_not_future("certified_on", certified_on, clock),
        recorded_at=clock.now(),
        recorded_by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    return row


def record_patient_enrolment(
    session: Session,
    actor: Actor,
    clock: Clock,
    patient_id: int,
    reference: str,
    enrolled_on: date,
) -> RemsEnrolment:
    """A patient's REMS enrolment, needed before the first esketamine dose."""
    who_may.require(actor, FILLERS, "enrol a patient in the REMS")
    get_patient(session, patient_id)
    text = _reference(reference)
    same = session.scalar(
        select(RemsEnrolment.id).where(
            RemsEnrolment.kind == "patient",
            RemsEnrolment.patient_id == patient_id,
            RemsEnrolment.reference == text,
        )
    )
    if same is not None:
        raise Conflict(f"the patient's REMS enrolment {text} is already recorded")
    row = RemsEnrolment(
        kind="patient",
        patient_id=patient_id,
        reference=text,
        enrolled_on=_not_future("enrolled_on", enrolled_on, clock),
        recorded_at=clock.now(),
        recorded_by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    return row


def site_certification(session: Session, on: date | None = None) -> RemsEnrolment | None:
    """The site's latest certification, on or before ``on`` when given."""
    query = select(RemsEnrolment).where(RemsEnrolment.kind == "site")
    if on is not None:
        query = query.where(RemsEnrolment.enrolled_on <= on)
    return session.scalars(
        query.order_by(RemsEnrolment.enrolled_on.desc(), RemsEnrolment.id.desc())
    ).first()


def patient_enrolment(
    session: Session, patient_id: int, on: date | None = None
) -> RemsEnrolment | None:
    """The patient's latest REMS enrolment, on or before ``on`` when given."""
    query = select(RemsEnrolment).where(
        RemsEnrolment.kind == "patient", RemsEnrolment.patient_id == patient_id
    )
    if on is not None:
        query = query.where(RemsEnrolment.enrolled_on <= on)
    return session.scalars(
        query.order_by(RemsEnrolment.enrolled_on.desc(), RemsEnrolment.id.desc())
    ).first()


def enrolments(session: Session) -> list[RemsEnrolment]:
    """Every certification and enrolment, newest first."""
    return list(
        session.scalars(
            select(RemsEnrolment).order_by(
                RemsEnrolment.recorded_at.desc(), RemsEnrolment.id.desc()
            )
        )
    )


# ---- reading the session ------------------------------------------------------------------------


def _esketamine_session(session: Session, session_id: int) -> TreatmentSession:
    found = session.get(TreatmentSession, session_id)
    if found is None:
        raise NotFound(f"no session {session_id}")
    plan = session.get_one(TreatmentPlan, found.plan_id)
    if plan.route != "esketamine":
        raise InvalidInput(
            "session_id",
            f"session {session_id} is a {plan.route} session: the REMS form is for esketamine",
        )
    return found


def _bp(row: SessionVitals) -> bool:
    return row.systolic is not None and row.diastolic is not None


def _vitals(row: SessionVitals | None) -> Vitals:
    if row is None:
        return Vitals()
    return Vitals(row.systolic, row.diastolic, row.heart_rate, row.spo2, row.respiratory_rate)


def _medicine(row: MedicationRecord) -> Medication:
    return Medication(
        ref=f"MedicationStatement/{row.id}",
        ingredient=row.ingredient or medications.ingredient_from_text(row.name),
        name=row.name,
        status=row.status,
        start=row.start,
        end=row.end,
    )


def _taking(session: Session, patient_id: int, day: date) -> dict[str, bool]:
    """Each concomitant-medicine question answered from the medicines ongoing on ``day``."""
    rows = session.scalars(
        select(MedicationRecord).where(
            MedicationRecord.patient_id == patient_id, MedicationRecord.state == "current"
        )
    )
    ongoing = [m for m in map(_medicine, rows) if is_ongoing(m, day)]
    return {
        question: any(medications.in_group(m.ingredient, group) for m in ongoing)
        for question, group in CONCOMITANT.items()
    }


def _first_treatment(session: Session, treatment: TreatmentSession, first_device: datetime) -> bool:
    """No esketamine dose given to the patient in any earlier session."""
    earlier = session.scalar(
        select(SessionDose.id)
        .join(TreatmentSession, TreatmentSession.id == SessionDose.session_id)
        .join(TreatmentPlan, TreatmentPlan.id == TreatmentSession.plan_id)
        .where(
            TreatmentSession.patient_id == treatment.patient_id,
            TreatmentSession.id != treatment.id,
            TreatmentPlan.route == "esketamine",
            SessionDose.started_at < first_device,
        )
        .limit(1)
    )
    return earlier is None


def _blocker_ids(text: str | None) -> set[str]:
    """The ids in the discharge's stored blockers (a JSON list of objects with ``id``, or of
    plain ids)."""
    if not text:
        return set()
    try:
        items = orjson.loads(text)
    except orjson.JSONDecodeError:
        return set()
    found: set[str] = set()
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            found.add(item["id"])
        elif isinstance(item, str):
            found.add(item)
    return found


def _patient_words(patient: Patient, enrolment: RemsEnrolment) -> str:
    return (
        f"{patient.family_name}, {patient.given_name} (born {patient.birth_date.isoformat()}; "
        f"MRN {patient.mrn}; REMS patient {enrolment.reference})"
    )


def _clinician(session: Session, discharge: Discharge) -> str:
    if discharge.by_id is None:
        raise InvalidInput("monitoring_clinician", "no clinician is named on the discharge")
    return session.get_one(User, discharge.by_id).full_name


def _one_of(session: Session, model: Any, session_id: int, order: Any) -> list[Any]:
    return list(
        session.scalars(select(model).where(model.session_id == session_id).order_by(order))
    )


@dataclass(frozen=True)
class _Readings:
    before: SessionVitals | None
    at_40: SessionVitals | None
    leaving: SessionVitals | None


def _readings(
    vitals: Sequence[SessionVitals],
    predose: PredoseCheck | None,
    first_device: datetime,
    ended: datetime,
) -> _Readings:
    """The three esketamine blood pressures (label): the last before the first device, the one
    nearest 40 minutes after it, and the last before the end of monitoring."""
    with_bp = [v for v in vitals if _bp(v) and v.taken_at <= ended]
    before = [v for v in with_bp if v.taken_at <= first_device]
    after = [v for v in with_bp if v.taken_at > first_device]
    leaving = after[-1] if after else None
    recheck = monitoring.blood_pressure_recheck_at(first_device)
    middle = after[:-1]
    at_40 = min(middle, key=lambda v: abs((v.taken_at - recheck).total_seconds()), default=None)
    before_row = before[-1] if before else None
    if before_row is None and predose is not None and predose.systolic is not None:
        before_row = SessionVitals(
            taken_at=predose.at, systolic=predose.systolic, diastolic=predose.diastolic
        )
    return _Readings(before_row, at_40, leaving)


def fill_form(
    session: Session, session_id: int, *, ready_at: datetime | None = None
) -> monitoring.RemsMonitoringForm:
    """The form's answers for a discharged esketamine session, read from its rows; refused with
    the reason when something the form asks was never recorded."""
    treatment = _esketamine_session(session, session_id)
    if treatment.state != "discharged":
        raise InvalidInput(
            "session_id",
            f"session {session_id} is {treatment.state.replace('_', ' ')}: the form is filled "
            "after discharge",
        )
    doses: list[SessionDose] = _one_of(session, SessionDose, session_id, SessionDose.started_at)
    if not doses:
        raise InvalidInput("session_id", "no esketamine dose was recorded in this session")
    discharge = session.scalar(select(Discharge).where(Discharge.session_id == session_id))
    if discharge is None:
        raise InvalidInput("session_id", "the session has no discharge recorded")
    first_device = doses[0].started_at
    ended = discharge.at
    day = first_device.date()
    site = site_certification(session, day)
    if site is None:
        raise InvalidInput("site", "no REMS certification of the site recorded on or before "
                           f"{day.isoformat()}")  # fmt: skip
    enrolment = patient_enrolment(session, treatment.patient_id, day)
    if enrolment is None:
        raise InvalidInput(
            "patient", f"the patient has no REMS enrolment on or before {day.isoformat()}"
        )
    patient = session.get_one(Patient, treatment.patient_id)
    predose = session.scalars(
        select(PredoseCheck)
        .where(PredoseCheck.session_id == session_id)
        .order_by(PredoseCheck.at.desc(), PredoseCheck.id.desc())
    ).first()
    vitals: list[SessionVitals] = _one_of(
        session, SessionVitals, session_id, SessionVitals.taken_at
    )
    readings = _readings(vitals, predose, first_device, ended)
    scores: list[SessionScore] = _one_of(session, SessionScore, session_id, SessionScore.taken_at)
    moaas = [(s.taken_at, s.score) for s in scores if s.scale == "moaas"]
    cadss = [s.score for s in scores if s.scale == "cadss"]
    if not moaas:
        raise InvalidInput("moaas", "no MOAA/S score recorded: the form asks about sedation")
    if not cadss:
        raise InvalidInput("cadss", "no CADSS score recorded: the form asks about dissociation")
    events = _one_of(session, AdverseEvent, session_id, AdverseEvent.onset_at)
    taking = _taking(session, treatment.patient_id, day)
    if predose is not None and predose.benzodiazepine_today:
        taking["benzodiazepines"] = True
    before = _vitals(readings.before)
    leaving = _vitals(readings.leaving)
    predose_cleared = predose is not None and (
        predose.decision == "go" or predose.confirmed_at is not None
    )
    if ready_at is not None:
        # Times are compared as stored, naive UTC: an answer given with an offset is converted.
        ready_at = as_utc(ready_at)
    else:
        ready_at = ready_to_leave_at(
            first_device,
            ended,
            before,
            [(v.taken_at, _vitals(v)) for v in vitals if v.taken_at <= ended],
            moaas,
        )
    try:
        return monitoring.rems_form(
            patient=_patient_words(patient, enrolment),
            first_treatment=_first_treatment(session, treatment, first_device),
            benzodiazepines=taking["benzodiazepines"],
            non_benzodiazepine_sedative_hypnotics=taking["non_benzodiazepine_sedative_hypnotics"],
            psychostimulants=taking["psychostimulants"],
            maois=taking["maois"],
            monitoring_clinician=_clinician(session, discharge),
            site=f"REMS certified setting {site.reference}",
            dose_mg=sum(d.dose_mg for d in doses),
            lot=", ".join(dict.fromkeys(d.lot for d in doses)),
            first_device_at=first_device,
            monitoring_ended_at=ended,
            ready_without_2_hour_rule_at=ready_at,
            before_dosing=before,
            at_40_minutes=_vitals(readings.at_40),
            before_leaving=leaving,
            vitals_acceptable_before_dosing=predose_cleared
            and readings.before is not None
            and not monitoring.vital_alerts(before),
            vitals_acceptable_before_leaving=readings.leaving is not None
            and not monitoring.vital_alerts(leaving)
            and not (_blocker_ids(discharge.blockers) & VITALS_BLOCKERS),
            lowest_moaas=min(score for _, score in moaas),
            highest_cadss=max(cadss),
            respiratory_depression=any(e.kind in RESPIRATORY_DEPRESSION for e in events),
        )
    except ValueError as bad:
        raise InvalidInput("ready_at", str(bad)) from None


# ---- the stored form ----------------------------------------------------------------------------


def build_form(
    session: Session,
    actor: Actor,
    clock: Clock,
    session_id: int,
    *,
    ready_at: datetime | None = None,
) -> RemsForm:
    """Fill the session's form on the current version; until it is submitted, building again
    refills it from the session as it now stands. ``ready_at``: the clinician's own answer to
    "ready to leave had there been no 2-hour rule", else it is read from the readings."""
    who_may.require(actor, FILLERS, "fill a REMS Patient Monitoring Form")
    form = fill_form(session, session_id, ready_at=ready_at)
    data = {
        "fields": rems_versions.form_data(form, rems_versions.CURRENT),
        "problems": list(monitoring.rems_form_problems(form)),
    }
    row = form_of_session(session, session_id)
    if row is not None and row.submitted_at is not None:
        raise Conflict(f"the form of session {session_id} was submitted; it is not refilled")
    if row is None:
        row = RemsForm(session_id=session_id)
        session.add(row)
    row.form_version = rems_versions.CURRENT
    row.data = orjson.dumps(data).decode()
    row.due_on = form.due_on
    row.created_at = clock.now()
    row.created_by_id = actor.user_id
    session.flush()
    return row


def get_form(session: Session, form_id: int) -> RemsForm:
    found = session.get(RemsForm, form_id)
    if found is None:
        raise NotFound(f"no REMS form {form_id}")
    return found


def form_of_session(session: Session, session_id: int) -> RemsForm | None:
    return session.scalar(select(RemsForm).where(RemsForm.session_id == session_id))


def patient_of_form(session: Session, form: RemsForm) -> int:
    return session.get_one(TreatmentSession, form.session_id).patient_id


def submit_form(
    session: Session, actor: Actor, clock: Clock, form_id: int, reference: str
) -> RemsForm:
    """Mark the form sent to the REMS, with the confirmation the REMS gave."""
    who_may.require(actor, FILLERS, "submit a REMS Patient Monitoring Form")
    form = get_form(session, form_id)
    text = _reference(reference)
    if form.submitted_at is not None:
        raise Conflict(f"REMS form {form_id} was already submitted ({form.submission_reference})")
    form.submitted_at = clock.now()
    form.submitted_by_id = actor.user_id
    form.submission_reference = text
    session.flush()
    return form


@dataclass(frozen=True)
class FormView:
    """A stored form as people read it: its version's fields with the printed answers."""

    form: RemsForm
    patient_id: int
    session_date: date
    rows: list[tuple[rems_versions.FormField, str]]
    fields: dict[str, Any]
    problems: list[str]
    overdue: bool
    submitted_by: str | None


def form_view(session: Session, clock: Clock, form_id: int) -> FormView:
    form = get_form(session, form_id)
    data = orjson.loads(form.data)
    fields: dict[str, Any] = data.get("fields", {})
    day = date.fromisoformat(fields["session_date"])
    submitted_by = (
        session.get_one(User, form.submitted_by_id).full_name
        if form.submitted_by_id is not None
        else None
    )
    return FormView(
        form=form,
        patient_id=patient_of_form(session, form),
        session_date=day,
        rows=rems_versions.form_rows(form.form_version, fields),
        fields=fields,
        problems=list(data.get("problems", [])),
        overdue=monitoring.rems_form_overdue(
            day, form.submitted_at.date() if form.submitted_at else None, clock.now().date()
        ),
        submitted_by=submitted_by,
    )


# ---- due and overdue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FormDue:
    """A discharged esketamine session whose form is not submitted yet."""

    session_id: int
    patient_id: int
    patient: str
    session_date: date
    form_id: int | None
    overdue: bool


def forms_due(session: Session, clock: Clock) -> list[FormDue]:
    """Every discharged esketamine session without a submitted form, oldest first."""
    rows = session.execute(
        select(TreatmentSession, Patient, RemsForm)
        .join(TreatmentPlan, TreatmentPlan.id == TreatmentSession.plan_id)
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .outerjoin(RemsForm, RemsForm.session_id == TreatmentSession.id)
        .where(
            TreatmentPlan.route == "esketamine",
            TreatmentSession.state == "discharged",
            RemsForm.submitted_at.is_(None),
        )
        .order_by(TreatmentSession.id)
    ).all()
    today = clock.now().date()
    due: list[FormDue] = []
    for treatment, patient, form in rows:
        started = session.scalar(
            select(SessionDose.started_at)
            .where(SessionDose.session_id == treatment.id)
            .order_by(SessionDose.started_at)
            .limit(1)
        )
        moment = started or treatment.dosing_started_at or treatment.discharged_at
        day = moment.date() if moment is not None else treatment.planned_on
        due.append(
            FormDue(
                session_id=treatment.id,
                patient_id=patient.id,
                patient=f"{patient.family_name}, {patient.given_name} ({patient.mrn})",
                session_date=day,
                form_id=form.id if form is not None else None,
                overdue=monitoring.rems_form_overdue(day, None, today),
            )
        )
    return sorted(due, key=lambda d: (d.session_date, d.session_id))


def overdue_forms(session: Session, clock: Clock) -> list[FormDue]:
    """Sessions whose form is not submitted within 7 days (day 7 is still in time)."""
    return [d for d in forms_due(session, clock) if d.overdue]


# ---- PDF and CSV --------------------------------------------------------------------------------

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    # Names and lot numbers are typed by staff: escaped like every page.
    autoescape=select_autoescape(["html"]),
)


def form_html(view: FormView, printed_at: datetime) -> str:
    return _env.get_template("rems_form_pdf.html").render(
        view=view, fields=rems_versions.form_fields(view.form.form_version), printed_at=printed_at
    )


def form_pdf(session: Session, clock: Clock, form_id: int) -> bytes:
    """The form printed by WeasyPrint (imported when asked for: it takes a second to load)."""
    from weasyprint import HTML  # type: ignore[import-untyped]

    html = form_html(form_view(session, clock, form_id), clock.now())
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


CSV_LEADING = ("form_id", "session_id", "form_version")
CSV_TRAILING = ("due_on", "submitted_at", "submission_reference")


def form_csv(session: Session, form_ids: Sequence[int]) -> str:
    """One row per form, columns named by the fields of the forms' version. Forms of different
    versions cannot share one header: they are refused together."""
    forms = [get_form(session, i) for i in form_ids]
    versions = {f.form_version for f in forms} or {rems_versions.CURRENT}
    if len(versions) > 1:
        raise InvalidInput(
            "form_ids",
            f"forms of different versions ({', '.join(sorted(versions))}): one CSV per version",
        )
    fields = rems_versions.form_fields(versions.pop())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_LEADING, *(f.name for f in fields), *CSV_TRAILING])
    for form in forms:
        values = orjson.loads(form.data).get("fields", {})
        writer.writerow(
            [
                form.id,
                form.session_id,
                form.form_version,
                *(rems_versions.field_cell(f, values.get(f.name)) for f in fields),
                form.due_on.isoformat(),
                form.submitted_at.isoformat(sep=" ", timespec="minutes")
                if form.submitted_at
                else "",
                form.submission_reference or "",
            ]
        )
    return out.getvalue()


def all_forms(session: Session) -> list[RemsForm]:
    return list(session.scalars(select(RemsForm).order_by(RemsForm.id.desc())))
