"""The rows of the authorization matrix (test_authorization.py) and how they are written.

Each area of the app keeps its rows in a module of its own, ``authz_<area>.py``, exporting
``CASES`` (a tuple of Case) and ``MAKERS`` (placeholder name -> a function of the World that
makes a fresh target and returns its id as text). test_authorization.py joins them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ketaclinic.services.actor import Role

P: Role = "prescriber"
N: Role = "nurse"
F: Role = "front_desk"
A: Role = "admin"
ROLES: tuple[Role, ...] = (P, N, F, A)
EVERY_USER = frozenset(ROLES)
DEMOGRAPHICS = frozenset({P, N, F})
CLINICAL = frozenset({P, N})
PRESCRIBER = frozenset({P})
ADMIN = frozenset({A})
LEDGER_READERS = frozenset({P, N, A})  # issue 7: clinicians keep the ledger, admins read it
PASSWORD = "correct horse battery"
EXAMPLE_01 = Path(__file__).parents[2] / "examples" / "01-eligible-trd.json"

Kind = Literal["api", "page", "public"]


@dataclass(frozen=True)
class Case:
    """One route with what each role may do. ``route`` is the route as the app declares it;
    ``path`` the address requested, whose {placeholders} are filled by ``World.fill``."""

    method: str
    route: str
    allowed: frozenset[Role]
    kind: Kind
    path: str = ""
    json: Any = None
    form: dict[str, str] | None = None
    content: bytes | None = None

    @property
    def address(self) -> str:
        return self.path or self.route.replace("{patient_id}", "{patient}")


def api(method: str, route: str, allowed: frozenset[Role], path: str = "", **body: Any) -> Case:
    return Case(method, route, allowed, "api", path, **body)


def page(method: str, route: str, allowed: frozenset[Role], path: str = "", **body: Any) -> Case:
    return Case(method, route, allowed, "page", path, **body)


def public(method: str, route: str, path: str = "", **body: Any) -> Case:
    return Case(method, route, EVERY_USER, "public", path, **body)
