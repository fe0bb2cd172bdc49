"""The session state machine and the chair-side rules (clinical/session_states.py,
clinical/session_checks.py). The allowed moves are written out here from issue 5, not read from
the module's table, and every other pair of states is checked to be refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import product

import pytest

from ketaclinic.clinical.findings import Finding
from ketaclinic.clinical.monitoring import GoNoGo, Reason
from ketaclinic.clinical.session_checks import (
    device_problem,
    escort_problem,
    fasting_problem,
    new_findings,
    next_vitals_due,
    open_alerts_reason,
    outside_plan,
    pregnancy_test_problem,
    recorded_blockers,
    rems_problems,
    vitals_overdue,
    with_stops,
)
from ketaclinic.clinical.session_states import as_state, may_move, transition_refusal

STATES = (
    "scheduled", "checked_in", "pre_dose_check", "dosing", "observation", "ready_for_discharge",
    "discharged", "cancelled", "stopped",
)  # fmt: skip
# Issue 5: scheduled -> checked_in -> pre_dose_check -> dosing -> observation ->
# ready_for_discharge -> discharged, or cancelled (before any dose) / stopped (once in the
# clinic) with a reason; a prescriber's override discharges from observation; a new alert sends
# a patient ready to leave back to observation.
ALLOWED = {
    ("scheduled", "checked_in"),
    ("checked_in", "pre_dose_check"),
    ("pre_dose_check", "dosing"),
    ("dosing", "observation"),
    ("observation", "ready_for_discharge"),
    ("ready_for_discharge", "discharged"),
    ("observation", "discharged"),
    ("ready_for_discharge", "observation"),
    ("scheduled", "cancelled"),
    ("checked_in", "cancelled"),
    ("pre_dose_check", "cancelled"),
    ("checked_in", "stopped"),
    ("pre_dose_check", "stopped"),
    ("dosing", "stopped"),
    ("observation", "stopped"),
    ("ready_for_discharge", "stopped"),
}
ILLEGAL = [pair for pair in product(STATES, STATES) if pair not in ALLOWED]


def test_there_are_nine_states_and_sixty_five_illegal_pairs() -> None:
    assert len(ILLEGAL) == 81 - 16


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_moves(current: str, target: str) -> None:
    assert transition_refusal(current, target, "a reason") is None


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_every_illegal_move_is_refused(current: str, target: str) -> None:
    refusal = transition_refusal(current, target, "a reason")
    assert refusal is not None
    assert refusal.id in ("out_of_order", "session_closed")
    assert not may_move(current, target, "a reason")


@pytest.mark.parametrize("final", ["discharged", "cancelled", "stopped"])
def test_final_states_say_the_session_is_closed(final: str) -> None:
    refusal = transition_refusal(final, "checked_in")
    assert refusal is not None and refusal.id == "session_closed"


@pytest.mark.parametrize("target", ["cancelled", "stopped"])
def test_cancel_and_stop_need_a_reason(target: str) -> None:
    for blank in (None, "", "   "):
        refusal = transition_refusal("checked_in", target, blank)
        assert refusal is not None and refusal.id == "reason_required"
    assert transition_refusal("checked_in", target, "patient unwell") is None


def test_out_of_order_names_the_next_states() -> None:
    refusal = transition_refusal("scheduled", "dosing")
    assert refusal is not None
    assert refusal.message == (
        "A session that is scheduled cannot become dosing; next is cancelled or checked in."
    )


def test_unknown_states_are_refused() -> None:
    assert transition_refusal("scheduled", "flying") is not None
    with pytest.raises(ValueError):
        as_state("flying")


# ---- before the dose ----------------------------------------------------------------------------

NOW = datetime(2026, 11, 1, 9, 0)


def test_fasting_for_esketamine_food_two_hours_drink_thirty_minutes() -> None:
    # Exactly 2 h and 30 min are enough (label: no food for 2 h, no drink for 30 min).
    assert fasting_problem("esketamine", NOW, True, NOW - timedelta(hours=2)) is None
    food = fasting_problem("esketamine", NOW, True, NOW - timedelta(minutes=119))
    assert food is not None and food.id == "fasting_food"
    assert fasting_problem("esketamine", NOW, True, None, NOW - timedelta(minutes=30)) is None
    drink = fasting_problem("esketamine", NOW, True, None, NOW - timedelta(minutes=29))
    assert drink is not None and drink.id == "fasting_drink"


def test_fasting_must_be_confirmed_on_esketamine_only() -> None:
    for answer in (None, False):
        found = fasting_problem("esketamine", NOW, answer)
        assert found is not None and found.id == "fasting_not_confirmed"
    assert fasting_problem("esketamine", NOW, True) is None
    assert fasting_problem("iv", NOW, None) is None


def test_rems_site_and_patient_on_esketamine_only() -> None:
    assert [r.id for r in rems_problems("esketamine", False, False)] == [
        "rems_site_not_certified",
        "rems_patient_not_enrolled",
    ]
    assert [r.id for r in rems_problems("esketamine", True, False)] == ["rems_patient_not_enrolled"]
    assert rems_problems("esketamine", True, True) == ()
    assert rems_problems("iv", False, False) == ()


def test_escort_and_pregnancy_test() -> None:
    assert escort_problem(True) is None
    assert escort_problem(False) is not None
    for status in ("missing", "stale"):
        found = pregnancy_test_problem(status)
        assert found is not None and found.id == "pregnancy_test_not_fresh"
    for passing in ("done", "not_required", None):
        assert pregnancy_test_problem(passing) is None


def _finding(fid: str, kind: str) -> Finding:
    return Finding(fid, kind, fid, (), "spec")  # type: ignore[arg-type]


def test_new_findings_are_those_the_plans_screening_did_not_have() -> None:
    baseline = [_finding("elevated_blood_pressure", "relative"), _finding("under_18", "relative")]
    today = [
        _finding("elevated_blood_pressure", "relative"),  # known
        _finding("pregnancy", "absolute"),  # new
        _finding("under_18", "absolute"),  # stricter than before: new
        _finding("benzodiazepine", "interaction"),  # not a contraindication
    ]
    assert [(f.id, f.kind) for f in new_findings(today, baseline)] == [
        ("pregnancy", "absolute"),
        ("under_18", "absolute"),
    ]


def test_more_stops_turn_any_outcome_to_stop() -> None:
    confirm = GoNoGo("confirm", (Reason("a", "a", "s"),))
    assert with_stops(confirm, ()) is confirm
    stopped = with_stops(confirm, [Reason("b", "b", "s")])
    assert stopped.decision == "stop"
    assert [r.id for r in stopped.reasons] == ["a", "b"]


# ---- the dose -----------------------------------------------------------------------------------


def test_esketamine_devices_are_28_mg_up_to_84_mg() -> None:
    assert device_problem(28, 0) is None
    assert device_problem(28, 56) is None  # the third device: 84 mg
    too_much = device_problem(28, 84)
    assert too_much is not None and too_much.id == "dose_above_maximum"
    wrong = device_problem(56, 0)
    assert wrong is not None and wrong.id == "device_dose"


def test_outside_the_plan() -> None:
    # Esketamine: more devices than planned is outside; fewer so far is not.
    assert outside_plan("esketamine", 0, 28, 56) is None
    assert outside_plan("esketamine", 28, 28, 56) is None
    assert outside_plan("esketamine", 56, 28, 56) is not None
    # Other routes: the session's total must be the planned mg, to 0.01 mg.
    assert outside_plan("iv", 0, 40, 40) is None
    assert outside_plan("iv", 0, 40.004, 40) is None
    assert outside_plan("iv", 0, 4, 40) is not None
    assert outside_plan("iv", 0, 41, 40) is not None
    assert outside_plan("iv", 40, 5, 40) is not None


# ---- during the session -------------------------------------------------------------------------


def _at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


DUE = (_at(0), _at(15), _at(30), _at(45))


def test_vitals_overdue_five_minutes_after_they_were_due() -> None:
    taken = [_at(-10)]  # the pre-dose reading covers the start
    assert vitals_overdue(DUE, taken, _at(20)) == ()  # 15 is due until 20
    assert vitals_overdue(DUE, taken, _at(21)) == (_at(15),)
    assert vitals_overdue(DUE, [*taken, _at(19)], _at(21)) == ()
    # A reading outside the 5 minutes either side does not count for the due time.
    assert vitals_overdue(DUE, [*taken, _at(9)], _at(21)) == (_at(15),)


def test_first_due_time_met_by_the_pre_dose_reading_and_last_by_any_later() -> None:
    assert vitals_overdue(DUE, [], _at(6)) == (_at(0),)
    assert vitals_overdue(DUE, [_at(-60)], _at(6)) == ()
    later = [_at(-5), _at(15), _at(30), _at(70)]
    assert vitals_overdue(DUE, later, _at(71)) == ()


def test_next_vitals_due() -> None:
    assert next_vitals_due(DUE, [_at(-5)], _at(1)) == _at(15)
    assert next_vitals_due(DUE, [_at(-5)], _at(20)) == _at(15)
    assert next_vitals_due(DUE, [_at(-5)], _at(21)) == _at(30)
    assert next_vitals_due(DUE, [_at(-5), _at(45)], _at(46)) is None


def test_open_alerts_and_the_recorded_checklist() -> None:
    assert open_alerts_reason(0) is None
    found = open_alerts_reason(2)
    assert found is not None and found.message == "2 alerts not yet acknowledged."
    items = [Reason(i, i, "s") for i in ("observation_not_over", "no_escort", "not_oriented")]
    assert [r.id for r in recorded_blockers(items)] == ["observation_not_over"]


# ---- integration (psychotherapy) sessions -------------------------------------------------------

# Issue 5: integration sessions are "scheduled and recorded like other visits". No dose, so no
# pre-dose check, dosing or observation: checked in, then done (discharged, with a note of what
# was done), called off (cancelled) or ended for a clinical reason (stopped).
INTEGRATION_ALLOWED = {
    ("scheduled", "checked_in"),
    ("scheduled", "cancelled"),
    ("checked_in", "discharged"),
    ("checked_in", "cancelled"),
    ("checked_in", "stopped"),
}
INTEGRATION_ILLEGAL = [p for p in product(STATES, STATES) if p not in INTEGRATION_ALLOWED]


def test_integration_sessions_have_five_moves_and_seventy_six_illegal_pairs() -> None:
    assert len(INTEGRATION_ILLEGAL) == 81 - 5


@pytest.mark.parametrize(("current", "target"), sorted(INTEGRATION_ALLOWED))
def test_integration_allowed_moves(current: str, target: str) -> None:
    assert transition_refusal(current, target, "a note", kind="integration") is None
    assert may_move(current, target, "a note", kind="integration")


@pytest.mark.parametrize(("current", "target"), INTEGRATION_ILLEGAL)
def test_every_illegal_integration_move_is_refused(current: str, target: str) -> None:
    refusal = transition_refusal(current, target, "a note", kind="integration")
    assert refusal is not None
    assert refusal.id in ("out_of_order", "session_closed")
    assert not may_move(current, target, "a note", kind="integration")


def test_a_dosing_session_never_goes_from_checked_in_to_discharged() -> None:
    for refusal in (
        transition_refusal("checked_in", "discharged", "a note"),
        transition_refusal("checked_in", "discharged", "a note", kind="dosing"),
    ):
        assert refusal is not None and refusal.id == "out_of_order"
    assert not may_move("checked_in", "discharged", "a note")


def test_an_integration_visit_is_done_only_with_a_note() -> None:
    for blank in (None, "", "  "):
        refusal = transition_refusal("checked_in", "discharged", blank, kind="integration")
        assert refusal is not None and refusal.id == "reason_required"
        assert refusal.message == (
            "An integration session is discharged only with a note of what was done."
        )


def test_integration_refusals_say_what_comes_next() -> None:
    refusal = transition_refusal("checked_in", "pre_dose_check", kind="integration")
    assert refusal is not None
    assert refusal.message == (
        "An integration session that is checked in cannot become pre dose check; "
        "next is cancelled or discharged or stopped."
    )
    never = transition_refusal("observation", "discharged", "x", kind="integration")
    assert never is not None and never.message == "An integration session is never observation."


def test_an_unknown_kind_is_refused() -> None:
    refusal = transition_refusal("scheduled", "checked_in", kind="massage")
    assert refusal is not None and "not a session kind" in refusal.message
