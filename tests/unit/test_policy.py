import pytest

from ketaclinic import policy
from ketaclinic.policy import PolicyError


def test_defaults_follow_the_contract() -> None:
    p = policy.DEFAULT
    assert p.name == "default"
    assert p.resistance.minimum_weeks == 6
    assert p.resistance.distinct_classes is True
    assert p.resistance.merge_gap_days == 30
    assert p.blood_pressure.uncontrolled_systolic == 160
    assert p.blood_pressure.uncontrolled_diastolic == 90


def test_override_changes_only_the_named_value() -> None:
    p = policy.parse('name = "Riverside"\n[resistance]\nminimum_weeks = 8\n')
    assert p.name == "Riverside"
    assert p.resistance.minimum_weeks == 8
    assert p.resistance.merge_gap_days == 30
    assert p.sha256 != policy.DEFAULT.sha256


def test_same_values_hash_the_same() -> None:
    assert policy.parse("[resistance]\nminimum_weeks = 6\n").sha256 == policy.DEFAULT.sha256


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[resistance]\nminimum_weeks = 0\n", "resistance.minimum_weeks"),
        ("[blood_pressure]\nuncontrolled_systolic = 300\n", "blood_pressure.uncontrolled_systolic"),
        ("[resistance]\nminimum_weeks = 'six'\n", "resistance.minimum_weeks"),
        ("[resistance]\nminimum_weeks = 6.5\n", "resistance.minimum_weeks"),
        ("[resistance]\ndistinct_classes = 1\n", "resistance.distinct_classes"),
        ("[resistance]\nminimum_week = 6\n", "resistance.minimum_week"),
        ("[nonsense]\nx = 1\n", "nonsense"),
    ],
)
def test_bad_values_are_refused_with_the_key_named(text: str, key: str) -> None:
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")):
        policy.parse(text)


def test_not_toml_is_refused() -> None:
    with pytest.raises(PolicyError, match="TOML"):
        policy.parse("[resistance\n")


def test_every_setting_has_a_source_and_a_range_holding_its_default() -> None:
    for key, default, low, high, source in policy.describe():
        assert source, key
        assert low <= default <= high, key
