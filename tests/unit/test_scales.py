"""Rating scales; every expected total and band worked out by hand from clinical-facts.md."""

from __future__ import annotations

import pytest

from ketaclinic.clinical.scales import (
    SCALES,
    InvalidAnswers,
    UnknownScale,
    scale,
    score,
)

# --- PHQ-9 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([0, 0, 0, 0, 0, 0, 0, 0, 0], 0, "minimal"),
        ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal"),
        ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild"),
        ([1, 1, 1, 1, 1, 1, 1, 1, 1], 9, "mild"),
        ([2, 1, 1, 1, 1, 1, 1, 1, 1], 10, "moderate"),
        ([2, 2, 2, 2, 2, 1, 1, 1, 1], 14, "moderate"),
        ([2, 2, 2, 2, 2, 2, 1, 1, 1], 15, "moderately severe"),
        ([3, 3, 3, 2, 2, 2, 2, 1, 1], 19, "moderately severe"),
        ([3, 3, 3, 2, 2, 2, 2, 2, 1], 20, "severe"),
        ([3, 3, 3, 3, 3, 3, 3, 3, 3], 27, "severe"),
    ],
)
def test_phq9_total_and_band_edges(answers: list[int], total: int, band: str) -> None:
    result = score("phq9", answers)
    assert result.total == total
    assert result.band == band


def test_phq9_keeps_every_answer() -> None:
    result = score("phq9", [3, 2, 1, 0, 1, 2, 3, 0, 0])
    assert result.answers == (3, 2, 1, 0, 1, 2, 3, 0, 0)
    assert result.total == 12


def test_phq9_item9_at_1_calls_for_a_same_day_safety_assessment() -> None:
    result = score("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert result.total == 1
    assert result.band == "minimal"
    [alert] = result.alerts
    assert alert.urgent
    assert alert.item == 9
    assert "same-day safety assessment" in alert.message
    assert "item 9" in alert.source


def test_phq9_item9_at_0_raises_no_alert_however_high_the_total() -> None:
    result = score("phq9", [3, 3, 3, 3, 3, 3, 3, 3, 0])
    assert result.total == 24
    assert result.alerts == ()


def test_phq9_loinc_codes_as_listed_in_the_facts_file() -> None:
    phq9 = scale("phq9")
    assert phq9.loinc_panel == "44249-1"
    assert phq9.loinc_total == "44261-6"
    assert phq9.items[0].loinc == "44250-9"
    assert phq9.items[1].loinc == "44255-8"
    assert phq9.items[8].loinc == "44260-8"
    assert len({i.loinc for i in phq9.items}) == 9


# --- GAD-7, MADRS -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([1, 1, 1, 1, 0, 0, 0], 4, "minimal"),
        ([1, 1, 1, 1, 1, 0, 0], 5, "mild"),
        ([2, 2, 2, 1, 1, 1, 0], 9, "mild"),
        ([2, 2, 2, 1, 1, 1, 1], 10, "moderate"),
        ([2, 2, 2, 2, 2, 2, 2], 14, "moderate"),
        ([3, 2, 2, 2, 2, 2, 2], 15, "severe"),
        ([3, 3, 3, 3, 3, 3, 3], 21, "severe"),
    ],
)
def test_gad7_total_and_band_edges(answers: list[int], total: int, band: str) -> None:
    result = score("gad7", answers)
    assert (result.total, result.band) == (total, band)


def test_gad7_loinc() -> None:
    assert scale("gad7").loinc_panel == "69737-5"
    assert scale("gad7").loinc_total == "70274-6"


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([1, 1, 1, 1, 1, 1, 0, 0, 0, 0], 6, "normal"),
        ([1, 1, 1, 1, 1, 1, 1, 0, 0, 0], 7, "mild"),
        ([2, 2, 2, 2, 2, 2, 2, 2, 2, 1], 19, "mild"),
        ([2, 2, 2, 2, 2, 2, 2, 2, 2, 2], 20, "moderate"),
        ([4, 4, 4, 4, 3, 3, 3, 3, 3, 3], 34, "moderate"),
        ([4, 4, 4, 4, 4, 3, 3, 3, 3, 3], 35, "severe"),
        ([6, 6, 6, 6, 6, 6, 6, 6, 6, 6], 60, "severe"),
    ],
)
def test_madrs_total_and_band_edges(answers: list[int], total: int, band: str) -> None:
    result = score("madrs", answers)
    assert (result.total, result.band) == (total, band)


