"""Self-report links: a random token of which only the hash is kept, single use, expiring 72 hours
after it was sent, opening a public page that can only ever show and write its own patient's
questionnaire (issue 6, item 2 and "Bad input"), on SQLite and PostgreSQL.

Expiry boundary: a link sent at 09:00 works at 71:59 later and is refused at 72:00 exactly.
"Expires after 72 hours" means that once 72 hours have passed it no longer works, and at 72:00
they have; refusing at the boundary also errs on the side of a shorter life for a credential.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from ketaclinic.policy import parse
from ketaclinic.services import safety
from ketaclinic.services.actor import Role
from ketaclinic.services.errors import Forbidden, InvalidInput
from ketaclinic.services.questionnaires import responses_of
from ketaclinic.services.self_report import (
    LinkRefused,
    open_link,
    send_link,
    submit_by_link,
    token_digest,
)
from ketaclinic.services.web_sessions import start
from ketaclinic.store.models import AuditEvent, QuestionnaireResponse, SelfReportLink, User
from tests.integration.api_support import Api, open_api
from tests.integration.services_support import NOW, Clinic, open_clinic

PHQ9_MILD = [1, 2, 1, 2, 1, 1, 0, 0, 0]  # 8, mild


def form_of(answers: list[int]) -> dict[str, str]:
    return {f"item_{n}": str(a) for n, a in enumerate(answers, start=1)}


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


@pytest.fixture
def web(database_url: str) -> Iterator[Api]:
    with open_api(database_url) as opened:
        yield opened


def _send(clinic: Clinic, patient: int, scale: str = "phq9") -> str:
    with clinic.work() as s:
        return send_link(s, clinic.nurse, clinic.clock, patient, scale).token


def _responses(clinic: Clinic) -> list[QuestionnaireResponse]:
    with clinic.factory() as s:
        return list(s.scalars(select(QuestionnaireResponse)))


# ---- the token ----------------------------------------------------------------------------------


def test_only_the_tokens_hash_is_stored_and_the_path_carries_the_token(clinic: Clinic) -> None:
    patient = clinic.register().id
    with clinic.work() as s:
        sent = send_link(s, clinic.nurse, clinic.clock, patient, "phq9")
        assert sent.path == "/r/" + sent.token
        # token_urlsafe(32): 32 random bytes, 43 URL-safe characters.
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sent.token)
    with clinic.factory() as s:
        (link,) = s.scalars(select(SelfReportLink)).all()
        assert link.token_sha256 == hashlib.sha256(sent.token.encode()).hexdigest()
        stored = [str(getattr(link, c.key)) for c in SelfReportLink.__table__.columns]
        assert not any(sent.token in value for value in stored)
        assert (link.patient_id, link.scale, link.created_by_id) == (
            patient,
            "phq9",
            clinic.nurse.user_id,
        )
        assert link.expires_at - link.created_at == timedelta(hours=72)


def test_two_links_have_different_tokens(clinic: Clinic) -> None:
    patient = clinic.register().id
    assert _send(clinic, patient) != _send(clinic, patient)


@pytest.mark.parametrize("role", ["front_desk", "admin"])
def test_only_clinical_staff_send_links(clinic: Clinic, role: Role) -> None:
    patient = clinic.register().id
    with pytest.raises(Forbidden), clinic.work() as s:
        send_link(s, clinic.actors[role], clinic.clock, patient, "phq9")


@pytest.mark.parametrize("scale", ["beck", "madrs", "cadss", "moaas"])
def test_a_link_for_an_unknown_or_clinician_rated_scale_is_refused(
    clinic: Clinic, scale: str
) -> None:
    patient = clinic.register().id
    before = clinic.counts()
    with pytest.raises(InvalidInput) as refused, clinic.work() as s:
        send_link(s, clinic.nurse, clinic.clock, patient, scale)
    assert refused.value.field == "scale"
    assert clinic.counts() == before


def test_the_lifetime_is_a_policy_setting(clinic: Clinic) -> None:
    patient = clinic.register().id
    policy = parse("[outcomes]\nself_report_link_hours = 24\n")
    with clinic.work() as s:
        link = send_link(s, clinic.nurse, clinic.clock, patient, "phq9", policy).link
        assert link.expires_at == NOW + timedelta(hours=24)


# ---- expiry -------------------------------------------------------------------------------------


def test_a_link_works_at_71_59_and_is_refused_at_72_00(clinic: Clinic) -> None:
    patient = clinic.register().id
    token = _send(clinic, patient)
    clinic.clock.advance(hours=71, minutes=59)
    with clinic.work() as s:
        assert open_link(s, clinic.clock, token).patient_id == patient
    clinic.clock.advance(minutes=1)
    with pytest.raises(LinkRefused) as refused, clinic.work() as s:
        open_link(s, clinic.clock, token)
    assert refused.value.status == 410
    assert "expired" in refused.value.message
    assert "72 hours" in refused.value.message
    with pytest.raises(LinkRefused), clinic.work() as s:
        submit_by_link(s, clinic.clock, token, PHQ9_MILD)
    assert _responses(clinic) == []


def test_an_expired_link_is_refused_on_the_page_and_stores_nothing(web: Api) -> None:
    clinic = web.clinic
    patient = web.new_patient()
    token = _send(clinic, patient)
    clinic.clock.advance(hours=71, minutes=59)
    assert web.http.get(f"/r/{token}").status_code == 200
    clinic.clock.advance(minutes=1)
    page = web.http.get(f"/r/{token}")
    assert page.status_code == 410
    assert "This link has expired" in page.text
    sent = web.http.post(f"/r/{token}", data=form_of(PHQ9_MILD))
    assert sent.status_code == 410
    assert "Nothing was sent." in sent.text
    assert _responses(clinic) == []
    with clinic.factory() as s:
        refused = s.scalars(select(AuditEvent).where(AuditEvent.action == "refused")).all()
        assert [(e.username, e.patient_id) for e in refused] == [("patient-link", patient)] * 2


# ---- single use ---------------------------------------------------------------------------------


def test_a_link_takes_one_set_of_answers(web: Api) -> None:
    clinic = web.clinic
    patient = web.new_patient()
    token = _send(clinic, patient)
    first = web.http.post(f"/r/{token}", data=form_of(PHQ9_MILD))
    assert first.status_code == 200
    assert "Your PHQ-9 answers were sent to your clinic." in first.text
    again = web.http.post(f"/r/{token}", data=form_of([3] * 9))
    assert again.status_code == 410
    assert "already been used" in again.text
    reopened = web.http.get(f"/r/{token}")
    assert reopened.status_code == 410
    (row,) = _responses(clinic)
    assert (row.patient_id, row.total, row.band, row.source) == (patient, 8, "mild", "link")
    assert row.recorded_by_id is None
    with clinic.factory() as s:
        link = s.scalars(select(SelfReportLink)).one()
        assert link.used_at == NOW
        assert row.link_id == link.id


def test_a_used_link_is_refused_by_the_service(clinic: Clinic) -> None:
    patient = clinic.register().id
    token = _send(clinic, patient)
    with clinic.work() as s:
        submit_by_link(s, clinic.clock, token, PHQ9_MILD)
    with pytest.raises(LinkRefused) as refused, clinic.work() as s:
        submit_by_link(s, clinic.clock, token, PHQ9_MILD)
    assert refused.value.status == 410
    assert len(_responses(clinic)) == 1


# ---- bad answers --------------------------------------------------------------------------------


def test_an_answer_out_of_range_is_shown_beside_its_item_and_the_link_stays_usable(
    web: Api,
) -> None:
    clinic = web.clinic
    patient = web.new_patient()
    token = _send(clinic, patient)
    bad = form_of(PHQ9_MILD)
    bad["item_9"] = "4"
    page = web.http.post(f"/r/{token}", data=bad)
    assert page.status_code == 422
    assert 'id="q-item_9-error" class="error field-error">answer 4 is outside 0-3<' in page.text
    # The patient's other answers are kept on the form.
    assert 'name="item_2" value="2" checked' in page.text
    assert _responses(clinic) == []
    missing = form_of(PHQ9_MILD)
    del missing["item_6"]
    page = web.http.post(f"/r/{token}", data=missing)
    assert page.status_code == 422
    assert 'id="q-item_6-error" class="error field-error">no answer<' in page.text
    assert _responses(clinic) == []
    fixed = web.http.post(f"/r/{token}", data=form_of(PHQ9_MILD))
    assert fixed.status_code == 200
    assert len(_responses(clinic)) == 1


def test_an_unknown_token_is_refused(web: Api) -> None:
    patient = web.new_patient()
    token = _send(web.clinic, patient)
    for wrong in (token[:-1], token + "x", "x" * 500):
        assert web.http.get(f"/r/{wrong}").status_code == 404
        assert web.http.post(f"/r/{wrong}", data=form_of(PHQ9_MILD)).status_code == 404
    assert _responses(web.clinic) == []


# ---- one patient's link never reaches another's data --------------------------------------------


def test_a_link_shows_and_writes_only_its_own_patient(web: Api) -> None:
    clinic = web.clinic
    alice = web.new_patient(mrn="MRN-A", given_name="Alice", family_name="Anders")
    bruno = web.new_patient(mrn="MRN-B", given_name="Bruno", family_name="Berg")
    with clinic.work() as s:
        # Bruno has answered before: his answers must never show on Alice's page.
        submit_by_link(s, clinic.clock, _send(clinic, bruno, "gad7"), [3] * 7)
    alice_token = _send(clinic, alice)
    page = web.http.get(f"/r/{alice_token}")
    assert page.status_code == 200
    for private in ("Alice", "Anders", "Bruno", "Berg", "MRN-", "GAD-7"):
        assert private not in page.text
    # A forged patient id or scale in the form is ignored: the link names both on the server.
    forged = {**form_of(PHQ9_MILD), "patient_id": str(bruno), "scale": "gad7"}
    assert web.http.post(f"/r/{alice_token}", data=forged).status_code == 200
    with clinic.factory() as s:
        assert [(r.scale, r.total) for r in responses_of(s, alice)] == [("phq9", 8)]
        assert [(r.scale, r.total) for r in responses_of(s, bruno)] == [("gad7", 21)]
    # Using Alice's link again cannot reach Bruno either.
    assert web.http.post(f"/r/{alice_token}", data=forged).status_code == 410
    assert token_digest(alice_token) != token_digest(alice_token.swapcase())


# ---- the public page ----------------------------------------------------------------------------


def test_the_page_needs_no_account_and_shows_no_navigation(web: Api) -> None:
    patient = web.new_patient()
    token = _send(web.clinic, patient)
    page = web.http.get(f"/r/{token}")
    assert page.status_code == 200
    assert "sign-in" not in page.headers.get("location", "")
    assert "<nav" not in page.text and "/patients" not in page.text
    assert page.text.count('type="radio"') == 9 * 4
    assert 'name="viewport"' in page.text
    assert "/static/self_report.css" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "same-origin"
    with web.clinic.factory() as s:
        reads = s.scalars(select(AuditEvent).where(AuditEvent.username == "patient-link")).all()
        assert [(e.action, e.patient_id) for e in reads] == [("read", patient)]


def test_the_submission_is_audited_as_the_patient_link(web: Api) -> None:
    patient = web.new_patient()
    token = _send(web.clinic, patient)
    web.http.post(f"/r/{token}", data=form_of(PHQ9_MILD))
    with web.clinic.factory() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.username == "patient-link")).all()
        assert [(e.action, e.patient_id, e.user_id) for e in rows] == [("write", patient, None)]


def test_the_crisis_text_comes_from_the_environment(
    web: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = web.new_patient()
    token = _send(web.clinic, patient)
    assert "988" in web.http.get(f"/r/{token}").text
    monkeypatch.setenv(safety.CRISIS_TEXT_VARIABLE, "Call Riverside crisis line 0800 123 456.")
    done = web.http.post(f"/r/{token}", data=form_of(PHQ9_MILD))
    assert "Call Riverside crisis line 0800 123 456." in done.text
    assert "988" not in done.text
    monkeypatch.setenv(safety.CRISIS_TEXT_VARIABLE, "   ")
    assert safety.crisis_text() == safety.DEFAULT_CRISIS_TEXT


def test_a_browser_with_a_staff_session_can_still_submit(web: Api) -> None:
    """A patient answering on a clinic tablet where a nurse is signed in: the app-wide CSRF check
    sees the session cookie, and the page carries that session's token."""
    clinic = web.clinic
    patient = web.new_patient()
    token = _send(clinic, patient)
    with clinic.work() as s:
        nurse = s.get_one(User, clinic.nurse.user_id)
        started = start(s, clinic.clock, nurse)
    web.http.cookies.set("ketaclinic_session", started.cookie)
    try:
        page = web.http.get(f"/r/{token}")
        assert f'name="csrf_token" value="{started.csrf_token}"' in page.text
        sent = web.http.post(
            f"/r/{token}", data={**form_of(PHQ9_MILD), "csrf_token": started.csrf_token}
        )
        assert sent.status_code == 200
    finally:
        web.http.cookies.clear()
    assert len(_responses(clinic)) == 1


