"""Rows for the REMS and home-programme tests, inserted directly: a plan (with its version) and
an esketamine session discharged with its doses, vitals, scores and discharge.

The plan and sessions services are built at the same time by other helpers, so these tests do
not go through them; every value here is written by hand and the tests expect what follows from
these values by the facts (clinical-facts.md), worked out by hand beside each test.

The model session (``EsketamineSession`` defaults), on 2026-11-02:
  pre-dose check 09:00 "go", blood pressure 128/82, no benzodiazepine today
  vitals 09:05 128/82 HR 72 SpO2 98 RR 14 (before dosing)
  devices 09:10 and 09:15, 28 mg each, lot ESK-2611
  MOAA/S 09:40 = 4; CADSS 09:50 = 6; vitals 09:50 142/88 HR 80 SpO2 97 RR 14
  MOAA/S 10:20 = 5; vitals 11:10 126/80 HR 70 SpO2 98 RR 14
  discharged 11:15 by the nurse, checklist passed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import orjson

from ketaclinic.services.charting import screen_patient
from ketaclinic.store.models import (
    AdverseEvent,
    Discharge,
    PlanVersion,
    PredoseCheck,
    SessionDose,
    SessionScore,
    SessionVitals,
    TreatmentPlan,
    TreatmentSession,
)
from tests.integration.services_support import Clinic


def plan_row(
    clinic: Clinic,
    patient_id: int,
    route: str,
    dose_mg: float | None,
    *,
    status: str = "active",
    screening_id: int | None = None,
) -> int:
    """A plan by ``route`` whose current version gives ``dose_mg``; on ``screening_id``, or on a
    screening run now."""
    now = clinic.clock.now()
    with clinic.work() as s:
        if screening_id is None:
            screening_id = screen_patient(s, clinic.prescriber, clinic.clock, patient_id, "iv").id
        plan = TreatmentPlan(
            patient_id=patient_id,
            route=route,
            indication="treatment_resistant_depression",
            screening_id=screening_id,
            status=status,
            version=1,
            integration_sessions=False,
            created_at=now,
            created_by_id=clinic.prescriber.user_id,
            started_at=now if status == "active" else None,
        )
        s.add(plan)
        s.flush()
        s.add(
            PlanVersion(
                plan_id=plan.id,
                version=1,
                dose_mg=dose_mg,
                dose="{}",
                schedule="[]",
                cost="{}",
                created_at=now,
                created_by_id=clinic.prescriber.user_id,
            )
        )
        return plan.id


def at(day: date, hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return datetime(day.year, day.month, day.day, int(hours), int(minutes))


Reading = tuple[str, float | None, float | None, float | None, float | None, float | None]


@dataclass
class EsketamineSession:
    """The session as recorded at the chair; change a field to make another case."""

    day: date = date(2026, 11, 2)
    number: int = 1
    predose_at: str = "09:00"
    predose_bp: tuple[float, float] = (128, 82)
    predose_decision: str = "go"
    predose_confirmed: bool = False
    benzodiazepine_today: bool = False
    devices: list[tuple[str, float]] = field(default_factory=lambda: [("09:10", 28), ("09:15", 28)])
    lot: str = "ESK-2611"
    # time, systolic, diastolic, heart rate, SpO2, respiratory rate
    vitals: list[Reading] = field(
        default_factory=lambda: [
            ("09:05", 128, 82, 72, 98, 14),
            ("09:50", 142, 88, 80, 97, 14),
            ("11:10", 126, 80, 70, 98, 14),
        ]
    )
    scores: list[tuple[str, str, int]] = field(
        default_factory=lambda: [
            ("09:40", "moaas", 4),
            ("09:50", "cadss", 6),
            ("10:20", "moaas", 5),
        ]
    )
    adverse: list[tuple[str, str]] = field(default_factory=list)  # (kind, severity)
    discharged_at: str = "11:15"
    blockers: list[dict[str, str]] = field(default_factory=list)
    state: str = "discharged"


def esketamine_session(
    clinic: Clinic, patient_id: int, plan_id: int, given: EsketamineSession | None = None
) -> int:
    """Insert the session's rows as the sessions service would have; its id."""
    g = given or EsketamineSession()
    nurse = clinic.nurse.user_id
    first = at(g.day, g.devices[0][0])
    ended = at(g.day, g.discharged_at)
    with clinic.work() as s:
        treatment = TreatmentSession(
            plan_id=plan_id,
            patient_id=patient_id,
            kind="dosing",
            number=g.number,
            phase="induction",
            planned_on=g.day,
            chair="Chair 1",
            planned_mg=56,
            state=g.state,
            state_at=ended,
            checked_in_at=at(g.day, "08:50"),
            dosing_started_at=first,
            dosing_ended_at=at(g.day, g.devices[-1][0]),
            observation_ends_at=at(g.day, "11:10"),
            discharged_at=ended if g.state == "discharged" else None,
            created_at=at(g.day, "08:00"),
        )
        s.add(treatment)
        s.flush()
        s.add(
            PredoseCheck(
                session_id=treatment.id,
                at=at(g.day, g.predose_at),
                by_id=nurse,
                systolic=g.predose_bp[0],
                diastolic=g.predose_bp[1],
                fasting_confirmed=True,
                rems_confirmed=True,
                escort_confirmed=True,
                benzodiazepine_today=g.benzodiazepine_today,
                decision=g.predose_decision,
                reasons="[]",
                confirmed_by_id=clinic.prescriber.user_id if g.predose_confirmed else None,
                confirmed_at=at(g.day, g.predose_at) if g.predose_confirmed else None,
            )
        )
        for number, (hhmm, mg) in enumerate(g.devices, start=1):
            s.add(
                SessionDose(
                    session_id=treatment.id,
                    drug="esketamine",
                    route="esketamine",
                    dose_mg=mg,
                    lot=g.lot,
                    device_number=number,
                    started_at=at(g.day, hhmm),
                    recorded_at=at(g.day, hhmm),
                    recorded_by_id=nurse,
                )
            )
        for hhmm, systolic, diastolic, heart, spo2, breaths in g.vitals:
            s.add(
                SessionVitals(
                    session_id=treatment.id,
                    taken_at=at(g.day, hhmm),
                    systolic=systolic,
                    diastolic=diastolic,
                    heart_rate=heart,
                    spo2=spo2,
                    respiratory_rate=breaths,
                    recorded_at=at(g.day, hhmm),
                    recorded_by_id=nurse,
                )
            )
        for hhmm, scale, score in g.scores:
            s.add(
                SessionScore(
                    session_id=treatment.id,
                    scale=scale,
                    score=score,
                    taken_at=at(g.day, hhmm),
                    recorded_at=at(g.day, hhmm),
                    recorded_by_id=nurse,
                )
            )
        for kind, severity in g.adverse:
            s.add(
                AdverseEvent(
                    session_id=treatment.id,
                    patient_id=patient_id,
                    kind=kind,
                    severity=severity,
                    onset_at=at(g.day, "09:30"),
                    recorded_at=at(g.day, "09:30"),
                    recorded_by_id=nurse,
                )
            )
        if g.state == "discharged":
            s.add(
                Discharge(
                    session_id=treatment.id,
                    at=ended,
                    by_id=nurse,
                    alert_and_oriented=True,
                    escort_present=True,
                    no_driving_acknowledged=True,
                    blockers=orjson.dumps(g.blockers).decode(),
                )
            )
        return treatment.id
