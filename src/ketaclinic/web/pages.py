"""Signing in and out, and the home page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.services import users, web_sessions
from ketaclinic.web import csrf, state
from ketaclinic.web.deps import ClockDep, CurrentUser, SessionDep
from ketaclinic.web.errors import SIGN_IN_MESSAGES
from ketaclinic.web.security import SESSION_COOKIE, clear_session_cookie, set_session_cookie
from ketaclinic.web.templating import links_for, render

router = APIRouter(include_in_schema=False)

NOTICES = {
    "idle": SIGN_IN_MESSAGES["idle"],
    "signed-out": "You are signed out.",
}


def safe_next(value: str | None) -> str:
    """Only a path on this site: never another host (an open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _sign_in_page(
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
    return _sign_in_page(
        request,
        token=csrf.sign_in_token(request),
        next_path=safe_next(next),
        notice=NOTICES.get(reason or ""),
    )


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    address = state.client_address(request)
    try:
        user = users.authenticate(db, clock, username, password, address)
    except users.SignInRefused as refused:
        # Caught here, inside the transaction, so the failure count and audit row are kept.
        return _sign_in_page(
            request,
            token=csrf.sign_in_token(request),
            next_path=safe_next(next),
            username=username,
            error=refused.message,
            status_code=401,
        )
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        web_sessions.end(db, clock, old, address)
    # A new id at every sign-in, so a cookie planted before sign-in is worth nothing after.
    started = web_sessions.start(db, clock, user)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, started.cookie)
    csrf.clear_sign_in_cookie(request, response)
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
