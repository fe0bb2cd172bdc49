"""The second step of signing in: the code from the authenticator app, or its enrolment.

The browser comes here from POST /sign-in with a half sign-in's cookie (services.
pending_sign_ins) and no session. Only a right code starts the web session, with a new random
id (pages.start_session), so nothing the browser held before, password step included, is
worth anything after.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.services import pending_sign_ins, second_factor, users
from ketaclinic.store.models import PendingSignIn, User
from ketaclinic.web import csrf, state
from ketaclinic.web.deps import ClockDep, SessionDep
from ketaclinic.web.pages import (
    CODE_PATH,
    EXPIRED,
    SignInAttempt,
    sign_in_page,
    start_session,
)
from ketaclinic.web.security import PENDING_COOKIE, clear_pending_cookie
from ketaclinic.web.templating import render

router = APIRouter(include_in_schema=False)


def _code_page(
    request: Request,
    pending: PendingSignIn,
    user: User,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    token = csrf.sign_in_token(request)
    context: dict[str, Any] = {"sign_in_token": token, "username": user.username, "error": error}
    if pending.new_secret is None:
        response = render(request, "sign_in_code.html", context, status_code)
    else:
        context["secret"] = second_factor.grouped(pending.new_secret)
        context["uri"] = second_factor.enrolment_uri(pending.new_secret, user.username)
        response = render(request, "sign_in_enrol.html", context, status_code)
    csrf.set_sign_in_cookie(request, response, token)
    return response


def _start_again(request: Request, message: str) -> Response:
    """Back to the password, with why."""
    response = sign_in_page(
        request, token=csrf.sign_in_token(request), next_path="/", error=message, status_code=401
    )
    clear_pending_cookie(request, response)
    return response


@router.get(CODE_PATH, response_class=HTMLResponse)
def code_form(request: Request, db: SessionDep, clock: ClockDep) -> Response:
    pending = pending_sign_ins.find(db, clock, request.cookies.get(PENDING_COOKIE))
    if pending is None:
        response = RedirectResponse("/sign-in?reason=expired", status_code=303)
        clear_pending_cookie(request, response)
        return response
    user = db.get(User, pending.user_id)
    assert user is not None  # a foreign key
    return _code_page(request, pending, user)


@router.post(CODE_PATH, response_class=HTMLResponse)
def code_given(
    request: Request,
    attempt: SignInAttempt,
    db: SessionDep,
    clock: ClockDep,
    code: Annotated[str, Form()] = "",
) -> Response:
    pending = pending_sign_ins.find(db, clock, request.cookies.get(PENDING_COOKIE))
    if pending is None:
        # Lapsed, ended or never begun: no user to speak of, so nothing is written.
        return _start_again(request, EXPIRED)
    user = db.get(User, pending.user_id)
    assert user is not None  # a foreign key
    address = state.client_address(request)
    try:
        second_factor.confirm(db, clock, user, pending, code, address)
    except users.SignInRefused as refused:
        # Caught inside the transaction, so the failure count and audit row are kept.
        if pending.ended_at is not None:
            return _start_again(request, refused.message)
        return _code_page(request, pending, user, error=refused.message, status_code=401)
    pending_sign_ins.end(db, clock, pending)
    users.signed_in(db, clock, user, address)
    return start_session(request, db, clock, user, pending.next_path)
