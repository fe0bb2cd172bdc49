"""Screening a stored record, signing and overriding it, and the chart that shows it all.

A screening runs the same engine as the command line (``services.screening.screen_bundle``) on
a FHIR Bundle built from the patient's current rows, and keeps that bundle: the saved screening
can be replayed and gives the same answer. In that bundle each resource's id is its row's id in
its table, so evidence such as ``Condition/12`` names row 12 of the conditions (``Patient/5`` is
patient 5; MedicationStatement and MedicationRequest ids are rows of the medications table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import ketaclinic
from ketaclinic.policy import DEFAULT, Policy
from ketaclinic.services import who_may
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Conflict, InvalidInput, NotFound
from ketaclinic.services.patients import get_patient
from ketaclinic.services.record_rows import MODELS
from ketaclinic.services.records import CurrentRecords, current_records
from ketaclinic.services.records_forms import BLOOD_PRESSURE, MEASURES
from ketaclinic.services.screening import as_route, screen_bundle
from ketaclinic.services.vitals import check_text
from ketaclinic.store.models import (
    AllergyRecord,
    ConditionRecord,
    MedicationRecord,
    ObservationRecord,
    Patient,
    ProcedureRecord,
    Screening,
    ScreeningOverride,
    ScreeningSignature,
)

JSON = dict[str, Any]
DECISIONS = ("eligible", "eligible_with_precautions", "not_eligible", "needs_information")
# Source: issue 4, "Services": an override needs a written justification of at least 20
# characters (counted without leading and trailing spaces).
MINIMUM_JUSTIFICATION = 20
PATIENT_IDENTIFIER = "http://ketaclinic.org/fhir/NamingSystem/mrn"


def patient_resource(patient: Patient) -> JSON:
    """The Patient resource of a screening bundle, from the demographics."""
    return {
        "resourceType": "Patient",
        "id": str(patient.id),
        "identifier": [{"system": PATIENT_IDENTIFIER, "value": patient.mrn}],
        "name": [{"family": patient.family_name, "given": [patient.given_name]}],
        "gender": patient.sex,
        "birthDate": patient.birth_date.isoformat(),
    }


def screening_bundle(patient: Patient, records: CurrentRecords) -> bytes:
    """A FHIR Bundle of the patient and every current record (see the module docstring)."""
    entries: list[JSON] = [{"resource": patient_resource(patient)}]
    for row in records.all():
        resource = orjson.loads(row.resource)
        resource["id"] = str(row.id)
        entries.append({"resource": resource})
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "id": f"patient-{patient.id}",
        "entry": entries,
    }
    return orjson.dumps(bundle)


def screen_patient(
    session: Session,
    actor: Actor,
    clock: Clock,
    patient_id: int,
    route: str,
    as_of: date | None = None,
    policy: Policy = DEFAULT,
) -> Screening:
    """Run the engine on the stored record and save the result (prescriber only)."""
    who_may.require(actor, who_may.PRESCRIBER, "screen patients", system=False)
    try:
        checked_route = as_route(route)
    except ValueError as error:
        raise InvalidInput("route", str(error)) from None
    patient = get_patient(session, patient_id)
    day = as_of or clock.now().date()
    data = screening_bundle(patient, current_records(session, patient_id))
    output = screen_bundle(data, route=checked_route, as_of=day, policy=policy)
    screening = Screening(
        patient_id=patient_id,
        route=checked_route,
        as_of=day,
        decision=output["decision"],
        input_bundle=data.decode(),
        output=orjson.dumps(output).decode(),
        policy_name=output["policy"]["name"],
        policy_sha256=output["policy"]["sha256"],
        engine_version=ketaclinic.__version__,
        run_by_id=actor.user_id,
        created_at=clock.now(),
        # Known to be none yet: shown after the session closes without a lazy load.
        signature=None,
        override=None,
    )
    session.add(screening)
    session.flush()
    return screening


def get_screening(session: Session, screening_id: int) -> Screening:
    screening = session.get(Screening, screening_id)
    if screening is None:
        raise NotFound(f"no screening {screening_id}")
    return screening


def screenings_of(session: Session, patient_id: int) -> list[Screening]:
    """The patient's screenings, newest first."""
    query = (
        select(Screening)
        .where(Screening.patient_id == patient_id)
        .order_by(Screening.created_at.desc(), Screening.id.desc())
    )
    return list(session.scalars(query).all())


def latest_screening(session: Session, patient_id: int) -> Screening | None:
    found = screenings_of(session, patient_id)
    return found[0] if found else None


def output_of(screening: Screening) -> JSON:
    """The contract's JSON object the engine gave."""
    loaded: JSON = orjson.loads(screening.output)
    return loaded


