"""The controlled-substance ledger: receive, administer, waste, return, destroy, adjust, count.

Every write appends one entry to the clinic's hash chain (one chain per database: a database is
one clinic). Appends are serialised: each write first locks the chain row (PostgreSQL
``SELECT ... FOR UPDATE``; SQLite takes the write lock with BEGIN IMMEDIATE, see
``store.db.immediate_transaction``), and only then reads the lot's balance and the chain's last
hash. Two nurses drawing from one lot at the same moment therefore queue: the second sees the
first's entry, so no balance goes negative and no entry is lost or chained to a stale head.

Services raise InvalidInput with the reason and write nothing on bad input; the caller's
transaction rolls back whole. The rules themselves live in ``clinical.ledger_rules``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ketaclinic.clinical import ledger_rules as rules
from ketaclinic.services import users
from ketaclinic.services.actor import Actor, Role
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Forbidden, InvalidInput, NotFound
from ketaclinic.services.who_may import require
from ketaclinic.store.db import IMMEDIATE
from ketaclinic.store.models import (
    LedgerChain,
    LedgerCount,
    LedgerEntry,
    LedgerLot,
    LedgerProduct,
    LossReport,
    Patient,
    User,
)

# Clinical staff keep the ledger; admins read it (reports, verify) but record no stock.
KEEPERS: frozenset[Role] = frozenset({"prescriber", "nurse"})
READERS: frozenset[Role] = frozenset({"prescriber", "nurse", "admin"})
WITNESSES: frozenset[Role] = frozenset({"prescriber", "nurse"})
Amount = str | int | Decimal


# Data-entry limits (issue 7, bad input), not clinical ones: no quantity a clinic records comes
# near 1 kg, nor a movement near 100,000 containers. Far larger numbers would not even fit the
# columns (a vial's strength and volume are PostgreSQL INTEGERs, balances 64-bit).
MAX_MG = 1_000_000
MAX_UNITS = 100_000


def _mg(field: str, value: Amount) -> int:
    try:
        amount = rules.micrograms(value)
    except rules.QuantityError as bad:
        raise InvalidInput(field, str(bad)) from None
    if abs(amount) > MAX_MG * rules.UG_PER_MG:
        raise InvalidInput(field, f"must be at most {MAX_MG} mg")
    return amount


def _units(value: int) -> int:
    if value <= 0:
        raise InvalidInput("units", f"must be more than 0 (got {value})")
    if value > MAX_UNITS:
        raise InvalidInput("units", f"must be at most {MAX_UNITS} (got {value})")
    return value


def _positive_mg(field: str, value: Amount) -> int:
    amount = _mg(field, value)
    try:
        return rules.positive(amount, "the amount")
    except rules.QuantityError as bad:
        raise InvalidInput(field, str(bad)) from None


def _text(field: str, value: str | None, width: int, *, required: bool = True) -> str | None:
    cleaned = (value or "").strip()
    if not cleaned:
        if required:
            raise InvalidInput(field, "is required")
        return None
    if len(cleaned) > width:
        raise InvalidInput(field, f"must be at most {width} characters")
    return cleaned


# ---- products and lots ------------------------------------------------------------------------


def define_product(
    session: Session,
    actor: Actor,
    clock: Clock,
    substance: str,
    *,
    strength_mg_per_ml: Amount | None = None,
    volume_ml: Amount | None = None,
) -> LedgerProduct:
    """The product for a ketamine HCl vial (strength mg/mL and volume mL) or the esketamine 28 mg
    nasal device (rules.DEVICE_SOURCE); the same product when it is already defined."""
    require(actor, KEEPERS, "define ledger products")
    if substance == "esketamine":
        code, form = "esketamine-28mg-device", "nasal device"
        name = "Esketamine nasal spray, 28 mg device"
        strength, volume, unit = None, None, rules.ESKETAMINE_DEVICE_UG
    elif substance == "ketamine":
        if strength_mg_per_ml is None or volume_ml is None:
            raise InvalidInput("strength_mg_per_ml", "a ketamine vial needs strength and volume")
        strength = _positive_mg("strength_mg_per_ml", strength_mg_per_ml)  # µg per mL
        volume = _positive_mg("volume_ml", volume_ml)  # µL: the same thousandfold scale
        try:
            unit = rules.container_content_ug(strength, volume)
        except rules.QuantityError as bad:
            raise InvalidInput("volume_ml", str(bad)) from None
        form = "vial"
        name = (
            f"Ketamine HCl {rules.as_mg(strength)} mg/mL, {rules.as_mg(volume)} mL vial "
            f"({rules.as_mg(unit)} mg)"
        )
        code = f"ketamine-{rules.as_mg(strength)}mg-ml-{rules.as_mg(volume)}ml"
    else:
        raise InvalidInput("substance", "must be ketamine or esketamine")
    found = session.scalar(select(LedgerProduct).where(LedgerProduct.code == code))
    if found is not None:
        return found
    product = LedgerProduct(
        code=code,
        substance=substance,
        form=form,
        name=name,
        strength_ug_per_ml=strength,
        volume_ul=volume,
        unit_ug=unit,
        created_at=clock.now(),
    )
    session.add(product)
    session.flush()
    return product


def get_product(session: Session, code: str) -> LedgerProduct:
    product = session.scalar(select(LedgerProduct).where(LedgerProduct.code == code))
    if product is None:
        raise InvalidInput("product", f"no product {code!r}")
    return product


def get_lot(session: Session, lot_id: int) -> LedgerLot:
    lot = session.get(LedgerLot, lot_id)
    if lot is None:
        raise InvalidInput("lot", f"no lot {lot_id}")
    return lot


def find_lot(session: Session, product_code: str, lot_number: str) -> LedgerLot:
    product = get_product(session, product_code)
    lot = session.scalar(
        select(LedgerLot).where(
            LedgerLot.product_id == product.id, LedgerLot.lot_number == lot_number.strip()
        )
    )
    if lot is None:
        raise InvalidInput("lot", f"no lot {lot_number!r} of {product_code}")
    return lot


def balance(session: Session, lot_id: int) -> int:
    """The lot's balance in µg: the running balance of its last entry (0 before any)."""
    value = session.scalar(
        select(LedgerEntry.balance_ug)
        .where(LedgerEntry.lot_id == lot_id)
        .order_by(LedgerEntry.seq.desc())
        .limit(1)
    )
    return int(value or 0)