def test_madrs_has_no_loinc_code_because_none_is_confirmed() -> None:
    assert scale("madrs").loinc_total is None
    assert scale("madrs").loinc_panel is None
    assert all(i.loinc is None for i in scale("madrs").items)


def test_madrs_item_range_is_0_to_6() -> None:
    with pytest.raises(InvalidAnswers) as refused:
        score("madrs", [7, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    assert refused.value.item == 1


# --- QIDS-SR16 --------------------------------------------------------------------------------


def test_qids_worked_example_scores_domains_not_items() -> None:
    # sleep 3,1,0,2 -> 3; sad mood 2; appetite/weight 0,2,1,0 -> 2; concentration 1;
    # view of self 2; death/suicide 0; interest 1; energy 2; psychomotor 0,3 -> 3.
    # Domains: 3+2+2+1+2+0+1+2+3 = 16 (the items alone would add to 20).
    answers = [3, 1, 0, 2, 2, 0, 2, 1, 0, 1, 2, 0, 1, 2, 0, 3]
    result = score("qids_sr16", answers)
    assert result.total == 16
    assert result.band == "severe"
    by_domain = {d.domain: d.score for d in result.domains}
    assert by_domain == {
        "sleep": 3,
        "sad mood": 2,
        "appetite or weight": 2,
        "concentration": 1,
        "view of self": 2,
        "thoughts of death or suicide": 0,
        "interest": 1,
        "energy": 2,
        "psychomotor": 3,
    }
    assert result.answers == tuple(answers)


def test_qids_domain_maxima_cap_the_total_at_27() -> None:
    result = score("qids_sr16", [3] * 16)
    assert result.total == 27
    assert result.band == "very severe"
    assert len(result.domains) == 9
    assert all(d.score == 3 for d in result.domains)


def test_qids_four_sleep_items_at_3_count_once() -> None:
    result = score("qids_sr16", [3, 3, 3, 3] + [0] * 12)
    assert result.total == 3
    assert result.band == "none"


def test_qids_the_grouped_domains_hold_the_right_items() -> None:
    result = score("qids_sr16", [0] * 16)
    items = {d.domain: d.items for d in result.domains}
    assert items["sleep"] == (1, 2, 3, 4)
    assert items["appetite or weight"] == (6, 7, 8, 9)
    assert items["psychomotor"] == (15, 16)
    assert items["thoughts of death or suicide"] == (12,)


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        # the single-item domains are items 5 and 10-14
        ([0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0], 5, "none"),
        ([0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0], 6, "mild"),
        ([2, 0, 0, 0, 2, 0, 0, 0, 0, 2, 2, 0, 2, 0, 0, 0], 10, "mild"),
        ([2, 0, 0, 0, 2, 0, 0, 0, 0, 2, 2, 1, 2, 0, 0, 0], 11, "moderate"),
        ([3, 0, 0, 0, 3, 0, 0, 0, 0, 3, 3, 0, 3, 0, 0, 0], 15, "moderate"),
        ([3, 0, 0, 0, 3, 0, 0, 0, 0, 3, 3, 1, 3, 0, 0, 0], 16, "severe"),
        ([3, 0, 0, 0, 3, 2, 0, 0, 0, 3, 3, 0, 3, 3, 0, 0], 20, "severe"),
        ([3, 0, 0, 0, 3, 2, 0, 0, 0, 3, 3, 0, 3, 3, 0, 1], 21, "very severe"),
    ],
)
def test_qids_band_edges(answers: list[int], total: int, band: str) -> None:
    result = score("qids_sr16", answers)
    assert (result.total, result.band) == (total, band)


def test_qids_source_flags_the_domain_rule_as_not_in_the_facts_file() -> None:
    source = scale("qids_sr16").source
    assert "16 items in 9 domains" in source
    assert "Rush 2003" in source
    assert "not confirmed" in source


