"""Administration: staff accounts and the audit log, as pages and as JSON (admins only)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.services import audit, users
from ketaclinic.services.errors import InvalidInput
from ketaclinic.store.models import ROLES, AuditEvent, User
from ketaclinic.web.api_common import MAX_ROW_ID, RowId
from ketaclinic.web.deps import AdminUser, ClockDep, SessionDep
from ketaclinic.web.templating import render

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["administration"])


class UserOut(BaseModel):
    id: int
    username: str
    full_name: str
    role: str
    active: bool
    failed_sign_ins: int
    locked_until: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            full_name=user.full_name,
            role=user.role,
            active=user.active,
            failed_sign_ins=user.failed_sign_ins,
            locked_until=user.locked_until,
            created_at=user.created_at,
        )


class NewUser(BaseModel):
    username: str = Field(max_length=64)
    full_name: str = Field(max_length=200)
    role: str
    password: str = Field(max_length=users.PASSWORD_MAXIMUM)


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    username: str
    action: str
    what: str
    patient_id: int | None
    address: str | None

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            id=event.id,
            at=event.at,
            user_id=event.user_id,
            username=event.username,
            action=event.action,
            what=event.what,
            patient_id=event.patient_id,
            address=event.address,
        )


class AuditPageOut(BaseModel):
    events: list[AuditEventOut]
    page: int
    per_page: int
    total: int


def _naive_utc(moment: datetime | None) -> datetime | None:
    """Audit times are stored as naive UTC; an aware filter is converted, not misread."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


# JSON API


@api.get("/users", response_model=list[UserOut])
def api_list_users(db: SessionDep, clock: ClockDep, actor: AdminUser) -> list[UserOut]:
    """Every staff account (admins only)."""
    return [UserOut.of(u) for u in users.list_users(db, actor, clock)]


@api.post("/users", response_model=UserOut, status_code=201)
def api_create_user(body: NewUser, db: SessionDep, clock: ClockDep, actor: AdminUser) -> UserOut:
    """Create a staff account (admins only). The password needs at least 12 characters."""
    user = users.create_user(
        db, clock, body.username, body.full_name, body.role, body.password, by=actor
    )
    return UserOut.of(user)


@api.post("/users/{username}/deactivate", response_model=UserOut)
def api_deactivate_user(
    username: str, db: SessionDep, clock: ClockDep, actor: AdminUser
) -> UserOut:
    """Close an account: no more sign-ins; its tokens and sessions stop working."""
    return UserOut.of(users.deactivate_user(db, actor, clock, username))


@api.get("/audit", response_model=AuditPageOut)
def api_audit(
    db: SessionDep,
    clock: ClockDep,
    actor: AdminUser,
    patient_id: RowId | None = None,
    username: str | None = None,
    since: datetime | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_ROW_ID)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = audit.PAGE_SIZE,
) -> AuditPageOut:
    """Audit events newest first, filtered by patient, user and time (admins only)."""
    found = audit.query(
        db,
        actor,
        clock,
        patient_id=patient_id,
        username=username or None,
        since=_naive_utc(since),
        page=page,
        per_page=per_page,
    )
    return AuditPageOut(
        events=[AuditEventOut.of(e) for e in found.events],
        page=found.page,
        per_page=found.per_page,
        total=found.total,
    )


# Pages


def _users_page(
    request: Request,
    listed: list[User],
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "users": listed,
        "roles": ROLES,
        "form": form or {},
        "errors": errors or {},
        "minimum": users.PASSWORD_MINIMUM,
    }
    return render(request, "admin_users.html", context, status_code)


@pages.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, db: SessionDep, clock: ClockDep, actor: AdminUser) -> HTMLResponse:
    return _users_page(request, users.list_users(db, actor, clock))


@pages.post("/admin/users", response_class=HTMLResponse)
def users_page_create(
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: AdminUser,
    username: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    try:
        users.create_user(db, clock, username, full_name, role, password, by=actor)
    except InvalidInput as bad:
        # Nothing was added; show the list again with the reason beside the field.
        form = {"username": username, "full_name": full_name, "role": role}
        return _users_page(
            request,
            users.list_users(db, actor, clock),
            form=form,
            errors={bad.field: bad.message},
            status_code=422,
        )
    return RedirectResponse("/admin/users", status_code=303)


@pages.post("/admin/users/{username}/deactivate")
def users_page_deactivate(
    username: str, db: SessionDep, clock: ClockDep, actor: AdminUser
) -> Response:
    users.deactivate_user(db, actor, clock, username)
    return RedirectResponse("/admin/users", status_code=303)


def _parse_filters(
    patient: str, user: str, since: str
) -> tuple[int | None, str | None, datetime | None, dict[str, str]]:
    errors: dict[str, str] = {}
    patient_id: int | None = None
    moment: datetime | None = None
    if patient.strip():
        try:
            patient_id = int(patient.strip())
        except ValueError:
            errors["patient"] = "must be a patient number"
    if since.strip():
        try:
            moment = datetime.combine(date.fromisoformat(since.strip()), datetime.min.time())
        except ValueError:
            errors["since"] = "must be a date (YYYY-MM-DD)"
    return patient_id, (users.normal_username(user) or None), moment, errors


@pages.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: AdminUser,
    patient: str = "",
    user: str = "",
    since: str = "",
    page: Annotated[int, Query(ge=1, le=MAX_ROW_ID)] = 1,
) -> HTMLResponse:
    patient_id, username, moment, errors = _parse_filters(patient, user, since)
    found = None
    if not errors:
        found = audit.query(
            db, actor, clock, patient_id=patient_id, username=username, since=moment, page=page
        )
    context: dict[str, Any] = {
        "found": found,
        "filters": {"patient": patient, "user": user, "since": since},
        "errors": errors,
    }
    return render(request, "admin_audit.html", context, 422 if errors else 200)
