"""Forms for each record type, corrections (with a reason), entered-in-error, a record's
history, and the inline trial-outcome form of the chart.

A refused form is shown again, status 422, with the server's message beside the field and
nothing written: the writes run in a SAVEPOINT that is rolled back whole when a service refuses
a value (the vitals form writes up to four observations; one bad value saves none).

Routes and roles: see pages_clinic.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.clinical.facts import CPT, ICD10, RXNORM, SNOMED
from ketaclinic.services import charting, patients, records
from ketaclinic.services.actor import Actor, Role
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Forbidden, InvalidInput, NotFound
from ketaclinic.services.record_rows import MODELS
from ketaclinic.services.records_forms import (
    ALLERGY_STATUSES,
    ALLERGY_VERIFICATIONS,
    BLOOD_PRESSURE,
    CONDITION_STATUSES,
    CONDITION_VERIFICATIONS,
    MEASURES,
    MEDICATION_STATUSES,
    PERIOD_UNITS,
    PROCEDURE_STATUSES,
    AllergyIn,
    ConditionIn,
    FormValues,
    MedicationIn,
    ObservationIn,
    ProcedureIn,
)
from ketaclinic.store.models import ClinicalRow, MedicationRecord, ObservationRecord
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles
from ketaclinic.web.pages_chart import trials_context
from ketaclinic.web.pages_common import (
    CLINICAL,
    KIND_WORDS,
    MEASURE_NAMES,
    OUTCOME_WORDS,
    PRESCRIBER,
    WRITERS,
    Submitted,
    errors_of,
    is_htmx,
    may,
    required,
    staff_names,
)
from ketaclinic.web.pages_timeline import dose_words
from ketaclinic.web.templating import render

router = APIRouter(include_in_schema=False)
Clinician = Annotated[Actor, Depends(require_roles(*CLINICAL))]
Prescriber = Annotated[Actor, Depends(require_roles(*PRESCRIBER))]

JSON = dict[str, Any]
Choices = list[tuple[str, str]]

HEART_RATE, SPO2, WEIGHT = "8867-4", "59408-5", "29463-7"
# The vitals form: its field for each single-value measure.
VITALS_FIELDS = {"heart_rate": HEART_RATE, "spo2": SPO2, "weight": WEIGHT}
UNIT_WORDS = {"h": "hours", "d": "days", "wk": "weeks", "mo": "months"}


def _choices(values: tuple[str, ...]) -> Choices:
    return [(v, v.replace("-", " ").capitalize()) for v in values]


OUTCOME_CHOICES: Choices = list(OUTCOME_WORDS.items())
CHOICES: dict[str, Choices] = {
    "condition_system": [(ICD10, "ICD-10-CM"), (SNOMED, "SNOMED CT")],
    "condition_status": _choices(CONDITION_STATUSES),
    "condition_verification": _choices(CONDITION_VERIFICATIONS),
    "medication_status": _choices(MEDICATION_STATUSES),
    "period_unit": [(u, UNIT_WORDS[u]) for u in PERIOD_UNITS],
    "outcome": OUTCOME_CHOICES,
    "allergy_system": [(RXNORM, "RxNorm"), (SNOMED, "SNOMED CT")],
    "allergy_status": _choices(ALLERGY_STATUSES),
    "allergy_verification": _choices(ALLERGY_VERIFICATIONS),
    "procedure_system": [(SNOMED, "SNOMED CT"), (CPT, "CPT")],
    "procedure_status": _choices(PROCEDURE_STATUSES),
    "measure": [
        (code, f"{MEASURE_NAMES.get(code, m.display)} (LOINC {code})")
        for code, m in MEASURES.items()
        if code != BLOOD_PRESSURE
    ],
    "result": [("negative", "Negative"), ("positive", "Positive")],
}


# --- reading each form ------------------------------------------------------------------------


def read_condition(form: Submitted) -> ConditionIn:
    return ConditionIn(
        code=form.words("code"),
        display=form.words("display"),
        system=form.text("system") or ICD10,
        clinical_status=form.text("clinical_status") or "active",
        verification_status=form.text("verification_status") or "confirmed",
        onset=form.day("onset"),
        abatement=form.day("abatement"),
        severe=form.checked("severe"),
    )


def read_medication(form: Submitted) -> MedicationIn:
    return MedicationIn(
        name=form.words("name"),
        start=form.day("start"),
        end=form.day("end"),
        status=form.text("status") or "completed",
        rxnorm=form.text("rxnorm"),
        dose_mg=form.number("dose_mg"),
        frequency=form.whole("frequency") or 1,
        period=form.number("period") or 1,
        period_unit=form.text("period_unit") or "d",
        outcome=form.text("outcome"),
        outcome_text=form.text("outcome_text"),
    )


def _effective(form: Submitted) -> datetime:
    moment = form.moment("effective")
    if moment is None:
        raise InvalidInput("effective", "is required")
    return moment


def read_observation(form: Submitted) -> ObservationIn:
    loinc = form.text("other_loinc") or form.text("loinc")
    return ObservationIn(
        loinc=required("loinc", loinc),
        effective=_effective(form),
        value=form.number("value"),
        systolic=form.number("systolic"),
        diastolic=form.number("diastolic"),
        result=form.text("result"),
        unit=form.text("unit"),
        display=form.text("display"),
    )


def read_allergy(form: Submitted) -> AllergyIn:
    return AllergyIn(
        substance=form.words("substance"),
        code=form.text("code"),
        system=form.text("system") or RXNORM,
        clinical_status=form.text("clinical_status") or "active",
        verification_status=form.text("verification_status") or "confirmed",
        recorded=form.day("recorded"),
    )


def read_procedure(form: Submitted) -> ProcedureIn:
    return ProcedureIn(
        code=form.words("code"),
        display=form.words("display"),
        system=form.text("system") or SNOMED,
        status=form.text("status") or "completed",
        performed=form.day("performed"),
        performed_end=form.day("performed_end"),
        outcome=form.text("outcome"),
        outcome_text=form.text("outcome_text"),
    )


READERS: dict[str, Callable[[Submitted], FormValues]] = {
    "condition": read_condition,
    "medication": read_medication,
    "observation": read_observation,
    "allergy": read_allergy,
    "procedure": read_procedure,
}


# --- what a stored record says, to fill the correction form -------------------------------------


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _status_code(resource: JSON, key: str) -> str:
    concept = resource.get(key)
    if isinstance(concept, dict):
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                return str(coding["code"])
    return ""


def _coding_code(concept: object, system: str) -> str:
    if isinstance(concept, dict):
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and coding.get("system") == system:
                return str(coding.get("code") or "")
    return ""


def filled_from(kind: str, row: Any) -> dict[str, str]:
    """The form's fields as the record has them now."""
    resource: JSON = orjson.loads(row.resource)
    if kind == "condition":
        values = {
            "system": row.system,
            "code": row.code,
            "display": row.display,
            "clinical_status": _status_code(resource, "clinicalStatus") or row.clinical_status,
            "verification_status": _status_code(resource, "verificationStatus"),
            "onset": row.onset,
            "abatement": row.abatement,
            "severe": "on" if resource.get("severity") else "",
        }
    elif kind == "medication":
        values = {
            "name": row.name,
            "rxnorm": _coding_code(resource.get("medicationCodeableConcept"), RXNORM),
            "status": row.status,
            "dose_mg": row.dose_mg,
            "frequency": row.frequency,
            "period": row.period,
            "period_unit": row.period_unit,
            "start": row.start,
            "end": row.end,
            "outcome": row.outcome,
            "outcome_text": row.outcome_text,
        }
    elif kind == "observation":
        known = row.loinc in MEASURES
        values = {
            "loinc": row.loinc if known else "",
            "other_loinc": "" if known else row.loinc,
            "effective": row.effective_at,
            "value": row.value,
            "systolic": row.systolic,
            "diastolic": row.diastolic,
            "result": (row.value_text or "").lower() if row.value is None else "",
            "unit": "" if known else row.unit,
            "display": "" if known else row.display,
        }
    elif kind == "allergy":
        values = {
            "substance": row.substance,
            "system": row.system,
            "code": row.code,
            "clinical_status": _status_code(resource, "clinicalStatus"),
            "verification_status": row.verification_status,
            "recorded": row.recorded_date,
        }
    else:
        period = resource.get("performedPeriod") or {}
        values = {
            "system": row.system,
            "code": row.code,
            "display": row.display,
            "status": row.status,
            "performed": row.performed,
            "performed_end": period.get("end", "")[:10] if isinstance(period, dict) else "",
            "outcome": row.outcome,
            "outcome_text": _outcome_text(resource.get("outcome")),
        }
    return {name: _text(value) for name, value in values.items()}