# ---- the chain --------------------------------------------------------------------------------


def _lock_chain(session: Session) -> None:
    """Take the chain's lock before reading any balance or hash (see the module's docstring).

    On SQLite a transaction opened by ``immediate_transaction`` holds the write lock already;
    any other takes it now with a write to the chain row (safe when nothing was read before in
    the transaction, which is why every ledger write calls this first)."""
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not connection.get_execution_options().get(
        IMMEDIATE
    ):
        connection.execute(text("UPDATE ledger_chain SET name = name WHERE id = 1"))
    if session.scalar(select(LedgerChain.id).where(LedgerChain.id == 1).with_for_update()) is None:
        raise RuntimeError("the ledger chain row is missing: run the migrations")


def hashed_fields(entry: LedgerEntry) -> dict[str, rules.Field]:
    """The columns the entry's hash covers (all but id and the hash itself), as plain values."""
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(timespec="microseconds"),
        "kind": entry.kind,
        "lot_id": entry.lot_id,
        "change_ug": entry.change_ug,
        "units": entry.units,
        "balance_ug": entry.balance_ug,
        "recorded_by_id": entry.recorded_by_id,
        "recorded_by": entry.recorded_by,
        "witness_id": entry.witness_id,
        "patient_id": entry.patient_id,
        "session_ref": entry.session_ref,
        "dose_ref": entry.dose_ref,
        "supplier": entry.supplier,
        "supplier_dea": entry.supplier_dea,
        "invoice": entry.invoice,
        "dea41_reference": entry.dea41_reference,
        "counted_ug": entry.counted_ug,
        "reason": entry.reason,
    }


