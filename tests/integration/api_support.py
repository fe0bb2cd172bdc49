"""The real ASGI app on a test database, with one user per role and a bearer token each.

The users come from ``services_support.open_clinic`` (no Argon2 hash is computed: API clients
sign in with tokens, which are cheap to issue), and the clock is the clinic's FixedClock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ketaclinic.services import users
from ketaclinic.services.actor import Role
from ketaclinic.store.db import transaction
from ketaclinic.store.models import AuditEvent, User
from ketaclinic.web.app import create_app
from tests.integration.services_support import ROLES, Clinic, open_clinic

PATIENT: dict[str, Any] = {
    "mrn": "MRN-1",
    "given_name": "Alice",
    "family_name": "Example",
    "birth_date": "1986-03-15",
    "sex": "female",
}


@dataclass
class Api:
    clinic: Clinic
    app: FastAPI
    http: TestClient
    tokens: dict[Role, str]

    def headers(self, role: Role | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, role: Role | None, path: str, **params: Any) -> httpx.Response:
        response: httpx.Response = self.http.get(path, headers=self.headers(role), params=params)
        return response

    def post(self, role: Role | None, path: str, body: Any = None) -> httpx.Response:
        response: httpx.Response = self.http.post(path, headers=self.headers(role), json=body)
        return response

    def post_bytes(self, role: Role | None, path: str, data: bytes) -> httpx.Response:
        headers = {**self.headers(role), "Content-Type": "application/fhir+json"}
        response: httpx.Response = self.http.post(path, headers=headers, content=data)
        return response

    def counts(self) -> dict[str, int]:
        return self.clinic.counts()

    def audit(self) -> list[AuditEvent]:
        with self.clinic.factory() as s:
            return list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))

    def user_id(self, role: Role) -> int:
        found = self.clinic.actors[role].user_id
        assert found is not None
        return found

    def new_patient(self, **changes: Any) -> int:
        response = self.post("front_desk", "/api/patients", {**PATIENT, **changes})
        assert response.status_code == 201, response.text
        patient_id: int = response.json()["id"]
        return patient_id


@contextmanager
def open_api(database_url: str) -> Iterator[Api]:
    with open_clinic(database_url) as clinic:
        tokens: dict[Role, str] = {}
        with transaction(clinic.factory) as s:
            for role in ROLES:
                user = s.scalar(select(User).where(User.username == role))
                assert user is not None
                tokens[role] = users.issue_token(s, clinic.clock, user)
        app = create_app(database_url, clinic.clock)
        try:
            yield Api(clinic, app, TestClient(app, follow_redirects=False), tokens)
        finally:
            app.state.engine.dispose()


def field_errors(response: httpx.Response) -> list[tuple[str, ...]]:
    """The locations a 422 names, e.g. [("body", "systolic")]."""
    assert response.status_code == 422, response.text
    return [tuple(str(part) for part in error["loc"]) for error in response.json()["detail"]]