# ---- staff send a link --------------------------------------------------------------------------


def test_staff_create_a_link_on_the_patients_page(web: Api) -> None:
    patient = web.new_patient()
    page = web.http.post(
        f"/patients/{patient}/self-report-links",
        headers=web.headers("nurse"),
        data={"scale": "phq9"},
    )
    assert page.status_code == 200
    match = re.search(
        r'id="self-report-link" href="http://testserver(/r/[A-Za-z0-9_-]{43})"', page.text
    )
    assert match is not None
    assert web.http.get(match.group(1)).status_code == 200


def test_staff_cannot_send_a_clinician_rated_scale(web: Api) -> None:
    patient = web.new_patient()
    before = web.counts()
    page = web.http.post(
        f"/patients/{patient}/self-report-links",
        headers=web.headers("nurse"),
        data={"scale": "madrs"},
    )
    assert page.status_code == 422
    assert "choose a questionnaire the patient fills in alone" in page.text
    after = web.counts()
    assert after["self_report_links"] == before["self_report_links"]


def test_the_api_sends_a_link(web: Api) -> None:
    patient = web.new_patient()
    made = web.post("prescriber", f"/api/patients/{patient}/self-report-links", {"scale": "gad7"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["url"] == "http://testserver" + body["path"]
    assert body["expires_at"] == "2026-11-04T09:00:00"
    page = web.http.get(body["path"])
    assert page.status_code == 200 and "GAD-7" in page.text
