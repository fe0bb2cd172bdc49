"""The audit trail: who read or wrote what, about which patient, when and from where.

Rows are only ever added. Nothing in the application updates or deletes them, and the
database refuses it too (triggers from the first migration), so a bug or a hostile route
cannot rewrite history.

``record`` writes into the caller's session, so an audit row commits or rolls back with
the change it describes: a write that fails leaves no claim that it happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Forbidden, InvalidInput
from ketaclinic.store.models import AuditEvent

# The words in use; other short words are allowed so a new kind of event needs no change here.
READ = "read"
WRITE = "write"
SIGN_IN = "sign-in"
SIGN_OUT = "sign-out"
REFUSED = "refused"

# Column widths of audit_events (action String(10), what String(300), address String(64)).
ACTION_WIDTH = 10
WHAT_WIDTH = 300
NAME_WIDTH = 64
ADDRESS_WIDTH = 64

PAGE_SIZE = 50


def record(
    session: Session,
    actor: Actor,
    clock: Clock,
    action: str,
    what: str,
    patient_id: int | None = None,
) -> AuditEvent:
    """Add one audit row to the caller's transaction (flushed, not committed)."""
    if not action or len(action) > ACTION_WIDTH:
        # A defect in the caller, not the user's input: fail loudly rather than lose the row.
        raise ValueError(f"audit action {action!r} must be 1 to {ACTION_WIDTH} characters")
    event = AuditEvent(
        at=clock.now(),
        user_id=actor.user_id,
        username=actor.username[:NAME_WIDTH],
        action=action,
        # Long descriptions are cut rather than refused: the fact of the access matters most.
        what=what[:WHAT_WIDTH],
        patient_id=patient_id,
        address=(actor.address or None) and actor.address[:ADDRESS_WIDTH],
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def query(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    patient_id: int | None = None,
    username: str | None = None,
    since: datetime | None = None,
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> AuditPage:
    """Audit rows newest first, filtered; admins only. The query is itself audited."""
    if actor.role != "admin":
        raise Forbidden("only an admin may read the audit log")
    if page < 1:
        raise InvalidInput("page", "must be 1 or more")
    if not 1 <= per_page <= 500:
        raise InvalidInput("per_page", "must be between 1 and 500")
    conditions = []
    if patient_id is not None:
        conditions.append(AuditEvent.patient_id == patient_id)
    if username:
        conditions.append(AuditEvent.username == username)
    if since is not None:
        conditions.append(AuditEvent.at >= since)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(*conditions)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    record(session, actor, clock, READ, _describe_query(patient_id, username, since, page))
    return AuditPage(events=events, page=page, per_page=per_page, total=total)


def _describe_query(
    patient_id: int | None, username: str | None, since: datetime | None, page: int
) -> str:
    filters = [
        f"patient {patient_id}" if patient_id is not None else "",
        f"user {username}" if username else "",
        f"since {since.isoformat(sep=' ')}" if since is not None else "",
    ]
    chosen = ", ".join(f for f in filters if f)
    return f"audit log page {page}" + (f" ({chosen})" if chosen else "")
