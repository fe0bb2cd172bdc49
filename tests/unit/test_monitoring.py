"""Session safety rules at their boundaries, from clinical-facts.md: a reading equal to a limit does
not trip it (140/90 is not above 140/90; SpO2 92 is not below 92)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

import pytest

from ketaclinic.clinical.findings import Finding
from ketaclinic.clinical.monitoring import (
    RemsMonitoringForm,
    Vitals,
    blood_pressure_recheck_at,
    discharge_blockers,
    dissociation_is_notable,
    lost_consciousness,
    near_baseline,
    observation_ends_at,
    predose_check,
    rems_form,
    rems_form_overdue,
    rems_form_problems,
    vital_alerts,
    vitals_due,
)

T10 = datetime(2026, 3, 2, 10, 0)


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 3, 2, hour, minute)


def bp(systolic: float, diastolic: float) -> Vitals:
    return Vitals(systolic=systolic, diastolic=diastolic)


def finding(kind: str) -> Finding:
    return Finding(f"new_{kind}", kind, "found today", (), "spec")  # type: ignore[arg-type]


# ---- before the dose ---------------------------------------------------------------------------


def test_esketamine_at_140_90_goes() -> None:
    assert predose_check("esketamine", bp(140, 90), 40).decision == "go"


def test_esketamine_above_140_systolic_needs_a_prescriber() -> None:
    check = predose_check("esketamine", bp(141, 85), 40)
    assert check.decision == "confirm"
    assert [r.id for r in check.reasons] == ["blood_pressure_elevated"]


def test_diastolic_above_90_is_uncontrolled_and_stops_every_route() -> None:
    for route in ("iv", "esketamine"):
        check = predose_check(route, bp(130, 91), 40)
        assert check.decision == "stop"
        assert [r.id for r in check.reasons] == ["blood_pressure_uncontrolled"]


def test_from_age_65_the_esketamine_systolic_limit_is_150() -> None:
    assert predose_check("esketamine", bp(150, 85), 65).decision == "go"
    assert predose_check("esketamine", bp(151, 85), 65).decision == "confirm"


def test_at_64_the_esketamine_systolic_limit_is_140() -> None:
    assert predose_check("esketamine", bp(145, 85), 64).decision == "confirm"


def test_unknown_age_takes_the_stricter_limit() -> None:
    assert predose_check("esketamine", bp(145, 85), None).decision == "confirm"


def test_iv_systolic_160_goes_and_161_stops() -> None:
    assert predose_check("iv", bp(160, 85), 40).decision == "go"
    assert predose_check("iv", bp(161, 85), 40).decision == "stop"


def test_iv_has_no_140_90_gate() -> None:
    assert predose_check("iv", bp(150, 85), 40).decision == "go"


def test_no_blood_pressure_stops() -> None:
    check = predose_check("iv", Vitals(systolic=120), 40)
    assert check.decision == "stop"
    assert [r.id for r in check.reasons] == ["blood_pressure_missing"]


def test_a_new_absolute_contraindication_stops() -> None:
    check = predose_check("iv", bp(120, 80), 40, [finding("absolute")])
    assert check.decision == "stop"
    assert [r.id for r in check.reasons] == ["new_absolute"]


def test_a_new_relative_contraindication_needs_a_prescriber() -> None:
    assert predose_check("iv", bp(120, 80), 40, [finding("relative")]).decision == "confirm"


def test_a_note_does_not_stop_the_session() -> None:
    assert predose_check("iv", bp(120, 80), 40, [finding("note")]).decision == "go"


def test_stop_outranks_confirm() -> None:
    check = predose_check("esketamine", bp(170, 85), 40, [finding("relative")])
    assert check.decision == "stop"
    assert len(check.reasons) == 2


# ---- during the session ------------------------------------------------------------------------


def test_vitals_at_every_limit_raise_no_alert() -> None:
    assert vital_alerts(Vitals(180, 110, heart_rate=120, spo2=92)) == ()
    assert vital_alerts(Vitals(120, 80, heart_rate=50, spo2=100)) == ()


@pytest.mark.parametrize(
    ("vitals", "alert"),
    [
        (Vitals(systolic=181), "systolic_high"),
        (Vitals(diastolic=111), "diastolic_high"),
        (Vitals(spo2=91.9), "spo2_low"),
        (Vitals(heart_rate=121), "heart_rate_high"),
        (Vitals(heart_rate=49), "heart_rate_low"),
    ],
)
def test_each_alert_just_past_its_limit(vitals: Vitals, alert: str) -> None:
    assert [a.id for a in vital_alerts(vitals)] == [alert]


def test_no_values_no_alerts() -> None:
    assert vital_alerts(Vitals()) == ()


def test_esketamine_blood_pressure_recheck_at_40_minutes() -> None:
    assert blood_pressure_recheck_at(T10) == at(10, 40)


def test_esketamine_vitals_before_at_40_minutes_and_before_leaving() -> None:
    assert vitals_due("esketamine", T10, at(12, 0)) == (T10, at(10, 40), at(12, 0))


def test_iv_vitals_every_15_minutes_to_the_end_of_observation() -> None:
    assert vitals_due("iv", T10, at(11, 40)) == (
        T10,
        at(10, 15),
        at(10, 30),
        at(10, 45),
        at(11, 0),
        at(11, 15),
        at(11, 30),
        at(11, 40),
    )


def test_iv_vitals_end_on_the_quarter_without_a_duplicate() -> None:
    assert vitals_due("iv", T10, at(10, 45)) == (T10, at(10, 15), at(10, 30), at(10, 45))


def test_cadss_4_is_not_notable_and_5_is() -> None:
    assert dissociation_is_notable(4) is False
    assert dissociation_is_notable(5) is True


def test_moaas_0_is_loss_of_consciousness_and_1_is_not() -> None:
    assert lost_consciousness(0) is True
    assert lost_consciousness(1) is False


def test_scores_off_their_scale_are_refused() -> None:
    with pytest.raises(ValueError):
        dissociation_is_notable(93)
    with pytest.raises(ValueError):
        lost_consciousness(6)


# ---- observation and discharge -----------------------------------------------------------------


def test_esketamine_observation_ends_exactly_120_minutes_after_the_first_device() -> None:
    assert observation_ends_at("esketamine", T10, at(10, 10)) == at(12, 0)


def test_iv_observation_ends_60_minutes_after_the_infusion() -> None:
    assert observation_ends_at("iv", T10, at(10, 40)) == at(11, 40)


def test_im_follows_the_iv_observation() -> None:
    assert observation_ends_at("im", T10, T10) == at(11, 0)


def test_dosing_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError):
        observation_ends_at("iv", T10, at(9, 59))


@pytest.mark.parametrize(
    ("latest", "baseline", "near"),
    [(120, 100, True), (120.5, 100, False), (80, 100, True), (79, 100, False)],
)
def test_near_baseline_is_within_20_percent(latest: float, baseline: float, near: bool) -> None:
    assert near_baseline(latest, baseline) is near


def esketamine_blockers(now: datetime, **changes: object) -> list[str]:
    values: dict[str, object] = {
        "baseline": bp(130, 80),
        "latest": Vitals(150, 90, heart_rate=80, spo2=97),
        "moaas": 5,
        "alert_and_oriented": True,
        "escort_present": True,
        "no_driving_acknowledged": True,
    }
    values.update(changes)
    blockers = discharge_blockers("esketamine", now, at(12, 0), **values)  # type: ignore[arg-type]
    return [b.id for b in blockers]


def test_esketamine_discharge_refused_at_119_minutes() -> None:
    assert esketamine_blockers(at(11, 59)) == ["observation_not_over"]


def test_esketamine_discharge_allowed_at_120_minutes_with_the_checklist_passed() -> None:
    assert esketamine_blockers(at(12, 0)) == []


def test_blood_pressure_above_baseline_band_and_not_falling_blocks() -> None:
    assert esketamine_blockers(at(12, 0), latest=bp(160, 90)) == ["blood_pressure_not_settled"]


def test_blood_pressure_falling_under_the_alert_limits_passes() -> None:
    assert esketamine_blockers(at(12, 0), latest=bp(160, 90), previous=bp(170, 95)) == []


def test_blood_pressure_falling_but_over_the_alert_limit_blocks() -> None:
    blockers = esketamine_blockers(at(12, 0), latest=bp(185, 100), previous=bp(190, 100))
    assert blockers == ["blood_pressure_not_settled", "vitals_alerting"]


def test_low_oxygen_blocks_discharge() -> None:
    latest = Vitals(130, 80, spo2=91)
    assert esketamine_blockers(at(12, 0), latest=latest) == ["vitals_alerting"]


@pytest.mark.parametrize(
    ("change", "blocker"),
    [
        ({"moaas": 4}, "not_fully_alert"),
        ({"moaas": None}, "not_fully_alert"),
        ({"alert_and_oriented": False}, "not_oriented"),
        ({"escort_present": False}, "no_escort"),
        ({"no_driving_acknowledged": False}, "no_driving_not_acknowledged"),
    ],
)
def test_each_checklist_item_blocks(change: dict[str, object], blocker: str) -> None:
    assert esketamine_blockers(at(12, 0), **change) == [blocker]


def test_no_blood_pressure_before_leaving_blocks() -> None:
    assert esketamine_blockers(at(12, 0), latest=Vitals()) == ["blood_pressure_not_settled"]


# ---- REMS --------------------------------------------------------------------------------------


END_1205 = datetime(2026, 3, 2, 12, 5)


def make_form(monitoring_ended_at: datetime = END_1205, dose_mg: float = 84) -> RemsMonitoringForm:
    return rems_form(
        patient="p-1",
        first_treatment=True,
        benzodiazepines=False,
        non_benzodiazepine_sedative_hypnotics=True,
        psychostimulants=False,
        maois=False,
        monitoring_clinician="RN Ortiz",
        site="Riverside",
        dose_mg=dose_mg,
        lot="L123",
        first_device_at=T10,
        monitoring_ended_at=monitoring_ended_at,
        ready_without_2_hour_rule_at=at(11, 10),
        before_dosing=bp(128, 82),
        at_40_minutes=bp(146, 88),
        before_leaving=bp(130, 80),
        vitals_acceptable_before_dosing=True,
        vitals_acceptable_before_leaving=True,
        lowest_moaas=4,
        highest_cadss=4,
        respiratory_depression=False,
    )


def test_rems_form_from_session_values() -> None:
    form = make_form()
    assert asdict(form) == {
        "patient": "p-1",
        "first_treatment": True,
        "benzodiazepines": False,
        "non_benzodiazepine_sedative_hypnotics": True,
        "psychostimulants": False,
        "maois": False,
        "monitoring_clinician": "RN Ortiz",
        "site": "Riverside",
        "session_date": date(2026, 3, 2),
        "dose": "84",
        "dose_mg": 84,
        "lot": "L123",
        "minutes_first_device_to_end_of_monitoring": 125,
        "minutes_until_ready_without_2_hour_rule": 70,
        "vitals_acceptable_before_dosing": True,
        "vitals_acceptable_before_leaving": True,
        "blood_pressure_before_dosing": "128/82",
        "blood_pressure_at_40_minutes": "146/88",
        "blood_pressure_before_leaving": "130/80",
        "sedation": True,
        "dissociation": False,
        "respiratory_depression": False,
        "due_on": date(2026, 3, 9),
        "source": "Spravato REMS: Patient Monitoring Form after every session, within 7 days",
    }


def test_rems_dose_other_than_56_or_84() -> None:
    assert make_form(dose_mg=28).dose == "other"


def test_rems_form_monitored_119_minutes_is_a_problem_and_120_is_not() -> None:
    assert len(rems_form_problems(make_form(at(11, 59)))) == 1
    assert rems_form_problems(make_form(at(12, 0))) == ()


def test_rems_monitoring_cannot_end_before_the_first_device() -> None:
    with pytest.raises(ValueError):
        make_form(at(9, 0))


def test_rems_form_due_within_7_days() -> None:
    session = date(2026, 3, 2)
    assert rems_form_overdue(session, None, date(2026, 3, 9)) is False
    assert rems_form_overdue(session, None, date(2026, 3, 10)) is True
    assert rems_form_overdue(session, date(2026, 3, 4), date(2026, 3, 20)) is False
