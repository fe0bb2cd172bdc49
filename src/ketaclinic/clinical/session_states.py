"""The states of a monitored session and the moves between them (issue 5, "Session workflow").

    scheduled -> checked_in -> pre_dose_check -> dosing -> observation -> ready_for_discharge
    -> discharged, or cancelled / stopped with a reason.

``cancelled``: called off before any drug was given (the patient did not come, or the visit was
moved). ``stopped``: ended for a clinical reason once the patient is in the clinic (a pre-dose
check that says stop, an adverse event that sends the patient to emergency care); a dose may
already have been given. Observation may be cut short only by a prescriber's discharge override
(observation -> discharged); a session that is ready to leave goes back to observation when a
new alert is raised. Discharged, cancelled and stopped are final.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

State = Literal[
    "scheduled",
    "checked_in",
    "pre_dose_check",
    "dosing",
    "observation",
    "ready_for_discharge",
    "discharged",
    "cancelled",
    "stopped",
]
STATES: tuple[State, ...] = (
    "scheduled",
    "checked_in",
    "pre_dose_check",
    "dosing",
    "observation",
    "ready_for_discharge",
    "discharged",
    "cancelled",
    "stopped",
)
FINAL: frozenset[State] = frozenset({"discharged", "cancelled", "stopped"})
# Before the first dose: nothing given, so the visit can be called off.
BEFORE_DOSING: frozenset[State] = frozenset({"scheduled", "checked_in", "pre_dose_check"})
# The patient is at the chair and a clinician may stop the session.
IN_CLINIC: frozenset[State] = frozenset(
    {"checked_in", "pre_dose_check", "dosing", "observation", "ready_for_discharge"}
)

SOURCE = "issue 5, 'Session workflow': an explicit state machine; illegal transitions refused"

ALLOWED: dict[State, frozenset[State]] = {
    "scheduled": frozenset({"checked_in", "cancelled"}),
    "checked_in": frozenset({"pre_dose_check", "cancelled", "stopped"}),
    "pre_dose_check": frozenset({"dosing", "cancelled", "stopped"}),
    "dosing": frozenset({"observation", "stopped"}),
    "observation": frozenset({"ready_for_discharge", "discharged", "stopped"}),
    "ready_for_discharge": frozenset({"discharged", "observation", "stopped"}),
    "discharged": frozenset(),
    "cancelled": frozenset(),
    "stopped": frozenset(),
}

# Moves that must carry a written reason.
NEEDS_REASON: frozenset[State] = frozenset({"cancelled", "stopped"})


@dataclass(frozen=True)
class Refusal:
    """Why a move is not allowed, to show to the nurse as it is."""

    id: str
    message: str
    source: str = SOURCE


def as_state(value: str) -> State:
    """The state named ``value``; ValueError for any other word."""
    for state in STATES:
        if state == value:
            return state
    raise ValueError(f"{value!r} is not a session state ({', '.join(STATES)})")


def transition_refusal(current: str, target: str, reason: str | None = None) -> Refusal | None:
    """Why the session may not move from ``current`` to ``target``; None when it may."""
    try:
        here, there = as_state(current), as_state(target)
    except ValueError as bad:
        return Refusal("unknown_state", str(bad))
    words = here.replace("_", " "), there.replace("_", " ")
    if here in FINAL:
        return Refusal("session_closed", f"The session is {words[0]}: nothing more can happen.")
    if there not in ALLOWED[here]:
        nexts = " or ".join(sorted(s.replace("_", " ") for s in ALLOWED[here]))
        return Refusal(
            "out_of_order",
            f"A session that is {words[0]} cannot become {words[1]}; next is {nexts}.",
        )
    if there in NEEDS_REASON and not (reason or "").strip():
        return Refusal("reason_required", f"A session is {words[1]} only with a reason.")
    return None


def may_move(current: str, target: str, reason: str | None = None) -> bool:
    return transition_refusal(current, target, reason) is None
