"""Authorization matrix rows for outcomes, reports and the FHIR export (issues 6 and 8).

Written by hand from issue 6 and the session brief: prescribers and nurses read outcomes,
progress reports, referral letters and exports; the front desk (demographics only) and admins
(no clinical data) do not. Every allowed read names the patient in the audit log, except the
clinic dashboard, which shows aggregates only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.integration.authz_cases import CLINICAL, Case, api, page

# fmt: off
CASES: tuple[Case, ...] = (
    page("GET", "/outcomes", CLINICAL),
    page("GET", "/patients/{patient_id}/outcomes", CLINICAL),
    page("GET", "/patients/{patient_id}/outcomes/report.pdf", CLINICAL),
    # A fresh screening of the matrix's bare patient (World makes "{screening}").
    page("GET", "/screenings/{screening_id}/letter.pdf", CLINICAL,
         "/screenings/{screening}/letter.pdf"),
    api("GET", "/api/patients/{patient_id}/export", CLINICAL),
)
# fmt: on

MAKERS: dict[str, Callable[[Any], str]] = {}
