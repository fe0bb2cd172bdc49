"""The ledger's pages and JSON API through the real app, on SQLite and on PostgreSQL.

Stock: ketamine HCl 50 mg/mL, 10 mL vials (500 mg each). The clock stands at 1 November 2026.
Who may use which route is in the authorization matrix (test_authorization.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update

from ketaclinic.services import ledger, ledger_pdf, ledger_reports
from ketaclinic.store.models import User
from tests.integration.api_support import Api, field_errors, open_api
from tests.integration.test_pages_clinic import Site, field_error

PASSWORD = "correct horse battery"
# Cheap Argon2 settings: the witness check verifies with whatever settings the hash names.
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
RECEIPT = {
    "substance": "ketamine",
    "strength_mg_per_ml": "50",
    "volume_ml": "10",
    "lot_number": "K-100",
    "expiry": "2027-06-30",
    "units": 10,
    "supplier": "Acme Pharma",
    "supplier_dea": "RA1234563",
    "invoice": "INV-1",
}


@dataclass
class Ward:
    api: Api
    site: Site
    patient: int


@pytest.fixture
def ward(database_url: str) -> Iterator[Ward]:
    with open_api(database_url) as api:
        with api.clinic.work() as s:
            s.execute(update(User).values(password_hash=CHEAP.hash(PASSWORD)))
        patient = api.clinic.register().id
        yield Ward(api, Site(api.clinic, api.app), patient)


def receive_by_api(ward: Ward) -> int:
    response = ward.api.post("nurse", "/api/ledger/receive", RECEIPT)
    assert response.status_code == 201, response.text
    lot: int = response.json()["lot_id"]
    return lot


def test_receive_then_administer_through_the_api(ward: Ward) -> None:
    received = ward.api.post("nurse", "/api/ledger/receive", RECEIPT)
    assert received.status_code == 201, received.text
    body = received.json()
    assert (body["seq"], body["kind"], body["balance_mg"], body["units"]) == (
        1,
        "received",
        "5000",
        10,
    )
    lot = body["lot_id"]
    given = ward.api.post(
        "prescriber",
        "/api/ledger/administer",
        {"lot_id": lot, "patient_id": ward.patient, "dose_mg": "35"},
    )
    assert given.status_code == 201, given.text
    # One 500 mg vial opened for 35 mg: 465 mg left in it to waste; 5000 - 35 on the lot.
    assert (given.json()["balance_mg"], given.json()["remainder_to_waste_mg"]) == ("4965", "465")
    assert given.json()["previous_sha256"] == body["sha256"]
    lots = ward.api.get("admin", "/api/ledger/lots").json()
    assert [(x["lot_number"], x["balance_mg"]) for x in lots] == [("K-100", "4965")]
    entries = ward.api.get("nurse", f"/api/ledger/lots/{lot}/entries").json()
    assert [e["kind"] for e in entries] == ["received", "administered"]
    assert ward.api.get("nurse", "/api/ledger/lots/999/entries").status_code == 404
    head = ward.api.get("nurse", "/api/ledger/head").json()
    assert (head["count"], head["sha256"]) == (2, given.json()["sha256"])
    writes = [e for e in ward.api.audit() if e.action == "write" and "ledger entry" in e.what]
    assert [(e.username, e.patient_id) for e in writes] == [
        ("nurse", None),
        ("prescriber", ward.patient),
    ]
    # More than the lot holds: refused, nothing written.
    before = ward.api.counts()
    too_much = ward.api.post(
        "nurse",
        "/api/ledger/administer",
        {"lot_id": lot, "patient_id": ward.patient, "dose_mg": "4966"},
    )
    assert field_errors(too_much) == [("body", "amount")]
    assert ward.api.counts() == before


def test_receive_then_administer_through_the_pages(ward: Ward) -> None:
    nurse = ward.site.browser("nurse")
    form = {k: str(v) for k, v in RECEIPT.items()}
    received = nurse.post("/ledger/receive", form)
    assert received.status_code == 303, received.text
    assert received.headers["location"] == "/ledger?done=receive"
    page = nurse.get("/ledger")
    assert page.status_code == 200
    assert "K-100" in page.text and "5000" in page.text
    lot = ward.api.get("nurse", "/api/ledger/lots").json()[0]["id"]
    given = nurse.post(
        "/ledger/administer", {"lot_id": str(lot), "patient_id": str(ward.patient), "dose_mg": "35"}
    )
    assert given.status_code == 303, given.text
    assert ward.api.get("nurse", "/api/ledger/lots").json()[0]["balance_mg"] == "4965"
    assert (
        "nurse",
        "write",
        f"ledger entry #2 administered (lot {lot})",
        ward.patient,
    ) in ward.site.audit()
    # A zero dose is refused beside its field, nothing written.
    before = ward.api.counts()
    zero = nurse.post(
        "/ledger/administer", {"lot_id": str(lot), "patient_id": str(ward.patient), "dose_mg": "0"}
    )
    assert zero.status_code == 422
    assert field_error(zero, "administer-dose_mg") != ""
    assert ward.api.counts() == before
    # A count short of the balance stays listed as a discrepancy; a loss shows its report due.
    assert (
        nurse.post("/ledger/count", {"lot_id": str(lot), "counted_mg": "4900"}).status_code == 303
    )
    with ward.api.clinic.work() as s:
        ledger.record_loss(
            s, ward.api.clinic.nurse, ward.api.clinic.clock, lot, "lost", "65", "vial broke"
        )
    page = nurse.get("/ledger")
    assert "counted 4900 mg, balance 4965 mg" in page.text
    # Lost on Sunday 1 November 2026: due within one business day, Monday 2 November.
    assert "Due by the end of 2026-11-02" in page.text and "lost 65 mg" in page.text
    # Admins read the ledger but see no forms; the front desk is refused.
    assert 'action="/ledger/receive"' not in ward.site.browser("admin").get("/ledger").text
    assert ward.site.browser("front_desk").get("/ledger").status_code == 403


def test_waste_without_a_valid_witness_is_refused_and_nothing_is_written(ward: Ward) -> None:
    lot = receive_by_api(ward)
    nurse = ward.site.browser("nurse")
    waste = {"lot_id": str(lot), "amount_mg": "465", "reason": "rest of the vial"}
    before = ward.api.counts()
    wrong = nurse.post(
        "/ledger/waste", {**waste, "witness": "prescriber", "witness_password": "nope"}
    )
    assert wrong.status_code == 422
    assert field_error(wrong, "waste-witness_password").startswith("witness not confirmed")
    assert "nope" not in wrong.text
    alone = nurse.post("/ledger/waste", {**waste, "witness": "nurse", "witness_password": PASSWORD})
    assert alone.status_code == 422
    assert field_error(alone, "waste-witness") != ""
    by_api = ward.api.post(
        "nurse",
        "/api/ledger/waste",
        {"lot_id": lot, "amount_mg": "465", "reason": "rest", "witness_username": "prescriber",
         "witness_password": "nope"},
    )  # fmt: skip
    assert field_errors(by_api) == [("body", "witness_password")]
    assert ward.api.counts() == before
    seen = nurse.post(
        "/ledger/waste", {**waste, "witness": "prescriber", "witness_password": PASSWORD}
    )
    assert seen.status_code == 303, seen.text
    assert ward.api.get("nurse", "/api/ledger/lots").json()[0]["balance_mg"] == "4535"


def test_the_verify_page_reports_an_intact_chain(ward: Ward) -> None:
    receive_by_api(ward)
    head = ward.api.get("nurse", "/api/ledger/head").json()["text"]
    nurse = ward.site.browser("nurse")
    page = nurse.get(f"/ledger/verify?anchor={head}")
    assert page.status_code == 200
    assert "The chain is intact" in page.text
    assert ward.api.get("admin", "/api/ledger/verify", anchor=head).json()["intact"] is True
    bad = nurse.get("/ledger/verify?anchor=not-a-head")
    assert bad.status_code == 422
    assert "COUNT:SHA256" in field_error(bad, "anchor")


def test_the_log_prints_as_a_pdf_with_the_head_and_as_csv(ward: Ward) -> None:
    receive_by_api(ward)
    nurse = ward.site.browser("nurse")
    pdf = nurse.get("/ledger/log.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    head = ward.api.get("nurse", "/api/ledger/head").json()["text"]
    with ward.api.clinic.factory() as s:
        rows = ledger_reports.running_log(s, ward.api.clinic.nurse)
        html = ledger_pdf.log_html(rows, ledger.head(s), ward.api.clinic.clock.now())
    assert head in html and "K-100" in html
    csv_text = nurse.get("/ledger/log.csv").text
    assert csv_text.splitlines()[0] == f"# ledger head,{head}"
    assert re.search(r"^1,.*,received,ketamine-50mg-ml-10ml,K-100,", csv_text, re.M)


def test_destroy_and_adjust_through_the_api_change_the_balance_and_the_chain_verifies(
    ward: Ward,
) -> None:
    lot = receive_by_api(ward)  # ten 500 mg vials: 5000 mg
    destroyed = ward.api.post(
        "nurse",
        "/api/ledger/destroy",
        {"lot_id": lot, "amount_mg": "500", "dea41_reference": "DEA41-2026-7"},
    )
    assert destroyed.status_code == 201, destroyed.text
    # 5000 - 500 destroyed = 4500.
    assert (destroyed.json()["kind"], destroyed.json()["change_mg"]) == ("destroyed", "-500")
    assert destroyed.json()["balance_mg"] == "4500"
    lowered = ward.api.post(
        "prescriber",
        "/api/ledger/adjust",
        {"lot_id": lot, "change_mg": "-12.5", "reason": "count found 12.5 mg short"},
    )
    assert lowered.status_code == 201, lowered.text
    # 4500 - 12.5 = 4487.5.
    assert (lowered.json()["change_mg"], lowered.json()["balance_mg"]) == ("-12.5", "4487.5")
    raised = ward.api.post(
        "nurse", "/api/ledger/adjust", {"lot_id": lot, "change_mg": "2.5", "reason": "recount"}
    )
    assert raised.status_code == 201, raised.text
    # 4487.5 + 2.5 = 4490.
    assert raised.json()["balance_mg"] == "4490"
    assert ward.api.get("nurse", "/api/ledger/lots").json()[0]["balance_mg"] == "4490"
    # Below zero is refused: 4490 + (-4490.001) < 0.
    below = ward.api.post(
        "nurse", "/api/ledger/adjust", {"lot_id": lot, "change_mg": "-4490.001", "reason": "x"}
    )
    assert below.status_code == 422
    check = ward.api.get("admin", "/api/ledger/verify").json()
    assert check["intact"] is True
    assert (check["head"]["count"], check["head"]["sha256"]) == (4, raised.json()["sha256"])
    kinds = [e["kind"] for e in ward.api.get("nurse", f"/api/ledger/lots/{lot}/entries").json()]
    assert kinds == ["received", "destroyed", "adjusted", "adjusted"]


def test_return_through_the_api_takes_whole_vials(ward: Ward) -> None:
    lot = receive_by_api(ward)
    returned = ward.api.post(
        "nurse",
        "/api/ledger/return",
        {"lot_id": lot, "kind": "transferred", "units": 2, "recipient": "Other Clinic",
         "recipient_dea": "BO7654321", "invoice": "DEA222-9"},
    )  # fmt: skip
    assert returned.status_code == 201, returned.text
    # Two 500 mg vials: 5000 - 1000 = 4000.
    assert (returned.json()["kind"], returned.json()["balance_mg"]) == ("transferred", "4000")


def test_a_loss_opens_a_report_shown_on_the_ledger_until_filed(ward: Ward) -> None:
    lot = receive_by_api(ward)
    lost = ward.api.post(
        "nurse",
        "/api/ledger/loss",
        {
            "lot_id": lot,
            "kind": "stolen",
            "amount_mg": "500",
            "reason": "vial missing",
            "discovered_at": "2026-11-01T08:00:00+01:00",
        },
    )
    assert lost.status_code == 201, lost.text
    assert lost.json()["balance_mg"] == "4500"
    # 08:00 at +01:00 is 07:00 UTC.
    assert lost.json()["discovered_at"].startswith("2026-11-01T07:00:00")
    report = lost.json()["report_id"]
    nurse = ward.site.browser("nurse")
    page = nurse.get("/ledger")
    # Discovered Sunday 1 November 2026: due within one business day, Monday 2 November.
    assert "Due by the end of 2026-11-02" in page.text and "stolen 500 mg" in page.text
    assert f'action="/ledger/loss-reports/{report}/file"' in page.text
    # Filing needs its reference; refused beside the field, nothing written.
    before = ward.api.counts()
    blank = nurse.post(f"/ledger/loss-reports/{report}/file", {"reference": " "})
    assert blank.status_code == 422
    assert field_error(blank, f"file-{report}-reference") == "is required"
    assert ward.api.counts() == before
    filed = nurse.post(f"/ledger/loss-reports/{report}/file", {"reference": "DEA106-42"})
    assert filed.status_code == 303, filed.text
    assert "stolen 500 mg" not in nurse.get("/ledger").text
    assert ("nurse", "write", f"ledger: loss report {report} filed", None) in ward.site.audit()
    # A loss through the page opens a report too.
    by_page = nurse.post(
        "/ledger/loss", {"lot_id": str(lot), "kind": "lost", "amount_mg": "65", "reason": "spilt"}
    )
    assert by_page.status_code == 303, by_page.text
    assert "lost 65 mg" in nurse.get("/ledger").text


def test_a_discrepancy_resolved_with_an_adjustment_brings_the_balance_to_the_count(
    ward: Ward,
) -> None:
    lot = receive_by_api(ward)
    nurse = ward.site.browser("nurse")
    assert (
        nurse.post("/ledger/count", {"lot_id": str(lot), "counted_mg": "4990"}).status_code == 303
    )
    page = nurse.get("/ledger")
    found = re.search(r'action="/ledger/discrepancies/(\d+)/resolve"', page.text)
    assert found is not None
    resolved = nurse.post(
        f"/ledger/discrepancies/{found.group(1)}/resolve",
        {"resolution": "10 mg spilt, unrecorded", "adjust_balance": "on"},
    )
    assert resolved.status_code == 303, resolved.text
    # Balance 5000, counted 4990: adjusted by -10.
    assert ward.api.get("nurse", "/api/ledger/lots").json()[0]["balance_mg"] == "4990"
    assert "/resolve" not in nurse.get("/ledger").text
    assert ward.api.get("nurse", "/api/ledger/verify").json()["intact"] is True


def test_a_zero_amount_is_refused_and_nothing_is_written(ward: Ward) -> None:
    lot = receive_by_api(ward)
    nurse = ward.site.browser("nurse")
    before = ward.api.counts()
    destroy = {"lot_id": lot, "amount_mg": "0", "dea41_reference": "DEA41-1"}
    assert field_errors(ward.api.post("nurse", "/api/ledger/destroy", destroy)) == [
        ("body", "amount_mg")
    ]
    adjust = {"lot_id": lot, "change_mg": "0", "reason": "nothing"}
    assert field_errors(ward.api.post("nurse", "/api/ledger/adjust", adjust)) == [
        ("body", "change_mg")
    ]
    loss = {"lot_id": lot, "kind": "lost", "amount_mg": "0", "reason": "nothing"}
    assert field_errors(ward.api.post("nurse", "/api/ledger/loss", loss)) == [("body", "amount_mg")]
    page = nurse.post("/ledger/destroy", {k: str(v) for k, v in destroy.items()})
    assert page.status_code == 422
    assert field_error(page, "destroy-amount_mg") != ""
    page = nurse.post("/ledger/adjust", {k: str(v) for k, v in adjust.items()})
    assert page.status_code == 422
    assert field_error(page, "adjust-change_mg") == "an adjustment of 0 mg changes nothing"
    returned = {"lot_id": str(lot), "kind": "returned", "units": "0", "recipient": "Acme",
                "recipient_dea": "RA1234563", "invoice": "R-1"}  # fmt: skip
    page = nurse.post("/ledger/return", returned)
    assert page.status_code == 422
    assert field_error(page, "return-units") == "must be more than 0 (got 0)"
    assert ward.api.counts() == before
    assert ward.api.get("nurse", "/api/ledger/head").json()["count"] == 1
