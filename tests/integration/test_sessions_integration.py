"""Integration (psychotherapy) sessions recorded as visits, and observation ending by time, on
SQLite and PostgreSQL (issue 5).

Issue 5: "A plan may include integration sessions (psychotherapy after dosing sessions ...),
scheduled and recorded like other visits." An integration session is checked in, then done
(discharged, with a note of what was done), cancelled or stopped; a dosing session never leaves
that way. Esketamine: observation at least 120 minutes from the first device (label; issue 5
"Esketamine discharge refused at 119 minutes and allowed at 120").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from ketaclinic.services import sessions as svc
from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput
from ketaclinic.services.session_forms import DoseIn
from tests.integration.services_support import Clinic, open_clinic
from tests.integration.session_support import (
    ALL_CLEAR,
    CALM,
    GOOD_PREDOSE,
    INTEGRATION_STATES,
    integration_visit,
    state_of,
    visit_in,
)
from tests.unit.test_session_states import INTEGRATION_ALLOWED

E = TypeVar("E", bound=Exception)
NOTE = "Integration: talked through the imagery of the session; sleep plan agreed."


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


def do(clinic: Clinic, action: Callable[..., Any], *args: Any, who: str = "nurse") -> Any:
    with clinic.work() as s:
        return action(s, clinic.actors[who], clinic.clock, *args)  # type: ignore[index]


def snapshot(clinic: Clinic, session_id: int) -> tuple[dict[str, int], str, object]:
    with clinic.work() as s:
        row = svc.get_treatment_session(s, session_id)
        return clinic.counts(), row.state, row.discharged_at


def refused(clinic: Clinic, error: type[E], action: Callable[..., Any], session_id: int,
            *args: Any, who: str = "nurse") -> E:  # fmt: skip
    """The action on ``session_id`` is refused with ``error``: no row added, the state and the
    discharge time as they were."""
    before = snapshot(clinic, session_id)
    with pytest.raises(error) as caught:
        do(clinic, action, session_id, *args, who=who)
    assert snapshot(clinic, session_id) == before
    return caught.value


# ---- integration visits -------------------------------------------------------------------------


def test_an_integration_visit_is_checked_in_and_recorded_as_done_with_its_note(
    clinic: Clinic,
) -> None:
    visit = integration_visit(clinic, "checked_in")
    clinic.clock.advance(minutes=50)
    row = do(clinic, svc.complete_visit, visit.session_id, NOTE)
    assert (row.kind, row.state, row.discharged_at) == (
        "integration",
        "discharged",
        clinic.clock.now(),
    )
    with clinic.work() as s:
        events = svc.events_of(s, visit.session_id)
        assert [(e.from_state, e.to_state) for e in events] == [
            ("scheduled", "checked_in"),
            ("checked_in", "discharged"),
        ]
        done = events[-1]
        assert (done.reason, done.by_id, done.at) == (
            NOTE,
            clinic.nurse.user_id,
            clinic.clock.now(),
        )


def test_prescribers_record_visits_too_the_front_desk_and_admins_may_not(clinic: Clinic) -> None:
    visit = integration_visit(clinic, "checked_in")
    for role in ("front_desk", "admin"):
        refused(clinic, Forbidden, svc.complete_visit, visit.session_id, NOTE, who=role)
    assert do(clinic, svc.complete_visit, visit.session_id, NOTE, who="prescriber").state == (
        "discharged"
    )


def test_the_note_is_required(clinic: Clinic) -> None:
    sid = integration_visit(clinic, "checked_in").session_id
    for blank in ("", "   "):
        error = refused(clinic, InvalidInput, svc.complete_visit, sid, blank)
        assert error.field == "note"
    too_long = "x" * 501
    assert refused(clinic, InvalidInput, svc.complete_visit, sid, too_long).field == "note"
    assert state_of(clinic, sid) == "checked_in"


def test_a_dosing_session_is_never_completed_as_a_visit(clinic: Clinic) -> None:
    for state in ("checked_in", "pre_dose_check", "observation", "ready_for_discharge"):
        sid = visit_in(clinic, state).session_id
        error = refused(clinic, Conflict, svc.complete_visit, sid, NOTE)
        assert "Only an integration session" in str(error)


def test_completing_twice_is_refused(clinic: Clinic) -> None:
    sid = integration_visit(clinic, "discharged").session_id
    error = refused(clinic, Conflict, svc.complete_visit, sid, "again")
    assert str(error) == "The session is discharged: nothing more can happen."


def test_an_integration_session_has_no_dose_and_no_discharge_checklist(clinic: Clinic) -> None:
    sid = integration_visit(clinic, "checked_in").session_id
    refused(clinic, Conflict, svc.run_predose_check, sid, GOOD_PREDOSE)
    refused(clinic, Conflict, svc.discharge, sid, ALL_CLEAR)
    override = replace(ALL_CLEAR, override_reason="seen")
    refused(clinic, Conflict, svc.discharge, sid, override, who="prescriber")
    refused(clinic, Conflict, svc.check_ready, sid)


# The service that asks for each state of an integration session.
MOVES: dict[str, Callable[[Clinic, int], Any]] = {
    "checked_in": lambda c, sid: do(c, svc.check_in, sid),
    "pre_dose_check": lambda c, sid: do(c, svc.run_predose_check, sid, GOOD_PREDOSE),
    "dosing": lambda c, sid: do(c, svc.record_dose, sid, DoseIn(40, lot="K-1")),
    "observation": lambda c, sid: do(c, svc.end_dosing, sid),
    "ready_for_discharge": lambda c, sid: do(c, svc.check_ready, sid),
    "discharged": lambda c, sid: do(c, svc.complete_visit, sid, NOTE),
    "cancelled": lambda c, sid: do(c, svc.cancel_session, sid, "moved"),
    "stopped": lambda c, sid: do(c, svc.stop_session, sid, "unwell"),
}


def test_every_illegal_move_of_an_integration_session_is_refused(clinic: Clinic) -> None:
    visits = {state: integration_visit(clinic, state) for state in INTEGRATION_STATES}
    tried = 0
    for current in INTEGRATION_STATES:
        sid = visits[current].session_id
        assert state_of(clinic, sid) == current
        for target, move in MOVES.items():
            if (current, target) in INTEGRATION_ALLOWED:
                continue
            before = snapshot(clinic, sid)
            with pytest.raises(Conflict):
                move(clinic, sid)
            assert snapshot(clinic, sid) == before, (current, target)
            tried += 1
    # 5 reachable states x 8 targets, less the 5 allowed moves.
    assert tried == 40 - 5


def test_the_allowed_moves_of_an_integration_session(clinic: Clinic) -> None:
    for current, target in sorted(INTEGRATION_ALLOWED):
        sid = integration_visit(clinic, current).session_id
        MOVES[target](clinic, sid)
        assert state_of(clinic, sid) == target


# ---- observation ending by time -----------------------------------------------------------------


def test_the_summary_reads_the_checklist_now_without_writing(clinic: Clinic) -> None:
    """Esketamine: vitals calm and MOAA/S 5 at 119 minutes after the first device; at 120 the
    summary (and so the board) says the checklist passes while the stored state stays
    observation until the next write or check_ready."""
    sid = visit_in(clinic, "observation", "esketamine").session_id
    with clinic.work() as s:
        first_device = svc.get_treatment_session(s, sid).dosing_started_at
    assert first_device is not None
    clinic.clock.at = first_device + timedelta(minutes=119)
    do(clinic, svc.record_vitals, sid, CALM)
    do(clinic, svc.record_score, sid, "moaas", 5)
    with clinic.work() as s:
        summary = svc.session_summary(s, clinic.clock, sid)
        assert [b.id for b in summary.blockers] == ["observation_not_over"]
        assert (summary.state, summary.may_leave) == ("observation", False)

    clinic.clock.at = first_device + timedelta(minutes=120)
    before = snapshot(clinic, sid)
    with clinic.work() as s:
        summary = svc.session_summary(s, clinic.clock, sid)
        assert summary.blockers == []
        assert (summary.state, summary.may_leave) == ("observation", True)
        (on_board,) = [x for x in svc.board(s, clinic.clock, clinic.clock.now().date())
                       if x.id == sid]  # fmt: skip
        assert on_board.may_leave
    assert snapshot(clinic, sid) == before  # a read writes nothing
    assert do(clinic, svc.check_ready, sid).state == "ready_for_discharge"
    with clinic.work() as s:
        assert svc.session_summary(s, clinic.clock, sid).may_leave


def test_may_leave_is_false_while_dosing_or_with_an_open_alert(clinic: Clinic) -> None:
    dosing = visit_in(clinic, "dosing").session_id
    with clinic.work() as s:
        assert not svc.session_summary(s, clinic.clock, dosing).may_leave
    sid = visit_in(clinic, "ready_for_discharge").session_id
    with clinic.work() as s:
        assert svc.session_summary(s, clinic.clock, sid).may_leave
    do(clinic, svc.record_vitals, sid, replace(CALM, heart_rate=130))
    with clinic.work() as s:
        summary = svc.session_summary(s, clinic.clock, sid)
        assert not summary.may_leave
        # Heart rate 130 is above the alert limit of 120, and its alert is not acknowledged.
        assert [b.id for b in summary.blockers] == ["vitals_alerting", "alerts_open"]
