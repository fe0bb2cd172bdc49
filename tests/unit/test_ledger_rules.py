"""The ledger's pure rules. Expected values are worked out by hand (quantities in µg, dates from a
calendar: 2026-11-01 is a Sunday, 2026-11-05 a Thursday)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date, datetime

import pytest

from ketaclinic.clinical import ledger_rules as rules
from ketaclinic.clinical.ledger_rules import (
    GENESIS,
    Administration,
    Head,
    Link,
    QuantityError,
    RecordedDose,
)

# ---- quantities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mg", "ug"), [("36.5", 36_500), ("0.001", 1), ("500", 500_000), (28, 28_000), ("-2.5", -2_500)]
)
def test_mg_become_whole_micrograms(mg: str | int, ug: int) -> None:
    assert rules.micrograms(mg) == ug


@pytest.mark.parametrize("mg", ["0.0005", "abc", "1e3", "", "--5", "3,5"])
def test_what_is_not_a_quantity_in_mg_is_refused(mg: str) -> None:
    with pytest.raises(QuantityError):
        rules.micrograms(mg)


def test_micrograms_are_written_as_mg() -> None:
    assert rules.as_mg(36_500) == "36.5"
    assert rules.as_mg(500_000) == "500"
    assert rules.as_mg(1) == "0.001"
    assert rules.as_mg(-2_500) == "-2.5"


def test_zero_and_negative_quantities_are_refused_one_microgram_is_not() -> None:
    for bad in (0, -1):
        with pytest.raises(QuantityError, match="more than 0"):
            rules.positive(bad)
    assert rules.positive(1) == 1


def test_a_vial_holds_strength_times_volume() -> None:
    # 50 mg/mL x 10 mL = 500 mg; 0.73 mL of 50 mg/mL = 36.5 mg.
    assert rules.container_content_ug(50_000, 10_000) == 500_000
    assert rules.dose_from_volume(50_000, 730) == 36_500


def test_the_remainder_of_the_opened_vials_is_to_waste() -> None:
    assert rules.remainder_to_waste(500_000, 36_500) == 463_500
    # Near miss: a dose of exactly one vial leaves nothing.
    assert rules.remainder_to_waste(500_000, 500_000) == 0
    # 600 mg opens two 500 mg vials: 400 mg left.
    assert rules.containers_opened(600_000, 500_000) == 2
    assert rules.remainder_to_waste(500_000, 600_000) == 400_000
    with pytest.raises(QuantityError):
        rules.remainder_to_waste(500_000, 0)


def test_esketamine_goes_in_whole_28_mg_devices() -> None:
    assert rules.devices_for_dose(56_000) == 2
    assert rules.devices_for_dose(84_000) == 3
    assert rules.devices_for_dose(28_000) == 1
    with pytest.raises(QuantityError, match="whole number"):
        rules.devices_for_dose(50_000)


def test_units_on_hand_may_be_fractional_for_an_opened_vial() -> None:
    assert str(rules.units_on_hand(1_250_000, 500_000)) == "2.500"


def test_each_kind_moves_the_balance_its_way() -> None:
    assert rules.signed_change("received", 500_000) == 500_000
    assert rules.signed_change("administered", 36_500) == -36_500
    assert rules.signed_change("wasted", 1) == -1
    assert rules.signed_change("stolen", 1) == -1
    assert rules.signed_change("adjusted", -2_000) == -2_000
    assert rules.signed_change("adjusted", 2_000) == 2_000
    assert rules.signed_change("counted", 0) == 0
    with pytest.raises(QuantityError):
        rules.signed_change("adjusted", 0)
    with pytest.raises(QuantityError):
        rules.signed_change("administered", -36_500)


def test_a_balance_may_reach_zero_but_never_go_below() -> None:
    assert rules.balance_after(1_000, -1_000) == 0
    with pytest.raises(QuantityError, match="only 1 mg remains"):
        rules.balance_after(1_000, -1_001)


def test_a_lot_is_usable_through_its_expiry_date() -> None:
    assert not rules.expired(date(2026, 11, 1), date(2026, 11, 1))
    assert rules.expired(date(2026, 11, 1), date(2026, 11, 2))


def test_a_witness_must_be_a_second_person() -> None:
    assert rules.witness_refusal(5, 6) is None
    assert rules.witness_refusal(5, 5) == "the witness must be a second person, not the one wasting"
    assert rules.witness_refusal(5, None) == "a witness is required"


# ---- deadlines and retention ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("discovered", "due"),
    [
        # Thursday -> end of Friday (midnight starting Saturday).
        (datetime(2026, 11, 5, 15, 0), datetime(2026, 11, 7, 0, 0)),
        # Near miss: late Thursday is still due Friday, not Monday.
        (datetime(2026, 11, 5, 23, 59), datetime(2026, 11, 7, 0, 0)),
        # Friday, Saturday and Sunday -> end of Monday 9 November.
        (datetime(2026, 11, 6, 9, 0), datetime(2026, 11, 10, 0, 0)),
        (datetime(2026, 11, 7, 9, 0), datetime(2026, 11, 10, 0, 0)),
        (datetime(2026, 11, 8, 9, 0), datetime(2026, 11, 10, 0, 0)),
        # Sunday 1 November -> end of Monday 2 November.
        (datetime(2026, 11, 1, 9, 0), datetime(2026, 11, 3, 0, 0)),
    ],
)
def test_a_loss_report_is_due_by_the_end_of_the_next_business_day(
    discovered: datetime, due: datetime
) -> None:
    assert rules.loss_report_due(discovered) == due


def test_a_loss_report_is_overdue_from_its_deadline_until_filed() -> None:
    due = datetime(2026, 11, 7, 0, 0)
    assert not rules.report_overdue(due, None, datetime(2026, 11, 6, 23, 59))
    assert rules.report_overdue(due, None, due)
    assert not rules.report_overdue(due, datetime(2026, 11, 6, 12, 0), datetime(2026, 11, 9))


def test_records_are_kept_two_years() -> None:
    made = datetime(2024, 11, 1, 10, 0)
    assert rules.retained_until(made) == date(2026, 11, 1)
    assert not rules.may_purge(made, date(2026, 10, 31))
    assert rules.may_purge(made, date(2026, 11, 1))
    assert rules.two_years_after(date(2024, 2, 29)) == date(2026, 3, 1)


def test_a_purge_may_reach_only_records_two_years_old() -> None:
    # Everything before 2 Nov 2024 was made by 1 Nov 2024: kept until 1 Nov 2026.
    assert rules.purge_allowed(date(2024, 11, 2), date(2026, 11, 1))
    assert not rules.purge_allowed(date(2024, 11, 3), date(2026, 11, 1))


def test_the_next_inventory_is_due_two_years_after_the_last() -> None:
    assert rules.next_inventory_due(date(2026, 11, 1)) == date(2028, 11, 1)


# ---- the hash chain ---------------------------------------------------------------------------


def test_the_canonical_form_is_sorted_compact_json() -> None:
    assert rules.canonical_entry({"b": "x", "a": 1, "c": None}) == b'{"a":1,"b":"x","c":null}'
    with pytest.raises(TypeError):
        rules.canonical_entry({"a": 1.5})  # type: ignore[dict-item]


def test_an_entry_hash_covers_the_previous_hash_and_the_content() -> None:
    expected = hashlib.sha256(b"0" * 64 + b"\n" + b'{"a":1,"b":"x"}').hexdigest()
    assert rules.entry_sha256({"b": "x", "a": 1}, GENESIS) == expected
    assert rules.entry_sha256({"b": "x", "a": 2}, GENESIS) != expected


def chain(count: int) -> list[Link]:
    links: list[Link] = []
    previous = GENESIS
    for seq in range(1, count + 1):
        fields = {"seq": seq, "kind": "received", "change_ug": seq * 1000}
        digest = rules.entry_sha256(fields, previous)
        links.append(Link(seq, previous, digest, fields, row_id=seq * 10))
        previous = digest
    return links


def test_an_untouched_chain_verifies_and_gives_its_head() -> None:
    links = chain(4)
    check = rules.verify_chain(links)
    assert check.intact
    assert check.head == Head(4, links[-1].sha256)
    assert rules.verify_chain([]).head == Head(0, GENESIS)


def test_an_edited_entry_is_named() -> None:
    links = chain(4)
    links[2] = replace(links[2], fields={**links[2].fields, "change_ug": 9_999})
    check = rules.verify_chain(links)
    assert (check.problem, check.seq) == ("edited", 3)


def test_an_edited_entry_with_a_recomputed_hash_is_named_by_its_successor() -> None:
    links = chain(4)
    fields = {**links[1].fields, "change_ug": 9_999}
    links[1] = replace(links[1], fields=fields, sha256=rules.entry_sha256(fields, links[0].sha256))
    check = rules.verify_chain(links)
    assert (check.problem, check.seq) == ("edited", 2)


def test_a_deleted_entry_is_named() -> None:
    links = chain(4)
    del links[1]
    check = rules.verify_chain(links)
    assert (check.problem, check.seq) == ("deleted", 2)


def test_a_missing_first_entry_is_named() -> None:
    links = chain(3)
    # Renumbered but not rehashed: #2 moved to #1 no longer verifies.
    check = rules.verify_chain([replace(links[1], seq=1), replace(links[2], seq=2)])
    assert check.problem is not None
    assert check.seq == 1


def test_two_entries_with_swapped_numbers_are_named() -> None:
    links = chain(4)
    links[1], links[2] = replace(links[1], seq=3), replace(links[2], seq=2)
    check = rules.verify_chain(links)
    assert (check.problem, check.seq) == ("reordered", 2)


def test_two_rows_swapped_whole_are_caught_by_their_storage_order() -> None:
    links = chain(4)
    links[1], links[2] = replace(links[1], row_id=30), replace(links[2], row_id=20)
    check = rules.verify_chain(links)
    assert (check.problem, check.seq) == ("reordered", 2)


def test_the_anchor_catches_a_cut_off_end() -> None:
    links = chain(5)
    anchor = Head(5, links[-1].sha256)
    assert rules.verify_chain(links[:3]).intact  # unseen without the anchor
    check = rules.verify_chain(links[:3], anchor)
    assert (check.problem, check.seq) == ("truncated", 4)


def test_the_anchor_catches_a_chain_rebuilt_from_scratch() -> None:
    links = chain(3)
    anchor = Head(3, links[-1].sha256)
    rebuilt: list[Link] = []
    previous = GENESIS
    for link in links:
        fields = {**link.fields, "change_ug": 1} if link.seq == 2 else link.fields
        digest = rules.entry_sha256(fields, previous)
        rebuilt.append(Link(link.seq, previous, digest, fields, link.row_id))
        previous = digest
    assert rules.verify_chain(rebuilt).intact  # consistent in itself
    check = rules.verify_chain(rebuilt, anchor)
    assert (check.problem, check.seq) == ("rewritten", 3)


def test_an_older_anchor_accepts_a_chain_that_grew_since() -> None:
    links = chain(5)
    assert rules.verify_chain(links, Head(3, links[2].sha256)).intact
    assert rules.verify_chain(links, Head(0, GENESIS)).intact


def test_a_head_is_written_and_read_as_count_colon_hash() -> None:
    head = Head(7, "ab" * 32)
    assert head.text() == "7:" + "ab" * 32
    assert rules.parse_head(head.text()) == head
    with pytest.raises(ValueError):
        rules.parse_head("7:xyz")


# ---- reconciliation ---------------------------------------------------------------------------

WHEN = datetime(2026, 11, 2, 10, 0)


def test_doses_and_administrations_that_match_reconcile() -> None:
    doses = [RecordedDose(1, 10, 36_500, WHEN)]
    assert rules.reconcile(doses, [Administration(4, 1, 10, 36_500)]) == []


def test_a_dose_with_no_entry_is_found() -> None:
    [found] = rules.reconcile([RecordedDose(2, 10, 56_000, WHEN)], [])
    assert (found.what, found.dose_id) == ("dose without entry", 2)


def test_an_administration_with_no_dose_is_found() -> None:
    found = rules.reconcile([], [Administration(5, None, 10, 36_500), Administration(6, 9, 10, 1)])
    assert [(m.what, m.seq) for m in found] == [
        ("entry without dose", 5),
        ("entry without dose", 6),
    ]


def test_a_different_amount_or_patient_is_found() -> None:
    found = rules.reconcile([RecordedDose(1, 10, 36_500, WHEN)], [Administration(4, 1, 11, 36_000)])
    assert [m.what for m in found] == ["patient differs", "amount differs"]
