"""The session workflow through the services, on SQLite and PostgreSQL (issue 5).

Patients come from plan_support: a woman of 40, 80 kg, 118/76, negative hCG 3 days before the
clinic's day (2026-11-01, 09:00). The IV plan gives 0.5 mg/kg = 40 mg over 40 minutes; the
esketamine plan 56 mg (two 28 mg devices). Expected values are from issue 5 and
clinical-facts.md: alerts above 180 systolic, above 110 diastolic, below 92 % SpO2, above 120 or
below 50 heart rate; esketamine observed 120 minutes from the first device, IV 60 minutes from
the end of the infusion (policy default of Seeds' 30-60).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from ketaclinic.services import sessions as svc
from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput
from ketaclinic.services.ledger import ReceiptIn, define_product, receive
from ketaclinic.services.records import add_condition
from ketaclinic.services.records_forms import ConditionIn
from ketaclinic.services.session_forms import (
    AdverseEventIn,
    DischargeIn,
    DoseIn,
    VitalsIn,
)
from ketaclinic.store.models import (
    Discharge,
    LedgerEntry,
    SessionAlert,
    TreatmentSession,
)
from tests.integration.services_support import Clinic, open_clinic
from tests.integration.session_support import (
    ALL_CLEAR,
    CALM,
    GOOD_PREDOSE,
    Visit,
    new_visit,
    state_of,
    visit_in,
)
from tests.unit.test_session_states import ALLOWED, STATES

E = TypeVar("E", bound=Exception)


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


def do(clinic: Clinic, action: Callable[..., Any], *args: Any, who: str = "nurse") -> Any:
    with clinic.work() as s:
        return action(s, clinic.actors[who], clinic.clock, *args)  # type: ignore[index]


def refused(clinic: Clinic, error: type[E], action: Callable[..., Any], *args: Any,
            who: str = "nurse") -> E:  # fmt: skip
    """The action is refused with ``error`` and writes nothing."""
    before = clinic.counts()
    with pytest.raises(error) as caught:
        do(clinic, action, *args, who=who)
    assert clinic.counts() == before
    return caught.value


def events(clinic: Clinic, session_id: int) -> list[tuple[str, str]]:
    with clinic.work() as s:
        return [(e.from_state, e.to_state) for e in svc.events_of(s, session_id)]


# ---- every illegal transition -------------------------------------------------------------------

# The service that asks for each state (none asks for "scheduled").
MOVES: dict[str, Callable[[Clinic, int], Any]] = {
    "checked_in": lambda c, sid: do(c, svc.check_in, sid),
    "pre_dose_check": lambda c, sid: do(c, svc.run_predose_check, sid, GOOD_PREDOSE),
    "dosing": lambda c, sid: do(c, svc.record_dose, sid, DoseIn(40, lot="K-1")),
    "observation": lambda c, sid: do(c, svc.end_dosing, sid),
    "ready_for_discharge": lambda c, sid: do(c, svc.check_ready, sid),
    "discharged": lambda c, sid: do(
        c, svc.discharge, sid, replace(ALL_CLEAR, override_reason="seen"), who="prescriber"
    ),
    "cancelled": lambda c, sid: do(c, svc.cancel_session, sid, "moved"),
    "stopped": lambda c, sid: do(c, svc.stop_session, sid, "unwell"),
}
# Asking again for the state a session is in is not a move: the pre-dose check may be run again,
# more doses given, readiness asked again.
REPEATABLE = {"pre_dose_check", "dosing", "ready_for_discharge"}


def test_every_illegal_transition_is_refused_and_writes_nothing(clinic: Clinic) -> None:
    visits = {state: visit_in(clinic, state) for state in STATES}
    tried = 0
    for current, target in ((c, t) for c in STATES for t in MOVES):
        if (current, target) in ALLOWED or (current == target and target in REPEATABLE):
            continue
        sid = visits[current].session_id
        before = clinic.counts()
        with pytest.raises(Conflict):
            MOVES[target](clinic, sid)
        assert clinic.counts() == before, (current, target)
        assert state_of(clinic, sid) == current
        tried += 1
    # 9 x 8 pairs, less the 16 allowed and the 3 repeatable.
    assert tried == 72 - 16 - 3


def test_each_transition_writes_an_event_with_who_when_and_why(clinic: Clinic) -> None:
    visit = visit_in(clinic, "discharged")
    assert events(clinic, visit.session_id) == [
        ("scheduled", "checked_in"),
        ("checked_in", "pre_dose_check"),
        ("pre_dose_check", "dosing"),
        ("dosing", "observation"),
        ("observation", "ready_for_discharge"),
        ("ready_for_discharge", "discharged"),
    ]
    with clinic.work() as s:
        rows = svc.events_of(s, visit.session_id)
        assert {e.by_id for e in rows} == {clinic.nurse.user_id}
        assert rows[-1].reason == "Discharge checklist met."
        assert rows[-1].at == clinic.clock.now()


# ---- check-in and roles -------------------------------------------------------------------------


def test_front_desk_checks_in_and_cancels_only_before_check_in(clinic: Clinic) -> None:
    visit = new_visit(clinic)
    refused(clinic, Forbidden, svc.check_in, visit.session_id, who="admin")
    row = do(clinic, svc.check_in, visit.session_id, "Chair 3", who="front_desk")
    assert (row.state, row.chair, row.checked_in_at) == (
        "checked_in",
        "Chair 3",
        clinic.clock.now(),
    )
    refused(clinic, Forbidden, svc.run_predose_check, visit.session_id, GOOD_PREDOSE,
            who="front_desk")  # fmt: skip
    refused(clinic, Forbidden, svc.cancel_session, visit.session_id, "moved", who="front_desk")
    other = new_visit(clinic)
    assert do(clinic, svc.cancel_session, other.session_id, "rang", who="front_desk").state == (
        "cancelled"
    )


def test_a_session_planned_for_a_later_day_cannot_be_checked_in(clinic: Clinic) -> None:
    visit = new_visit(clinic)
    with clinic.work() as s:
        later = s.scalars(
            select(TreatmentSession.id).where(
                TreatmentSession.plan_id == visit.plan_id,
                TreatmentSession.planned_on > date(2026, 11, 1),
            )
        ).first()
    assert later is not None
    refused(clinic, Conflict, svc.check_in, later)


# ---- pre-dose check -----------------------------------------------------------------------------


def predose(clinic: Clinic, route: str = "iv", **changes: Any) -> tuple[Visit, Any]:
    visit = visit_in(clinic, "checked_in", route)
    check = do(clinic, svc.run_predose_check, visit.session_id, replace(GOOD_PREDOSE, **changes))
    return visit, check


def test_blood_pressure_above_160_over_90_stops_every_route(clinic: Clinic) -> None:
    visit, check = predose(clinic, "iv", systolic=161, diastolic=80)
    assert check.decision == "stop"
    assert state_of(clinic, visit.session_id) == "stopped"
    assert events(clinic, visit.session_id)[-2:] == [
        ("checked_in", "pre_dose_check"),
        ("pre_dose_check", "stopped"),
    ]
    visit, check = predose(clinic, "iv", systolic=160, diastolic=90)  # not above
    assert check.decision == "go"
    assert state_of(clinic, visit.session_id) == "pre_dose_check"


def test_esketamine_above_140_over_90_needs_a_prescriber(clinic: Clinic) -> None:
    _, check = predose(clinic, "esketamine", systolic=140, diastolic=90)
    assert check.decision == "go"
    visit, check = predose(clinic, "esketamine", systolic=141, diastolic=80)
    assert check.decision == "confirm"
    assert [r.id for r in svc.reasons_of(check)] == ["blood_pressure_elevated"]
    refused(clinic, Conflict, svc.record_dose, visit.session_id, DoseIn(28, lot="E-1"))
    refused(clinic, Forbidden, svc.confirm_predose, check.id, "rechecked")
    refused(clinic, InvalidInput, svc.confirm_predose, check.id, "  ", who="prescriber")
    done = do(clinic, svc.confirm_predose, check.id, "rechecked, 138/84", who="prescriber")
    assert (done.confirmed_by_id, done.confirmation_reason) == (
        clinic.prescriber.user_id,
        "rechecked, 138/84",
    )
    refused(clinic, Conflict, svc.confirm_predose, check.id, "again", who="prescriber")
    do(clinic, svc.record_dose, visit.session_id, DoseIn(28, lot="E-1"))
    assert state_of(clinic, visit.session_id) == "dosing"


def test_a_new_absolute_contraindication_stops_a_new_relative_one_needs_a_prescriber(
    clinic: Clinic,
) -> None:
    visit = visit_in(clinic, "checked_in")
    pregnant = ConditionIn("Z33.1", "Pregnant state, incidental")
    do(clinic, add_condition, visit.patient_id, pregnant, who="prescriber")
    check = do(clinic, svc.run_predose_check, visit.session_id, GOOD_PREDOSE)
    assert check.decision == "stop"
    assert "pregnancy" in [r.id for r in svc.reasons_of(check)]

    visit = visit_in(clinic, "checked_in")
    liver = ConditionIn("K74.60", "Unspecified cirrhosis of liver")
    do(clinic, add_condition, visit.patient_id, liver, who="prescriber")
    check = do(clinic, svc.run_predose_check, visit.session_id, GOOD_PREDOSE)
    assert check.decision == "confirm"
    assert [r.id for r in svc.reasons_of(check)] == ["hepatic_impairment"]


def test_a_stale_pregnancy_test_stops_the_session(clinic: Clinic) -> None:
    visit = visit_in(clinic, "checked_in")
    # The hCG was 3 days before 2026-11-01; 5 days on it is 8 days old (fresh within 7).
    clinic.clock.advance(days=5)
    check = do(clinic, svc.run_predose_check, visit.session_id, GOOD_PREDOSE)
    assert check.decision == "stop"
    assert "pregnancy_test_not_fresh" in [r.id for r in svc.reasons_of(check)]
    assert check.pregnancy_test_ok is False


def test_esketamine_needs_fasting_rems_and_an_escort(clinic: Clinic) -> None:
    # First, before any REMS row exists: neither the site's nor the patient's.
    visit = new_visit(clinic, "esketamine", rems=False)
    do(clinic, svc.check_in, visit.session_id)
    check = do(clinic, svc.run_predose_check, visit.session_id, GOOD_PREDOSE)
    assert check.decision == "stop"
    assert [r.id for r in svc.reasons_of(check)] == [
        "rems_site_not_certified",
        "rems_patient_not_enrolled",
    ]
    assert check.rems_confirmed is False
    _, check = predose(clinic, "esketamine", fasting_confirmed=False)
    assert [r.id for r in svc.reasons_of(check)] == ["fasting_not_confirmed"]
    _, check = predose(
        clinic, "esketamine", last_food_at=clinic.clock.now() - timedelta(minutes=90)
    )
    assert [r.id for r in svc.reasons_of(check)] == ["fasting_food"]
    _, check = predose(clinic, "iv", escort_confirmed=False)
    assert [r.id for r in svc.reasons_of(check)] == ["escort_not_confirmed"]
    _, check = predose(clinic, "esketamine")
    assert (check.decision, check.rems_confirmed, check.fasting_confirmed) == ("go", True, True)


def test_benzodiazepine_today_is_recorded(clinic: Clinic) -> None:
    _, check = predose(clinic, "iv", benzodiazepine_today=True)
    assert (check.decision, check.benzodiazepine_today) == ("go", True)


def test_bad_pre_dose_input_is_refused(clinic: Clinic) -> None:
    visit = visit_in(clinic, "checked_in")
    sid = visit.session_id
    no_pressure = replace(GOOD_PREDOSE, systolic=None, diastolic=None)
    assert refused(clinic, InvalidInput, svc.run_predose_check, sid, no_pressure).field == (
        "systolic"
    )
    high = replace(GOOD_PREDOSE, systolic=400)
    assert refused(clinic, InvalidInput, svc.run_predose_check, sid, high).field == "systolic"
    future = replace(GOOD_PREDOSE, taken_at=clinic.clock.now() + timedelta(minutes=1))
    assert refused(clinic, InvalidInput, svc.run_predose_check, sid, future).field == "taken_at"


# ---- doses --------------------------------------------------------------------------------------


def test_dose_must_be_a_number_in_the_past(clinic: Clinic) -> None:
    sid = visit_in(clinic, "pre_dose_check").session_id
    for bad in ("forty", "", "nan", True):
        error = refused(clinic, InvalidInput, svc.record_dose, sid, DoseIn(bad, lot="K-1"))
        assert error.field == "dose_mg"
    later = DoseIn(40, lot="K-1", started_at=clinic.clock.now() + timedelta(seconds=1))
    assert refused(clinic, InvalidInput, svc.record_dose, sid, later).field == "started_at"
    assert refused(clinic, InvalidInput, svc.record_dose, sid, DoseIn(40)).field == "lot"
    dose = do(clinic, svc.record_dose, sid, DoseIn("40", lot="K-1"))
    assert (dose.dose_mg, dose.drug, dose.route, dose.outside_plan) == (40, "ketamine", "iv", False)


def test_a_dose_outside_the_plan_needs_a_prescriber_with_a_reason(clinic: Clinic) -> None:
    sid = visit_in(clinic, "pre_dose_check").session_id
    refused(clinic, InvalidInput, svc.record_dose, sid, DoseIn(60, lot="K-1"))
    with_reason = DoseIn(60, lot="K-1", confirm_reason="tolerated 0.75 mg/kg before")
    refused(clinic, Forbidden, svc.record_dose, sid, with_reason)
    error = refused(clinic, InvalidInput, svc.record_dose, sid, DoseIn(60, lot="K-1"),
                    who="prescriber")  # fmt: skip
    assert error.field == "confirm_reason"
    dose = do(clinic, svc.record_dose, sid, with_reason, who="prescriber")
    assert (dose.outside_plan, dose.confirmed_by_id, dose.confirmation_reason) == (
        True,
        clinic.prescriber.user_id,
        "tolerated 0.75 mg/kg before",
    )


def test_a_dose_above_the_hard_maximum_is_refused_even_for_a_prescriber(clinic: Clinic) -> None:
    sid = visit_in(clinic, "pre_dose_check").session_id
    # 80 kg x 1.0 mg/kg (policy IV maximum) = 80 mg: 80 is allowed, 80.5 is not.
    above = DoseIn(80.5, lot="K-1", confirm_reason="asked for more")
    error = refused(clinic, InvalidInput, svc.record_dose, sid, above, who="prescriber")
    assert "above the maximum" in str(error)
    at_max = DoseIn(80, lot="K-1", confirm_reason="prescriber's decision")
    assert do(clinic, svc.record_dose, sid, at_max, who="prescriber").dose_mg == 80


def test_esketamine_devices_five_minutes_apart_and_the_observation_clock(clinic: Clinic) -> None:
    sid = visit_in(clinic, "pre_dose_check", "esketamine").session_id
    first_at = clinic.clock.now()
    first = do(clinic, svc.record_dose, sid, DoseIn(28, lot="E-1"))
    assert (first.device_number, first.drug) == (1, "esketamine")
    with clinic.work() as s:
        row = svc.get_treatment_session(s, sid)
        assert row.dosing_started_at == first_at
        assert row.observation_ends_at == first_at + timedelta(minutes=120)
    clinic.clock.advance(minutes=4, seconds=59)
    refused(clinic, InvalidInput, svc.record_dose, sid, DoseIn(28, lot="E-1"))
    clinic.clock.advance(seconds=1)
    assert do(clinic, svc.record_dose, sid, DoseIn(28, lot="E-1")).device_number == 2
    wrong = refused(clinic, InvalidInput, svc.record_dose, sid, DoseIn(56, lot="E-1"))
    assert wrong.field == "dose_mg"


def test_a_dose_with_a_ledger_lot_writes_the_ledger_entry(clinic: Clinic) -> None:
    sid = visit_in(clinic, "pre_dose_check").session_id
    with clinic.work() as s:
        product = define_product(s, clinic.nurse, clinic.clock, "ketamine",
                                 strength_mg_per_ml=50, volume_ml=10)  # fmt: skip
        lot_id = receive(s, clinic.nurse, clinic.clock, ReceiptIn(
            product.code, "K-77", date(2027, 6, 30), 2, "Acme", "RA1234563", "INV-1",
        )).lot_id  # fmt: skip
    dose = do(clinic, svc.record_dose, sid, DoseIn(40, lot_id=lot_id))
    with clinic.work() as s:
        entry = s.scalars(select(LedgerEntry).where(LedgerEntry.dose_ref == dose.id)).one()
        assert (entry.kind, entry.change_ug, entry.session_ref, entry.seq) == (
            "administered",
            -40_000,
            sid,
            dose.ledger_seq,
        )
        assert dose.lot == "K-77"


# ---- vitals and alerts --------------------------------------------------------------------------

BOUNDARIES = [
    # (reading, alert rule or None): each limit is "above" or "below", the limit itself is not.
    (VitalsIn(systolic=180, diastolic=100), None),
    (VitalsIn(systolic=181, diastolic=100), "systolic_high"),
    (VitalsIn(systolic=170, diastolic=110), None),
    (VitalsIn(systolic=170, diastolic=111), "diastolic_high"),
    (VitalsIn(spo2=92), None),
    (VitalsIn(spo2=91), "spo2_low"),
    (VitalsIn(heart_rate=120), None),
    (VitalsIn(heart_rate=121), "heart_rate_high"),
    (VitalsIn(heart_rate=50), None),
    (VitalsIn(heart_rate=49), "heart_rate_low"),
]


def test_each_alert_rule_at_its_boundary(clinic: Clinic) -> None:
    sid = visit_in(clinic, "dosing").session_id
    for reading, rule in BOUNDARIES:
        _, alerts = do(clinic, svc.record_vitals, sid, reading)
        assert [a.rule for a in alerts] == ([rule] if rule else []), reading


def test_vitals_outside_the_physiological_range_are_refused(clinic: Clinic) -> None:
    sid = visit_in(clinic, "dosing").session_id
    cases = [
        (VitalsIn(systolic=400, diastolic=80), "systolic"),
        (VitalsIn(systolic=120, diastolic=20), "diastolic"),
        (VitalsIn(systolic=80, diastolic=90), "diastolic"),  # diastolic above systolic
        (VitalsIn(systolic=120), "diastolic"),
        (VitalsIn(heart_rate=400), "heart_rate"),
        (VitalsIn(spo2=101), "spo2"),
        (VitalsIn(respiratory_rate=2), "respiratory_rate"),
        (VitalsIn(heart_rate="fast"), "heart_rate"),
        (VitalsIn(), "systolic"),
        (VitalsIn(spo2=97, taken_at=clinic.clock.now() + timedelta(minutes=5)), "taken_at"),
    ]
    for reading, name in cases:
        assert refused(clinic, InvalidInput, svc.record_vitals, sid, reading).field == name
    # The range ends are accepted.
    do(clinic, svc.record_vitals, sid, VitalsIn(systolic=300, diastolic=30, respiratory_rate=4))


def test_an_alert_stays_open_until_acknowledged_with_the_action(clinic: Clinic) -> None:
    sid = visit_in(clinic, "dosing").session_id
    _, (alert,) = do(clinic, svc.record_vitals, sid, VitalsIn(spo2=88))
    with clinic.work() as s:
        assert [a.id for a in svc.session_summary(s, clinic.clock, sid).open_alerts] == [alert.id]
    refused(clinic, InvalidInput, svc.acknowledge_alert, alert.id, " ")
    refused(clinic, Forbidden, svc.acknowledge_alert, alert.id, "oxygen", who="front_desk")
    done = do(clinic, svc.acknowledge_alert, alert.id, "jaw thrust, oxygen 2 L, SpO2 96")
    assert (done.action_taken, done.acknowledged_by_id, done.infusion_stopped) == (
        "jaw thrust, oxygen 2 L, SpO2 96",
        clinic.nurse.user_id,
        False,
    )
    refused(clinic, Conflict, svc.acknowledge_alert, alert.id, "again")
    with clinic.work() as s:
        assert svc.session_summary(s, clinic.clock, sid).open_alerts == []


def test_stopping_the_infusion_is_recorded_and_ends_dosing(clinic: Clinic) -> None:
    sid = visit_in(clinic, "dosing").session_id
    clinic.clock.advance(minutes=20)
    _, (alert,) = do(clinic, svc.record_vitals, sid, VitalsIn(systolic=190, diastolic=100))
    do(clinic, svc.acknowledge_alert, alert.id, "infusion stopped, prescriber called", True)
    now = clinic.clock.now()
    with clinic.work() as s:
        row = svc.get_treatment_session(s, sid)
        assert (row.state, row.dosing_ended_at, row.observation_ends_at) == (
            "observation",
            now,
            now + timedelta(minutes=60),
        )
        assert s.get_one(SessionAlert, alert.id).infusion_stopped is True
        assert svc.events_of(s, sid)[-1].reason == (
            "Infusion stopped: infusion stopped, prescriber called"
        )
    # There is no infusion left to stop.
    _, (again,) = do(clinic, svc.record_vitals, sid, VitalsIn(systolic=185, diastolic=100))
    refused(clinic, InvalidInput, svc.acknowledge_alert, again.id, "stop", True)


def test_overdue_vitals_are_flagged(clinic: Clinic) -> None:
    visit = visit_in(clinic, "dosing")
    start = clinic.clock.now()
    clinic.clock.advance(minutes=20)
    with clinic.work() as s:
        summary = svc.session_summary(s, clinic.clock, visit.session_id)
        assert summary.vitals_overdue == ()
        assert summary.next_vitals_due == start + timedelta(minutes=15)
    clinic.clock.advance(minutes=1)
    with clinic.work() as s:
        summary = svc.session_summary(s, clinic.clock, visit.session_id)
        assert summary.vitals_overdue == (start + timedelta(minutes=15),)
        assert summary.next_vitals_due == start + timedelta(minutes=30)
    do(clinic, svc.record_vitals, visit.session_id, CALM)  # at 21 minutes: too late for 15
    with clinic.work() as s:
        summary = svc.session_summary(s, clinic.clock, visit.session_id)
        assert summary.vitals_overdue == (start + timedelta(minutes=15),)


def test_scores_and_adverse_events(clinic: Clinic) -> None:
    sid = visit_in(clinic, "dosing").session_id
    assert do(clinic, svc.record_score, sid, "MOAA/S", 3).scale == "moaas"
    assert do(clinic, svc.record_score, sid, "cadss", "12").score == 12
    for scale, value, name in [
        ("moaas", 6, "score"), ("cadss", 93, "score"), ("cadss", -1, "score"),
        ("moaas", 2.5, "score"), ("rass", 1, "scale"),
    ]:  # fmt: skip
        assert refused(clinic, InvalidInput, svc.record_score, sid, scale, value).field == name
    event = do(clinic, svc.record_adverse_event, sid, AdverseEventIn("nausea", "mild"))
    assert (event.kind, event.severity) == ("nausea", "mild")
    respiratory = AdverseEventIn("respiratory depression", "severe", "RR 6")
    assert do(clinic, svc.record_adverse_event, sid, respiratory).kind == "respiratory_depression"
    for bad, name in [
        (AdverseEventIn("headache", "mild"), "kind"),
        (AdverseEventIn("nausea", "awful"), "severity"),
        (AdverseEventIn("other", "mild"), "description"),
    ]:
        assert refused(clinic, InvalidInput, svc.record_adverse_event, sid, bad).field == name


# ---- observation and discharge ------------------------------------------------------------------


def test_esketamine_discharge_refused_at_119_minutes_allowed_at_120(clinic: Clinic) -> None:
    sid = visit_in(clinic, "observation", "esketamine").session_id
    with clinic.work() as s:
        first_device = svc.get_treatment_session(s, sid).dosing_started_at
    assert first_device is not None
    clinic.clock.at = first_device + timedelta(minutes=119)
    do(clinic, svc.record_vitals, sid, CALM)
    do(clinic, svc.record_score, sid, "moaas", 5)
    assert state_of(clinic, sid) == "observation"
    error = refused(clinic, Conflict, svc.discharge, sid, ALL_CLEAR)
    assert isinstance(error, svc.DischargeRefused)
    assert [b.id for b in error.blockers] == ["observation_not_over"]
    clinic.clock.at = first_device + timedelta(minutes=120)
    with clinic.work() as s:
        assert svc.discharge_checklist(s, clinic.clock, sid, ALL_CLEAR) == []
    row = do(clinic, svc.discharge, sid, ALL_CLEAR)
    assert (row.state, row.discharged_at) == ("discharged", first_device + timedelta(minutes=120))
    assert events(clinic, sid)[-2:] == [
        ("observation", "ready_for_discharge"),
        ("ready_for_discharge", "discharged"),
    ]
    with clinic.work() as s:
        kept = s.scalars(select(Discharge).where(Discharge.session_id == sid)).one()
        assert (kept.blockers, kept.override_reason) == ("[]", None)


def test_iv_observation_is_60_minutes_from_the_end_of_the_infusion(clinic: Clinic) -> None:
    visit = visit_in(clinic, "dosing")
    clinic.clock.advance(minutes=40)
    do(clinic, svc.end_dosing, visit.session_id)
    ended = clinic.clock.now()
    clinic.clock.advance(minutes=59)
    do(clinic, svc.record_vitals, visit.session_id, CALM)
    do(clinic, svc.record_score, visit.session_id, "moaas", 5)
    assert state_of(clinic, visit.session_id) == "observation"
    clinic.clock.at = ended + timedelta(minutes=60)
    assert do(clinic, svc.check_ready, visit.session_id).state == "ready_for_discharge"


def test_the_checklist_items_and_the_prescribers_override(clinic: Clinic) -> None:
    sid = visit_in(clinic, "observation").session_id
    nothing = DischargeIn(False, False, False)
    with clinic.work() as s:
        unmet = [r.id for r in svc.discharge_checklist(s, clinic.clock, sid, nothing)]
    assert unmet == [
        "observation_not_over", "not_fully_alert", "not_oriented", "no_escort",
        "no_driving_not_acknowledged",
    ]  # fmt: skip
    override = replace(ALL_CLEAR, override_reason="transferred to the ward, observed there")
    refused(clinic, Forbidden, svc.discharge, sid, override)
    row = do(clinic, svc.discharge, sid, override, who="prescriber")
    assert row.state == "discharged"
    assert events(clinic, sid)[-1] == ("observation", "discharged")
    with clinic.work() as s:
        kept = s.scalars(select(Discharge).where(Discharge.session_id == sid)).one()
        assert kept.override_by_id == clinic.prescriber.user_id
        assert '"observation_not_over"' in kept.blockers


def test_an_alert_sends_a_ready_patient_back_to_observation(clinic: Clinic) -> None:
    sid = visit_in(clinic, "ready_for_discharge").session_id
    _, (alert,) = do(clinic, svc.record_vitals, sid, VitalsIn(heart_rate=130))
    assert state_of(clinic, sid) == "observation"
    refused(clinic, Conflict, svc.discharge, sid, ALL_CLEAR)
    do(clinic, svc.acknowledge_alert, alert.id, "rested, HR 88 on recheck")
    do(clinic, svc.record_vitals, sid, CALM)
    assert state_of(clinic, sid) == "ready_for_discharge"


def test_stop_and_cancel_keep_their_reason(clinic: Clinic) -> None:
    sid = visit_in(clinic, "dosing").session_id
    refused(clinic, InvalidInput, svc.stop_session, sid, "")
    row = do(clinic, svc.stop_session, sid, "vomiting, sent to emergency care")
    assert (row.state, row.stop_reason, row.dosing_ended_at) == (
        "stopped",
        "vomiting, sent to emergency care",
        clinic.clock.now(),
    )
    with clinic.work() as s:
        assert svc.events_of(s, sid)[-1].reason == "vomiting, sent to emergency care"


def test_the_board_lists_the_days_sessions_by_chair(clinic: Clinic) -> None:
    a = visit_in(clinic, "checked_in")  # Chair 1
    b = new_visit(clinic)
    do(clinic, svc.check_in, b.session_id, "A chair")
    c = new_visit(clinic)  # no chair yet
    with clinic.work() as s:
        found = svc.board(s, clinic.clock, date(2026, 11, 1))
        assert [x.id for x in found] == [b.session_id, a.session_id, c.session_id]
        assert [(x.state, x.chair) for x in found] == [
            ("checked_in", "A chair"),
            ("checked_in", "Chair 1"),
            ("scheduled", None),
        ]