def _outcome_text(concept: object) -> str:
    if isinstance(concept, dict) and isinstance(concept.get("text"), str):
        return str(concept["text"])
    return ""


# --- the "add" forms ----------------------------------------------------------------------------


Save = Callable[[Session, Actor, Clock, int, Submitted], list[ClinicalRow]]


@dataclass(frozen=True)
class NewForm:
    """One "add a record" page: /patients/{id}/<slug>/new and its POST /patients/{id}/<slug>."""

    slug: str
    title: str
    kind: str
    section: str
    roles: tuple[Role, ...]
    save: Save


def _one(kind: str) -> Save:
    def save(
        db: Session, actor: Actor, clock: Clock, patient_id: int, form: Submitted
    ) -> list[ClinicalRow]:
        values = READERS[kind](form)
        if isinstance(values, ConditionIn):
            return [records.add_condition(db, actor, clock, patient_id, values)]
        if isinstance(values, MedicationIn):
            return [records.add_medication(db, actor, clock, patient_id, values)]
        if isinstance(values, ObservationIn):
            return [records.add_observation(db, actor, clock, patient_id, values)]
        if isinstance(values, AllergyIn):
            return [records.add_allergy(db, actor, clock, patient_id, values)]
        return [records.add_procedure(db, actor, clock, patient_id, values)]

    return save


