"""Signed-in browsers: a random id in a cookie, a CSRF token, and sign-out when idle.

The cookie carries 256 random bits; the database keeps only their SHA-256, so reading the
table does not let anyone take over a session. A session unused for 15 minutes (by the
injected clock) is over: the next request finds it ended and must sign in again.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.services import audit
from ketaclinic.services.clock import Clock
from ketaclinic.services.users import actor_for
from ketaclinic.store.models import User, WebSession

IDLE_MINUTES = 15


@dataclass(frozen=True)
class Started:
    """What the browser is given at sign-in: the cookie value (shown once) and the CSRF token."""

    cookie: str
    csrf_token: str


@dataclass(frozen=True)
class Visit:
    """The outcome of a request's cookie: a live session and its user, or none (and why)."""

    web_session: WebSession | None
    user: User | None = None
    timed_out: bool = False


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8")).hexdigest()


def start(session: Session, clock: Clock, user: User) -> Started:
    cookie = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        WebSession(
            session_sha256=_digest(cookie),
            user_id=user.id,
            csrf_token=csrf_token,
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    return Started(cookie=cookie, csrf_token=csrf_token)


def find(session: Session, cookie: str) -> WebSession | None:
    """The session this cookie names, if it has not ended (idle time is not checked here)."""
    if not cookie:
        return None
    return session.scalar(
        select(WebSession).where(
            WebSession.session_sha256 == _digest(cookie), WebSession.ended_at.is_(None)
        )
    )


def touch(session: Session, clock: Clock, cookie: str, address: str | None = None) -> Visit:
    """Use the session: refreshes its idle timer, or ends it (audited) when it sat idle for
    15 minutes or more. The caller must commit in both cases."""
    found = find(session, cookie)
    if found is None:
        return Visit(None)
    user = session.get(User, found.user_id)
    now = clock.now()
    if user is None or not user.active:
        found.ended_at = now
        session.flush()
        return Visit(None)
    if now - found.last_seen_at >= timedelta(minutes=IDLE_MINUTES):
        found.ended_at = now
        audit.record(
            session,
            actor_for(user, address),
            clock,
            audit.SIGN_OUT,
            f"signed out after {IDLE_MINUTES} minutes idle",
        )
        session.flush()
        return Visit(None, timed_out=True)
    found.last_seen_at = now
    session.flush()
    return Visit(found, user)


def end(session: Session, clock: Clock, cookie: str, address: str | None = None) -> bool:
    """Sign out: the cookie stops working at once. False when it named no live session."""
    found = find(session, cookie)
    if found is None:
        return False
    found.ended_at = clock.now()
    user = session.get(User, found.user_id)
    if user is not None:
        audit.record(session, actor_for(user, address), clock, audit.SIGN_OUT, "signed out")
    session.flush()
    return True