def _flush_once(session: Session, what: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        # Two prescribers at the same moment: the first one stands, this one is rolled back.
        raise Conflict(f"this screening has been {what} already") from None


def sign_screening(
    session: Session, actor: Actor, clock: Clock, screening_id: int
) -> ScreeningSignature:
    who_may.require(actor, who_may.PRESCRIBER, "sign screenings", system=False)
    screening = get_screening(session, screening_id)
    if screening.signature is not None:
        raise Conflict("this screening has been signed already")
    assert actor.user_id is not None  # a prescriber is a user
    signature = ScreeningSignature(
        screening_id=screening.id, signed_by_id=actor.user_id, signed_at=clock.now()
    )
    session.add(signature)
    _flush_once(session, "signed")
    session.refresh(screening, ["signature"])
    return signature


def override_screening(
    session: Session,
    actor: Actor,
    clock: Clock,
    screening_id: int,
    decision: str,
    justification: str,
) -> ScreeningOverride:
    """The prescriber's decision in place of the engine's, with the written reason."""
    who_may.require(actor, who_may.PRESCRIBER, "override screenings", system=False)
    screening = get_screening(session, screening_id)
    if decision not in DECISIONS:
        raise InvalidInput("decision", f"must be one of {', '.join(DECISIONS)}")
    if decision == screening.decision:
        raise InvalidInput("decision", "is the engine's decision already: nothing to override")
    written = (justification or "").strip()
    if len(written) < MINIMUM_JUSTIFICATION:
        raise InvalidInput(
            "justification",
            f"must be at least {MINIMUM_JUSTIFICATION} characters (got {len(written)})",
        )
    check_text("justification", written, limit=5000)
    if screening.override is not None:
        raise Conflict("this screening has been overridden already")
    assert actor.user_id is not None
    override = ScreeningOverride(
        screening_id=screening.id,
        decision=decision,
        justification=written,
        overridden_by_id=actor.user_id,
        overridden_at=clock.now(),
    )
    session.add(override)
    _flush_once(session, "overridden")
    session.refresh(screening, ["override"])
    return override


@dataclass(frozen=True)
class EffectiveDecision:
    """The decision that stands, shown with its justification wherever it is shown."""

    decision: str
    engine_decision: str
    overridden: bool
    justification: str | None = None
    overridden_by_id: int | None = None
    overridden_at: datetime | None = None


def effective_decision(screening: Screening) -> EffectiveDecision:
    override = screening.override
    if override is None:
        return EffectiveDecision(screening.decision, screening.decision, overridden=False)
    return EffectiveDecision(
        decision=override.decision,
        engine_decision=screening.decision,
        overridden=True,
        justification=override.justification,
        overridden_by_id=override.overridden_by_id,
        overridden_at=override.overridden_at,
    )


def is_stale(session: Session, screening: Screening) -> bool:
    """Signed, and a record of the patient was added, corrected or marked in error since."""
    signature = screening.signature
    if signature is None:
        return False
    for model in MODELS.values():
        query: Any = (
            select(model.id)
            .where(
                model.patient_id == screening.patient_id, model.recorded_at > signature.signed_at
            )
            .limit(1)
        )
        if session.scalar(query) is not None:
            return True
    return False


# --- the chart -------------------------------------------------------------------------------

ObservationGroup = Literal["vital", "lab", "scale"]
_VITALS = frozenset({BLOOD_PRESSURE, "55284-4", "8480-6", "8462-4", "2708-6"}) | frozenset(
    code for code, m in MEASURES.items() if m.category == "vital-signs"
)
_SCALES = frozenset(code for code, m in MEASURES.items() if m.category == "survey") | frozenset(
    {"44249-1", "69737-5"}
)


def observation_group(row: ObservationRecord) -> ObservationGroup:
    if row.loinc in _VITALS:
        return "vital"
    if row.loinc in _SCALES:
        return "scale"
    return "lab"


@dataclass(frozen=True)
class TrialLine:
    """One drug's prescriptions, in time order, for the trial timeline."""

    ingredient: str
    prescriptions: list[MedicationRecord]

    @property
    def first_start(self) -> date | None:
        starts = [p.start for p in self.prescriptions if p.start is not None]
        return min(starts) if starts else None


@dataclass(frozen=True)
class ScreeningSummary:
    screening: Screening
    decision: EffectiveDecision
    stale: bool


@dataclass(frozen=True)
class Chart:
    patient: Patient
    diagnoses: list[ConditionRecord] = field(default_factory=list)
    trials: list[TrialLine] = field(default_factory=list)
    vitals: list[ObservationRecord] = field(default_factory=list)
    labs: list[ObservationRecord] = field(default_factory=list)
    scales: list[ObservationRecord] = field(default_factory=list)
    allergies: list[AllergyRecord] = field(default_factory=list)
    procedures: list[ProcedureRecord] = field(default_factory=list)
    latest_screening: ScreeningSummary | None = None


def _trials(medications: list[MedicationRecord]) -> list[TrialLine]:
    grouped: dict[str, list[MedicationRecord]] = {}
    for row in medications:
        key = row.ingredient or row.name.strip().lower()
        grouped.setdefault(key, []).append(row)
    lines = [
        TrialLine(key, sorted(rows, key=lambda r: (r.start or date.min, r.id)))
        for key, rows in grouped.items()
    ]
    return sorted(lines, key=lambda line: (line.first_start or date.min, line.ingredient))


def _newest_first(rows: list[ObservationRecord]) -> list[ObservationRecord]:
    return sorted(rows, key=lambda r: (r.effective_at or datetime.min, r.id), reverse=True)


def chart(session: Session, patient_id: int) -> Chart:
    """What the chart page and the API show: demographics and every current record."""
    patient = get_patient(session, patient_id)
    records = current_records(session, patient_id)
    observations = _newest_first(records.observations)
    latest = latest_screening(session, patient_id)
    summary = (
        None
        if latest is None
        else ScreeningSummary(latest, effective_decision(latest), is_stale(session, latest))
    )
    return Chart(
        patient=patient,
        diagnoses=records.conditions,
        trials=_trials(records.medications),
        vitals=[o for o in observations if observation_group(o) == "vital"],
        labs=[o for o in observations if observation_group(o) == "lab"],
        scales=[o for o in observations if observation_group(o) == "scale"],
        allergies=records.allergies,
        procedures=sorted(records.procedures, key=lambda r: (r.performed or date.min, r.id)),
        latest_screening=summary,
    )
