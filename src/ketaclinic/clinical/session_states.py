"""The states of a monitored session and the moves between them (issue 5, "Session workflow").

    scheduled -> checked_in -> pre_dose_check -> dosing -> observation -> ready_for_discharge
    -> discharged, or cancelled / stopped with a reason.

``cancelled``: called off before any drug was given (the patient did not come, or the visit was
moved). ``stopped``: ended for a clinical reason once the patient is in the clinic (a pre-dose
check that says stop, an adverse event that sends the patient to emergency care); a dose may
already have been given. Observation may be cut short only by a prescriber's discharge override
(observation -> discharged); a session that is ready to leave goes back to observation when a
new alert is raised. Discharged, cancelled and stopped are final.

An integration session (psychotherapy after a dosing session, as in ketamine-assisted
psychotherapy: issue 5, "A plan may include integration sessions ... scheduled and recorded like
other visits") has no dose, so no pre-dose check, dosing or observation: it is checked in, and
then either done (``discharged``, with a note of what was done), cancelled or stopped. Its moves
are their own table, INTEGRATION_ALLOWED; a dosing session never goes checked_in -> discharged.
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
Kind = Literal["dosing", "integration"]
KINDS: tuple[Kind, ...] = ("dosing", "integration")
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

INTEGRATION_SOURCE = (
    "issue 5, 'Treatment plan': integration sessions are scheduled and recorded like other "
    "visits; 'Session workflow': illegal transitions refused"
)
INTEGRATION_ALLOWED: dict[State, frozenset[State]] = {
    "scheduled": frozenset({"checked_in", "cancelled"}),
    # The visit is done (discharged, with a note of what was done), called off, or stopped.
    "checked_in": frozenset({"discharged", "cancelled", "stopped"}),
    "pre_dose_check": frozenset(),
    "dosing": frozenset(),
    "observation": frozenset(),
    "ready_for_discharge": frozenset(),
    "discharged": frozenset(),
    "cancelled": frozenset(),
    "stopped": frozenset(),
}
TABLES: dict[Kind, dict[State, frozenset[State]]] = {
    "dosing": ALLOWED,
    "integration": INTEGRATION_ALLOWED,
}

# Moves that must carry a written reason.
NEEDS_REASON: frozenset[State] = frozenset({"cancelled", "stopped"})
# An integration visit is done only with a note of what was done (kept as the move's reason).
INTEGRATION_NEEDS_REASON: frozenset[State] = NEEDS_REASON | {"discharged"}


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


def as_kind(value: str) -> Kind:
    """The session kind named ``value``; ValueError for any other word."""
    for kind in KINDS:
        if kind == value:
            return kind
    raise ValueError(f"{value!r} is not a session kind ({', '.join(KINDS)})")


def transition_refusal(
    current: str, target: str, reason: str | None = None, *, kind: str = "dosing"
) -> Refusal | None:
    """Why a session of ``kind`` may not move from ``current`` to ``target``; None when it may."""
    try:
        here, there, sort = as_state(current), as_state(target), as_kind(kind)
    except ValueError as bad:
        return Refusal("unknown_state", str(bad))
    words = here.replace("_", " "), there.replace("_", " ")
    source = SOURCE if sort == "dosing" else INTEGRATION_SOURCE
    if here in FINAL:
        return Refusal(
            "session_closed", f"The session is {words[0]}: nothing more can happen.", source
        )
    table = TABLES[sort]
    a_session = "A session" if sort == "dosing" else "An integration session"
    if not table[here]:
        return Refusal("out_of_order", f"{a_session} is never {words[0]}.", source)
    if there not in table[here]:
        nexts = " or ".join(sorted(s.replace("_", " ") for s in table[here]))
        return Refusal(
            "out_of_order",
            f"{a_session} that is {words[0]} cannot become {words[1]}; next is {nexts}.",
            source,
        )
    needs = NEEDS_REASON if sort == "dosing" else INTEGRATION_NEEDS_REASON
    if there in needs and not (reason or "").strip():
        why = "a reason" if there in NEEDS_REASON else "a note of what was done"
        return Refusal("reason_required", f"{a_session} is {words[1]} only with {why}.", source)
    return None


def may_move(current: str, target: str, reason: str | None = None, *, kind: str = "dosing") -> bool:
    return transition_refusal(current, target, reason, kind=kind) is None