# --- PCL-5, CADSS, MOAA/S, pain -------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([2] * 15 + [0] * 5, 30, "below the probable-PTSD cut-point"),
        ([2] * 15 + [1] + [0] * 4, 31, "probable PTSD at the lower cut-points (31-33)"),
        ([2] * 16 + [0] * 4, 32, "probable PTSD at the lower cut-points (31-33)"),
        ([2] * 16 + [1] + [0] * 3, 33, "probable PTSD"),
        ([4] * 20, 80, "probable PTSD"),
    ],
)
def test_pcl5_cut_points(answers: list[int], total: int, band: str) -> None:
    result = score("pcl5", answers)
    assert (result.total, result.band) == (total, band)


def test_cadss_4_is_not_notable() -> None:
    result = score("cadss", [1, 1, 1, 1] + [0] * 19)
    assert result.total == 4
    assert result.band == "not notable"
    assert result.alerts == ()


def test_cadss_5_is_notable_dissociation_but_not_urgent() -> None:
    result = score("cadss", [1, 1, 1, 1, 1] + [0] * 18)
    assert result.total == 5
    assert result.band == "notable dissociation"
    [alert] = result.alerts
    assert not alert.urgent
    assert alert.id == "cadss_notable"


def test_cadss_has_23_items_of_0_to_4() -> None:
    assert score("cadss", [4] * 23).total == 92
    with pytest.raises(InvalidAnswers) as refused:
        score("cadss", [0] * 22 + [5])
    assert refused.value.item == 23


def test_moaas_0_is_loss_of_consciousness_and_urgent() -> None:
    result = score("moaas", [0])
    assert result.total == 0
    assert result.band == "no response to pain (loss of consciousness)"
    [alert] = result.alerts
    assert alert.urgent
    assert "loss of consciousness" in alert.message


def test_moaas_1_raises_no_alert() -> None:
    result = score("moaas", [1])
    assert result.alerts == ()
    assert result.band == "reduced responsiveness"


def test_moaas_5_responds_to_name_and_6_is_refused() -> None:
    assert score("moaas", [5]).band == "responds to name"
    with pytest.raises(InvalidAnswers):
        score("moaas", [6])


def test_pain_nrs_has_its_loinc_code_and_no_bands() -> None:
    result = score("pain_nrs", [7])
    assert result.total == 7
    assert result.band is None
    assert scale("pain_nrs").loinc_total == "72514-3"
    with pytest.raises(InvalidAnswers) as refused:
        score("pain_nrs", [11])
    assert refused.value.item == 1


# --- C-SSRS screener ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "risk", "urgent"),
    [
        ([0, 0, 0, 0, 0, 0], "no risk identified", None),
        ([1, 0, 0, 0, 0, 0], "low risk", False),
        ([1, 1, 0, 0, 0, 0], "low risk", False),
        ([1, 1, 1, 0, 0, 0], "moderate risk", True),
        ([1, 1, 0, 1, 0, 0], "high risk", True),
        ([1, 1, 1, 1, 1, 0], "high risk", True),
        ([0, 0, 0, 0, 0, 1], "moderate risk", True),  # behaviour more than 3 months ago
        ([0, 0, 0, 0, 0, 2], "high risk", True),  # behaviour within 3 months
        ([1, 1, 1, 0, 0, 2], "high risk", True),
    ],
)
def test_cssrs_screener_risk(answers: list[int], risk: str, urgent: bool | None) -> None:
    result = score("cssrs_screener", answers)
    assert result.total is None
    assert result.band == risk
    if urgent is None:
        assert result.alerts == ()
    else:
        [alert] = result.alerts
        assert alert.urgent is urgent


def test_cssrs_answers_are_yes_or_no_except_the_behaviour_recency() -> None:
    with pytest.raises(InvalidAnswers) as refused:
        score("cssrs_screener", [2, 0, 0, 0, 0, 0])
    assert refused.value.item == 1
    with pytest.raises(InvalidAnswers) as refused:
        score("cssrs_screener", [0, 0, 0, 0, 0, 3])
    assert refused.value.item == 6


# --- refused answers ------------------------------------------------------------------------


