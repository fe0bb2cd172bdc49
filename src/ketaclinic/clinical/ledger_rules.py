"""The controlled-substance ledger's rules: quantities, balances, the hash chain, deadlines.

Ketamine and esketamine are Schedule III. Everything here is a plain function over plain values
(quantities as whole micrograms, so sums are exact); the services store and lock, these decide.
Each rule names its source in /work/shared/clinical-facts.md, "Controlled substance (21 CFR 1304)".
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal

RECORDS_SOURCE = (
    "21 CFR 1304 (clinical-facts, Controlled substance): every receipt (date, supplier with DEA "
    "number, form, strength, units), administration (patient, date, amount, who gave it) and "
    "disposal (date, manner, amount) is recorded"
)
RETENTION_SOURCE = (
    "21 CFR 1304 (clinical-facts, Controlled substance): records kept at least 2 years, readily "
    "retrievable"
)
INVENTORY_SOURCE = (
    "21 CFR 1304.11 (clinical-facts, Controlled substance): an initial inventory when handling "
    "starts, then at least every 2 years; schedule III counts in opened containers may be "
    "estimated"
)
LOSS_SOURCE = (
    "21 CFR 1304 (clinical-facts, Controlled substance): theft or significant loss reported "
    "within 1 business day"
)
WITNESS_SOURCE = (
    "clinical-facts, Controlled substance: leftover drug wasted after a dose is recorded with a "
    "second person as witness (state and institutional rule)"
)
DEVICE_SOURCE = "Spravato label (clinical-facts, Esketamine): device 28 mg; 56 mg = 2, 84 mg = 3"
BALANCE_SOURCE = (
    "issue 7 and 21 CFR 1304 (every milligram accounted for): a lot's balance never goes "
    "negative; such an entry is refused"
)
CHAIN_SOURCE = (
    "issue 7: append-only and tamper-evident; each entry carries the SHA-256 of the previous one"
)

UG_PER_MG = 1000
ESKETAMINE_DEVICE_UG = 28 * UG_PER_MG  # DEVICE_SOURCE

Kind = Literal[
    "received",
    "administered",
    "wasted",
    "returned",
    "transferred",
    "destroyed",
    "adjusted",
    "lost",
    "stolen",
    "counted",
]
KINDS: tuple[Kind, ...] = (
    "received",
    "administered",
    "wasted",
    "returned",
    "transferred",
    "destroyed",
    "adjusted",
    "lost",
    "stolen",
    "counted",
)
# Which way each kind moves a lot's balance. Adjustments go either way (the sign is the
# correction's); a count records what was found and moves nothing.
INCREASES: frozenset[Kind] = frozenset({"received"})
DECREASES: frozenset[Kind] = frozenset(
    {"administered", "wasted", "returned", "transferred", "destroyed", "lost", "stolen"}
)
LOSSES: frozenset[Kind] = frozenset({"lost", "stolen"})


class QuantityError(ValueError):
    """A quantity the ledger cannot accept, with the reason."""


# ---- quantities -----------------------------------------------------------------------------

_DECIMAL = re.compile(r"\d+(\.\d+)?")


def micrograms(mg: str | int | Decimal) -> int:
    """A quantity in mg as whole micrograms; refuses anything finer than 1 µg or not a number.

    Exact arithmetic: 0.1 mg + 0.2 mg must be 0.3 mg in a legal record, not 0.30000000000000004.
    """
    text = str(mg).strip()
    if not _DECIMAL.fullmatch(text.lstrip("-")):
        raise QuantityError(f"{text!r} is not a number of mg")
    try:
        value = Decimal(text) * UG_PER_MG
    except InvalidOperation:
        raise QuantityError(f"{text!r} is not a number of mg") from None
    if value != value.to_integral_value():
        raise QuantityError(f"{text} mg is finer than 0.001 mg")
    return int(value)


def as_mg(ug: int) -> str:
    """Micrograms written as mg, without trailing zeros: 36500 -> '36.5'."""
    sign = "-" if ug < 0 else ""
    whole, part = divmod(abs(ug), UG_PER_MG)
    return f"{sign}{whole}" + (f".{part:03d}".rstrip("0") if part else "")


def positive(ug: int, what: str = "quantity") -> int:
    """Every movement is a positive amount; its kind gives the direction (RECORDS_SOURCE)."""
    if ug <= 0:
        raise QuantityError(f"{what} must be more than 0 mg (got {as_mg(ug)} mg)")
    return ug


def container_content_ug(strength_ug_per_ml: int, volume_ul: int) -> int:
    """The drug in one vial: strength (µg/mL) × volume (µL) / 1000. 50 mg/mL × 10 mL = 500 mg."""
    content, rest = divmod(strength_ug_per_ml * volume_ul, 1000)
    if rest:
        raise QuantityError("the vial's content is finer than 1 µg")
    return content


def dose_from_volume(strength_ug_per_ml: int, drawn_ul: int) -> int:
    """The mg drawn up: 0.73 mL of 50 mg/mL is 36.5 mg."""
    return container_content_ug(strength_ug_per_ml, drawn_ul)


def containers_opened(dose_ug: int, container_ug: int) -> int:
    """Whole vials opened for a dose: 36.5 mg from 500 mg vials opens 1; 600 mg opens 2."""
    positive(dose_ug, "the dose")
    return -(-dose_ug // container_ug)


def remainder_to_waste(container_ug: int, drawn_ug: int) -> int:
    """What is left in the vials opened for a dose, to be wasted with a witness (WITNESS_SOURCE):
    36.5 mg drawn from a 500 mg vial leaves 463.5 mg. Each dose opens its own vials (no
    multi-dose vial is kept open between patients)."""
    return containers_opened(drawn_ug, container_ug) * container_ug - drawn_ug


def devices_for_dose(dose_ug: int, device_ug: int = ESKETAMINE_DEVICE_UG) -> int:
    """Esketamine is given in whole 28 mg devices: 56 mg = 2, 84 mg = 3 (DEVICE_SOURCE)."""
    positive(dose_ug, "the dose")
    devices, rest = divmod(dose_ug, device_ug)
    if rest:
        raise QuantityError(
            f"{as_mg(dose_ug)} mg is not a whole number of {as_mg(device_ug)} mg devices"
        )
    return devices


def units_on_hand(balance_ug: int, unit_ug: int) -> Decimal:
    """Containers on hand, fractional for an opened one (its count may be estimated:
    INVENTORY_SOURCE)."""
    return (Decimal(balance_ug) / Decimal(unit_ug)).quantize(Decimal("0.001"))


def signed_change(kind: Kind, amount_ug: int) -> int:
    """The change to the lot's balance: + for receipts, - for everything leaving the lot, the
    correction's own sign for an adjustment, 0 for a count."""
    if kind == "counted":
        return 0
    if kind == "adjusted":
        if amount_ug == 0:
            raise QuantityError("an adjustment of 0 mg changes nothing")
        return amount_ug
    positive(amount_ug)
    return amount_ug if kind in INCREASES else -amount_ug