def _append(
    session: Session,
    actor: Actor,
    clock: Clock,
    lot: LedgerLot,
    kind: rules.Kind,
    amount_ug: int,
    **details: str | int | None,
) -> LedgerEntry:
    """Chain one entry; the chain must already be locked (``_lock_chain``)."""
    last = session.execute(
        select(LedgerEntry.seq, LedgerEntry.sha256).order_by(LedgerEntry.seq.desc()).limit(1)
    ).first()
    seq, previous = (last[0] + 1, last[1]) if last else (1, rules.GENESIS)
    try:
        change = rules.signed_change(kind, amount_ug)
        after = rules.balance_after(balance(session, lot.id), change)
    except rules.QuantityError as bad:
        raise InvalidInput("amount", str(bad)) from None
    entry = LedgerEntry(
        seq=seq,
        at=clock.now(),
        kind=kind,
        lot_id=lot.id,
        change_ug=change,
        balance_ug=after,
        recorded_by_id=actor.user_id,
        recorded_by=actor.username,
        previous_sha256=previous,
        **details,
    )
    entry.sha256 = rules.entry_sha256(hashed_fields(entry), previous)
    session.add(entry)
    session.flush()
    return entry


def head(session: Session) -> rules.Head:
    """The chain's head as stored: how many entries, and the hash of the last."""
    last = session.execute(
        select(LedgerEntry.seq, LedgerEntry.sha256).order_by(LedgerEntry.seq.desc()).limit(1)
    ).first()
    count = session.scalar(select(func.count()).select_from(LedgerEntry)) or 0
    return rules.Head(count, last[1] if last else rules.GENESIS)


def verify(session: Session, anchor: rules.Head | None = None) -> rules.ChainCheck:
    """Check the whole chain; with an exported head, also truncation and a rebuilt chain."""
    links = [
        rules.Link(e.seq, e.previous_sha256, e.sha256, hashed_fields(e), e.id)
        for e in session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq, LedgerEntry.id))
    ]
    return rules.verify_chain(links, anchor)


# ---- entries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptIn:
    product_code: str
    lot_number: str
    expiry: date
    units: int  # whole vials or devices
    supplier: str
    supplier_dea: str
    invoice: str


def receive(session: Session, actor: Actor, clock: Clock, receipt: ReceiptIn) -> LedgerEntry:
    """Stock received from a supplier (rules.RECORDS_SOURCE): creates the lot when new."""
    require(actor, KEEPERS, "receive controlled substances")
    _lock_chain(session)
    product = get_product(session, receipt.product_code)
    _units(receipt.units)
    number = _text("lot_number", receipt.lot_number, 60)
    supplier = _text("supplier", receipt.supplier, 200)
    dea = _text("supplier_dea", receipt.supplier_dea, 20)
    invoice = _text("invoice", receipt.invoice, 100)
    lot = session.scalar(
        select(LedgerLot).where(LedgerLot.product_id == product.id, LedgerLot.lot_number == number)
    )
    if lot is None:
        lot = LedgerLot(
            product_id=product.id, lot_number=number, expiry=receipt.expiry, created_at=clock.now()
        )
        session.add(lot)
        session.flush()
    elif lot.expiry != receipt.expiry:
        raise InvalidInput(
            "expiry", f"lot {number} is already recorded with expiry {lot.expiry.isoformat()}"
        )
    return _append(
        session,
        actor,
        clock,
        lot,
        "received",
        receipt.units * product.unit_ug,
        units=receipt.units,
        supplier=supplier,
        supplier_dea=dea,
        invoice=invoice,
    )


@dataclass(frozen=True)
class Administered:
    entry: LedgerEntry
    remainder_ug: int  # left in the vials opened, to be wasted with a witness


