"""Ledger reports: the running log (CSV), reconciliation with sessions, inventories, retention.

Every report carries the chain's head (count and hash of the last entry), so a printed or
exported report can later serve as the anchor for ``ketaclinic ledger verify --anchor``.
The PDF of the running log is services/ledger_pdf.py (WeasyPrint).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ketaclinic.clinical import ledger_rules as rules
from ketaclinic.services import ledger
from ketaclinic.services.actor import Actor
from ketaclinic.services.errors import Conflict, InvalidInput
from ketaclinic.store.models import LedgerCount, LedgerEntry, LedgerLot, LedgerProduct, User


@dataclass(frozen=True)
class LogRow:
    seq: int
    at: datetime
    kind: str
    product: str
    lot_number: str
    expiry: date
    change_ug: int
    units: int | None
    balance_ug: int
    patient_id: int | None
    session_ref: int | None
    dose_ref: int | None
    recorded_by: str
    witness: str | None
    supplier: str | None
    supplier_dea: str | None
    invoice: str | None
    dea41_reference: str | None
    counted_ug: int | None
    reason: str | None
    sha256: str


def running_log(
    session: Session,
    actor: Actor,
    *,
    product_code: str | None = None,
    lot_id: int | None = None,
) -> list[LogRow]:
    """Every entry, in chain order, for one product or lot (or all), with the running balance."""
    ledger.require_reader(actor)
    witness = aliased(User)
    query = (
        select(LedgerEntry, LedgerLot, LedgerProduct, witness.username)
        .join(LedgerLot, LedgerLot.id == LedgerEntry.lot_id)
        .join(LedgerProduct, LedgerProduct.id == LedgerLot.product_id)
        .outerjoin(witness, witness.id == LedgerEntry.witness_id)
        .order_by(LedgerEntry.seq)
    )
    if product_code is not None:
        query = query.where(LedgerProduct.code == ledger.get_product(session, product_code).code)
    if lot_id is not None:
        query = query.where(LedgerEntry.lot_id == ledger.get_lot(session, lot_id).id)
    return [
        LogRow(
            e.seq,
            e.at,
            e.kind,
            p.code,
            lot.lot_number,
            lot.expiry,
            e.change_ug,
            e.units,
            e.balance_ug,
            e.patient_id,
            e.session_ref,
            e.dose_ref,
            e.recorded_by,
            witness_name,
            e.supplier,
            e.supplier_dea,
            e.invoice,
            e.dea41_reference,
            e.counted_ug,
            e.reason,
            e.sha256,
        )
        for e, lot, p, witness_name in session.execute(query)
    ]


LOG_COLUMNS = (
    "seq",
    "at",
    "kind",
    "product",
    "lot",
    "expiry",
    "change_mg",
    "units",
    "balance_mg",
    "patient_id",
    "session_ref",
    "dose_ref",
    "recorded_by",
    "witness",
    "supplier_or_recipient",
    "dea_number",
    "invoice",
    "dea41_reference",
    "counted_mg",
    "reason",
    "sha256",
)


def _mg(ug: int | None) -> str:
    return "" if ug is None else rules.as_mg(ug)


def _plain(value: object) -> str:
    return "" if value is None else str(value)


def _typed(value: str | None) -> str:
    """Text someone typed: a leading = + - @ would run as a formula in a spreadsheet, so it is
    quoted (OWASP, CSV injection)."""
    if value is None:
        return ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def running_log_csv(rows: Sequence[LogRow], head: rules.Head) -> str:
    """The running log as CSV: a first line ``# ledger head,COUNT:SHA256`` then a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["# ledger head", head.text()])
    writer.writerow(LOG_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.seq,
                r.at.isoformat(sep=" ", timespec="seconds"),
                r.kind,
                r.product,
                _typed(r.lot_number),
                r.expiry.isoformat(),
                _mg(r.change_ug),
                _plain(r.units),
                _mg(r.balance_ug),
                _plain(r.patient_id),
                _plain(r.session_ref),
                _plain(r.dose_ref),
                _typed(r.recorded_by),
                _typed(r.witness),
                _typed(r.supplier),
                _typed(r.supplier_dea),
                _typed(r.invoice),
                _typed(r.dea41_reference),
                _mg(r.counted_ug),
                _typed(r.reason),
                r.sha256,
            ]
        )
    return out.getvalue()


