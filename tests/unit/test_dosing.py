"""Dose rules by route. Expected values worked out by hand from clinical-facts.md: 0.5 mg/kg x 70 kg
is 35 mg; 84 mg is three 28 mg devices; 2026-01-30 is 31 days before 2026-03-02 (January has 31
days, February 2026 has 28)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from ketaclinic.clinical.dosing import (
    Dose,
    DoseRefused,
    Weight,
    device_times,
    device_too_soon,
    devices_for,
    esketamine_dose,
    im_dose,
    infusion_ends_at,
    iv_dose,
    mg_from_weight,
    oral_dose,
    weight_problem,
)

ON = date(2026, 3, 2)
FRESH_70 = Weight(70, date(2026, 2, 20))


def refusal_ids(exc: pytest.ExceptionInfo[DoseRefused]) -> list[str]:
    return [r.id for r in exc.value.reasons]


# ---- weight ------------------------------------------------------------------------------------


def test_a_weight_30_days_old_is_used() -> None:
    assert weight_problem(Weight(70, date(2026, 1, 31)), ON) is None


def test_a_weight_31_days_old_is_refused() -> None:
    note = weight_problem(Weight(70, date(2026, 1, 30)), ON)
    assert note is not None and note.id == "weight_stale"
    assert "31 days" in note.message


def test_no_weight_is_refused_with_a_reason() -> None:
    with pytest.raises(DoseRefused) as exc:
        iv_dose(0.5, None, ON)
    assert refusal_ids(exc) == ["weight_missing"]


def test_a_weight_dated_after_the_dose_is_refused() -> None:
    note = weight_problem(Weight(70, date(2026, 3, 3)), ON)
    assert note is not None and note.id == "weight_future"


def test_a_zero_weight_is_refused() -> None:
    note = weight_problem(Weight(0, ON), ON)
    assert note is not None and note.id == "weight_invalid"


# ---- IV ----------------------------------------------------------------------------------------


def test_iv_half_mg_per_kg_for_70_kg_is_35_mg_over_40_minutes() -> None:
    dose = iv_dose(0.5, FRESH_70, ON)
    assert dose == Dose(
        route="iv",
        mg=35.0,
        mg_per_kg=0.5,
        weight_kg=70,
        infusion_minutes=40,
        source=dose.source,
    )
    assert "Sanacora 2017" in dose.source


def test_mg_from_weight_has_no_float_noise() -> None:
    assert mg_from_weight(0.1, 70) == 7.0
    assert mg_from_weight(0.75, 82.4) == 61.8


def test_iv_stale_weight_refused() -> None:
    with pytest.raises(DoseRefused) as exc:
        iv_dose(0.5, Weight(70, date(2026, 1, 30)), ON)
    assert refusal_ids(exc) == ["weight_stale"]


def test_iv_every_reason_is_given_at_once() -> None:
    with pytest.raises(DoseRefused) as exc:
        iv_dose(1.5, Weight(70, date(2026, 1, 1)), ON)
    assert refusal_ids(exc) == ["weight_stale", "dose_above_maximum"]


def test_iv_at_the_maximum_is_allowed_with_a_warning() -> None:
    dose = iv_dose(1.0, FRESH_70, ON)
    assert dose.mg == 70.0
    assert [w.id for w in dose.warnings] == ["dose_outside_usual_range"]


def test_iv_just_above_the_maximum_is_refused() -> None:
    with pytest.raises(DoseRefused) as exc:
        iv_dose(1.01, FRESH_70, ON)
    assert refusal_ids(exc) == ["dose_above_maximum"]


@pytest.mark.parametrize("mg_per_kg", [0.5, 0.6, 0.75])
def test_iv_in_the_usual_range_has_no_warning(mg_per_kg: float) -> None:
    assert iv_dose(mg_per_kg, FRESH_70, ON).warnings == ()


def test_iv_just_above_the_reported_range_warns() -> None:
    assert [w.id for w in iv_dose(0.76, FRESH_70, ON).warnings] == ["dose_outside_usual_range"]


def test_iv_lowest_reported_dose_is_allowed_with_a_warning() -> None:
    dose = iv_dose(0.1, FRESH_70, ON)
    assert dose.mg == 7.0
    assert [w.id for w in dose.warnings] == ["dose_outside_usual_range"]


def test_iv_below_the_lowest_reported_dose_is_refused() -> None:
    with pytest.raises(DoseRefused) as exc:
        iv_dose(0.05, FRESH_70, ON)
    assert refusal_ids(exc) == ["dose_below_minimum"]


@pytest.mark.parametrize("bad", ["0.5", float("nan"), float("inf"), -0.5, 0, True, None])
def test_iv_dose_that_is_not_a_number_is_refused(bad: object) -> None:
    with pytest.raises(DoseRefused) as exc:
        iv_dose(bad, FRESH_70, ON)  # type: ignore[arg-type]
    assert refusal_ids(exc) == ["dose_invalid"]


@pytest.mark.parametrize(("minutes", "warned"), [(40, False), (60, False), (39, True), (61, True)])
def test_iv_infusion_time_outside_40_to_60_warns(minutes: int, warned: bool) -> None:
    dose = iv_dose(0.5, FRESH_70, ON, minutes=minutes)
    assert dose.infusion_minutes == minutes
    assert ("infusion_time_unusual" in [w.id for w in dose.warnings]) is warned


def test_iv_infusion_minutes_must_be_positive() -> None:
    with pytest.raises(DoseRefused):
        iv_dose(0.5, FRESH_70, ON, minutes=0)


def test_infusion_ends_40_minutes_after_it_starts() -> None:
    dose = iv_dose(0.5, FRESH_70, ON)
    assert infusion_ends_at(datetime(2026, 3, 2, 9, 30), dose) == datetime(2026, 3, 2, 10, 10)


# ---- IM ----------------------------------------------------------------------------------------


def test_im_quarter_mg_per_kg_for_80_kg_is_20_mg() -> None:
    dose = im_dose(0.25, Weight(80, date(2026, 2, 1)), ON)
    assert (dose.route, dose.mg, dose.mg_per_kg) == ("im", 20.0, 0.25)


@pytest.mark.parametrize(
    ("mg_per_kg", "refusal"), [(0.51, "dose_above_maximum"), (0.24, "dose_below_minimum")]
)
def test_im_outside_0_25_to_0_5_is_refused(mg_per_kg: float, refusal: str) -> None:
    with pytest.raises(DoseRefused) as exc:
        im_dose(mg_per_kg, FRESH_70, ON)
    assert refusal_ids(exc) == [refusal]


def test_im_at_half_mg_per_kg_is_allowed() -> None:
    assert im_dose(0.5, FRESH_70, ON).mg == 35.0


def test_im_stale_weight_refused() -> None:
    with pytest.raises(DoseRefused) as exc:
        im_dose(0.25, Weight(70, date(2026, 1, 30)), ON)
    assert refusal_ids(exc) == ["weight_stale"]


# ---- esketamine --------------------------------------------------------------------------------


def test_56_mg_is_two_devices_and_84_mg_three() -> None:
    assert devices_for(56) == 2
    assert devices_for(84) == 3


@pytest.mark.parametrize("mg", [28, 70, 112, 56.5, "56", 0])
def test_other_esketamine_doses_are_refused(mg: object) -> None:
    with pytest.raises(DoseRefused) as exc:
        devices_for(mg)  # type: ignore[arg-type]
    assert refusal_ids(exc) == ["esketamine_dose_not_on_label"]


def test_esketamine_84_mg_dose() -> None:
    dose = esketamine_dose(84)
    assert (dose.mg, dose.devices, dose.device_interval_minutes) == (84.0, 3, 5)


def test_esketamine_devices_are_5_minutes_apart() -> None:
    first = datetime(2026, 3, 2, 10, 0)
    assert device_times(first, 84) == (
        datetime(2026, 3, 2, 10, 0),
        datetime(2026, 3, 2, 10, 5),
        datetime(2026, 3, 2, 10, 10),
    )


def test_a_device_exactly_5_minutes_later_is_in_time() -> None:
    assert device_too_soon(datetime(2026, 3, 2, 10, 0), datetime(2026, 3, 2, 10, 5)) is None


def test_a_device_4_minutes_59_seconds_later_is_too_soon() -> None:
    note = device_too_soon(datetime(2026, 3, 2, 10, 0), datetime(2026, 3, 2, 10, 4, 59))
    assert note is not None and note.id == "device_too_soon"


# ---- oral and sublingual -----------------------------------------------------------------------


def test_oral_150_mg_for_70_kg_is_about_2_14_mg_per_kg() -> None:
    dose = oral_dose(150, FRESH_70, ON)
    assert (dose.mg, dose.mg_per_kg, dose.warnings) == (150.0, 2.14, ())


@pytest.mark.parametrize("mg", [25, 300])
def test_oral_at_the_ends_of_25_to_300_mg_is_allowed(mg: int) -> None:
    assert oral_dose(mg, Weight(60, ON), ON).mg == mg


@pytest.mark.parametrize(
    ("mg", "refusal"), [(301, "dose_above_maximum"), (24.9, "dose_below_minimum")]
)
def test_oral_outside_25_to_300_mg_is_refused(mg: float, refusal: str) -> None:
    with pytest.raises(DoseRefused) as exc:
        oral_dose(mg, Weight(60, ON), ON)
    assert refusal_ids(exc) == [refusal]


def test_oral_280_mg_for_40_kg_is_7_mg_per_kg_and_allowed() -> None:
    assert oral_dose(280, Weight(40, ON), ON).mg_per_kg == 7.0


def test_oral_300_mg_for_40_kg_is_7_5_mg_per_kg_and_refused() -> None:
    with pytest.raises(DoseRefused) as exc:
        oral_dose(300, Weight(40, ON), ON)
    assert refusal_ids(exc) == ["dose_above_maximum"]


def test_oral_25_mg_for_110_kg_is_below_0_25_mg_per_kg_and_refused() -> None:
    with pytest.raises(DoseRefused) as exc:
        oral_dose(25, Weight(110, ON), ON)
    assert refusal_ids(exc) == ["dose_below_minimum"]


def test_oral_without_a_fresh_weight_is_allowed_and_says_mg_per_kg_was_not_checked() -> None:
    dose = oral_dose(300, Weight(40, date(2026, 1, 30)), ON)
    assert dose.mg_per_kg is None
    assert [w.id for w in dose.warnings] == ["mg_per_kg_not_checked"]


def test_oral_dose_as_text_is_refused() -> None:
    with pytest.raises(DoseRefused) as exc:
        oral_dose("100", FRESH_70, ON)  # type: ignore[arg-type]
    assert refusal_ids(exc) == ["dose_invalid"]
