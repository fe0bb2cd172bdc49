"""Who is asking: a bearer token (API clients) or the session cookie (browsers).

Authentication runs in a short transaction of its own, so that ending an idle session (and
auditing it) is committed even though the request itself is then refused.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Request, Response

from ketaclinic.services import users, web_sessions
from ketaclinic.services.actor import Actor
from ketaclinic.store.db import immediate_transaction, transaction
from ketaclinic.web import state

SESSION_COOKIE = "ketaclinic_session"
# A sign-in waiting for the second factor's code (services.pending_sign_ins): sent only to the
# sign-in pages, and worth nothing elsewhere.
PENDING_COOKIE = "ketaclinic_pending_sign_in"
PENDING_PATH = "/sign-in"

Reason = Literal["none", "idle", "token"]


class NotSignedIn(Exception):
    """No valid credentials: 401 on the API, a redirect to the sign-in page for pages."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason = reason


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header; "" when the header is malformed."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def current_actor(request: Request) -> Actor:
    """The signed-in user as an Actor, or NotSignedIn. Also leaves on ``request.state``:
    ``actor``, ``full_name`` and, for browser sessions, ``csrf_token`` (for the templates)."""
    address = state.client_address(request)
    token = bearer_token(request)
    factory = state.session_factory(request)
    if token is not None:
        with transaction(factory) as session:
            user = users.user_for_token(session, token)
            if user is None:
                raise NotSignedIn("token")
            actor = users.actor_for(user, address)
            full_name = user.full_name
        request.state.csrf_token = None
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise NotSignedIn("none")
        # touch() writes (last seen, idle sign-out): a writer from the start, as in deps.
        with immediate_transaction(factory) as session:
            visit = web_sessions.touch(session, state.clock(request), cookie, address)
            if visit.web_session is not None and visit.user is not None:
                actor = users.actor_for(visit.user, address)
                full_name = visit.user.full_name
                request.state.csrf_token = visit.web_session.csrf_token
        # Raised after the block so the ended session and its audit row are committed.
        if visit.web_session is None:
            raise NotSignedIn("idle" if visit.timed_out else "none")
    request.state.actor = actor
    request.state.full_name = full_name
    return actor


def set_session_cookie(request: Request, response: Response, value: str) -> None:
    # No max-age: the cookie ends with the browser, and the server ends it after 15 idle minutes.
    response.set_cookie(
        SESSION_COOKIE,
        value,
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies(request),
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies(request),
        path="/",
    )


def set_pending_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        PENDING_COOKIE,
        value,
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies(request),
        path=PENDING_PATH,
    )


def clear_pending_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        PENDING_COOKIE,
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies(request),
        path=PENDING_PATH,
    )
