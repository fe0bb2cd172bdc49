"""Sign-ins halfway: the password was right and the second factor's code is awaited.

The browser holds 256 random bits in a cookie of its own; the database keeps only their
SHA-256, as for web sessions. A half sign-in is no session: it opens no page, and it lapses
after 5 minutes (by the injected clock), after which the password must be given again.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ketaclinic.services.clock import Clock
from ketaclinic.store.models import PendingSignIn, User

MINUTES = 5
# Longer "next" addresses are dropped for the home page rather than refused: they are a
# convenience, and the column has a width.
NEXT_WIDTH = 1000


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8")).hexdigest()


def start(
    session: Session, clock: Clock, user: User, next_path: str, new_secret: str | None
) -> str:
    """A new half sign-in for ``user``; returns the cookie value (shown once, never stored).
    ``new_secret``: the secret to enrol, when the user has none yet."""
    cookie = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        PendingSignIn(
            cookie_sha256=_digest(cookie),
            user_id=user.id,
            next_path=next_path if len(next_path) <= NEXT_WIDTH else "/",
            new_secret=new_secret,
            created_at=now,
            expires_at=now + timedelta(minutes=MINUTES),
        )
    )
    session.flush()
    return cookie


def find(session: Session, clock: Clock, cookie: str | None) -> PendingSignIn | None:
    """The live half sign-in this cookie names: not ended and not older than 5 minutes."""
    if not cookie:
        return None
    return session.scalar(
        select(PendingSignIn).where(
            PendingSignIn.cookie_sha256 == _digest(cookie),
            PendingSignIn.ended_at.is_(None),
            PendingSignIn.expires_at > clock.now(),
        )
    )


def end(session: Session, clock: Clock, pending: PendingSignIn) -> None:
    pending.ended_at = clock.now()
    session.flush()


def end_all(session: Session, clock: Clock, user_id: int) -> None:
    """End every live half sign-in of this user (their second factor was reset)."""
    session.execute(
        update(PendingSignIn)
        .where(PendingSignIn.user_id == user_id, PendingSignIn.ended_at.is_(None))
        .values(ended_at=clock.now())
    )
