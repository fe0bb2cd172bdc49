"""``ketaclinic ledger``: writes confirmed by passwords, the CSV report, head, verify --anchor."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

from ketaclinic import cli
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import SystemClock
from ketaclinic.services.patients import PatientIn, register_patient
from ketaclinic.store.db import make_engine, session_factory, transaction
from tests.integration.test_ledger import staff
from tests.integration.test_ledger_chain import _open_the_table

NINA = "nina's long password"
WENDY = "wendy's long password"


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    try:
        code = cli.main(list(args))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def clinic_db(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", database_url)
    engine = make_engine(database_url)
    with transaction(session_factory(engine)) as s:
        s.add_all([staff("nina", "Nina", NINA), staff("wendy", "Wendy", WENDY)])
        register_patient(
            s,
            Actor.system(),
            SystemClock(),
            PatientIn(
                mrn="MRN-1",
                given_name="Alice",
                family_name="Example",
                birth_date=date(1986, 3, 15),
                sex="female",
            ),
        )
    engine.dispose()
    return database_url


RECEIVE = (
    "ledger", "receive", "--user", "nina", "--substance", "ketamine", "--strength", "50",
    "--volume", "10", "--lot-number", "K-1", "--expiry", "2099-12-31", "--units", "2",
    "--supplier", "Acme Pharma", "--supplier-dea", "RA1234563", "--invoice", "INV-1",
    "--password-stdin",
)  # fmt: skip


def test_receive_administer_waste_count_and_report(
    clinic_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(capsys, monkeypatch, *RECEIVE, stdin=NINA + "\n")
    assert (code, out) == (0, "lot 1: #1 received 1000 mg; lot balance 1000 mg\n"), err
    code, out, err = run(
        capsys, monkeypatch, "ledger", "administer", "--user", "nina", "--lot", "1",
        "--patient", "1", "--dose", "36.5", "--dose-id", "5", "--password-stdin",
        stdin=NINA + "\n",
    )  # fmt: skip
    assert code == 0, err
    assert out == (
        "#2 administered -36.5 mg; lot balance 963.5 mg\n"
        "remainder to waste with a witness: 463.5 mg\n"
    )
    code, out, err = run(
        capsys, monkeypatch, "ledger", "waste", "--user", "nina", "--lot", "1", "--amount",
        "463.5", "--reason", "remainder", "--witness", "wendy", "--password-stdin",
        stdin=f"{NINA}\n{WENDY}\n",
    )  # fmt: skip
    assert (code, out) == (0, "#3 wasted -463.5 mg; lot balance 500 mg; witness wendy\n"), err
    code, out, err = run(
        capsys, monkeypatch, "ledger", "count", "--user", "nina", "--lot", "1", "--counted",
        "499", "--password-stdin", stdin=NINA + "\n",
    )  # fmt: skip
    assert (code, out) == (0, "lot 1: counted 499 mg, balance 500 mg: DISCREPANCY -1 mg\n"), err
    code, out, err = run(
        capsys, monkeypatch, "ledger", "inventory", "--user", "nina", "--kind", "initial",
        "--count", "1=500", "--password-stdin", stdin=NINA + "\n",
    )  # fmt: skip
    assert (code, out) == (0, "lot 1: counted 500 mg, balance 500 mg: matches\n"), err
    code, out, err = run(capsys, monkeypatch, "ledger", "report")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("# ledger head,5:")
    assert [line.split(",")[2] for line in lines[2:]] == [
        "received",
        "administered",
        "wasted",
        "counted",
        "counted",
    ]
    assert "discrepancy: count 1 of lot 1: counted 499 mg, balance 500 mg" in err


def test_a_waste_with_a_wrong_witness_password_is_refused_with_exit_2(
    clinic_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, monkeypatch, *RECEIVE, stdin=NINA + "\n")[0] == 0
    code, out, err = run(
        capsys, monkeypatch, "ledger", "waste", "--user", "nina", "--lot", "1", "--amount",
        "10", "--reason", "spilt", "--witness", "wendy", "--password-stdin",
        stdin=f"{NINA}\nnot wendy's password\n",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert "witness not confirmed" in err
    assert run(capsys, monkeypatch, "ledger", "head")[1].startswith("1:")


def test_verify_with_the_exported_head_catches_deleted_last_rows(
    clinic_db: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for _ in range(3):
        assert run(capsys, monkeypatch, *RECEIVE, stdin=NINA + "\n")[0] == 0
    code, head, _ = run(capsys, monkeypatch, "ledger", "head")
    head = head.strip()
    assert code == 0 and head.startswith("3:")
    assert run(capsys, monkeypatch, "ledger", "verify", "--anchor", head)[:2] == (
        0,
        f"intact: 3 entries, head {head}\n",
    )
    engine = make_engine(clinic_db)
    with engine.begin() as connection:
        _open_the_table(connection)
        connection.exec_driver_sql("DELETE FROM ledger_entries WHERE seq = 3")
    engine.dispose()
    assert run(capsys, monkeypatch, "ledger", "verify")[0] == 0
    exported = tmp_path / "head.txt"
    exported.write_text(head + "\n")
    code, out, _ = run(capsys, monkeypatch, "ledger", "verify", "--anchor", str(exported))
    assert code == 3
    assert out.startswith("BROKEN: the chain has 2 entries but the exported head has 3")
    code, _, err = run(capsys, monkeypatch, "ledger", "verify", "--anchor", "HEAD")
    assert code == 2
    assert "COUNT:SHA256" in err