def save_vitals(
    db: Session, actor: Actor, clock: Clock, patient_id: int, form: Submitted
) -> list[ClinicalRow]:
    """Blood pressure, heart rate, SpO2 and weight taken together: one observation each."""
    effective = _effective(form)
    saved: list[ClinicalRow] = []
    systolic, diastolic = form.number("systolic"), form.number("diastolic")
    if systolic is not None or diastolic is not None:
        values = ObservationIn(BLOOD_PRESSURE, effective, systolic=systolic, diastolic=diastolic)
        saved.append(records.add_observation(db, actor, clock, patient_id, values))
    for name, loinc in VITALS_FIELDS.items():
        value = form.number(name)
        if value is None:
            continue
        try:
            single = ObservationIn(loinc, effective, value=value)
            saved.append(records.add_observation(db, actor, clock, patient_id, single))
        except InvalidInput as problem:
            # The service names the value "value"; the form has one field per measure.
            field = name if problem.field == "value" else problem.field
            raise InvalidInput(field, problem.message) from None
    if not saved:
        raise InvalidInput("systolic", "enter at least one measurement")
    return saved


NEW_FORMS: tuple[NewForm, ...] = (
    NewForm(
        "diagnoses", "Add a diagnosis", "condition", "diagnoses", PRESCRIBER, _one("condition")
    ),
    NewForm(
        "medications",
        "Add a medication trial",
        "medication",
        "trials",
        PRESCRIBER,
        _one("medication"),
    ),
    NewForm("vitals", "Record vitals", "vitals", "vitals", CLINICAL, save_vitals),
    NewForm(
        "labs", "Add a lab or scale result", "observation", "labs", CLINICAL, _one("observation")
    ),
    NewForm("allergies", "Add an allergy", "allergy", "allergies", PRESCRIBER, _one("allergy")),
    NewForm(
        "procedures", "Add a procedure", "procedure", "procedures", PRESCRIBER, _one("procedure")
    ),
)


