"""The whole record as a FHIR R4 Bundle (issue 8, item 1).

    GET /api/patients/{patient_id}/export   P N   application/fhir+json

Everything ``services.export.export_patient`` gives: the Patient, every current record, the
sessions and doses, the questionnaire answers and their scores, and the latest screening. The
read is audited with the patient's id before the Bundle is sent.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ketaclinic.services.export import export_patient
from ketaclinic.web.api_common import ChartReader, RowId
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep

router = APIRouter(prefix="/api", tags=["export"])
FHIR_JSON = "application/fhir+json"


@router.get(
    "/patients/{patient_id}/export",
    responses={200: {"content": {FHIR_JSON: {}}, "description": "An R4 Bundle (collection)"}},
)
def export_record(
    request: Request,
    patient_id: RowId,
    db: SessionDep,
    clock: ClockDep,
    actor: ChartReader,
    audit: AuditDep,
) -> Response:
    """The patient's whole record as an R4 Bundle of type collection. Prescribers and nurses."""
    # The entries' fullUrls name this server (services/export.py), under /fhir.
    base_url = str(request.base_url).rstrip("/") + "/fhir"
    bundle = export_patient(db, actor, clock, patient_id, base_url=base_url)
    audit("read", "FHIR export of the record", patient_id)
    return Response(orjson.dumps(bundle), media_type=FHIR_JSON)
