"""The JSON API of the controlled-substance ledger (issue 7).

    GET  /api/ledger/lots                 P N A  stock by product and lot, with balances
    GET  /api/ledger/lots/{lot_id}/entries P N A  a lot's entries in chain order
    POST /api/ledger/receive              P N    stock received (the lot is created when new)
    POST /api/ledger/administer           P N    a dose given to a patient
    POST /api/ledger/waste                P N    drug wasted, confirmed by a witness's password
    POST /api/ledger/return               P N    whole containers returned or transferred
    POST /api/ledger/destroy              P N    stock destroyed, with the DEA-41 reference
    POST /api/ledger/adjust               P N    a correction, + or -, with its reason
    POST /api/ledger/loss                 P N    stock lost or stolen; opens a loss report
    GET  /api/ledger/head                 P N A  the chain's head (count and hash of the last)
    GET  /api/ledger/verify               P N A  the whole chain checked; ?anchor=COUNT:SHA256

Admins read the ledger (inspections, reports) but record no stock; the services check the role
again. A refused write raises InvalidInput before the request's transaction commits, so it
rolls back whole: nothing recorded, not even the witness's failed sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.clinical import ledger_rules as rules
from ketaclinic.services import ledger
from ketaclinic.services.actor import Actor
from ketaclinic.services.errors import InvalidInput, NotFound
from ketaclinic.store.models import LedgerEntry, LedgerLot, LedgerProduct
from ketaclinic.web.api_common import RowId
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles

router = APIRouter(prefix="/api/ledger", tags=["ledger"])
Keeper = Annotated[Actor, Depends(require_roles("prescriber", "nurse"))]
Reader = Annotated[Actor, Depends(require_roles("prescriber", "nurse", "admin"))]


# ---- what the pages share with the API ---------------------------------------------------------


@dataclass(frozen=True)
class LotLine:
    lot_id: int
    product_code: str
    product: str
    lot_number: str
    expiry: date
    balance_ug: int
    units: Decimal  # containers on hand, fractional for an opened vial
    expired: bool


def stock(session: Session, today: date) -> list[LotLine]:
    """Every lot ever received, by product and lot number, with its balance now."""
    rows = session.execute(
        select(LedgerLot, LedgerProduct)
        .join(LedgerProduct, LedgerProduct.id == LedgerLot.product_id)
        .order_by(LedgerProduct.code, LedgerLot.lot_number)
    ).all()
    lines = []
    for lot, product in rows:
        left = ledger.balance(session, lot.id)
        lines.append(
            LotLine(
                lot.id,
                product.code,
                product.name,
                lot.lot_number,
                lot.expiry,
                left,
                rules.units_on_hand(left, product.unit_ug),
                rules.expired(lot.expiry, today),
            )
        )
    return lines


def entry_words(entry: LedgerEntry) -> str:
    """How an entry is named in the audit trail."""
    return f"ledger entry #{entry.seq} {entry.kind} (lot {entry.lot_id})"


# ---- bodies ------------------------------------------------------------------------------------


class LotOut(BaseModel):
    id: int
    product_code: str
    product: str
    lot_number: str
    expiry: date
    balance_mg: str
    units_on_hand: str
    expired: bool


class EntryOut(BaseModel):
    seq: int
    at: datetime
    kind: str
    lot_id: int
    change_mg: str
    units: int | None
    balance_mg: str
    recorded_by: str
    witness_id: int | None
    patient_id: int | None
    session_ref: int | None
    dose_ref: int | None
    reason: str | None
    sha256: str
    previous_sha256: str

    @classmethod
    def of(cls, e: LedgerEntry) -> EntryOut:
        return cls(
            seq=e.seq,
            at=e.at,
            kind=e.kind,
            lot_id=e.lot_id,
            change_mg=rules.as_mg(e.change_ug),
            units=e.units,
            balance_mg=rules.as_mg(e.balance_ug),
            recorded_by=e.recorded_by,
            witness_id=e.witness_id,
            patient_id=e.patient_id,
            session_ref=e.session_ref,
            dose_ref=e.dose_ref,
            reason=e.reason,
            sha256=e.sha256,
            previous_sha256=e.previous_sha256,
        )


class AdministeredOut(EntryOut):
    remainder_to_waste_mg: str


class HeadOut(BaseModel):
    count: int
    sha256: str
    text: str = Field(description="COUNT:SHA256, the form `verify --anchor` takes")

    @classmethod
    def of(cls, head: rules.Head) -> HeadOut:
        return cls(count=head.count, sha256=head.sha256, text=head.text())


class VerifyOut(BaseModel):
    intact: bool
    problem: str | None
    seq: int | None = Field(description="the first entry concerned")
    message: str
    head: HeadOut


class ReceiveIn(BaseModel):
    substance: str = Field(description="ketamine or esketamine")
    strength_mg_per_ml: Decimal | None = Field(None, description="ketamine vials only")
    volume_ml: Decimal | None = Field(None, description="ketamine vials only")
    lot_number: str
    expiry: date
    units: int = Field(description="whole vials or devices received")
    supplier: str
    supplier_dea: str
    invoice: str


class AdministerIn(BaseModel):
    lot_id: RowId
    patient_id: RowId
    dose_mg: Decimal
    session_ref: int | None = None
    dose_ref: int | None = None


class WasteIn(BaseModel):
    lot_id: RowId
    amount_mg: Decimal
    reason: str
    witness_username: str
    witness_password: str


class ReturnIn(BaseModel):
    lot_id: RowId
    kind: Literal["returned", "transferred"]
    units: int = Field(description="whole vials or devices")
    recipient: str
    recipient_dea: str
    invoice: str


class DestroyIn(BaseModel):
    lot_id: RowId
    amount_mg: Decimal
    dea41_reference: str


class AdjustIn(BaseModel):
    lot_id: RowId
    change_mg: Decimal = Field(description="negative to lower the balance")
    reason: str


class LossIn(BaseModel):
    lot_id: RowId
    kind: Literal["lost", "stolen"]
    amount_mg: Decimal
    reason: str
    discovered_at: datetime | None = None


class LossOut(EntryOut):
    report_id: int
    discovered_at: datetime
    due_at: datetime


# ---- routes ------------------------------------------------------------------------------------


@router.get("/lots", response_model=list[LotOut])
def lots(db: SessionDep, clock: ClockDep, actor: Reader, audit: AuditDep) -> list[LotOut]:
    """Stock by product and lot, with each lot's balance in mg and containers."""
    ledger.require_reader(actor)
    audit("read", "ledger: stock")
    return [
        LotOut(
            id=line.lot_id,
            product_code=line.product_code,
            product=line.product,
            lot_number=line.lot_number,
            expiry=line.expiry,
            balance_mg=rules.as_mg(line.balance_ug),
            units_on_hand=str(line.units),
            expired=line.expired,
        )
        for line in stock(db, clock.now().date())
    ]


