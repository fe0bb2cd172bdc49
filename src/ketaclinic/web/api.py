"""The JSON API's own routes (others add theirs under /api beside these)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from ketaclinic.services.errors import NotFound
from ketaclinic.store.models import User
from ketaclinic.web.deps import CurrentUser, SessionDep

router = APIRouter(prefix="/api", tags=["session"])


class Me(BaseModel):
    id: int
    username: str
    full_name: str
    role: str


@router.get("/me", response_model=Me)
def me(db: SessionDep, actor: CurrentUser) -> Me:
    """The signed-in user (session cookie or ``Authorization: Bearer <token>``)."""
    user = db.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None:
        raise NotFound("no such user")
    return Me(id=user.id, username=user.username, full_name=user.full_name, role=user.role)
