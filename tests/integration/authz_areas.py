"""The matrix rows of each area of the app, joined (see authz_cases.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.integration import (
    authz_home,
    authz_outcomes,
    authz_plans,
    authz_questionnaires,
    authz_rems,
    authz_session_pages,
    authz_sessions,
)
from tests.integration.authz_cases import Case

AREAS: tuple[Any, ...] = (authz_outcomes, authz_questionnaires, authz_sessions)
AREAS += (authz_session_pages,)
AREAS += (authz_rems, authz_home)
AREAS += (authz_plans,)

CASES: tuple[Case, ...] = tuple(case for area in AREAS for case in area.CASES)
MAKERS: dict[str, Callable[[Any], str]] = {
    name: make for area in AREAS for name, make in area.MAKERS.items()
}
