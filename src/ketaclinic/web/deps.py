"""Typed dependencies for routes (FastAPI full-stack-template style).

    def chart(patient_id: int, db: SessionDep, clock: ClockDep, actor: CurrentUser,
              audit: AuditDep) -> ...:
        audit("read", "chart", patient_id)

``SessionDep`` is one transaction per request: committed when the route returns (before the
response is sent, so a failed commit is a 500, never a false success), rolled back whole when
the route raises. ``CurrentUser`` answers 401 on /api and redirects pages to /sign-in;
``require_roles`` answers 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from ketaclinic.services import audit as audit_trail
from ketaclinic.services.actor import Actor, Role
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Forbidden
from ketaclinic.store.db import immediate_transaction
from ketaclinic.web import state
from ketaclinic.web.security import current_actor


def get_session(request: Request) -> Iterator[Session]:
    # Every request that touches patient data writes an audit row, so the transaction is a writer
    # from its first statement (BEGIN IMMEDIATE on SQLite): concurrent requests queue for the
    # write lock instead of failing with "database is locked" when a reader turns writer.
    with immediate_transaction(state.session_factory(request)) as session:
        # Kept for audit(request, ...), so audit rows join the request's transaction.
        request.state.db = session
        yield session


# scope="function": the transaction ends when the route returns, before the response goes out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_clock(request: Request) -> Clock:
    return state.clock(request)


ClockDep = Annotated[Clock, Depends(get_clock)]

CurrentUser = Annotated[Actor, Depends(current_actor)]


def require_roles(*roles: Role) -> Callable[[Actor], Actor]:
    """A dependency admitting only these roles: ``Depends(require_roles("prescriber"))``."""
    allowed = frozenset(roles)

    def check(actor: CurrentUser) -> Actor:
        if actor.role not in allowed:
            raise Forbidden(
                f"This needs the role {' or '.join(roles)}; you are signed in as {actor.role}."
            )
        return actor

    return check


AdminUser = Annotated[Actor, Depends(require_roles("admin"))]


def audit(
    request: Request, actor: Actor, action: str, what: str, patient_id: int | None = None
) -> None:
    """Record a read or write in the request's transaction (the route must take SessionDep)."""
    session = getattr(request.state, "db", None)
    if not isinstance(session, Session):
        raise RuntimeError("audit() needs the route to take SessionDep")
    audit_trail.record(session, actor, state.clock(request), action, what, patient_id)


class Auditor:
    """``audit("read", "chart", patient_id)`` bound to the request, its user and transaction."""

    def __init__(self, session: Session, clock: Clock, actor: Actor) -> None:
        self.session = session
        self.clock = clock
        self.actor = actor

    def __call__(self, action: str, what: str, patient_id: int | None = None) -> None:
        audit_trail.record(self.session, self.actor, self.clock, action, what, patient_id)


def get_auditor(db: SessionDep, clock: ClockDep, actor: CurrentUser) -> Auditor:
    return Auditor(db, clock, actor)


AuditDep = Annotated[Auditor, Depends(get_auditor)]