def balance_after(balance_ug: int, change_ug: int) -> int:
    """The lot's balance after an entry; refused when it would go below zero (BALANCE_SOURCE)."""
    after = balance_ug + change_ug
    if after < 0:
        raise QuantityError(
            f"only {as_mg(balance_ug)} mg remains in the lot; {as_mg(-change_ug)} mg would leave "
            f"{as_mg(after)} mg"
        )
    return after


def expired(expiry: date, on: date) -> bool:
    """A lot may be used through its expiry date, not after it."""
    return on > expiry


def witness_refusal(recorded_by: int | None, witness: int | None) -> str | None:
    """Why a waste's witness is not acceptable, or None: a second person must see it
    (WITNESS_SOURCE)."""
    if witness is None:
        return "a witness is required"
    if recorded_by is not None and witness == recorded_by:
        return "the witness must be a second person, not the one wasting"
    return None


# ---- deadlines and retention ------------------------------------------------------------------


def is_business_day(day: date) -> bool:
    """Monday to Friday. Public holidays are NOT modelled (they differ by state and year)."""
    return day.weekday() < 5


def loss_report_due(discovered_at: datetime) -> datetime:
    """A theft or loss must be reported within one business day (LOSS_SOURCE): by the end of the
    first business day after the day it was discovered. Discovered Thursday -> due at the end of
    Friday; Friday, Saturday or Sunday -> end of Monday. Holidays are not modelled; times are the
    clock's (UTC), not the clinic's local day."""
    day = discovered_at.date() + timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return datetime.combine(day + timedelta(days=1), datetime.min.time())