def administer(
    session: Session,
    actor: Actor,
    clock: Clock,
    lot_id: int,
    patient_id: int,
    dose_mg: Amount,
    *,
    session_ref: int | None = None,
    dose_ref: int | None = None,
) -> Administered:
    """A dose given to a patient by the actor. ``session_ref``/``dose_ref`` link it to the
    session's dose (issue 5); a dose is recorded in the ledger once. Esketamine goes in whole
    28 mg devices. Returns the remainder of the opened vials, which must then be wasted."""
    require(actor, KEEPERS, "record an administration")
    _lock_chain(session)
    lot = get_lot(session, lot_id)
    product = session.get_one(LedgerProduct, lot.product_id)
    dose = _positive_mg("dose_mg", dose_mg)
    if session.get(Patient, patient_id) is None:
        raise InvalidInput("patient_id", f"no patient {patient_id}")
    if rules.expired(lot.expiry, clock.now().date()):
        raise InvalidInput("lot", f"lot {lot.lot_number} expired on {lot.expiry.isoformat()}")
    if (
        dose_ref is not None
        and session.scalar(select(LedgerEntry.seq).where(LedgerEntry.dose_ref == dose_ref))
        is not None
    ):
        raise InvalidInput("dose_ref", f"dose {dose_ref} is already in the ledger")
    units: int | None = None
    try:
        if product.form == "nasal device":
            units = rules.devices_for_dose(dose, product.unit_ug)
        remainder = rules.remainder_to_waste(product.unit_ug, dose)
    except rules.QuantityError as bad:
        raise InvalidInput("dose_mg", str(bad)) from None
    entry = _append(
        session,
        actor,
        clock,
        lot,
        "administered",
        dose,
        units=units,
        patient_id=patient_id,
        session_ref=session_ref,
        dose_ref=dose_ref,
    )
    return Administered(entry, remainder)


def _witness(session: Session, clock: Clock, actor: Actor, username: str, password: str) -> User:
    """The second person, confirmed by their own password (rules.WITNESS_SOURCE)."""
    if not username.strip():
        raise InvalidInput("witness", "a witness is required")
    try:
        witness = users.authenticate(session, clock, username, password, actor.address)
    except users.SignInRefused as refused:
        raise InvalidInput(
            "witness_password", f"witness not confirmed: {refused.message}"
        ) from None
    problem = rules.witness_refusal(actor.user_id, witness.id)
    if problem is None and witness.username == actor.username:
        problem = "the witness must be a second person, not the one wasting"
    if problem is not None:
        raise InvalidInput("witness", problem)
    if witness.role not in WITNESSES:
        raise InvalidInput("witness", f"a {witness.role.replace('_', ' ')} may not witness")
    return witness


def waste(
    session: Session,
    actor: Actor,
    clock: Clock,
    lot_id: int,
    amount_mg: Amount,
    reason: str,
    witness_username: str,
    witness_password: str,
) -> LedgerEntry:
    """Drug wasted (the remainder after a dose, a spilt syringe), seen by a second person who
    confirms with their own password. More than the lot holds is refused."""
    require(actor, KEEPERS, "record waste")
    _lock_chain(session)
    lot = get_lot(session, lot_id)
    amount = _positive_mg("amount_mg", amount_mg)
    why = _text("reason", reason, 500)
    witness = _witness(session, clock, actor, witness_username, witness_password)
    return _append(session, actor, clock, lot, "wasted", amount, witness_id=witness.id, reason=why)


def send_back(
    session: Session,
    actor: Actor,
    clock: Clock,
    lot_id: int,
    kind: Literal["returned", "transferred"],
    units: int,
    recipient: str,
    recipient_dea: str,
    invoice: str,
) -> LedgerEntry:
    """Whole vials or devices returned to the supplier or transferred to another registrant."""
    require(actor, KEEPERS, "return or transfer stock")
    if kind not in ("returned", "transferred"):
        raise InvalidInput("kind", "must be returned or transferred")
    _lock_chain(session)
    lot = get_lot(session, lot_id)
    _units(units)
    product = session.get_one(LedgerProduct, lot.product_id)
    return _append(
        session,
        actor,
        clock,
        lot,
        kind,
        units * product.unit_ug,
        units=units,
        supplier=_text("recipient", recipient, 200),
        supplier_dea=_text("recipient_dea", recipient_dea, 20),
        invoice=_text("invoice", invoice, 100),
    )


