"""The decision order of spec/screening.md, 'Decision': the first rule that applies wins."""

import pytest

from ketaclinic.clinical.findings import Finding, Kind
from ketaclinic.clinical.screening import decide


def f(kind: Kind) -> Finding:
    return Finding(f"some_{kind}", kind, "m", ("X/1",), "s")


@pytest.mark.parametrize(
    ("kinds", "qualifying", "expected"),
    [
        (["absolute", "missing", "relative"], 1, "not_eligible"),
        (["absolute"], 0, "not_eligible"),
        (["indication"], 0, "not_eligible"),
        (["indication", "missing"], 0, "not_eligible"),
        (["missing"], 0, "needs_information"),
        (["missing", "relative", "interaction"], 1, "needs_information"),
        (["relative"], 1, "eligible_with_precautions"),
        (["interaction"], 1, "eligible_with_precautions"),
        (["note", "note"], 1, "eligible"),
        ([], 1, "eligible"),
    ],
)
def test_decision_order(kinds: list[Kind], qualifying: int, expected: str) -> None:
    assert decide([f(k) for k in kinds], qualifying) == expected
