"""Integration (psychotherapy) visits and observation ending by time, through the session page,
the board and the JSON API (issue 5), on SQLite and PostgreSQL.

Expected values from issue 5: an integration session is recorded as a visit done with a note
of what was done (nurses and prescribers); esketamine observation lasts 120 minutes from the
first device, and the board says the checklist passes as soon as it does, without anyone
pressing "Check again". The clinic's clock starts at 2026-11-01 09:00.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from ketaclinic.services.actor import Role
from ketaclinic.store.models import AuditEvent
from tests.integration.api_support import Api, field_errors, open_api
from tests.integration.session_support import integration_visit, state_of, visit_in

NOTE = "Integration: went over the dissociative imagery; next steps agreed."
CALM = {"systolic": "122", "diastolic": "78", "heart_rate": "76", "spo2": "98"}
READY = "Ready for discharge: checklist passes"


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def post(api: Api, role: Role, path: str, form: dict[str, str] | None = None) -> httpx.Response:
    response: httpx.Response = api.http.post(path, headers=api.headers(role), data=form or {})
    return response


def page(api: Api, role: Role, path: str) -> str:
    response = api.http.get(path, headers=api.headers(role))
    assert response.status_code == 200, response.text[:500]
    return response.text


def live(api: Api, role: Role) -> str:
    response = api.http.get("/board/live", headers={**api.headers(role), "HX-Request": "true"})
    assert response.status_code == 200
    return response.text


def stored(api: Api) -> dict[str, int]:
    """Rows in every table but the audit trail (a refused form's page view is audited)."""
    return {k: v for k, v in api.counts().items() if k != "audit_events"}


def card(html: str, session_id: int) -> str:
    found = re.search(rf'<li class="visit[^"]*" id="visit-{session_id}".*?</li>\s*\n', html, re.S)
    assert found is not None, f"session {session_id} is not on the board"
    return found.group(0)


def audit_rows(api: Api, what: str) -> list[AuditEvent]:
    with api.clinic.factory() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.what == what)))


# ---- the session page ----------------------------------------------------------------------------


def test_a_checked_in_integration_session_is_recorded_as_done_from_its_page(api: Api) -> None:
    visit = integration_visit(api.clinic, "checked_in")
    sid = visit.session_id
    html = page(api, "nurse", f"/sessions/{sid}")
    assert f'action="/sessions/{sid}/complete"' in html
    assert 'id="f-complete-note"' in html
    assert "Run the pre-dose check" not in html and "/predose" not in html
    assert "<script>" not in html and " onclick=" not in html  # CSP: no inline scripts

    before = stored(api)
    blank = post(api, "nurse", f"/sessions/{sid}/complete", {"note": "  "})
    assert blank.status_code == 422
    assert re.search(r'id="f-complete-note-error" class="error field-error">[^<]+<', blank.text)
    assert stored(api) == before and state_of(api.clinic, sid) == "checked_in"

    done = post(api, "nurse", f"/sessions/{sid}/complete", {"note": NOTE})
    assert done.status_code == 303
    assert done.headers["location"] == f"/sessions/{sid}?done=complete#next-step"
    assert state_of(api.clinic, sid) == "discharged"
    (row,) = audit_rows(api, f"session {sid}: visit done")
    assert (row.username, row.patient_id) == ("nurse", visit.patient_id)
    html = page(api, "nurse", f"/sessions/{sid}?done=complete")
    assert "Visit recorded as done." in html
    assert f'id="visit-note">The visit is done: {NOTE}<' in html

    again = post(api, "prescriber", f"/sessions/{sid}/complete", {"note": "again"})
    assert again.status_code == 409
    assert "nothing more can happen" in again.text


