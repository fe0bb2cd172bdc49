"""clinical/plan_rules.py: when a screening allows a plan, label status, home doses. Expected
values by hand from issue 5, spec/screening.md and clinical-facts.md."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ketaclinic.clinical.plan_rules import (
    ScreeningFacts,
    home_doses,
    on_label,
    plan_refusals,
    screening_route,
    suicidal_ideation_schedule,
)

TODAY = date(2026, 11, 1)
COMPLETE = (
    ("physical_exam", "done"), ("blood_pressure", "done"), ("liver_function", "done"),
    ("renal_function", "done"), ("thyroid", "not_required"), ("urinalysis", "not_required"),
    ("pregnancy_test", "done"), ("ecg", "not_required"), ("baseline_scale", "done"),
)  # fmt: skip


def facts(**changes: object) -> ScreeningFacts:
    values: dict[str, object] = {
        "signed": True,
        "decision": "eligible",
        "overridden": False,
        "screened_on": TODAY,
        "indications": ("treatment_resistant_depression",),
        "workup": COMPLETE,
    }
    values.update(changes)
    return ScreeningFacts(**values)  # type: ignore[arg-type]


def ids(
    found: ScreeningFacts | None, indication: str = "treatment_resistant_depression"
) -> set[str]:
    return {r.id for r in plan_refusals(found, indication, TODAY)}


def test_a_signed_eligible_recent_complete_screening_allows_a_plan() -> None:
    assert ids(facts()) == set()
    assert ids(facts(decision="eligible_with_precautions")) == set()


def test_no_screening_and_unsigned() -> None:
    assert ids(None) == {"no_screening"}
    assert ids(facts(signed=False)) == {"screening_unsigned"}


@pytest.mark.parametrize("decision", ["not_eligible", "needs_information"])
def test_a_negative_decision_refuses(decision: str) -> None:
    assert ids(facts(decision=decision)) == {"screening_not_positive"}
    [reason] = plan_refusals(facts(decision=decision, overridden=True), "x", TODAY)
    assert f"overridden to {decision}" in reason.message


def test_screening_age_90_days_allowed_91_refused() -> None:
    assert ids(facts(screened_on=TODAY - timedelta(days=90))) == set()
    assert ids(facts(screened_on=TODAY - timedelta(days=91))) == {"screening_too_old"}


def test_workup_missing_or_stale_refuses_but_urinalysis_never_required() -> None:
    stale = tuple((t, "stale" if t == "liver_function" else s) for t, s in COMPLETE)
    [reason] = plan_refusals(facts(workup=stale), "treatment_resistant_depression", TODAY)
    assert (reason.id, reason.message) == (
        "workup_incomplete", "The workup is not complete: liver_function stale."
    )  # fmt: skip
    old_urine = tuple((t, "stale" if t == "urinalysis" else s) for t, s in COMPLETE)
    assert ids(facts(workup=old_urine)) == set()


def test_the_indication_must_be_screened() -> None:
    assert ids(facts(), "fibromyalgia") == {"indication_not_screened"}


def test_label_status() -> None:
    assert on_label("esketamine", "treatment_resistant_depression")
    assert on_label("esketamine", "mdd_with_suicidal_ideation")
    assert not on_label("esketamine", "ptsd")
    assert not on_label("iv", "treatment_resistant_depression")
    assert suicidal_ideation_schedule("esketamine", "mdd_with_suicidal_ideation")
    assert not suicidal_ideation_schedule("iv", "mdd_with_suicidal_ideation")


def test_sublingual_uses_the_oral_screening() -> None:
    assert screening_route("sublingual") == "oral"
    assert screening_route("iv") == "iv"
    with pytest.raises(ValueError):
        screening_route("rectal")


def test_home_doses_spread_over_the_days() -> None:
    # 4 doses over 10 days: offsets i * 9 // 3 = 0, 3, 6, 9.
    days = [d.on for d in home_doses(TODAY, 4, 10)]
    assert days == [TODAY + timedelta(days=n) for n in (0, 3, 6, 9)]
    with pytest.raises(ValueError):
        home_doses(TODAY, 5, 4)