def _now_field(clock: Clock) -> str:
    return clock.now().strftime("%Y-%m-%dT%H:%M")


def _blank(
    spec: NewForm, db: Session, clock: Clock, patient_id: int, after: int | None
) -> dict[str, str]:
    """A new form's first values; ``after``: a trial whose dose changes (same drug, from today)."""
    if spec.kind in ("vitals", "observation"):
        return {"effective": _now_field(clock)}
    if spec.kind == "medication" and after is not None:
        row = records.get_record(db, "medication", after)
        if row.patient_id != patient_id:
            raise NotFound(f"no medication {after} for patient {patient_id}")
        filled = filled_from("medication", row)
        keep = ("name", "rxnorm", "frequency", "period", "period_unit")
        return {
            **{k: filled[k] for k in keep},
            "start": clock.now().date().isoformat(),
            "status": "active",
        }
    if spec.kind == "medication":
        return {"status": "completed", "frequency": "1", "period": "1", "period_unit": "d"}
    return {}


def _form_page(
    request: Request,
    spec: NewForm,
    patient: Any,
    form: dict[str, str],
    errors: dict[str, str],
    clock: Clock,
) -> HTMLResponse:
    context = {
        "spec_title": spec.title,
        "fields_template": f"_form_{spec.kind}.html",
        "action": f"/patients/{patient.id}/{spec.slug}",
        "cancel": f"/patients/{patient.id}#{spec.section}",
        "patient": patient,
        "form": form,
        "errors": errors,
        "choices": CHOICES,
        "correcting": None,
        "today": clock.now().date(),
        "show_pressure": False,
    }
    return render(request, "record_form.html", context, 422 if errors else 200)


def _add_routes(spec: NewForm) -> None:
    def new_form(
        request: Request,
        patient_id: int,
        db: SessionDep,
        clock: ClockDep,
        audit: AuditDep,
        actor: Actor = Depends(require_roles(*spec.roles)),  # noqa: B008
        after: int | None = None,
    ) -> HTMLResponse:
        patient = patients.get_patient(db, patient_id)
        audit("read", f"{spec.slug} form", patient_id)
        return _form_page(
            request, spec, patient, _blank(spec, db, clock, patient_id, after), {}, clock
        )

    async def add(
        request: Request,
        patient_id: int,
        db: SessionDep,
        clock: ClockDep,
        audit: AuditDep,
        actor: Actor = Depends(require_roles(*spec.roles)),  # noqa: B008
    ) -> Response:
        form = await Submitted.of(request)
        patient = patients.get_patient(db, patient_id)
        try:
            with db.begin_nested():
                saved = spec.save(db, actor, clock, patient_id, form)
        except InvalidInput as problem:
            audit("read", f"{spec.slug} form (refused)", patient_id)
            return _form_page(request, spec, patient, form.values, errors_of(problem), clock)
        for row in saved:
            audit("write", f"add {_kind_of(row)} {row.id}", patient_id)
        return RedirectResponse(f"/patients/{patient_id}#{spec.section}", status_code=303)

    router.add_api_route(
        f"/patients/{{patient_id}}/{spec.slug}/new",
        new_form,
        methods=["GET"],
        response_class=HTMLResponse,
        name=f"new_{spec.slug}_form",
    )
    router.add_api_route(
        f"/patients/{{patient_id}}/{spec.slug}",
        add,
        methods=["POST"],
        response_class=HTMLResponse,
        name=f"add_{spec.slug}",
    )


def _kind_of(row: ClinicalRow) -> str:
    return next(kind for kind, model in MODELS.items() if isinstance(row, model))