def destroy(
    session: Session,
    actor: Actor,
    clock: Clock,
    lot_id: int,
    amount_mg: Amount,
    dea41_reference: str,
) -> LedgerEntry:
    """Stock destroyed (expired or unwanted), with the DEA-41 form's reference."""
    require(actor, KEEPERS, "record a destruction")
    _lock_chain(session)
    lot = get_lot(session, lot_id)
    amount = _positive_mg("amount_mg", amount_mg)
    reference = _text("dea41_reference", dea41_reference, 100)
    return _append(session, actor, clock, lot, "destroyed", amount, dea41_reference=reference)


def adjust(
    session: Session, actor: Actor, clock: Clock, lot_id: int, change_mg: Amount, reason: str
) -> LedgerEntry:
    """A count correction, + or -, with its reason. The balance still never goes below zero."""
    require(actor, KEEPERS, "adjust the ledger")
    _lock_chain(session)
    lot = get_lot(session, lot_id)
    change = _mg("change_mg", change_mg)
    if change == 0:
        raise InvalidInput("change_mg", "an adjustment of 0 mg changes nothing")
    why = _text("reason", reason, 500)
    return _append(session, actor, clock, lot, "adjusted", change, reason=why)


def record_loss(
    session: Session,
    actor: Actor,
    clock: Clock,
    lot_id: int,
    kind: Literal["lost", "stolen"],
    amount_mg: Amount,
    reason: str,
    discovered_at: datetime | None = None,
) -> LossReport:
    """Stock lost or stolen: an entry, and a report due within one business day of discovery
    (rules.LOSS_SOURCE)."""
    require(actor, KEEPERS, "record a loss")
    if kind not in ("lost", "stolen"):
        raise InvalidInput("kind", "must be lost or stolen")
    _lock_chain(session)
    lot = get_lot(session, lot_id)
    amount = _positive_mg("amount_mg", amount_mg)
    why = _text("reason", reason, 500)
    found = discovered_at or clock.now()
    if found > clock.now():
        raise InvalidInput("discovered_at", "cannot be in the future")
    entry = _append(session, actor, clock, lot, kind, amount, reason=why)
    report = LossReport(entry_id=entry.id, discovered_at=found, due_at=rules.loss_report_due(found))
    session.add(report)
    session.flush()
    return report


def file_loss_report(
    session: Session, actor: Actor, clock: Clock, report_id: int, reference: str
) -> LossReport:
    """Mark a loss report as sent, with its reference."""
    require(actor, KEEPERS, "file a loss report")
    report = session.get(LossReport, report_id)
    if report is None:
        raise NotFound(f"no loss report {report_id}")
    if report.filed_at is not None:
        raise InvalidInput("report", f"loss report {report_id} was filed already")
    report.reference = _text("reference", reference, 100)
    report.filed_at = clock.now()
    report.filed_by_id = actor.user_id
    session.flush()
    return report


def open_loss_reports(session: Session) -> list[LossReport]:
    return list(
        session.scalars(
            select(LossReport).where(LossReport.filed_at.is_(None)).order_by(LossReport.due_at)
        )
    )


# ---- counts -----------------------------------------------------------------------------------

Inventory = Literal["initial", "biennial"]


def count_lot(
    session: Session,
    actor: Actor,
    clock: Clock,
    lot_id: int,
    counted_mg: Amount,
    *,
    inventory: Inventory | None = None,
) -> LedgerCount:
    """A physical count against the balance, chained as a ``counted`` entry. A difference is a
    discrepancy, listed until resolved."""
    require(actor, KEEPERS, "count stock")
    _lock_chain(session)
    return _count(session, actor, clock, get_lot(session, lot_id), counted_mg, inventory)


