"""What the services' refusals become over HTTP: JSON on /api, a page elsewhere.

Only the named refusals map to 4xx. Anything else is a defect: logged with its traceback and
answered 500, never passed off as the user's bad input.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from ketaclinic.web import state
from ketaclinic.web.headers import add_security_headers
from ketaclinic.web.rate_limits import TooManyRequests
from ketaclinic.web.security import NotSignedIn
from ketaclinic.web.templating import render

log = logging.getLogger("ketaclinic.web")

SIGN_IN_MESSAGES = {
    "none": "Please sign in.",
    "idle": "You were signed out after 15 minutes without activity. Please sign in again.",
    "token": "The API token is missing, unknown or revoked.",
}


def _problem(request: Request, status: int, title: str, message: str) -> Response:
    if state.is_api(request):
        return JSONResponse({"detail": message}, status_code=status)
    return render(request, "error.html", {"title": title, "message": message}, status)


def not_signed_in(request: Request, exc: Exception) -> Response:
    reason = exc.reason if isinstance(exc, NotSignedIn) else "none"
    if state.is_api(request):
        return JSONResponse(
            {"detail": SIGN_IN_MESSAGES[reason]},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    back = request.url.path if request.method == "GET" else "/"
    if request.method == "GET" and request.url.query:
        back += "?" + request.url.query
    target = f"/sign-in?next={quote(back, safe='')}"
    if reason == "idle":
        target += "&reason=idle"
    if request.headers.get("hx-request"):
        # htmx would swap the sign-in page into a fragment; ask it to load the page instead.
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def invalid_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInput)
    if state.is_api(request):
        # The shape FastAPI documents for every 422 (HTTPValidationError): loc, msg and type.
        problem = {"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}
        return JSONResponse({"detail": [problem]}, status_code=422)
    # Pages normally catch InvalidInput and show it beside the field; this is the fallback.
    return render(
        request,
        "error.html",
        {"title": "Please check the form", "message": f"{exc.field}: {exc.message}"},
        422,
    )


def not_found(request: Request, exc: Exception) -> Response:
    return _problem(request, 404, "Not found", str(exc) or "Not found.")


def forbidden(request: Request, exc: Exception) -> Response:
    return _problem(request, 403, "Not allowed", str(exc) or "You are not allowed to do this.")


def conflict(request: Request, exc: Exception) -> Response:
    return _problem(request, 409, "Conflict", str(exc) or "This clashes with what is stored.")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if state.is_api(request) or exc.status_code < 400:
        return await http_exception_handler(request, exc)
    message = exc.detail if isinstance(exc.detail, str) else "The request failed."
    response = render(request, "error.html", {"title": message, "message": message}, 200)
    response.status_code = exc.status_code
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def defect(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    message = "Internal server error: a defect in ketaclinic, logged for the developers."
    response: Response
    if state.is_api(request):
        response = JSONResponse({"detail": message}, status_code=500)
    else:
        context = {"title": "Something went wrong", "message": message}
        response = render(request, "error.html", context, 500)
    add_security_headers(response.headers, request.url.path, request.url.scheme == "https")
    return response


def too_many_requests(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TooManyRequests)
    response = _problem(request, 429, "Too many requests", exc.message)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(TooManyRequests, too_many_requests)
    app.add_exception_handler(NotSignedIn, not_signed_in)
    app.add_exception_handler(InvalidInput, invalid_input)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(Conflict, conflict)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, defect)
