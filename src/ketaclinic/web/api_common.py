"""What the JSON API's routers share: who may call them, and rows -> response bodies.

Roles (issue 4, "Users and security"): the front desk sees demographics, not clinical records;
nurses read the chart and record vitals and observations; prescribers do everything clinical,
including screening, signing and overriding; admins manage users and read the audit log, with
no clinical reads or writes. The services check the role again for every write.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from ketaclinic.services import charting
from ketaclinic.services.actor import Actor
from ketaclinic.services.errors import InvalidInput
from ketaclinic.services.records_forms import Kind
from ketaclinic.store.models import ClinicalRow, Screening
from ketaclinic.web import state
from ketaclinic.web.deps import require_roles
from ketaclinic.web.schemas import (
    OUT_MODELS,
    OverrideOut,
    RecordOut,
    ScreeningOut,
    ScreeningSummaryOut,
    SignatureOut,
)

Demographics = Annotated[Actor, Depends(require_roles("prescriber", "nurse", "front_desk"))]
ChartReader = Annotated[Actor, Depends(require_roles("prescriber", "nurse"))]
ObservationWriter = Annotated[Actor, Depends(require_roles("prescriber", "nurse"))]
# Routes for any kind of record (marking in error): nurses get past this for observations; the
# service then refuses them every other kind (services.records.WRITERS).
RecordWriter = Annotated[Actor, Depends(require_roles("prescriber", "nurse"))]
Prescriber = Annotated[Actor, Depends(require_roles("prescriber"))]

# A row id (in a path, a query or a body) runs from 1 to 2**31 - 1, PostgreSQL's INTEGER, the
# narrower of the two stores. Any other number names no row and is refused as bad input (422)
# before it reaches the database, which cannot even bind a large one (SQLite: beyond +-2**63).
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


class Problem(BaseModel):
    """Why a request was refused, in words."""

    detail: str


# The refusals any operation of the API may answer, documented once for all of them (the app's
# ``responses``); 422 (bad input) is documented by FastAPI itself, operation by operation.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body could not be read (not UTF-8 text)"},
    401: {"model": Problem, "description": "Not signed in: no token, or an unknown or revoked one"},
    403: {"model": Problem, "description": "The signed-in role may not do this"},
    404: {"model": Problem, "description": "No such patient, record or other row"},
    409: {"model": Problem, "description": "Clashes with what is stored (a step out of order)"},
}


NUL = "\x00"


async def refuse_nul_characters(request: Request) -> None:
    """App-wide dependency: no text sent to the API may hold a NUL character. PostgreSQL refuses
    it in any string, stored or searched for (the pages refuse it field by field, pages_common),
    so it is bad input (422, naming where it is) before the routes read the request: a query
    or path parameter, or any key or string of a JSON body."""
    if not state.is_api(request):
        return
    found: list[tuple[str | int, ...]] = [
        ("query", name)
        for name, value in request.query_params.multi_items()
        if NUL in name or NUL in value
    ]
    found += [("path", name) for name, value in request.path_params.items() if NUL in str(value)]
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # A FHIR bundle (application/fhir+json) is the importer's to refuse, resource by resource.
    if media == "application/json":
        try:
            # FastAPI has parsed a JSON body before any dependency runs; Starlette keeps it.
            body = await request.json()
        except ValueError:
            body = None  # not JSON: FastAPI's own 422 (or the route's) says so
        found += _nul_places(body, ("body",))
    if found:
        message = "contains a NUL character (\\x00), which no text may hold"
        raise RequestValidationError(
            [{"type": "nul_character", "loc": loc, "msg": message, "input": None} for loc in found]
        )


def _nul_places(value: Any, where: tuple[str | int, ...]) -> list[tuple[str | int, ...]]:
    if isinstance(value, str):
        return [where] if NUL in value else []
    if isinstance(value, list):
        return [place for i, item in enumerate(value) for place in _nul_places(item, (*where, i))]
    if isinstance(value, dict):
        return [
            place
            for key, item in value.items()
            for place in ([(*where, key)] if NUL in str(key) else _nul_places(item, (*where, key)))
        ]
    return []


@contextmanager
def fields_under(prefix: str, fields: Collection[str]) -> Iterator[None]:
    """A service's refusal of a field that the request nests under ``prefix`` (a correction's
    ``values``) is reported at that field's place in the body, as pydantic would."""
    try:
        yield
    except InvalidInput as bad:
        if bad.field not in fields:
            raise
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", prefix, bad.field),
                    "msg": bad.message,
                    "input": None,
                }
            ]
        ) from None


def record_out(kind: Kind, row: ClinicalRow) -> RecordOut:
    return OUT_MODELS[kind].model_validate(row)


def screening_summary(session: Session, screening: Screening) -> ScreeningSummaryOut:
    decision = charting.effective_decision(screening)
    return ScreeningSummaryOut(
        id=screening.id,
        patient_id=screening.patient_id,
        route=screening.route,
        as_of=screening.as_of,
        created_at=screening.created_at,
        decision=decision.decision,
        engine_decision=decision.engine_decision,
        overridden=decision.overridden,
        justification=decision.justification,
        signed=screening.signature is not None,
        stale=charting.is_stale(session, screening),
    )


def screening_out(session: Session, screening: Screening) -> ScreeningOut:
    summary = screening_summary(session, screening)
    return ScreeningOut(
        **summary.model_dump(),
        engine_version=screening.engine_version,
        policy_name=screening.policy_name,
        policy_sha256=screening.policy_sha256,
        run_by_id=screening.run_by_id,
        signature=None
        if screening.signature is None
        else SignatureOut.model_validate(screening.signature),
        override=None
        if screening.override is None
        else OverrideOut.model_validate(screening.override),
        output=charting.output_of(screening),
    )