def report_overdue(due_at: datetime, filed_at: datetime | None, now: datetime) -> bool:
    return filed_at is None and now >= due_at


def two_years_after(day: date) -> date:
    """The same calendar date two years on; 29 February becomes 1 March."""
    try:
        return day.replace(year=day.year + 2)
    except ValueError:
        return date(day.year + 2, 3, 1)


def retained_until(recorded_at: datetime) -> date:
    """The first day a record may be purged: 2 years after it was made (RETENTION_SOURCE)."""
    return two_years_after(recorded_at.date())


def may_purge(recorded_at: datetime, today: date) -> bool:
    return today >= retained_until(recorded_at)


def purge_allowed(before: date, today: date) -> bool:
    """Whether every record made before ``before`` is at least 2 years old today: the last of
    them, made the day before, is kept until two years after that day (RETENTION_SOURCE)."""
    return today >= two_years_after(before - timedelta(days=1))


def next_inventory_due(last_inventory: date) -> date:
    """The next biennial inventory, at most 2 years after the last (INVENTORY_SOURCE)."""
    return two_years_after(last_inventory)


# ---- the hash chain ---------------------------------------------------------------------------

GENESIS = "0" * 64
Field = str | int | None


def canonical_entry(fields: Mapping[str, Field]) -> bytes:
    """One entry's content as bytes that never vary: JSON, keys sorted, no spaces, ASCII only.
    Values are text, whole numbers or null (the caller writes times as ISO 8601 text and
    quantities as micrograms), so no float or locale can change the bytes."""
    for key, value in fields.items():
        if value is not None and not isinstance(value, str | int):
            raise TypeError(f"{key}: {type(value).__name__} cannot be hashed; use str or int")
    return json.dumps(
        dict(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")


def entry_sha256(fields: Mapping[str, Field], previous_sha256: str) -> str:
    """SHA-256 over the previous entry's hash and this entry's canonical content (CHAIN_SOURCE)."""
    digest = hashlib.sha256(previous_sha256.encode("ascii") + b"\n" + canonical_entry(fields))
    return digest.hexdigest()


@dataclass(frozen=True)
class Link:
    """One stored entry as verify reads it: its number, stored hashes and hashed content."""

    seq: int
    previous_sha256: str
    sha256: str
    fields: Mapping[str, Field]
    row_id: int | None = None  # storage order (the primary key), when known


@dataclass(frozen=True)
class Head:
    """The chain's head: how many entries, and the hash of the last. Exported, it anchors."""

    count: int
    sha256: str

    def text(self) -> str:
        return f"{self.count}:{self.sha256}"


def parse_head(text: str) -> Head:
    match = re.fullmatch(r"\s*(\d+):([0-9a-f]{64})\s*", text)
    if not match:
        raise ValueError("a ledger head is written COUNT:SHA256 (64 lowercase hex digits)")
    return Head(int(match.group(1)), match.group(2))


Problem = Literal["edited", "deleted", "reordered", "truncated", "rewritten"]


@dataclass(frozen=True)
class ChainCheck:
    head: Head
    problem: Problem | None = None
    seq: int | None = None  # the first entry concerned
    message: str = "the chain is intact"

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify_chain(links: Sequence[Link], anchor: Head | None = None) -> ChainCheck:
    """Walk the entries in number order and name the first that was edited, deleted or moved.

    On its own the chain proves that nothing inside it changed; only an anchor exported earlier
    (count and hash of entry #count) shows that the end was cut off, or that the whole chain was
    rebuilt from scratch with fresh hashes (CHAIN_SOURCE)."""
    ordered = sorted(links, key=lambda link: link.seq)
    head = Head(len(ordered), ordered[-1].sha256 if ordered else GENESIS)
    later = {link.sha256: link.seq for link in ordered}
    previous = GENESIS
    previous_row: int | None = None
    for position, link in enumerate(ordered, start=1):
        if link.seq != position:
            return ChainCheck(
                head, "deleted", position, f"entry #{position} is missing: it was deleted"
            )
        whole = entry_sha256(link.fields, link.previous_sha256) == link.sha256
        if link.previous_sha256 != previous:
            found = later.get(link.previous_sha256)
            if found is not None and found > link.seq:
                return ChainCheck(
                    head,
                    "reordered",
                    link.seq,
                    f"entry #{link.seq} is out of order: it was recorded after entry #{found}",
                )
            if whole and position > 1:
                # The entry is whole but points at a predecessor that is no longer there: the one
                # before it was replaced by a rewritten entry with a fresh hash.
                return ChainCheck(
                    head,
                    "edited",
                    position - 1,
                    f"entry #{position - 1} was edited (its hash was recomputed; entry "
                    f"#{position} points to a different #{position - 1})",
                )
            if whole:
                return ChainCheck(
                    head, "deleted", 1, "entry #1 does not start the chain: entries were deleted"
                )
        if not whole:
            return ChainCheck(
                head, "edited", link.seq, f"entry #{link.seq} was edited: its hash does not match"
            )
        if link.row_id is not None and previous_row is not None and link.row_id < previous_row:
            # Rows swapped whole (numbers and hashes too) still betray themselves by storage
            # order: entries are inserted one at a time under the chain lock.
            return ChainCheck(
                head,
                "reordered",
                link.seq - 1,
                f"entry #{link.seq - 1} is stored out of order: after entry #{link.seq}",
            )
        previous = link.sha256
        previous_row = link.row_id
    if anchor is not None:
        if head.count < anchor.count:
            return ChainCheck(
                head,
                "truncated",
                head.count + 1,
                f"the chain has {head.count} entries but the exported head has {anchor.count}: "
                f"entries #{head.count + 1} to #{anchor.count} were removed",
            )
        if anchor.count > 0 and ordered[anchor.count - 1].sha256 != anchor.sha256:
            return ChainCheck(
                head,
                "rewritten",
                anchor.count,
                f"entry #{anchor.count} does not match the exported head: the chain was "
                "rewritten and its hashes recomputed",
            )
    return ChainCheck(head)


# ---- reconciliation with sessions -------------------------------------------------------------


@dataclass(frozen=True)
class RecordedDose:
    """A dose as the sessions record it (issue 5 will supply these)."""

    dose_id: int
    patient_id: int
    amount_ug: int
    given_at: datetime


@dataclass(frozen=True)
class Administration:
    """An administered ledger entry."""

    seq: int
    dose_id: int | None
    patient_id: int | None
    amount_ug: int


@dataclass(frozen=True)
class Mismatch:
    what: Literal["dose without entry", "entry without dose", "amount differs", "patient differs"]
    dose_id: int | None
    seq: int | None
    message: str


def reconcile(
    doses: Sequence[RecordedDose], administrations: Sequence[Administration]
) -> list[Mismatch]:
    """Every recorded dose has its administration entry, every administration its dose, with the
    same patient and amount (RECORDS_SOURCE: every administration, patient, amount)."""
    by_dose = {a.dose_id: a for a in administrations if a.dose_id is not None}
    known = {d.dose_id for d in doses}
    found: list[Mismatch] = []
    for dose in sorted(doses, key=lambda d: (d.given_at, d.dose_id)):
        entry = by_dose.get(dose.dose_id)
        if entry is None:
            found.append(
                Mismatch(
                    "dose without entry",
                    dose.dose_id,
                    None,
                    f"dose {dose.dose_id} ({as_mg(dose.amount_ug)} mg, patient "
                    f"{dose.patient_id}) has no administration entry in the ledger",
                )
            )
            continue
        if entry.patient_id != dose.patient_id:
            found.append(
                Mismatch(
                    "patient differs",
                    dose.dose_id,
                    entry.seq,
                    f"dose {dose.dose_id} is for patient {dose.patient_id}, entry #{entry.seq} "
                    f"for patient {entry.patient_id}",
                )
            )
        if entry.amount_ug != dose.amount_ug:
            found.append(
                Mismatch(
                    "amount differs",
                    dose.dose_id,
                    entry.seq,
                    f"dose {dose.dose_id} is {as_mg(dose.amount_ug)} mg, entry #{entry.seq} "
                    f"{as_mg(entry.amount_ug)} mg",
                )
            )
    for entry in sorted(administrations, key=lambda a: a.seq):
        if entry.dose_id is None or entry.dose_id not in known:
            found.append(
                Mismatch(
                    "entry without dose",
                    entry.dose_id,
                    entry.seq,
                    f"administration entry #{entry.seq} ({as_mg(entry.amount_ug)} mg) has no "
                    "recorded dose",
                )
            )
    return found
