"""Rendering pages: every template gets the signed-in user and the CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

# Where each role goes from the home page and the header: (label, address, what it is for).
LINKS: dict[str, list[tuple[str, str, str]]] = {
    "prescriber": [
        ("Patients", "/patients", "Find a patient, open the chart, screen and sign"),
        ("Board", "/board", "Today's sessions by chair: timers, vitals due, alerts"),
        ("Outcomes", "/outcomes", "Response and remission rates by route and indication"),
        ("Alerts", "/alerts", "Urgent safety alerts from questionnaires, to acknowledge"),
        ("REMS", "/rems", "Esketamine REMS enrolments and monitoring forms, overdue forms"),
        ("Ledger", "/ledger", "Controlled-substance stock, entries and the chain"),
    ],
    "nurse": [
        ("Patients", "/patients", "Find a patient, read the chart, record vitals"),
        ("Board", "/board", "Today's sessions by chair: timers, vitals due, alerts"),
        ("Outcomes", "/outcomes", "Response and remission rates by route and indication"),
        ("Alerts", "/alerts", "Urgent safety alerts from questionnaires"),
        ("REMS", "/rems", "Esketamine REMS enrolments and monitoring forms, overdue forms"),
        ("Ledger", "/ledger", "Controlled-substance stock, entries and the chain"),
    ],
    "front_desk": [
        ("Patients", "/patients", "Register patients and keep their details"),
        ("Board", "/board", "Today's sessions by chair: check patients in"),
    ],
    "admin": [
        ("Users", "/admin/users", "Add and deactivate staff accounts"),
        ("Audit log", "/admin/audit", "Who read or changed what, and when"),
        ("Ledger", "/ledger", "Controlled-substance stock, entries and the chain"),
    ],
}


def links_for(role: str | None) -> list[tuple[str, str, str]]:
    return LINKS.get(role or "", [])


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    actor = getattr(request.state, "actor", None)
    values: dict[str, Any] = {
        "actor": actor,
        "nav_links": links_for(getattr(actor, "role", None)),
        "full_name": getattr(request.state, "full_name", None),
        "csrf_token": getattr(request.state, "csrf_token", None),
    }
    values.update(context or {})
    return templates.TemplateResponse(request, name, values, status_code=status_code)
