"""Matrix rows of the esketamine REMS (issue 5 item 4): prescribers and nurses enrol patients,
fill and submit the Patient Monitoring Form and read it; only a prescriber records the site's
certification; the front desk and admins nothing. Each request gets a session (and form) of
its own: a discharged esketamine session of the world's patient, its rows inserted directly
(rems_rows.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from itertools import count
from typing import Any

from ketaclinic.services import rems
from tests.integration.authz_cases import CLINICAL, PRESCRIBER, Case, api, page
from tests.integration.rems_rows import EsketamineSession, esketamine_session, plan_row

SITE_JSON = {"reference": "S-{mrn}", "certified_on": "2026-10-01"}
ENROL_JSON = {"patient_id": "{patient}", "reference": "P-{mrn}", "enrolled_on": "2026-10-15"}
_NUMBERS = count(1)

# fmt: off
CASES: tuple[Case, ...] = (
    api("GET", "/api/rems/enrolments", CLINICAL),
    api("POST", "/api/rems/site", PRESCRIBER, json=SITE_JSON),
    api("POST", "/api/rems/enrolments", CLINICAL, json=ENROL_JSON),
    api("POST", "/api/rems/sessions/{session_id}/form", CLINICAL,
        "/api/rems/sessions/{rems_session}/form", json={}),
    api("GET", "/api/rems/forms/{form_id}", CLINICAL, "/api/rems/forms/{rems_form}"),
    api("POST", "/api/rems/forms/{form_id}/submit", CLINICAL,
        "/api/rems/forms/{rems_form}/submit", json={"reference": "CONF-1"}),
    api("GET", "/api/rems/forms/{form_id}/pdf", CLINICAL, "/api/rems/forms/{rems_form}/pdf"),
    api("GET", "/api/rems/forms/{form_id}/csv", CLINICAL, "/api/rems/forms/{rems_form}/csv"),
    api("GET", "/api/rems/overdue", CLINICAL),
    page("GET", "/rems", CLINICAL),
    page("POST", "/rems/site", PRESCRIBER, form=SITE_JSON),
    page("POST", "/rems/enrolments", CLINICAL, form=ENROL_JSON),
    page("POST", "/rems/sessions/{session_id}/form", CLINICAL,
         "/rems/sessions/{rems_session}/form", form={}),
    page("GET", "/rems/forms/{form_id}", CLINICAL, "/rems/forms/{rems_form}"),
    page("POST", "/rems/forms/{form_id}/submit", CLINICAL, "/rems/forms/{rems_form}/submit",
         form={"reference": "CONF-1"}),
    page("GET", "/rems/forms/{form_id}/pdf", CLINICAL, "/rems/forms/{rems_form}/pdf"),
    page("GET", "/rems/forms/{form_id}/csv", CLINICAL, "/rems/forms/{rems_form}/csv"),
    page("GET", "/rems/overdue", CLINICAL),
)
# fmt: on


def _session(world: Any) -> str:
    """A discharged esketamine session of the world's patient (enrolled at a certified site)."""
    clinic = world.api.clinic
    with clinic.work() as s:
        if rems.site_certification(s) is None:
            rems.record_site_certification(
                s, clinic.prescriber, clinic.clock, "S-MATRIX", date(2026, 10, 1)
            )
        if rems.patient_enrolment(s, world.patient) is None:
            rems.record_patient_enrolment(
                s, clinic.nurse, clinic.clock, world.patient, "P-MATRIX", date(2026, 10, 1)
            )
    # One plan for the world's sessions (kept on the world: its database's ids), each session
    # with its own number.
    plan_id = getattr(world, "rems_plan", None)
    if plan_id is None:
        plan_id = plan_row(clinic, world.patient, "esketamine", 56)
        world.rems_plan = plan_id
    given = EsketamineSession(day=date(2026, 10, 30), number=next(_NUMBERS))
    return str(esketamine_session(clinic, world.patient, plan_id, given))


def _form(world: Any) -> str:
    """A form filled from a fresh session, not submitted."""
    session_id = int(_session(world))
    clinic = world.api.clinic
    with clinic.work() as s:
        return str(rems.build_form(s, clinic.nurse, clinic.clock, session_id).id)


MAKERS: dict[str, Callable[[Any], str]] = {"rems_session": _session, "rems_form": _form}