def reconciliation(
    session: Session,
    actor: Actor,
    doses: Sequence[rules.RecordedDose],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[rules.Mismatch]:
    """Recorded doses (from the sessions, issue 5) against administration entries in the same
    period: a dose with no entry, an entry with no dose, or a different patient or amount."""
    ledger.require_reader(actor)
    query = select(LedgerEntry).where(LedgerEntry.kind == "administered")
    if start is not None:
        query = query.where(LedgerEntry.at >= start)
        doses = [d for d in doses if d.given_at >= start]
    if end is not None:
        query = query.where(LedgerEntry.at < end)
        doses = [d for d in doses if d.given_at < end]
    administrations = [
        rules.Administration(e.seq, e.dose_ref, e.patient_id, -e.change_ug)
        for e in session.scalars(query)
    ]
    return rules.reconcile(doses, administrations)


@dataclass(frozen=True)
class InventoryLine:
    product: str
    name: str
    form: str
    lot_number: str
    expiry: date
    counted_ug: int
    expected_ug: int
    units: str  # containers, fractional for an opened one (may be estimated)


@dataclass(frozen=True)
class InventoryReport:
    kind: str  # initial or biennial
    taken_at: datetime
    taken_by: str
    lines: list[InventoryLine]
    next_due: date
    head: rules.Head
    source: str = rules.INVENTORY_SOURCE


def latest_inventory(session: Session, actor: Actor) -> InventoryReport | None:
    """The last initial or biennial inventory (21 CFR 1304.11), with when the next is due."""
    ledger.require_reader(actor)
    recent = session.execute(
        select(LedgerCount, LedgerEntry, LedgerLot, LedgerProduct)
        .join(LedgerEntry, LedgerEntry.id == LedgerCount.entry_id)
        .join(LedgerLot, LedgerLot.id == LedgerCount.lot_id)
        .join(LedgerProduct, LedgerProduct.id == LedgerLot.product_id)
        .where(LedgerCount.inventory.is_not(None))
        .order_by(LedgerEntry.seq.desc())
    ).all()
    if not recent:
        return None
    # One inventory is one run of consecutive entries: take_inventory appends them under one lock.
    counts = [recent[0]]
    for row in recent[1:]:
        if row[1].seq != counts[-1][1].seq - 1:
            break
        counts.append(row)
    counts.sort(key=lambda row: (row[3].code, row[2].lot_number))
    first_entry = min((row[1] for row in counts), key=lambda e: e.seq)
    lines = [
        InventoryLine(
            p.code,
            p.name,
            p.form,
            lot.lot_number,
            lot.expiry,
            c.counted_ug,
            c.expected_ug,
            str(rules.units_on_hand(c.counted_ug, p.unit_ug)),
        )
        for c, _e, lot, p in counts
    ]
    return InventoryReport(
        counts[0][0].inventory or "",
        first_entry.at,
        first_entry.recorded_by,
        lines,
        rules.next_inventory_due(first_entry.at.date()),
        ledger.head(session),
    )


def purge(session: Session, actor: Actor, before: date, today: date) -> int:
    """Purge everything recorded before ``before``: refused when any of it is younger than 2
    years (rules.RETENTION_SOURCE). Past that check the removal itself waits (Conflict): the
    database refuses deletes from the chained ledger, and a purge needs a checkpoint entry so
    that verify can start after it."""
    ledger.require_reader(actor)
    if not rules.purge_allowed(before, today):
        last_day = before - timedelta(days=1)
        raise InvalidInput(
            "before",
            f"entries recorded on {last_day.isoformat()} are younger than 2 years: they are "
            f"kept until {rules.two_years_after(last_day).isoformat()}",
        )
    youngest = datetime.combine(before, datetime.min.time())
    older = session.scalars(select(LedgerEntry.seq).where(LedgerEntry.at < youngest)).all()
    raise Conflict(
        f"{len(older)} entries are older than 2 years and may be archived; removing them from "
        "the chained ledger is not available yet"
    )
