"""Staging of resistance; every expected value worked out by hand from clinical-facts.md."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from ketaclinic.clinical.findings import Stage, Trial
from ketaclinic.clinical.staging import (
    StagingInput,
    maudsley,
    maudsley_band,
    maudsley_duration_item,
    maudsley_severity_item,
    maudsley_treatment_item,
    mgh,
    stage,
    thase_rush,
)

AS_OF = date(2026, 11, 1)


def trial(
    medication: str,
    drug_class: str,
    outcome: str | None = "no-response",
    *,
    adequate: bool = True,
    dose: float | None = 100,
    minimum: float | None = 100,
) -> Trial:
    return Trial(
        medication=medication,
        drug_class=drug_class,
        daily_dose_mg=dose,
        minimum_adequate_mg=minimum,
        weeks=8 if adequate else 3,
        adequate=adequate,
        outcome=outcome,
        assumptions=(),
        evidence=(f"MedicationStatement/{medication}",),
    )


def case(*trials: Trial, **changes: object) -> StagingInput:
    base = StagingInput(
        trials=trials,
        episode_onset=date(2026, 5, 1),  # 6 months: duration item 1
        as_of=AS_OF,
        phq9_total=12,  # moderate: severity item 3
        severity_from_code=None,
        augmentation=False,
        ect=False,
        ect_bilateral=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


SSRI = trial("sertraline", "SSRI")
SNRI = trial("venlafaxine", "SNRI")
TCA = trial("nortriptyline", "TCA")
MAOI = trial("phenelzine", "MAOI")
ATYPICAL = trial("bupropion", "atypical")


# Worked example -------------------------------------------------------------


def test_worked_example_three_classes_long_severe_episode_augmented() -> None:
    inp = StagingInput(
        trials=(
            trial("sertraline", "SSRI", dose=100, minimum=50),  # optimised
            trial("venlafaxine", "SNRI", "partial-response", dose=150, minimum=150),
            trial("nortriptyline", "TCA", dose=75, minimum=75),
        ),
        episode_onset=date(2024, 5, 1),  # 30 months before AS_OF
        as_of=AS_OF,
        phq9_total=22,
        severity_from_code="moderate",  # the PHQ-9 wins
        augmentation=True,  # aripiprazole
        ect=False,
        ect_bilateral=None,
    )
    result = stage(inp)
    assert result.thase_rush.stage == 3
    # 30 months -> 3; PHQ-9 22 severe -> 4; 3 failed -> 2; augmentation +1
    assert result.maudsley.score == 3 + 4 + 2 + 1
    assert result.maudsley.band == "moderate"
    assert any(a.startswith("severity from the latest PHQ-9") for a in result.maudsley.assumptions)
    # 3 failed trials + sertraline above its minimum 0.5 + augmentation 0.5
    assert result.mgh.score == 4.0


# Which trials count as failed -----------------------------------------------


def test_no_trial_is_stage_zero_and_the_lowest_scores() -> None:
    inp = case()
    assert thase_rush(inp) == Stage(stage=0)
    m = maudsley(inp)
    assert m.score == 1 + 3 + 1
    assert any("no failed adequate trial" in a for a in m.assumptions)
    assert mgh(inp).score == 0.0


@pytest.mark.parametrize(
    "not_failed",
    [
        trial("sertraline", "SSRI", adequate=False),
        trial("sertraline", "SSRI", "intolerance", adequate=False),
        trial("sertraline", "SSRI", "response"),
        trial("sertraline", "SSRI", "remission"),
    ],
)
def test_inadequate_or_successful_trials_do_not_count(not_failed: Trial) -> None:
    inp = case(not_failed, SNRI)
    assert thase_rush(inp).stage == 1
    assert mgh(inp).score == 1.0


def test_partial_response_counts_as_failed() -> None:
    assert thase_rush(case(trial("sertraline", "SSRI", "partial-response"))).stage == 1


def test_unevaluated_adequate_trial_is_not_failed_and_is_said() -> None:
    inp = case(trial("sertraline", "SSRI", None), SNRI)
    result = thase_rush(inp)
    assert result.stage == 1
    assert any("no recorded outcome" in a and "sertraline" in a for a in result.assumptions)
    assert any("no recorded outcome" in a for a in mgh(inp).assumptions)


def test_unevaluated_inadequate_trial_is_not_mentioned() -> None:
    inp = case(trial("sertraline", "SSRI", None, adequate=False), SNRI)
    assert thase_rush(inp).assumptions == ()


def test_bipolar_agents_count_with_the_assumption_stated() -> None:
    inp = case(trial("quetiapine", "antipsychotic"), trial("lamotrigine", "mood stabiliser"))
    result = thase_rush(inp)
    assert result.stage == 2
    assert any("bipolar-depression agents" in a for a in result.assumptions)


def test_failed_trial_of_another_class_is_not_counted_and_is_said() -> None:
    inp = case(trial("liothyronine", "thyroid_replacement"), SSRI)
    result = thase_rush(inp)
    assert result.stage == 1
    assert any("liothyronine" in a for a in result.assumptions)


# Thase–Rush --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trials", "expected"),
    [
        ((SSRI,), 1),
        ((SSRI, trial("fluoxetine", "SSRI")), 1),  # two drugs, one class
        ((SSRI, SNRI), 2),
        ((SSRI, TCA), 2),  # the TCA is the second class, not a third step
        ((SSRI, SNRI, ATYPICAL), 2),  # three classes, none a TCA
        ((SSRI, SNRI, TCA), 3),
        ((SSRI, MAOI, TCA), 3),  # III reached; IV needs a TCA and an MAOI beside two others
        ((SSRI, SNRI, MAOI), 2),  # an MAOI without a TCA
        ((SSRI, SNRI, TCA, MAOI), 4),
    ],
)
def test_thase_rush_stages(trials: tuple[Trial, ...], expected: int) -> None:
    assert thase_rush(case(*trials)).stage == expected


def test_bilateral_ect_after_stage_four_is_stage_five() -> None:
    inp = case(SSRI, SNRI, TCA, MAOI, ect=True, ect_bilateral=True)
    assert thase_rush(inp) == Stage(stage=5)


def test_unilateral_ect_stays_at_four() -> None:
    inp = case(SSRI, SNRI, TCA, MAOI, ect=True, ect_bilateral=False)
    assert thase_rush(inp) == Stage(stage=4)


def test_ect_of_unknown_laterality_stays_at_four_and_says_so() -> None:
    result = thase_rush(case(SSRI, SNRI, TCA, MAOI, ect=True, ect_bilateral=None))
    assert result.stage == 4
    assert any("laterality" in a for a in result.assumptions)


def test_bilateral_ect_without_an_maoi_does_not_jump_a_stage() -> None:
    assert thase_rush(case(SSRI, SNRI, TCA, ect=True, ect_bilateral=True)).stage == 3


# Maudsley: episode length ----------------------------------------------------


@pytest.mark.parametrize(
    ("onset", "as_of", "expected"),
    [
        (date(2025, 1, 15), date(2026, 1, 15), 1),  # exactly 12 months
        (date(2025, 1, 15), date(2026, 1, 16), 2),  # a day past 12 months
        (date(2025, 1, 15), date(2026, 2, 15), 2),  # 13 months
        (date(2025, 1, 15), date(2027, 1, 15), 2),  # exactly 24 months
        (date(2025, 1, 15), date(2027, 2, 15), 3),  # 25 months
        (date(2024, 2, 29), date(2025, 2, 28), 1),  # no 29 February: 12 months end on the 28th
        (date(2024, 2, 29), date(2025, 3, 1), 2),
        (date(2026, 11, 1), date(2026, 11, 1), 1),  # onset today
    ],
)
def test_episode_length_item(onset: date, as_of: date, expected: int) -> None:
    assert maudsley_duration_item(onset, as_of) == (expected, ())


def test_unknown_episode_length_is_scored_at_its_minimum_as_a_lower_bound() -> None:
    item, notes = maudsley_duration_item(None, AS_OF)
    assert item == 1
    assert notes == (
        "episode length unknown: scored as <= 12 months (minimum); the score is a lower bound",
    )


def test_onset_after_the_as_of_date_is_not_read() -> None:
    item, notes = maudsley_duration_item(date(2027, 1, 1), AS_OF)
    assert item == 1
    assert "lower bound" in notes[0]


# Maudsley: severity ----------------------------------------------------------


@pytest.mark.parametrize(
    ("phq9", "expected"),
    [(0, 1), (4, 1), (5, 2), (9, 2), (10, 3), (14, 3), (15, 3), (19, 3), (20, 4), (27, 4)],
)
def test_severity_from_the_phq9_band(phq9: float, expected: int) -> None:
    item, notes = maudsley_severity_item(phq9, None)
    assert item == expected
    assert notes[0].startswith("severity from the latest PHQ-9")


@pytest.mark.parametrize("phq9", [15, 19])
def test_moderately_severe_phq9_is_scored_moderate_and_said_to_be_a_lower_bound(
    phq9: float,
) -> None:
    _, notes = maudsley_severity_item(phq9, None)
    assert any("moderately severe" in n and "lower bound" in n for n in notes)


def test_moderate_phq9_carries_no_lower_bound_note() -> None:
    _, notes = maudsley_severity_item(14, None)
    assert not any("lower bound" in n for n in notes)


def test_the_phq9_wins_over_the_diagnosis_code() -> None:
    assert maudsley_severity_item(7, "severe")[0] == 2


def test_severe_phq9_with_psychosis_in_the_code_scores_five() -> None:
    item, notes = maudsley_severity_item(22, "severe_with_psychosis")
    assert item == 5
    assert any("psychotic" in n for n in notes)


def test_psychosis_in_the_code_does_not_lift_a_phq9_below_severe() -> None:
    assert maudsley_severity_item(17, "severe_with_psychosis")[0] == 3


@pytest.mark.parametrize(
    ("code", "expected"),
    [("mild", 2), ("moderate", 3), ("severe", 4), ("severe_with_psychosis", 5)],
)
def test_severity_from_the_diagnosis_code_without_a_phq9(code: str, expected: int) -> None:
    item, notes = maudsley_severity_item(None, code)
    assert item == expected
    assert notes == (f"severity from the diagnosis code ({code})",)


def test_unknown_severity_is_scored_at_its_minimum_as_a_lower_bound() -> None:
    item, notes = maudsley_severity_item(None, None)
    assert item == 1
    assert any("severity unknown" in n and "lower bound" in n for n in notes)


def test_impossible_phq9_is_not_read() -> None:
    item, notes = maudsley_severity_item(31, "moderate")
    assert item == 3
    assert any("outside 0-27" in n for n in notes)


# Maudsley: treatment, augmentation, ECT, bands -------------------------------


@pytest.mark.parametrize(
    ("failed", "expected"),
    [(0, 1), (1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3), (7, 4), (10, 4), (11, 5), (20, 5)],
)
def test_failed_antidepressants_item(failed: int, expected: int) -> None:
    assert maudsley_treatment_item(failed) == expected


@pytest.mark.parametrize(
    ("score", "band"),
    [(3, "mild"), (6, "mild"), (7, "moderate"), (10, "moderate"), (11, "severe"), (15, "severe")],
)
def test_maudsley_bands(score: int, band: str) -> None:
    assert maudsley_band(score) == band


def test_two_versus_three_failed_antidepressants_in_the_score() -> None:
    assert maudsley(case(SSRI, SNRI)).score == 1 + 3 + 1
    assert maudsley(case(SSRI, SNRI, ATYPICAL)).score == 1 + 3 + 2


def test_ten_versus_eleven_failed_antidepressants_in_the_score() -> None:
    names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]
    ten = tuple(trial(n, "SSRI") for n in names[:10])
    assert maudsley(case(*ten)).score == 1 + 3 + 4
    eleven = tuple(trial(n, "SSRI") for n in names)
    assert maudsley(case(*eleven)).score == 1 + 3 + 5


def test_two_courses_of_one_drug_are_one_failed_medication() -> None:
    again = replace(SSRI, evidence=("MedicationStatement/later",))
    inp = case(SSRI, again, SNRI)
    assert maudsley(inp).score == 1 + 3 + 1  # 2 medications, not 3
    assert mgh(inp).score == 3.0  # MGH counts trials


def test_score_six_is_mild_and_seven_moderate() -> None:
    # 6 months 1 + PHQ-9 12 moderate 3 + 2 failed 1 + augmentation 1 = 6
    six = maudsley(case(SSRI, SNRI, augmentation=True))
    assert (six.score, six.band) == (6, "mild")
    seven = maudsley(case(SSRI, SNRI, augmentation=True, ect=True))
    assert (seven.score, seven.band) == (7, "moderate")


def test_score_ten_is_moderate_and_eleven_severe() -> None:
    # 30 months 3 + PHQ-9 22 severe 4 + 3 failed 2 + augmentation 1 = 10
    long_severe = {"episode_onset": date(2024, 5, 1), "phq9_total": 22, "augmentation": True}
    ten = maudsley(case(SSRI, SNRI, TCA, **long_severe))
    assert (ten.score, ten.band) == (10, "moderate")
    eleven = maudsley(case(SSRI, SNRI, TCA, ect=True, **long_severe))
    assert (eleven.score, eleven.band) == (11, "severe")


def test_unknown_augmentation_is_not_counted_and_is_said() -> None:
    result = maudsley(case(SSRI, SNRI, augmentation=None))
    assert result.score == 1 + 3 + 1
    assert any("augmentation unknown" in a for a in result.assumptions)


def test_nothing_readable_gives_the_floor_as_a_lower_bound() -> None:
    inp = case(SSRI, episode_onset=None, phq9_total=None, augmentation=None)
    result = maudsley(inp)
    assert (result.score, result.band) == (3, "mild")
    assert sum("lower bound" in a for a in result.assumptions) == 3


# MGH -------------------------------------------------------------------------


def test_dose_above_the_minimum_is_optimised_and_at_the_minimum_is_not() -> None:
    above = trial("sertraline", "SSRI", dose=100, minimum=50)
    at = trial("escitalopram", "SSRI", dose=10, minimum=10)
    assert mgh(case(above)).score == 1.5
    assert mgh(case(at)).score == 1.0


def test_inadequate_trial_above_the_minimum_scores_nothing() -> None:
    assert mgh(case(trial("sertraline", "SSRI", adequate=False, dose=200, minimum=50))).score == 0


def test_unknown_dose_is_not_counted_as_optimised_and_is_said() -> None:
    result = mgh(case(trial("lithium", "mood stabiliser", dose=None, minimum=None)))
    assert result.score == 1.0
    assert any("optimisation" in a and "lithium" in a for a in result.assumptions)


def test_augmentation_adds_half_a_point_once_and_says_so() -> None:
    result = mgh(case(SSRI, SNRI, augmentation=True))
    assert result.score == 2.5
    assert any("augmentation counted once" in a for a in result.assumptions)


def test_ect_adds_three() -> None:
    assert mgh(case(SSRI, SNRI, ect=True, ect_bilateral=False)).score == 5.0


def test_no_ect_adds_nothing() -> None:
    assert mgh(case(SSRI, SNRI)).score == 2.0
