"""Signing in (the password; the second factor follows in pages_second_factor) and out, and
the home page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.services import pending_sign_ins, second_factor, users, web_sessions
from ketaclinic.services.clock import Clock
from ketaclinic.store.models import User
from ketaclinic.web import csrf, rate_limits, state
from ketaclinic.web.deps import ClockDep, CurrentUser, SessionDep
from ketaclinic.web.errors import SIGN_IN_MESSAGES
from ketaclinic.web.security import (
    PENDING_COOKIE,
    SESSION_COOKIE,
    clear_pending_cookie,
    clear_session_cookie,
    set_pending_cookie,
    set_session_cookie,
)
from ketaclinic.web.templating import links_for, render

router = APIRouter(include_in_schema=False)

CODE_PATH = "/sign-in/code"
EXPIRED = (
    f"The sign-in was not finished within {pending_sign_ins.MINUTES} minutes. Please sign in again."
)
NOTICES = {
    "idle": SIGN_IN_MESSAGES["idle"],
    "signed-out": "You are signed out.",
    "expired": EXPIRED,
}


def safe_next(value: str | None) -> str:
    """Only a path on this site: never another host (an open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def sign_in_page(
    request: Request,
    *,
    token: str,
    next_path: str,
    username: str = "",
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "sign_in_token": token,
        "next": next_path,
        "username": username,
        "error": error,
        "notice": notice,
    }
    response = render(request, "sign_in.html", context, status_code)
    csrf.set_sign_in_cookie(request, response, token)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(
    request: Request, next: str | None = None, reason: str | None = None
) -> HTMLResponse:
    return sign_in_page(
        request,
        token=csrf.sign_in_token(request),
        next_path=safe_next(next),
        notice=NOTICES.get(reason or ""),
    )


def _counted_attempt(request: Request) -> None:
    # A dependency listed before the database session, so an attempt over the limit is
    # answered 429 before any transaction opens: it writes nothing, not even an audit row.
    rate_limits.knock(request, "sign_in")


SignInAttempt = Annotated[None, Depends(_counted_attempt)]


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    attempt: SignInAttempt,
    db: SessionDep,
    clock: ClockDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    address = state.client_address(request)
    try:
        user = users.check_password(db, clock, username, password, address)
    except users.SignInRefused as refused:
        # Caught here, inside the transaction, so the failure count and audit row are kept.
        return sign_in_page(
            request,
            token=csrf.sign_in_token(request),
            next_path=safe_next(next),
            username=username,
            error=refused.message,
            status_code=401,
        )
    earlier = pending_sign_ins.find(db, clock, request.cookies.get(PENDING_COOKIE))
    if earlier is not None:
        # The password again: the half sign-in this browser had begun is replaced.
        pending_sign_ins.end(db, clock, earlier)
    if second_factor.needed(user.role, state.policy(request).access):
        # No session yet: the code comes first (pages_second_factor). The sign-in form's
        # double-submit cookie stays, for the code form.
        cookie = second_factor.begin(db, clock, user, safe_next(next), address)
        response = RedirectResponse(CODE_PATH, status_code=303)
        set_pending_cookie(request, response, cookie)
        return response
    users.signed_in(db, clock, user, address)
    return start_session(request, db, clock, user, safe_next(next))


def start_session(
    request: Request, db: Session, clock: Clock, user: User, next_path: str
) -> Response:
    """The sign-in is complete: a web session, and the browser sent on to ``next_path``."""
    address = state.client_address(request)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        web_sessions.end(db, clock, old, address)
    # A new id at every sign-in, so a cookie planted before sign-in is worth nothing after.
    started = web_sessions.start(db, clock, user)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(request, response, started.cookie)
    csrf.clear_sign_in_cookie(request, response)
    clear_pending_cookie(request, response)
    return response


@router.post("/sign-out")
def sign_out(request: Request, db: SessionDep, clock: ClockDep, actor: CurrentUser) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        web_sessions.end(db, clock, cookie, state.client_address(request))
    response = RedirectResponse("/sign-in?reason=signed-out", status_code=303)
    clear_session_cookie(request, response)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, actor: CurrentUser) -> HTMLResponse:
    return render(request, "home.html", {"links": links_for(actor.role)})