def test_a_dosing_session_is_not_completed_from_the_page_and_the_desk_may_not(api: Api) -> None:
    dosing = visit_in(api.clinic, "checked_in")
    html = page(api, "nurse", f"/sessions/{dosing.session_id}")
    assert "/complete" not in html and "Run the pre-dose check" in html
    before = stored(api)
    refused = post(api, "nurse", f"/sessions/{dosing.session_id}/complete", {"note": NOTE})
    assert refused.status_code == 409
    assert 'id="refused-complete"' in refused.text
    assert stored(api) == before and state_of(api.clinic, dosing.session_id) == "checked_in"
    visit = integration_visit(api.clinic, "checked_in")
    for role in ("front_desk", "admin"):
        forbidden = post(api, role, f"/sessions/{visit.session_id}/complete", {"note": NOTE})
        assert forbidden.status_code == 403
    assert state_of(api.clinic, visit.session_id) == "checked_in"


# ---- the board and the page say when observation is over --------------------------------------


def test_the_board_and_page_say_ready_at_120_minutes_without_a_write(api: Api) -> None:
    clinic = api.clinic
    sid = visit_in(clinic, "observation", "esketamine").session_id
    first = datetime.fromisoformat(api.get("nurse", f"/api/sessions/{sid}").json()[
        "dosing_started_at"])  # fmt: skip
    clinic.clock.at = first + timedelta(minutes=119)
    assert post(api, "nurse", f"/sessions/{sid}/vitals", CALM).status_code == 303
    assert post(api, "nurse", f"/sessions/{sid}/scores", {"scale": "moaas", "score": "5"}
                ).status_code == 303  # fmt: skip
    assert READY not in card(live(api, "nurse"), sid)
    assert READY not in page(api, "nurse", f"/sessions/{sid}")
    assert api.get("nurse", f"/api/sessions/{sid}").json()["may_leave"] is False

    clinic.clock.at = first + timedelta(minutes=120)
    before = stored(api)
    body = card(live(api, "nurse"), sid)
    assert READY in body and 'data-state="observation"' in body
    html = page(api, "nurse", f"/sessions/{sid}")
    assert f'id="may-leave">{READY}<' in html
    assert 'id="session-state">Observation<' in html
    out = api.get("nurse", f"/api/sessions/{sid}").json()
    assert (out["state"], out["may_leave"], out["blockers"]) == ("observation", True, [])
    assert stored(api) == before  # reading wrote nothing
    assert state_of(clinic, sid) == "observation"


# ---- the API -------------------------------------------------------------------------------------


def test_an_integration_visit_over_the_api(api: Api) -> None:
    visit = integration_visit(api.clinic, "scheduled")
    sid = visit.session_id
    r = api.post("front_desk", f"/api/sessions/{sid}/check-in", {"chair": "Room 2"})
    assert (r.status_code, r.json()["kind"], r.json()["state"]) == (
        200,
        "integration",
        "checked_in",
    )
    before = api.counts()
    assert field_errors(api.post("nurse", f"/api/sessions/{sid}/complete", {"note": ""})) == [
        ("body", "note")
    ]
    assert api.post("nurse", f"/api/sessions/{sid}/complete", {}).status_code == 422
    assert api.post("front_desk", f"/api/sessions/{sid}/complete", {"note": NOTE}).status_code == (
        403
    )
    assert api.counts() == before
    r = api.post("prescriber", f"/api/sessions/{sid}/complete", {"note": NOTE})
    assert r.status_code == 200
    out = r.json()
    assert (out["state"], out["discharged_at"]) == ("discharged", "2026-11-01T09:00:00")
    assert (out["events"][-1]["from_state"], out["events"][-1]["reason"]) == ("checked_in", NOTE)
    assert [e.patient_id for e in audit_rows(api, f"session {sid}: visit done")] == [
        visit.patient_id
    ]
    again = api.post("nurse", f"/api/sessions/{sid}/complete", {"note": NOTE})
    assert again.status_code == 409

    dosing = visit_in(api.clinic, "checked_in").session_id
    before = api.counts()
    r = api.post("nurse", f"/api/sessions/{dosing}/complete", {"note": NOTE})
    assert r.status_code == 409 and r.json()["detail"].startswith("Only an integration session")
    assert api.counts() == before and state_of(api.clinic, dosing) == "checked_in"