def test_answer_out_of_range_is_refused_naming_the_item() -> None:
    with pytest.raises(InvalidAnswers) as refused:
        score("phq9", [0, 0, 4, 0, 0, 0, 0, 0, 0])
    assert refused.value.item == 3
    assert "PHQ-9 item 3" in str(refused.value)
    assert "0-3" in str(refused.value)
    assert isinstance(refused.value, ValueError)


def test_negative_answer_is_refused() -> None:
    with pytest.raises(InvalidAnswers) as refused:
        score("gad7", [0, 0, 0, 0, 0, -1, 0])
    assert refused.value.item == 6


def test_missing_last_item_is_refused_naming_it() -> None:
    with pytest.raises(InvalidAnswers) as refused:
        score("phq9", [0] * 8)
    assert refused.value.item == 9
    assert "no answer" in str(refused.value)


def test_blank_item_in_the_middle_is_refused_naming_it() -> None:
    with pytest.raises(InvalidAnswers) as refused:
        score("phq9", [0, 0, 0, 0, None, 0, 0, 0, 0])
    assert refused.value.item == 5


def test_extra_answer_is_refused() -> None:
    with pytest.raises(InvalidAnswers) as refused:
        score("phq9", [0] * 10)
    assert refused.value.item == 10
    assert "9 items" in str(refused.value)


@pytest.mark.parametrize("bad", [True, 1.0, "1", 1.5])
def test_an_answer_that_is_not_a_whole_number_is_refused(bad: object) -> None:
    with pytest.raises(InvalidAnswers) as refused:
        score("phq9", [0, bad, 0, 0, 0, 0, 0, 0, 0])
    assert refused.value.item == 2


def test_a_string_of_digits_is_not_a_list_of_answers() -> None:
    with pytest.raises(InvalidAnswers) as refused:
        score("phq9", "000000000")
    assert refused.value.item is None


def test_unknown_scale_is_refused() -> None:
    with pytest.raises(UnknownScale) as refused:
        score("beck", [0])
    assert isinstance(refused.value, ValueError)
    assert "phq9" in str(refused.value)


# --- the catalogue --------------------------------------------------------------------------


def test_the_nine_scales_of_the_facts_file() -> None:
    assert set(SCALES) == {
        "phq9",
        "gad7",
        "pcl5",
        "qids_sr16",
        "madrs",
        "cssrs_screener",
        "pain_nrs",
        "cadss",
        "moaas",
    }


@pytest.mark.parametrize(
    ("scale_id", "count", "low", "high"),
    [
        ("phq9", 9, 0, 3),
        ("gad7", 7, 0, 3),
        ("madrs", 10, 0, 6),
        ("qids_sr16", 16, 0, 3),
        ("pcl5", 20, 0, 4),
        ("cadss", 23, 0, 4),
        ("moaas", 1, 0, 5),
        ("cssrs_screener", 6, 0, 1),
        ("pain_nrs", 1, 0, 10),
    ],
)
def test_item_counts_and_ranges(scale_id: str, count: int, low: int, high: int) -> None:
    rating = scale(scale_id)
    assert len(rating.items) == count
    assert rating.item_range == (low, high)
    assert [i.number for i in rating.items] == list(range(1, count + 1))
    assert rating.source


def test_no_loinc_code_beyond_those_the_facts_file_lists() -> None:
    listed = {
        "44249-1",
        "44261-6",
        "44250-9",
        "44255-8",
        "44259-0",
        "44254-1",
        "44251-7",
        "44258-2",
        "44252-5",
        "44253-3",
        "44260-8",
        "69737-5",
        "70274-6",
        "72514-3",
    }
    used: set[str] = set()
    for rating in SCALES.values():
        used |= {c for c in (rating.loinc_panel, rating.loinc_total) if c}
        used |= {i.loinc for i in rating.items if i.loinc}
    assert used == listed


def test_bands_cover_every_possible_total_without_overlap() -> None:
    for rating in SCALES.values():
        if not rating.bands or rating.total_range is None:
            continue
        low, high = rating.total_range
        covered = [t for b in rating.bands for t in range(b.low, b.high + 1)]
        assert sorted(covered) == list(range(low, high + 1)), rating.id
