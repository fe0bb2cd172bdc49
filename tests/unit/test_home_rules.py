"""Home programme rules (issue 5 item 5): each rule with a case that trips it and a near miss."""

from __future__ import annotations

from datetime import datetime, timedelta

from ketaclinic.clinical.home_rules import (
    PDMP_WINDOW,
    CheckinFacts,
    checkin_for_dose,
    checkin_missed,
    checkin_passes,
    home_dose_problem,
    pdmp_check_problem,
    prescription_dose_problem,
    route_goes_home,
)

WRITTEN = datetime(2026, 11, 2, 10, 0)


def test_only_oral_and_sublingual_plans_go_home() -> None:
    assert route_goes_home("oral") is None
    assert route_goes_home("sublingual") is None
    for route in ("esketamine", "iv", "im"):
        refusal = route_goes_home(route)
        assert refusal is not None and refusal.field == "plan_id"
    esketamine = route_goes_home("esketamine")
    assert esketamine is not None and "never dispensed for home use" in esketamine.source


def test_pdmp_check_must_come_before_the_prescription() -> None:
    missing = pdmp_check_problem(None, None, False, WRITTEN)
    assert missing is not None and missing.field == "pdmp"
    after = pdmp_check_problem(WRITTEN + timedelta(minutes=1), "clear", False, WRITTEN)
    assert after is not None
    # Recorded at the very moment of writing counts as before it.
    assert pdmp_check_problem(WRITTEN, "clear", False, WRITTEN) is None


def test_pdmp_check_window_is_24_hours() -> None:
    assert timedelta(hours=24) == PDMP_WINDOW
    assert pdmp_check_problem(WRITTEN - timedelta(hours=24), "clear", False, WRITTEN) is None
    stale = pdmp_check_problem(WRITTEN - timedelta(hours=24, minutes=1), "clear", False, WRITTEN)
    assert stale is not None and "more than 24 hours old" in stale.message


def test_pdmp_check_serves_one_prescription_and_must_be_clear() -> None:
    used = pdmp_check_problem(WRITTEN - timedelta(hours=1), "clear", True, WRITTEN)
    assert used is not None and "another prescription" in used.message
    concern = pdmp_check_problem(WRITTEN - timedelta(hours=1), "concern", False, WRITTEN)
    assert concern is not None and "concern" in concern.message


def test_prescription_never_above_the_plan() -> None:
    assert prescription_dose_problem(100, 8, 100) is None
    above = prescription_dose_problem(100.5, 8, 100)
    assert above is not None and above.message == "100.5 mg is above the plan's dose of 100 mg"
    no_plan_dose = prescription_dose_problem(50, 8, None)
    assert no_plan_dose is not None and no_plan_dose.field == "dose_mg"
    zero = prescription_dose_problem(0, 8, 100)
    assert zero is not None and zero.field == "dose_mg"
    no_doses = prescription_dose_problem(50, 0, 100)
    assert no_doses is not None and no_doses.field == "doses"
    assert prescription_dose_problem(50, 1, 100) is None


def test_checkin_passes_only_with_sitter_and_no_driving() -> None:
    assert checkin_passes(True, True)
    assert not checkin_passes(False, True)
    assert not checkin_passes(True, False)
    assert not checkin_passes(None, True)


def test_checkin_missed_after_due_time_not_at_it() -> None:
    due = datetime(2026, 11, 3, 18, 0)
    assert not checkin_missed(due, None, due)
    assert checkin_missed(due, None, due + timedelta(minutes=1))
    assert not checkin_missed(due, due + timedelta(minutes=30), due + timedelta(hours=2))


def test_home_dose_limits() -> None:
    assert home_dose_problem(100, 100, 100, 7, 8) is None
    above_plan = home_dose_problem(101, 100, 150, 0, 8)
    assert above_plan is not None and "plan's dose of 100 mg" in above_plan.message
    above_prescription = home_dose_problem(80, 100, 75, 0, 8)
    assert above_prescription is not None
    assert above_prescription.message == "80 mg is above the prescription's dose of 75 mg"
    used_up = home_dose_problem(75, 100, 75, 8, 8)
    assert used_up is not None and used_up.field == "prescription_id"
    assert home_dose_problem(0, 100, 75, 0, 8) is not None


def test_checkin_for_dose_same_day_before_passing_unused() -> None:
    taken = datetime(2026, 11, 3, 19, 0)
    good = CheckinFacts(1, datetime(2026, 11, 3, 18, 30), True, True, False)
    assert checkin_for_dose([good], taken) == 1
    # At the very minute of the dose still counts as before it.
    assert checkin_for_dose([CheckinFacts(2, taken, True, True, False)], taken) == 2
    later = CheckinFacts(3, taken + timedelta(minutes=1), True, True, False)
    yesterday = CheckinFacts(4, datetime(2026, 11, 2, 23, 59), True, True, False)
    failing = CheckinFacts(5, datetime(2026, 11, 3, 18, 0), False, True, False)
    used = CheckinFacts(6, datetime(2026, 11, 3, 18, 0), True, True, True)
    not_done = CheckinFacts(7, None, None, None, False)
    assert checkin_for_dose([later, yesterday, failing, used, not_done], taken) is None
    earlier = CheckinFacts(8, datetime(2026, 11, 3, 8, 0), True, True, False)
    assert checkin_for_dose([earlier, good], taken) == 1