@router.get("/lots/{lot_id}/entries", response_model=list[EntryOut])
def lot_entries(lot_id: RowId, db: SessionDep, actor: Reader, audit: AuditDep) -> list[EntryOut]:
    """A lot's entries in chain order, each with the lot's balance after it."""
    ledger.require_reader(actor)
    if db.get(LedgerLot, lot_id) is None:
        raise NotFound(f"no lot {lot_id}")
    entries = list(
        db.scalars(
            select(LedgerEntry).where(LedgerEntry.lot_id == lot_id).order_by(LedgerEntry.seq)
        )
    )
    audit("read", f"ledger: entries of lot {lot_id}")
    # Administrations name patients: each shown is a read of that patient's data.
    for patient_id in sorted({e.patient_id for e in entries if e.patient_id is not None}):
        audit("read", f"ledger: entries of lot {lot_id}", patient_id)
    return [EntryOut.of(e) for e in entries]


@router.post("/receive", response_model=EntryOut, status_code=201)
def receive(
    body: ReceiveIn, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep
) -> EntryOut:
    """Stock received from a supplier: a non-positive quantity, a lot already recorded with
    another expiry or a missing supplier, DEA number or invoice is refused (422)."""
    product = ledger.define_product(
        db,
        actor,
        clock,
        body.substance,
        strength_mg_per_ml=body.strength_mg_per_ml,
        volume_ml=body.volume_ml,
    )
    entry = ledger.receive(
        db,
        actor,
        clock,
        ledger.ReceiptIn(
            product.code,
            body.lot_number,
            body.expiry,
            body.units,
            body.supplier,
            body.supplier_dea,
            body.invoice,
        ),
    )
    audit("write", entry_words(entry))
    return EntryOut.of(entry)


