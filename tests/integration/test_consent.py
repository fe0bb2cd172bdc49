"""Informed consent on both databases: the text from the plan, signatures, the PDF (read back
with pdftotext), and withdrawal ending the plan."""

from __future__ import annotations

import base64
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from ketaclinic.services.consent import (
    consent_pdf,
    consent_text,
    consents_of,
    sign_consent,
    standing_consent,
    withdraw_consent,
)
from ketaclinic.services.errors import Conflict, Forbidden, InvalidInput
from ketaclinic.services.plans import change_plan, events_of, get_plan, sessions_of
from tests.integration.plan_support import active_plan, plan_in
from tests.integration.services_support import NOW, Clinic, open_clinic

PDFTOTEXT = shutil.which("pdftotext") or "/usr/bin/pdftotext"
RISKS = (
    "Dissociation", "Sedation", "Nausea", "Dizziness", "Blood-pressure rise",
    "Bladder irritation with prolonged use", "Misuse and dependence",
)  # fmt: skip


def tiny_png() -> bytes:
    """A 1x1 white PNG, built by hand (signature, IHDR, IDAT, IEND)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PNG_URL = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    with open_clinic(database_url) as opened:
        yield opened


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "consent.pdf"
    path.write_bytes(pdf)
    done = subprocess.run([PDFTOTEXT, str(path), "-"], check=True, capture_output=True, text=True)
    return " ".join(done.stdout.split())


def test_the_text_of_an_iv_plan(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic, consent=False)
    with clinic.factory() as s:
        text = consent_text(s, plan_id)
    # 0.5 mg/kg x 80 kg = 40 mg over 40 minutes; racemic ketamine for TRD is off-label.
    assert "40 mg (0.5 mg/kg for your weight of 80 kg) over 40 minutes" in text
    assert "OFF-LABEL" in text
    assert "approved only for anaesthesia" in text
    for risk in RISKS:
        assert risk in text
    assert "No driving until the next day" in text
    assert "adult escort must take you home" in text
    # 6 sessions x $400-800 (Seeds), each with 96365 and J3490.
    assert "$2,400 to $4,800" in text
    assert "96365 x 6" in text and "J3490 x 6" in text
    assert "2026-11-01" in text and "2026-11-14" in text
    assert "3 infusions" in text and "Sanacora 2017" in text


def test_the_text_of_an_esketamine_trd_plan_is_on_label(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic, "esketamine", consent=False)
    with clinic.factory() as s:
        text = consent_text(s, plan_id)
    assert "OFF-LABEL" not in text
    assert "This use is on-label" in text
    assert "28 mg devices" in text and "at least 2 hours" in text
    # Label TRD schedule: day 1 56 mg then 56 mg (the plan's dose): 12 sessions x $590.
    assert "$7,080" in text
    assert "G2082 x 12" in text and "J0013 x 672" in text


def test_signing_starts_the_plan_and_keeps_the_pdf(clinic: Clinic, tmp_path: Path) -> None:
    patient_id, plan_id = active_plan(clinic, consent=False)
    before = clinic.counts()["treatment_sessions"]
    with clinic.work() as s:
        row = sign_consent(
            s, clinic.nurse, clinic.clock, plan_id, typed_name="Alice Example", drawn_png=PNG_URL
        )
        consent_id = row.id
    with clinic.factory() as s:
        plan = get_plan(s, plan_id)
        assert plan.status == "active"
        assert clinic.counts()["treatment_sessions"] == before + 6
        [stored] = consents_of(s, plan_id)
        assert (stored.patient_typed_name, stored.patient_drawn_png) == (
            "Alice Example",
            tiny_png(),
        )
        assert (stored.clinician_id, stored.clinician_signed_at) == (clinic.nurse.user_id, NOW)
        assert stored.text == consent_text(s, plan_id)
        assert standing_consent(s, plan_id) is not None
        pdf = consent_pdf(s, consent_id)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)
    assert "Alice Example" in text  # the typed name and the patient
    assert "Nurse (nurse)" in text  # the clinician
    assert "2026-11-01 09:00 UTC" in text
    for risk in RISKS:
        assert risk in text
    assert "$2,400 to $4,800" in text
    assert "Alice Example (MRN PLAN-" in text and patient_id > 0


def test_a_signature_is_needed(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic, consent=False)
    before = clinic.counts()
    with clinic.work() as s, pytest.raises(InvalidInput) as bad:
        sign_consent(s, clinic.nurse, clinic.clock, plan_id, typed_name="  ")
    assert bad.value.field == "typed_name"
    with clinic.work() as s, pytest.raises(InvalidInput) as bad:
        sign_consent(s, clinic.nurse, clinic.clock, plan_id, drawn_png="data:image/gif;base64,R0lG")
    assert bad.value.field == "signature"
    not_png = "data:image/png;base64," + base64.b64encode(b"not an image").decode()
    with clinic.work() as s, pytest.raises(InvalidInput):
        sign_consent(s, clinic.nurse, clinic.clock, plan_id, drawn_png=not_png)
    assert clinic.counts() == before
    with clinic.factory() as s:
        assert get_plan(s, plan_id).status == "awaiting_consent"
        assert sessions_of(s, plan_id) == []


def test_a_drawn_signature_alone_is_enough(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic, consent=False)
    with clinic.work() as s:
        sign_consent(s, clinic.prescriber, clinic.clock, plan_id, drawn_png=PNG_URL)
    with clinic.factory() as s:
        assert get_plan(s, plan_id).status == "active"


def test_the_front_desk_cannot_take_consent(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic, consent=False)
    with clinic.work() as s, pytest.raises(Forbidden):
        sign_consent(s, clinic.front_desk, clinic.clock, plan_id, typed_name="Alice Example")


def test_consent_is_signed_once(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic)
    with clinic.work() as s, pytest.raises(Conflict):
        sign_consent(s, clinic.nurse, clinic.clock, plan_id, typed_name="Alice Example")


def test_withdrawn_consent_ends_the_plan(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic)
    clinic.clock.advance(minutes=30)
    with clinic.work() as s:
        withdraw_consent(s, clinic.nurse, clinic.clock, plan_id, "Changed her mind")
    with clinic.factory() as s:
        plan = get_plan(s, plan_id)
        assert (plan.status, plan.end_reason) == ("ended", "Changed her mind")
        assert events_of(s, plan_id)[-1].action == "consent_withdrawn"
        assert {r.state for r in sessions_of(s, plan_id)} == {"cancelled"}
        [row] = consents_of(s, plan_id)
        assert row.withdrawn_reason == "Changed her mind"
        assert standing_consent(s, plan_id) is None
    with clinic.work() as s, pytest.raises(Conflict):
        withdraw_consent(s, clinic.nurse, clinic.clock, plan_id, "again")


def test_there_is_nothing_to_withdraw_before_signing(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic, consent=False)
    with clinic.work() as s, pytest.raises(Conflict):
        withdraw_consent(s, clinic.nurse, clinic.clock, plan_id, "no")


def test_consent_after_the_planned_start_is_refused_until_the_start_moves(clinic: Clinic) -> None:
    _, plan_id = active_plan(clinic, consent=False)  # series from 2026-11-01
    clinic.clock.advance(minutes=24 * 60)  # 2026-11-02
    before = clinic.counts()
    with clinic.work() as s, pytest.raises(Conflict) as refused:
        sign_consent(s, clinic.nurse, clinic.clock, plan_id, typed_name="Alice Example")
    assert "starts on 2026-11-01, before today" in str(refused.value)
    assert clinic.counts() == before
    with clinic.work() as s, pytest.raises(InvalidInput):
        change_plan(s, clinic.prescriber, clinic.clock, plan_id,
                    plan_in(start_on=date(2026, 11, 1)), "keep")  # fmt: skip
    with clinic.work() as s:
        change_plan(s, clinic.prescriber, clinic.clock, plan_id,
                    plan_in(start_on=date(2026, 11, 3)), "Start moved")  # fmt: skip
    with clinic.work() as s:
        sign_consent(s, clinic.nurse, clinic.clock, plan_id, typed_name="Alice Example")
    with clinic.factory() as s:
        assert sessions_of(s, plan_id)[0].planned_on == date(2026, 11, 3)
