"""The matrix rows of each area of the app, joined (see authz_cases.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.integration.authz_cases import Case

AREAS: tuple[Any, ...] = ()

CASES: tuple[Case, ...] = tuple(case for area in AREAS for case in area.CASES)
MAKERS: dict[str, Callable[[Any], str]] = {
    name: make for area in AREAS for name, make in area.MAKERS.items()
}