for _spec in NEW_FORMS:
    _add_routes(_spec)


# --- history, correction, entered-in-error ------------------------------------------------------


def _record(db: Session, actor: Actor, kind: str, record_id: int, *, writing: bool) -> ClinicalRow:
    if kind not in WRITERS:
        raise NotFound(f"no record type {kind!r}")
    if writing and not may(actor, WRITERS[kind]):
        raise Forbidden(f"a {actor.role.replace('_', ' ')} may not change a {KIND_WORDS[kind]}")
    return records.get_record(db, kind, record_id)


@router.get("/records/{kind}/{record_id}/history", response_class=HTMLResponse)
def record_history(
    request: Request,
    kind: str,
    record_id: int,
    db: SessionDep,
    actor: Clinician,
    audit: AuditDep,
) -> HTMLResponse:
    row = _record(db, actor, kind, record_id, writing=False)
    versions = records.record_history(db, kind, record_id)
    audit("read", f"history {kind} {record_id}", row.patient_id)
    context = {
        "kind": kind,
        "kind_words": KIND_WORDS[kind],
        "patient": patients.get_patient(db, row.patient_id),
        "versions": [(v, _pretty(v.resource)) for v in reversed(versions)],
        "names": staff_names(db, [v.recorded_by_id for v in versions]),
        "may_write": may(actor, WRITERS[kind]),
        "current": next((v for v in versions if v.state == "current"), None),
    }
    return render(request, "record_history.html", context)


def _pretty(resource: str) -> str:
    return orjson.dumps(orjson.loads(resource), option=orjson.OPT_INDENT_2).decode()


def _correct_page(
    request: Request,
    kind: str,
    row: ClinicalRow,
    patient: Any,
    form: dict[str, str],
    errors: dict[str, str],
    clock: Clock,
) -> HTMLResponse:
    loinc = form.get("loinc") or form.get("other_loinc")
    context = {
        "spec_title": f"Correct a {KIND_WORDS[kind]}",
        "fields_template": f"_form_{kind}.html",
        "action": f"/records/{kind}/{row.id}/correct",
        "cancel": f"/patients/{row.patient_id}",
        "patient": patient,
        "form": form,
        "errors": errors,
        "choices": CHOICES,
        "correcting": row,
        "kind": kind,
        "today": clock.now().date(),
        "show_pressure": kind == "observation" and loinc == BLOOD_PRESSURE,
    }
    return render(request, "record_form.html", context, 422 if errors else 200)


