"""Cross-site request forgery: a state-changing request that rides on the session cookie must
also carry the session's CSRF token, which another site cannot read.

The token comes in the form field ``csrf_token`` (plain forms) or the ``X-CSRF-Token``
header (htmx, set once on <body> by the base template). The check is an app-wide dependency,
so it guards every POST/PUT/PATCH/DELETE route, including ones added later, before the route
runs: a refused request writes nothing.

Requests without the cookie have no ambient credential to abuse and are left to
authentication (401); bearer-token clients are not browsers and need no token. The sign-in
form and the second factor's form after it, which have no session yet, use a double-submit
token: a random value both in a cookie and in the form.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from ketaclinic.services import web_sessions
from ketaclinic.services.errors import Forbidden
from ketaclinic.web import state
from ketaclinic.web.security import SESSION_COOKIE, bearer_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SIGN_IN_PATH = "/sign-in"
# The forms before a session exists: the password, then the second factor's code.
SIGN_IN_FORMS = frozenset({SIGN_IN_PATH, "/sign-in/code"})
SIGN_IN_COOKIE = "ketaclinic_sign_in"


class CsrfRefused(Forbidden):
    """The request lacked the session's CSRF token (403)."""


async def submitted_token(request: Request) -> str | None:
    header = request.headers.get(HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        # Starlette caches the parsed form, so the route's own Form(...) fields still work.
        value = (await request.form()).get(FIELD)
        return value if isinstance(value, str) else None
    return None


def _session_token(request: Request, cookie: str) -> str | None:
    with state.session_factory(request)() as session:
        found = web_sessions.find(session, cookie)
        return found.csrf_token if found is not None else None


def _matches(submitted: str | None, expected: str | None) -> bool:
    if not submitted or not expected:
        return False
    return hmac.compare_digest(submitted.encode("utf-8"), expected.encode("utf-8"))


async def require_csrf(request: Request) -> None:
    """App-wide dependency: refuse an unsafe request whose CSRF token is missing or wrong."""
    if request.method in SAFE_METHODS:
        return
    if request.url.path in SIGN_IN_FORMS:
        expected: str | None = request.cookies.get(SIGN_IN_COOKIE)
        if not _matches(await submitted_token(request), expected):
            raise CsrfRefused("The sign-in form has expired. Reload the page and try again.")
        return
    if bearer_token(request) is not None:
        return
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return
    expected = await run_in_threadpool(_session_token, request, cookie)
    if expected is None:
        # A stale cookie carries no credential; authentication will refuse the request.
        return
    if not _matches(await submitted_token(request), expected):
        raise CsrfRefused("The form's security token is missing or wrong. Reload the page.")


def sign_in_token(request: Request) -> str:
    """The sign-in form's double-submit token: the browser's, or a new one."""
    return request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)


def set_sign_in_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies(request),
        path=SIGN_IN_PATH,
    )


def clear_sign_in_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SIGN_IN_COOKIE,
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies(request),
        path=SIGN_IN_PATH,
    )
