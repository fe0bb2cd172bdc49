"""Which roles may do what, checked by the services themselves (the web checks again).

Source: issue 4, "Users and security": front desk sees demographics, not clinical records;
nurses read the chart and record vitals and observations; prescribers also screen, sign and
override; admins manage users and read the audit log, with no clinical writes. The command line
and the demo seeder act as ``Actor.system()`` (no user id), trusted to write records.
"""

from __future__ import annotations

from collections.abc import Collection

from ketaclinic.services.actor import Actor, Role
from ketaclinic.services.errors import Forbidden

REGISTER: frozenset[Role] = frozenset({"prescriber", "nurse", "front_desk"})
OBSERVATIONS: frozenset[Role] = frozenset({"prescriber", "nurse"})
PRESCRIBER: frozenset[Role] = frozenset({"prescriber"})


def is_system(actor: Actor) -> bool:
    return actor.user_id is None and actor.role == "admin"


def require(actor: Actor, roles: Collection[Role], doing: str, *, system: bool = True) -> None:
    """Forbidden unless the actor has one of ``roles`` (or is the system, when ``system``)."""
    if actor.role in roles or (system and is_system(actor)):
        return
    raise Forbidden(f"a {actor.role.replace('_', ' ')} may not {doing}")