@router.get("/records/{kind}/{record_id}/correct", response_class=HTMLResponse)
def correct_form(
    request: Request,
    kind: str,
    record_id: int,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> HTMLResponse:
    row = _record(db, actor, kind, record_id, writing=True)
    audit("read", f"correct form {kind} {record_id}", row.patient_id)
    patient = patients.get_patient(db, row.patient_id)
    filled = filled_from(kind, row)
    if isinstance(row, ObservationRecord) and row.systolic is not None:
        filled["loinc"] = BLOOD_PRESSURE
    return _correct_page(request, kind, row, patient, filled, {}, clock)


@router.post("/records/{kind}/{record_id}/correct", response_class=HTMLResponse)
async def correct(
    request: Request,
    kind: str,
    record_id: int,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    row = _record(db, actor, kind, record_id, writing=True)
    form = await Submitted.of(request)
    try:
        with db.begin_nested():
            values = READERS[kind](form)
            new = records.correct_record(
                db, actor, clock, kind, record_id, values, form.words("reason")
            )
    except InvalidInput as problem:
        audit("read", f"correct form {kind} {record_id} (refused)", row.patient_id)
        patient = patients.get_patient(db, row.patient_id)
        return _correct_page(request, kind, row, patient, form.values, errors_of(problem), clock)
    audit("write", f"correct {kind} {record_id} -> {new.id}", row.patient_id)
    return RedirectResponse(f"/records/{kind}/{new.id}/history", status_code=303)


@router.post("/records/{kind}/{record_id}/entered-in-error", response_class=HTMLResponse)
async def entered_in_error(
    request: Request,
    kind: str,
    record_id: int,
    db: SessionDep,
    clock: ClockDep,
    actor: Clinician,
    audit: AuditDep,
) -> Response:
    row = _record(db, actor, kind, record_id, writing=True)
    form = await Submitted.of(request)
    try:
        with db.begin_nested():
            marked = records.mark_entered_in_error(
                db, actor, clock, kind, record_id, form.words("error_reason")
            )
    except InvalidInput as problem:
        audit("read", f"correct form {kind} {record_id} (refused)", row.patient_id)
        patient = patients.get_patient(db, row.patient_id)
        errors = errors_of(problem, {"reason": "error_reason"})
        return _correct_page(
            request, kind, row, patient, filled_from(kind, row) | form.values, errors, clock
        )
    audit("write", f"entered-in-error {kind} {record_id} -> {marked.id}", row.patient_id)
    return RedirectResponse(f"/records/{kind}/{marked.id}/history", status_code=303)


# --- the trial outcome, taken in the interview (inline on the chart's trial row) ----------------


def _medication(db: Session, record_id: int) -> MedicationRecord:
    row = records.get_record(db, "medication", record_id)
    assert isinstance(row, MedicationRecord)
    return row


def _outcome_context(row: MedicationRecord, form: dict[str, str], errors: dict[str, str]) -> JSON:
    return {
        "record": row,
        "dose": dose_words(row),
        "form": form,
        "errors": errors,
        "outcomes": OUTCOME_CHOICES,
    }


def _outcome_form(
    request: Request,
    row: MedicationRecord,
    form: dict[str, str],
    errors: dict[str, str],
    db: Session,
) -> Response:
    status = 422 if errors else 200
    context = _outcome_context(row, form, errors)
    if is_htmx(request):
        response = render(request, "_trial_outcome_row.html", context, status)
        # The form was posted to replace the whole trials section; a refusal replaces the row.
        response.headers["HX-Retarget"] = f"#trial-row-{row.id}"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    context["patient"] = patients.get_patient(db, row.patient_id)
    return render(request, "trial_outcome.html", context, status)


@router.get("/records/medication/{record_id}/outcome", response_class=HTMLResponse)
def trial_outcome_form(
    request: Request, record_id: int, db: SessionDep, actor: Prescriber, audit: AuditDep
) -> Response:
    row = _medication(db, record_id)
    audit("read", f"outcome form medication {record_id}", row.patient_id)
    form = {
        "outcome": row.outcome or "",
        "outcome_text": row.outcome_text or "",
        "reason": "trial outcome taken in the interview",
    }
    return _outcome_form(request, row, form, {}, db)


@router.post("/records/medication/{record_id}/outcome", response_class=HTMLResponse)
async def record_trial_outcome(
    request: Request,
    record_id: int,
    db: SessionDep,
    clock: ClockDep,
    actor: Prescriber,
    audit: AuditDep,
) -> Response:
    row = _medication(db, record_id)
    form = await Submitted.of(request)
    try:
        with db.begin_nested():
            new = records.record_trial_outcome(
                db,
                actor,
                clock,
                record_id,
                form.text("outcome"),
                form.text("outcome_text"),
                reason=form.words("reason"),
            )
    except InvalidInput as problem:
        audit("read", f"outcome form medication {record_id} (refused)", row.patient_id)
        return _outcome_form(request, row, form.values, errors_of(problem), db)
    audit("write", f"trial outcome medication {record_id} -> {new.id}", row.patient_id)
    if is_htmx(request):
        chart = charting.chart(db, row.patient_id)
        audit("read", "chart trials", row.patient_id)
        context = trials_context(chart, actor, clock.now().date())
        return render(request, "_chart_trials.html", context)
    return RedirectResponse(f"/patients/{row.patient_id}#trials", status_code=303)
