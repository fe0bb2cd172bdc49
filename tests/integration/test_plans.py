"""Treatment plans on both databases: refusals, dose from weight, series, versions, pause/end,
the review flag. Expected values are worked by hand from clinical-facts.md and issue 5."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import orjson
import pytest
from sqlalchemy.orm import Session

from ketaclinic.services.charting import override_screening, screen_patient, sign_screening
from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput
from ketaclinic.services.plans import (
    PlanRefused,
    change_plan,
    create_plan,
    current_version,
    end_plan,
    events_of,
    get_plan,
    pause_plan,
    plans_of,
    resume_plan,
    review_flag_of,
    sessions_of,
    versions_of,
)
from ketaclinic.services.records import add_observation
from ketaclinic.services.records_forms import ObservationIn
from ketaclinic.store.models import QuestionnaireResponse, TreatmentSession
from tests.integration.plan_support import active_plan, plan_in, ready_patient
from tests.integration.services_support import NOW, TODAY, Clinic, open_clinic


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


def make(clinic: Clinic, patient_id: int, route: str = "iv", **changes: object) -> int:
    values = plan_in(route, start_on=changes.pop("start_on", TODAY), **changes)  # type: ignore[arg-type]
    with clinic.work() as s:
        return create_plan(s, clinic.prescriber, clinic.clock, patient_id, values).id


def refusal_ids(clinic: Clinic, patient_id: int, route: str = "iv", **changes: object) -> set[str]:
    before = clinic.counts()
    with pytest.raises(PlanRefused) as refused:
        make(clinic, patient_id, route, **changes)
    assert clinic.counts() == before  # nothing written
    return {r.id for r in refused.value.reasons}


# ---- refusals -----------------------------------------------------------------------------------


def test_a_plan_needs_a_screening(clinic: Clinic) -> None:
    patient = clinic.register()
    assert refusal_ids(clinic, patient.id) == {"no_signed_screening"}


def test_an_unsigned_screening_does_not_allow_a_plan(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic, sign=False)
    assert refusal_ids(clinic, patient_id) == {"no_signed_screening"}


def test_a_screening_for_another_route_does_not_count(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic, "esketamine")
    assert refusal_ids(clinic, patient_id, "iv") == {"no_signed_screening"}


def high_blood_pressure(clinic: Clinic, s: Session, patient_id: int) -> None:
    """The latest two readings 170/100: uncontrolled hypertension (systolic > 160), absolute."""
    for hours in (2, 1):
        reading = ObservationIn(
            "85354-9", NOW - timedelta(hours=hours), systolic=170, diastolic=100
        )
        add_observation(s, clinic.nurse, clinic.clock, patient_id, reading)


def test_a_not_eligible_screening_refuses(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic, sign=False)
    with clinic.work() as s:
        high_blood_pressure(clinic, s, patient_id)
        screening = screen_patient(s, clinic.prescriber, clinic.clock, patient_id, "iv", TODAY)
        assert screening.decision == "not_eligible"
        sign_screening(s, clinic.prescriber, clinic.clock, screening.id)
    assert "screening_not_positive" in refusal_ids(clinic, patient_id)


def test_an_override_to_eligible_allows_a_plan(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic, sign=False)
    with clinic.work() as s:
        high_blood_pressure(clinic, s, patient_id)
        screening = screen_patient(s, clinic.prescriber, clinic.clock, patient_id, "iv", TODAY)
        sign_screening(s, clinic.prescriber, clinic.clock, screening.id)
    assert "screening_not_positive" in refusal_ids(clinic, patient_id)
    with clinic.work() as s:
        override_screening(
            s, clinic.prescriber, clinic.clock, screening.id, "eligible_with_precautions",
            "White-coat reading; home readings 128/82 all week",
        )  # fmt: skip
    assert make(clinic, patient_id) > 0


def test_a_screening_older_than_90_days_refuses_and_90_does_not(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic)
    # Screened on 2026-11-01: on 2027-01-30 it is 90 days old (allowed), on 2027-01-31 91.
    # The workup ages too, so only the screening's age is compared here.
    clinic.clock.advance(minutes=90 * 24 * 60)
    ids_90 = refusal_ids(clinic, patient_id, start_on=date(2027, 1, 30))
    assert "screening_too_old" not in ids_90
    clinic.clock.advance(minutes=24 * 60)
    ids_91 = refusal_ids(clinic, patient_id, start_on=date(2027, 1, 31))
    assert "screening_too_old" in ids_91


def test_an_incomplete_workup_refuses(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic, workup=False)
    with pytest.raises(PlanRefused) as refused:
        make(clinic, patient_id)
    [reason] = [r for r in refused.value.reasons if r.id == "workup_incomplete"]
    # No exam, ALT, creatinine, hCG (female of 40) or PHQ-9 recorded: each is named.
    for test in ("physical_exam", "liver_function", "renal_function", "pregnancy_test"):
        assert f"{test} missing" in reason.message


def test_an_indication_the_screening_did_not_find_refuses(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic)
    assert refusal_ids(clinic, patient_id, indication="fibromyalgia") == {"indication_not_screened"}


def test_only_a_prescriber_makes_plans(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic)
    with clinic.work() as s, pytest.raises(Forbidden):
        create_plan(s, clinic.nurse, clinic.clock, patient_id, plan_in(start_on=TODAY))


# ---- dose from weight ---------------------------------------------------------------------------


def test_iv_dose_is_mg_per_kg_times_the_latest_weight(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic, weight_kg=80.0)
    plan_id = make(clinic, patient_id, mg_per_kg=0.5, infusion_minutes=40)
    with clinic.factory() as s:
        plan = get_plan(s, plan_id)
        version = current_version(s, plan)
        # 0.5 mg/kg x 80 kg = 40 mg over 40 minutes (Sanacora 2017).
        assert (version.dose_mg, version.mg_per_kg, version.weight_kg) == (40.0, 0.5, 80.0)
        assert version.infusion_minutes == 40
        assert version.weight_on == TODAY - timedelta(days=2)
        assert (plan.status, plan.version) == ("awaiting_consent", 1)


def test_a_weight_31_days_old_refuses_and_30_does_not(clinic: Clinic) -> None:
    stale = ready_patient(clinic, weighed_days_ago=31)
    assert refusal_ids(clinic, stale) == {"weight_stale"}
    fresh = ready_patient(clinic, weighed_days_ago=30)
    assert make(clinic, fresh) > 0


def test_no_weight_refuses_an_iv_plan(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic, weight_kg=None)
    assert refusal_ids(clinic, patient_id) == {"weight_missing"}


def test_a_dose_above_the_maximum_is_bad_input(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic)
    before = clinic.counts()
    # Policy hard maximum for IV: 1.0 mg/kg; 1.0 itself is allowed (with a warning).
    with pytest.raises(InvalidInput) as bad:
        make(clinic, patient_id, mg_per_kg=1.01)
    assert bad.value.field == "mg_per_kg"
    assert clinic.counts() == before
    assert make(clinic, patient_id, mg_per_kg=1.0) > 0


def test_an_im_dose_is_capped_at_half_a_mg_per_kg(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic, "im", weight_kg=70.0)
    with pytest.raises(InvalidInput):
        make(clinic, patient_id, "im", mg_per_kg=0.6)
    plan_id = make(clinic, patient_id, "im", mg_per_kg=0.4)
    with clinic.factory() as s:
        assert current_version(s, get_plan(s, plan_id)).dose_mg == 28.0  # 0.4 x 70


def test_an_esketamine_dose_off_the_label_is_refused(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic, "esketamine")
    with pytest.raises(InvalidInput) as bad:
        make(clinic, patient_id, "esketamine", mg=70.0)
    assert bad.value.field == "mg"


def test_a_start_in_the_past_is_bad_input(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic)
    with pytest.raises(InvalidInput) as bad:
        make(clinic, patient_id, start_on=TODAY - timedelta(days=1))
    assert bad.value.field == "start_on"


# ---- series -------------------------------------------------------------------------------------


def planned(clinic: Clinic, plan_id: int) -> list[dict[str, object]]:
    with clinic.factory() as s:
        version = current_version(s, get_plan(s, plan_id))
        sessions: list[dict[str, object]] = orjson.loads(version.schedule)["sessions"]
        return sessions


def test_the_iv_default_series_is_6_sessions_over_14_days(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic)
    plan_id = make(clinic, patient_id)
    # Days 0, 2, 5, 7, 10, 13 from 2026-11-01 (i * 13 // 5).
    days = ["2026-11-01", "2026-11-03", "2026-11-06", "2026-11-08", "2026-11-11", "2026-11-14"]
    assert [v["on"] for v in planned(clinic, plan_id)] == days
    assert {v["mg"] for v in planned(clinic, plan_id)} == {40.0}


def test_the_iv_cost_has_its_billing_codes(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic)
    plan_id = make(clinic, patient_id)
    with clinic.factory() as s:
        cost = orjson.loads(current_version(s, get_plan(s, plan_id)).cost)
    # 6 sessions x $400-800 (Seeds); 40-minute infusions: 96365 once each, no 96366; J3490.
    assert (cost["low_usd"], cost["high_usd"]) == (2400, 4800)
    assert {line["code"]: line["units"] for line in cost["billing"]} == {"96365": 6, "J3490": 6}
    assert "insurance" in cost["insurance_note"]


def test_esketamine_trd_follows_the_label_schedule(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic, "esketamine")
    plan_id = make(clinic, patient_id, "esketamine", mg=84.0, maintenance_sessions=2,
                   maintenance_every_days=14)  # fmt: skip
    visits = planned(clinic, plan_id)
    # 2026-11-01 (day 1): weeks 1-4 twice weekly, 3 days apart (policy); weeks 5-8 weekly;
    # from week 9 (day 57) every 2 weeks.
    expected = [
        ("2026-11-01", 56), ("2026-11-04", 84), ("2026-11-08", 84), ("2026-11-11", 84),
        ("2026-11-15", 84), ("2026-11-18", 84), ("2026-11-22", 84), ("2026-11-25", 84),
        ("2026-11-29", 84), ("2026-12-06", 84), ("2026-12-13", 84), ("2026-12-20", 84),
        ("2026-12-27", 84), ("2027-01-10", 84),
    ]  # fmt: skip
    assert [(v["on"], v["mg"]) for v in visits] == expected
    with clinic.factory() as s:
        cost = orjson.loads(current_version(s, get_plan(s, plan_id)).cost)
    # $590 for the 56 mg day + 13 x $885; G2082 once (<= 56 mg), G2083 13 times; J0013 per mg.
    assert cost["low_usd"] == cost["high_usd"] == 590 + 13 * 885
    codes = {line["code"]: line["units"] for line in cost["billing"]}
    assert codes == {"G2082": 1, "G2083": 13, "J0013": 56 + 13 * 84}


def test_esketamine_for_suicidal_ideation_is_84_mg_twice_weekly_for_4_weeks(
    clinic: Clinic,
) -> None:
    patient_id = ready_patient(clinic, "esketamine")
    # Without suicidality the indication is not screened: refused.
    assert refusal_ids(
        clinic, patient_id, "esketamine", mg=84.0, indication="mdd_with_suicidal_ideation"
    ) == {"indication_not_screened"}
    with clinic.work() as s:
        # PHQ-9 item 9 of 1 within 30 days: active suicidality (spec/screening.md).
        item9 = ObservationIn("44260-8", NOW - timedelta(hours=2), value=1)
        add_observation(s, clinic.nurse, clinic.clock, patient_id, item9)
        screening = screen_patient(
            s, clinic.prescriber, clinic.clock, patient_id, "esketamine", TODAY
        )
        sign_screening(s, clinic.prescriber, clinic.clock, screening.id)
    plan_id = make(
        clinic, patient_id, "esketamine", mg=84.0, indication="mdd_with_suicidal_ideation"
    )
    # Label: 84 mg twice weekly for 4 weeks; twice weekly is days 0 and 3 of each week.
    expected = ["2026-11-01", "2026-11-04", "2026-11-08", "2026-11-11",
                "2026-11-15", "2026-11-18", "2026-11-22", "2026-11-25"]  # fmt: skip
    visits = planned(clinic, plan_id)
    assert [v["on"] for v in visits] == expected
    assert {v["mg"] for v in visits} == {84}


def test_integration_sessions_follow_each_dosing_session(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic, integration_sessions=True)
    with clinic.factory() as s:
        rows = sessions_of(s, plan_id)
    dosing = [(r.number, r.planned_on) for r in rows if r.kind == "dosing"]
    integration = [(r.number, r.planned_on) for r in rows if r.kind == "integration"]
    assert len(dosing) == 6 and integration == dosing
    assert all(r.planned_mg is None for r in rows if r.kind == "integration")


# ---- consent and activation ---------------------------------------------------------------------


def test_without_consent_a_plan_has_no_sessions(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic, consent=False)
    with clinic.factory() as s:
        assert get_plan(s, plan_id).status == "awaiting_consent"
        assert sessions_of(s, plan_id) == []


def test_with_consent_the_plan_is_active_with_its_sessions(clinic: Clinic) -> None:
    patient_id, plan_id = active_plan(clinic)
    with clinic.factory() as s:
        plan = get_plan(s, plan_id)
        assert (plan.status, plan.started_at) == ("active", NOW)
        rows = sessions_of(s, plan_id)
        assert [r.state for r in rows] == ["scheduled"] * 6
        assert [r.number for r in rows] == [1, 2, 3, 4, 5, 6]
        assert {r.patient_id for r in rows} == {patient_id}
        assert {r.planned_mg for r in rows} == {40.0}
        assert [e.action for e in events_of(s, plan_id)] == ["created", "consented", "started"]
        assert [p.id for p in plans_of(s, patient_id)] == [plan_id]


# ---- versions, pause, end -----------------------------------------------------------------------


def test_a_change_is_a_new_version_and_replans_sessions_not_begun(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic)
    with clinic.work() as s:
        first = sessions_of(s, plan_id)[0]
        first.state = "discharged"  # as the session service leaves it
    clinic.clock.advance(minutes=60)
    changed = plan_in(start_on=TODAY, mg_per_kg=0.75)
    with clinic.work() as s:
        version = change_plan(s, clinic.prescriber, clinic.clock, plan_id, changed, "No response")
        assert (version.version, version.dose_mg, version.reason) == (2, 60.0, "No response")
    with clinic.factory() as s:
        plan = get_plan(s, plan_id)
        assert plan.version == 2
        assert [v.version for v in versions_of(s, plan_id)] == [1, 2]
        rows = sessions_of(s, plan_id)
        # The discharged session keeps its 40 mg; the five not begun get 0.75 x 80 = 60 mg.
        assert [r.planned_mg for r in rows] == [40.0, 60.0, 60.0, 60.0, 60.0, 60.0]
        assert events_of(s, plan_id)[-1].action == "changed"


def test_a_shorter_series_cancels_the_sessions_it_drops(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic)
    changed = plan_in(start_on=TODAY, induction_sessions=4, induction_days=10)
    with clinic.work() as s:
        change_plan(s, clinic.prescriber, clinic.clock, plan_id, changed, "Fewer sessions")
    with clinic.factory() as s:
        states = [(r.number, r.state) for r in sessions_of(s, plan_id)]
    assert sorted(states) == [
        (1, "scheduled"), (2, "scheduled"), (3, "scheduled"), (4, "scheduled"),
        (5, "cancelled"), (6, "cancelled"),
    ]  # fmt: skip


def test_a_change_needs_a_reason_and_keeps_the_route(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic)
    with clinic.work() as s, pytest.raises(InvalidInput) as bad:
        change_plan(s, clinic.prescriber, clinic.clock, plan_id, plan_in(start_on=TODAY), " ")
    assert bad.value.field == "reason"
    with clinic.work() as s, pytest.raises(InvalidInput) as bad:
        change_plan(s, clinic.prescriber, clinic.clock, plan_id,
                    plan_in("im", start_on=TODAY), "route")  # fmt: skip
    assert bad.value.field == "route"


def test_pause_resume_and_end(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic)
    who, clock = clinic.prescriber, clinic.clock
    with clinic.work() as s:
        assert pause_plan(s, who, clock, plan_id, "Travelling").status == "paused"
    with clinic.work() as s, pytest.raises(Conflict):
        pause_plan(s, who, clock, plan_id, "again")
    with clinic.work() as s:
        assert resume_plan(s, who, clock, plan_id, "Back").status == "active"
    with clinic.work() as s:
        plan = end_plan(s, who, clock, plan_id, "Remission")
        assert (plan.status, plan.end_reason, plan.ended_at) == ("ended", "Remission", NOW)
    with clinic.factory() as s:
        assert {r.state for r in sessions_of(s, plan_id)} == {"cancelled"}
        actions = [e.action for e in events_of(s, plan_id)]
        assert actions[-3:] == ["paused", "resumed", "ended"]
    with clinic.work() as s, pytest.raises(Conflict):
        resume_plan(s, who, clock, plan_id, "no")
    with clinic.work() as s, pytest.raises(Conflict):
        change_plan(s, who, clock, plan_id, plan_in(start_on=TODAY), "after the end")


def test_a_nurse_cannot_pause_a_plan(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic)
    with clinic.work() as s, pytest.raises(Forbidden):
        pause_plan(s, clinic.nurse, clinic.clock, plan_id, "no")


# ---- review flag (Sanacora 2017) ----------------------------------------------------------------


def score(clinic: Clinic, patient_id: int, total: float, at: datetime) -> None:
    with clinic.work() as s:
        s.add(
            QuestionnaireResponse(
                patient_id=patient_id, scale="phq9", answers="[]", total=total, band=None,
                completed_at=at, source="staff", state="current", recorded_at=at,
            )
        )  # fmt: skip


def run_sessions(clinic: Clinic, plan_id: int, count: int) -> None:
    with clinic.work() as s:
        rows = [r for r in sessions_of(s, plan_id) if r.kind == "dosing"][:count]
        for row in rows:
            start = datetime.combine(row.planned_on, datetime.min.time()).replace(hour=10)
            row.checked_in_at, row.dosing_started_at = start, start
            row.state = "discharged"


def test_review_flag_after_3_iv_sessions_without_improvement(clinic: Clinic) -> None:
    patient_id, plan_id = active_plan(clinic)
    score(clinic, patient_id, 20, NOW - timedelta(days=1))  # baseline, before session 1
    run_sessions(clinic, plan_id, 2)
    score(clinic, patient_id, 14, datetime(2026, 11, 3, 12))
    with clinic.factory() as s:
        assert review_flag_of(s, plan_id) is None  # only 2 sessions done
    run_sessions(clinic, plan_id, 3)
    with clinic.factory() as s:
        flag = review_flag_of(s, plan_id)
    # 20 -> 14 is a 30 % drop, short of the 50 % of a PHQ-9 response.
    assert flag is not None and "Sanacora 2017" in flag.source
    score(clinic, patient_id, 10, datetime(2026, 11, 6, 12))  # 20 -> 10: exactly 50 %
    with clinic.factory() as s:
        assert review_flag_of(s, plan_id) is None


def test_no_review_flag_on_an_esketamine_plan(clinic: Clinic) -> None:
    patient_id, plan_id = active_plan(clinic, "esketamine")
    score(clinic, patient_id, 20, NOW - timedelta(days=1))
    run_sessions(clinic, plan_id, 4)
    with clinic.factory() as s:
        assert review_flag_of(s, plan_id) is None
        assert s.get(TreatmentSession, sessions_of(s, plan_id)[0].id) is not None


def test_a_sublingual_home_series_uses_the_oral_screening(clinic: Clinic) -> None:
    patient_id = ready_patient(clinic, "sublingual")  # screened for the oral route
    with pytest.raises(InvalidInput) as bad:
        make(clinic, patient_id, "sublingual", mg=100.0)
    assert bad.value.field == "induction_sessions"  # a home series needs its count
    plan_id = make(clinic, patient_id, "sublingual", mg=100.0, induction_sessions=4,
                   induction_days=10)  # fmt: skip
    # 4 doses over 10 days: days 0, 3, 6, 9; 100 mg = 1.25 mg/kg at 80 kg (within 0.25-7).
    assert [(v["on"], v["mg"]) for v in planned(clinic, plan_id)] == [
        ("2026-11-01", 100.0), ("2026-11-04", 100.0), ("2026-11-07", 100.0),
        ("2026-11-10", 100.0),
    ]  # fmt: skip
    with pytest.raises(InvalidInput):
        make(clinic, patient_id, "sublingual", mg=400.0, induction_sessions=4, induction_days=10)