def _count(
    session: Session,
    actor: Actor,
    clock: Clock,
    lot: LedgerLot,
    counted_mg: Amount,
    inventory: Inventory | None,
) -> LedgerCount:
    counted = _mg("counted_mg", counted_mg)
    if counted < 0:
        raise InvalidInput("counted_mg", "a count cannot be below 0 mg")
    expected = balance(session, lot.id)
    entry = _append(session, actor, clock, lot, "counted", 0, counted_ug=counted)
    count = LedgerCount(
        entry_id=entry.id,
        lot_id=lot.id,
        expected_ug=expected,
        counted_ug=counted,
        inventory=inventory,
    )
    session.add(count)
    session.flush()
    return count


def take_inventory(
    session: Session,
    actor: Actor,
    clock: Clock,
    kind: Inventory,
    counted_mg: Mapping[int, Amount],
) -> list[LedgerCount]:
    """The initial or biennial inventory (rules.INVENTORY_SOURCE): a count of every lot on hand,
    taken together. An initial inventory comes once, before any biennial one."""
    require(actor, KEEPERS, "take an inventory")
    if kind not in ("initial", "biennial"):
        raise InvalidInput("kind", "must be initial or biennial")
    _lock_chain(session)
    before = session.scalar(
        select(func.count()).select_from(LedgerCount).where(LedgerCount.inventory.is_not(None))
    )
    if kind == "initial" and before:
        raise InvalidInput("kind", "the initial inventory was already taken")
    if kind == "biennial" and not before:
        raise InvalidInput("kind", "take the initial inventory first")
    on_hand = {lot.id for lot in session.scalars(select(LedgerLot)) if balance(session, lot.id)}
    missing = sorted(on_hand - set(counted_mg))
    if missing:
        raise InvalidInput("counts", f"lots on hand not counted: {missing}")
    return [
        _count(session, actor, clock, get_lot(session, lot_id), amount, kind)
        for lot_id, amount in sorted(counted_mg.items())
    ]


def discrepancies(session: Session) -> list[LedgerCount]:
    """Counts that differ from the balance and are not yet resolved, oldest first."""
    return list(
        session.scalars(
            select(LedgerCount)
            .where(
                LedgerCount.counted_ug != LedgerCount.expected_ug,
                LedgerCount.resolved_at.is_(None),
            )
            .order_by(LedgerCount.id)
        )
    )


def resolve_discrepancy(
    session: Session,
    actor: Actor,
    clock: Clock,
    count_id: int,
    resolution: str,
    *,
    adjust_balance: bool,
) -> LedgerCount:
    """Close a discrepancy with its explanation; ``adjust_balance`` also appends the count
    correction (counted - expected) as an ``adjusted`` entry."""
    require(actor, KEEPERS, "resolve a discrepancy")
    _lock_chain(session)
    count = session.get(LedgerCount, count_id)
    if count is None:
        raise NotFound(f"no count {count_id}")
    if count.resolved_at is not None or count.counted_ug == count.expected_ug:
        raise InvalidInput("count", f"count {count_id} has no open discrepancy")
    why = _text("resolution", resolution, 500)
    if adjust_balance:
        lot = get_lot(session, count.lot_id)
        entry = _append(
            session,
            actor,
            clock,
            lot,
            "adjusted",
            count.counted_ug - count.expected_ug,
            reason=f"count {count_id}: {why}",
        )
        count.resolution_entry_id = entry.id
    count.resolution = why
    count.resolved_at = clock.now()
    count.resolved_by_id = actor.user_id
    session.flush()
    return count


def require_reader(actor: Actor) -> None:
    if actor.role not in READERS and actor.user_id is not None:
        raise Forbidden(f"a {actor.role.replace('_', ' ')} may not read the ledger")
