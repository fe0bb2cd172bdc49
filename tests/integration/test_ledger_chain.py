"""The chain against tampering in the database itself, and against concurrent writers.

Tampering goes through a raw connection with the append-only trigger removed first (dropped on
SQLite, disabled on PostgreSQL), as someone with direct access to the database could.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from ketaclinic.clinical import ledger_rules as rules
from ketaclinic.services import ledger
from ketaclinic.services.errors import InvalidInput
from ketaclinic.store.db import immediate_transaction, transaction
from ketaclinic.store.models import LedgerEntry
from tests.integration.test_ledger import Stock, stocked


def _open_the_table(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS ledger_entries_no_update")
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS ledger_entries_no_delete")
    else:
        connection.exec_driver_sql(
            "ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only"
        )


def tamper(stock: Stock, *statements: str) -> None:
    with stock.clinic.engine.begin() as connection:
        _open_the_table(connection)
        for statement in statements:
            connection.exec_driver_sql(statement)


def check(stock: Stock, anchor: rules.Head | None = None) -> rules.ChainCheck:
    with stock.clinic.work() as s:
        return ledger.verify(s, anchor)


@pytest.fixture
def six(database_url: str) -> Iterator[Stock]:
    """Entries #1 and #2 received, #3 to #6 administered (10, 20, 30, 40 mg of ketamine)."""
    with stocked(database_url) as stock:
        for dose in ("10", "20", "30", "40"):
            with stock.clinic.work() as s:
                ledger.administer(
                    s, stock.nina, stock.clinic.clock, stock.ketamine_lot, stock.patient_id, dose
                )
        yield stock


def test_an_untouched_chain_verifies(six: Stock) -> None:
    result = check(six)
    assert result.intact
    assert result.head.count == 6


def test_a_row_edited_in_the_database_is_named(six: Stock) -> None:
    tamper(six, "UPDATE ledger_entries SET change_ug = -1000 WHERE seq = 4")
    result = check(six)
    assert (result.problem, result.seq) == ("edited", 4)
    assert "entry #4 was edited" in result.message


def test_a_row_deleted_in_the_database_is_named(six: Stock) -> None:
    tamper(six, "DELETE FROM ledger_entries WHERE seq = 4")
    result = check(six)
    assert (result.problem, result.seq) == ("deleted", 4)


def test_two_rows_swapped_in_the_database_are_named(six: Stock) -> None:
    tamper(
        six,
        "UPDATE ledger_entries SET seq = -1 WHERE seq = 3",
        "UPDATE ledger_entries SET seq = 3 WHERE seq = 4",
        "UPDATE ledger_entries SET seq = 4 WHERE seq = -1",
    )
    result = check(six)
    assert (result.problem, result.seq) == ("reordered", 3)


def test_the_last_rows_deleted_are_caught_only_against_an_exported_head(six: Stock) -> None:
    exported = check(six).head
    tamper(six, "DELETE FROM ledger_entries WHERE seq >= 5")
    assert check(six).intact  # what remains is consistent in itself
    result = check(six, exported)
    assert (result.problem, result.seq) == ("truncated", 5)


def _rewrite_from(session: Session, seq: int) -> None:
    """Edit entry #seq, then recompute every hash after it: a chain rebuilt to look whole."""
    _open_the_table(session.connection())
    previous = rules.GENESIS
    for entry in session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq)):
        if entry.seq == seq:
            entry.reason = "quietly changed"
        if entry.seq >= seq:
            entry.previous_sha256 = previous
            entry.sha256 = rules.entry_sha256(ledger.hashed_fields(entry), previous)
        previous = entry.sha256
    session.flush()


def test_a_chain_recomputed_after_an_edit_is_caught_against_an_exported_head(six: Stock) -> None:
    exported = check(six).head
    with six.clinic.work() as s:
        _rewrite_from(s, 3)
    assert check(six).intact
    result = check(six, exported)
    assert (result.problem, result.seq) == ("rewritten", 6)
    # A head exported before the rewritten part still matches: the anchor says what it knows.
    with six.clinic.work() as s:
        second = s.scalars(select(LedgerEntry.sha256).where(LedgerEntry.seq == 2)).one()
    assert check(six, rules.Head(2, second)).intact


def test_50_concurrent_withdrawals_from_one_lot_never_go_negative_and_lose_nothing(
    database_url: str,
) -> None:
    # 5000 mg on hand, 50 nurses at once each draw 120 mg: 41 fit (4920 mg), 9 are refused,
    # 80 mg remain.
    with stocked(database_url) as stock:
        start = threading.Barrier(50)
        outcomes: list[str] = []
        unexpected: list[BaseException] = []
        guard = threading.Lock()

        def withdraw(number: int) -> None:
            # Half open an immediate transaction, half a plain one (the service locks either).
            opener = immediate_transaction if number % 2 else transaction
            start.wait()
            try:
                with opener(stock.clinic.factory) as s:
                    ledger.administer(
                        s, stock.nina, stock.clinic.clock, stock.ketamine_lot,
                        stock.patient_id, "120",
                    )  # fmt: skip
                outcome = "given"
            except InvalidInput as refused:
                outcome = "refused: " + refused.message.split(";")[0]
            except BaseException as error:  # reported below, with the thread's failure
                with guard:
                    unexpected.append(error)
                return
            with guard:
                outcomes.append(outcome)

        threads = [threading.Thread(target=withdraw, args=(n,)) for n in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert unexpected == []
        assert outcomes.count("given") == 41
        assert outcomes.count("refused: only 80 mg remains in the lot") == 9
        with stock.clinic.work() as s:
            assert ledger.balance(s, stock.ketamine_lot) == 80_000
            balances = s.scalars(
                select(LedgerEntry.balance_ug)
                .where(LedgerEntry.lot_id == stock.ketamine_lot)
                .order_by(LedgerEntry.seq)
            ).all()
        assert balances == [5_000_000 - 120_000 * n for n in range(42)]
        result = check(stock)
        assert result.intact, result.message
        assert result.head.count == 2 + 41