@router.post("/administer", response_model=AdministeredOut, status_code=201)
def administer(
    body: AdministerIn, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep
) -> AdministeredOut:
    """A dose given to a patient; answers what remains in the opened vials, to be wasted. An
    unknown or expired lot, a dose above the balance or an unknown patient is refused (422)."""
    given = ledger.administer(
        db,
        actor,
        clock,
        body.lot_id,
        body.patient_id,
        body.dose_mg,
        session_ref=body.session_ref,
        dose_ref=body.dose_ref,
    )
    audit("write", entry_words(given.entry), given.entry.patient_id)
    return AdministeredOut(
        **EntryOut.of(given.entry).model_dump(),
        remainder_to_waste_mg=rules.as_mg(given.remainder_ug),
    )


@router.post("/waste", response_model=EntryOut, status_code=201)
def waste(
    body: WasteIn, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep
) -> EntryOut:
    """Drug wasted, seen by a second clinician who confirms with their own password. The same
    user, a wrong password or more than the lot holds is refused (422), and nothing is kept."""
    entry = ledger.waste(
        db,
        actor,
        clock,
        body.lot_id,
        body.amount_mg,
        body.reason,
        body.witness_username,
        body.witness_password,
    )
    audit("write", entry_words(entry))
    return EntryOut.of(entry)


@router.post("/return", response_model=EntryOut, status_code=201)
def send_back(
    body: ReturnIn, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep
) -> EntryOut:
    """Whole vials or devices returned to the supplier or transferred to another registrant; a
    non-positive count, more than the lot holds or a missing recipient is refused (422)."""
    entry = ledger.send_back(
        db,
        actor,
        clock,
        body.lot_id,
        body.kind,
        body.units,
        body.recipient,
        body.recipient_dea,
        body.invoice,
    )
    audit("write", entry_words(entry))
    return EntryOut.of(entry)


@router.post("/destroy", response_model=EntryOut, status_code=201)
def destroy(
    body: DestroyIn, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep
) -> EntryOut:
    """Stock destroyed, with the DEA-41 form's reference; a non-positive amount, more than the
    lot holds or no reference is refused (422)."""
    entry = ledger.destroy(db, actor, clock, body.lot_id, body.amount_mg, body.dea41_reference)
    audit("write", entry_words(entry))
    return EntryOut.of(entry)


@router.post("/adjust", response_model=EntryOut, status_code=201)
def adjust(
    body: AdjustIn, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep
) -> EntryOut:
    """A correction, + or -, with its reason; 0 mg, no reason or a balance below zero is refused
    (422)."""
    entry = ledger.adjust(db, actor, clock, body.lot_id, body.change_mg, body.reason)
    audit("write", entry_words(entry))
    return EntryOut.of(entry)


@router.post("/loss", response_model=LossOut, status_code=201)
def loss(body: LossIn, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep) -> LossOut:
    """Stock lost or stolen: the entry, and the loss report it opens with its due time. A
    discovery time with an offset is read as that instant; without one, as UTC."""
    found = body.discovered_at
    if found is not None and found.tzinfo is not None:
        # The clock and the database keep naive UTC; comparing with an aware time would fail.
        found = found.astimezone(UTC).replace(tzinfo=None)
    report = ledger.record_loss(
        db,
        actor,
        clock,
        body.lot_id,
        body.kind,
        body.amount_mg,
        body.reason,
        found,
    )
    entry = db.get_one(LedgerEntry, report.entry_id)
    audit("write", entry_words(entry))
    return LossOut(
        **EntryOut.of(entry).model_dump(),
        report_id=report.id,
        discovered_at=report.discovered_at,
        due_at=report.due_at,
    )


@router.get("/head", response_model=HeadOut)
def head(db: SessionDep, actor: Reader, audit: AuditDep) -> HeadOut:
    """The chain's head: export it to check the chain against later (verify --anchor)."""
    ledger.require_reader(actor)
    audit("read", "ledger: head")
    return HeadOut.of(ledger.head(db))


def parse_anchor(text: str | None) -> rules.Head | None:
    if text is None or not text.strip():
        return None
    try:
        return rules.parse_head(text)
    except ValueError as bad:
        raise InvalidInput("anchor", str(bad)) from None


@router.get("/verify", response_model=VerifyOut)
def verify(db: SessionDep, actor: Reader, audit: AuditDep, anchor: str | None = None) -> VerifyOut:
    """Check every entry's hash and link; with an anchor (a head exported earlier) also that
    no entry was cut off the end and the chain was not recomputed."""
    ledger.require_reader(actor)
    check = ledger.verify(db, parse_anchor(anchor))
    audit("read", f"ledger: verify ({check.message})")
    return VerifyOut(
        intact=check.intact,
        problem=check.problem,
        seq=check.seq,
        message=check.message,
        head=HeadOut.of(check.head),
    )
