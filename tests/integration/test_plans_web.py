"""Plans and consent over HTTP on both databases: the JSON API (201/409/422, nothing written
on a refusal, audited with the patient) and the pages (the form redisplayed with the message
beside the field, the plan page, the consent page with its canvas, the PDF)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from ketaclinic.store.models import AuditEvent
from tests.integration.api_support import Api, open_api
from tests.integration.plan_support import active_plan, ready_patient
from tests.integration.test_consent import PNG_URL

PLAN: dict[str, Any] = {
    "route": "iv",
    "indication": "treatment_resistant_depression",
    "start_on": "2026-11-01",
    "mg_per_kg": 0.5,
}


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def audited(api: Api, patient_id: int) -> list[str]:
    with api.clinic.factory() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.patient_id == patient_id)).all()
        return [f"{r.action} {r.what}" for r in rows]


# ---- API ----------------------------------------------------------------------------------------


def test_a_plan_made_and_consented_over_the_api(api: Api) -> None:
    patient_id = ready_patient(api.clinic)
    made = api.post("prescriber", f"/api/patients/{patient_id}/plans", PLAN)
    assert made.status_code == 201, made.text
    plan = made.json()
    assert (plan["status"], plan["current"]["dose_mg"], plan["sessions"]) == (
        "awaiting_consent", 40.0, []
    )  # fmt: skip
    text = api.get("nurse", f"/api/plans/{plan['id']}/consent-text").json()["text"]
    assert "OFF-LABEL" in text
    signed = api.post("nurse", f"/api/plans/{plan['id']}/consent", {"signature": PNG_URL})
    assert signed.status_code == 201, signed.text
    assert signed.json()["patient_drew"] is True
    shown = api.get("nurse", f"/api/plans/{plan['id']}").json()
    assert shown["status"] == "active" and len(shown["sessions"]) == 6
    listed = api.get("prescriber", f"/api/patients/{patient_id}/plans").json()
    assert [p["id"] for p in listed] == [plan["id"]]
    trail = audited(api, patient_id)
    assert f"write plan {plan['id']} created (iv)" in trail
    assert f"read plan {plan['id']}" in trail
    assert any(t.startswith(f"write plan {plan['id']} consent") for t in trail)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mg_per_kg", "abc", "is not a number"),
        ("mg_per_kg", -0.5, "must be more than 0"),
        ("start_on", "2026-10-31", "is in the past"),
        ("start_on", "31/12/2026", "is not a date"),
        ("route", "rectal", "must be one of"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    api: Api, field: str, value: object, message: str
) -> None:
    patient_id = ready_patient(api.clinic)
    before = api.counts()
    response = api.post("prescriber", f"/api/patients/{patient_id}/plans", {**PLAN, field: value})
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", field] and message in detail["msg"]
    assert api.counts() == before


def test_a_plan_the_record_does_not_allow_is_409(api: Api) -> None:
    patient_id = ready_patient(api.clinic, weighed_days_ago=31)
    before = api.counts()
    response = api.post("prescriber", f"/api/patients/{patient_id}/plans", PLAN)
    assert response.status_code == 409
    assert "31 days ago" in response.json()["detail"]
    assert api.counts() == before


def test_roles_over_the_api(api: Api) -> None:
    patient_id = ready_patient(api.clinic)
    assert api.post("nurse", f"/api/patients/{patient_id}/plans", PLAN).status_code == 403
    assert api.get("front_desk", f"/api/patients/{patient_id}/plans").status_code == 403
    assert api.get("admin", f"/api/patients/{patient_id}/plans").status_code == 403


def test_change_pause_and_withdraw_over_the_api(api: Api) -> None:
    patient_id, plan_id = active_plan(api.clinic)
    changed = api.post("prescriber", f"/api/plans/{plan_id}/change",
                       {**PLAN, "mg_per_kg": 0.75, "reason": "No response"})  # fmt: skip
    assert changed.status_code == 200, changed.text
    # 0.75 mg/kg x 80 kg = 60 mg for every session not yet begun.
    assert {s["planned_mg"] for s in changed.json()["sessions"]} == {60.0}
    no_reason = api.post("prescriber", f"/api/plans/{plan_id}/pause", {"reason": ""})
    assert no_reason.status_code == 422
    assert (
        api.post("prescriber", f"/api/plans/{plan_id}/pause", {"reason": "x"}).json()["status"]
        == "paused"
    )
    withdrawn = api.post("nurse", f"/api/plans/{plan_id}/consent/withdraw", {"reason": "No"})
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn_reason"] == "No"
    assert api.get("nurse", f"/api/plans/{plan_id}").json()["status"] == "ended"
    assert patient_id > 0


# ---- pages --------------------------------------------------------------------------------------


def page_post(api: Api, path: str, form: dict[str, str]) -> Any:
    return api.http.post(path, headers=api.headers("prescriber"), data=form,
                         follow_redirects=False)  # fmt: skip


def test_the_plan_form_redisplays_a_bad_dose_beside_its_field(api: Api) -> None:
    patient_id = ready_patient(api.clinic)
    form = api.get("prescriber", f"/patients/{patient_id}/plans/new")
    assert form.status_code == 200 and 'name="mg_per_kg"' in form.text
    before = api.counts()["treatment_plans"]
    bad = page_post(api, f"/patients/{patient_id}/plans",
                    {**{k: str(v) for k, v in PLAN.items()}, "mg_per_kg": "half"})  # fmt: skip
    assert bad.status_code == 422
    assert re.search(r'id="f-mg_per_kg-error" class="error field-error">is not a number', bad.text)
    assert 'value="half"' in bad.text  # what was typed is shown again
    assert api.counts()["treatment_plans"] == before


def test_a_refused_plan_is_shown_with_its_reasons(api: Api) -> None:
    patient_id = ready_patient(api.clinic, workup=False)
    refused = page_post(api, f"/patients/{patient_id}/plans",
                        {k: str(v) for k, v in PLAN.items()})  # fmt: skip
    assert refused.status_code == 409
    assert "The workup is not complete" in refused.text
    assert "physical_exam missing" in refused.text


def test_plan_page_consent_page_and_pdf(api: Api) -> None:
    patient_id = ready_patient(api.clinic)
    made = page_post(api, f"/patients/{patient_id}/plans", {k: str(v) for k, v in PLAN.items()})
    assert made.status_code == 303
    plan_path = made.headers["location"]
    page = api.get("nurse", plan_path)
    assert page.status_code == 200
    for shown in ("40 mg", "0.5 mg/kg", "96365", "J3490", "$2,400 to $4,800", "2026-11-14",
                  "Awaiting consent", "Off-label"):  # fmt: skip
        assert shown in page.text
    consent_page = api.get("nurse", f"{plan_path}/consent")
    assert consent_page.status_code == 200
    assert '<canvas id="signature-pad"' in consent_page.text
    assert '<script src="/static/signature.js"' in consent_page.text
    assert "<script>" not in consent_page.text  # CSP: no inline script
    empty = api.http.post(f"{plan_path}/consent", headers=api.headers("nurse"),
                          data={"typed_name": ""}, follow_redirects=False)  # fmt: skip
    assert empty.status_code == 422 and "type the full name or draw it" in empty.text
    signed = api.http.post(f"{plan_path}/consent", headers=api.headers("nurse"),
                           data={"typed_name": "Alice Example", "signature": PNG_URL},
                           follow_redirects=False)  # fmt: skip
    assert signed.status_code == 303
    page = api.get("nurse", plan_path)
    assert "Scheduled" in page.text and "Active" in page.text
    pdf_link = re.search(r'href="(/consents/\d+\.pdf)"', page.text)
    assert pdf_link is not None
    pdf = api.get("nurse", pdf_link.group(1))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert api.get("front_desk", pdf_link.group(1)).status_code == 403


def test_the_signature_script_is_served(api: Api) -> None:
    script = api.http.get("/static/signature.js")
    assert script.status_code == 200 and "toDataURL" in script.text
