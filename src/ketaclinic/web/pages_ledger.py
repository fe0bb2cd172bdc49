"""The controlled-substance ledger's pages (issue 7).

    GET  /ledger             P N A  stock by product and lot, open discrepancies, loss reports
                                    due or overdue, the chain's head; the forms below (P N)
    POST /ledger/receive     P N    stock received (product, lot, expiry, units, supplier)
    POST /ledger/administer  P N    a dose given to a patient from a lot
    POST /ledger/waste       P N    drug wasted, with the witness's username and password
    POST /ledger/count       P N    a physical count of a lot
    POST /ledger/return      P N    whole containers returned to the supplier or transferred
    POST /ledger/destroy     P N    stock destroyed, with the DEA-41 form's reference
    POST /ledger/adjust      P N    a correction, + or -, with its reason
    POST /ledger/loss        P N    stock lost or stolen; opens a loss report, due
    POST /ledger/discrepancies/{count_id}/resolve   P N  a discrepancy closed, optionally adjusting
    POST /ledger/loss-reports/{report_id}/file      P N  a loss report marked as sent
    GET  /ledger/verify      P N A  the chain checked; optional anchor (COUNT:SHA256)
    GET  /ledger/log.csv     P N A  the running log per product and lot, head on the first line
    GET  /ledger/log.pdf     P N A  the same log printed by WeasyPrint, head on every page

A refused form is shown again (422) with the message beside its field, and nothing is written:
the service runs in a savepoint that is rolled back, the witness's failed sign-in included.
Every write is audited, naming the patient when an administration does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.clinical import ledger_rules as rules
from ketaclinic.services import ledger, ledger_pdf, ledger_reports
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import InvalidInput
from ketaclinic.store.models import LedgerEntry, LedgerLot, LedgerProduct
from ketaclinic.web.api_ledger import entry_words, parse_anchor, stock
from ketaclinic.web.deps import AuditDep, ClockDep, SessionDep, require_roles
from ketaclinic.web.pages_common import Submitted, errors_of, required
from ketaclinic.web.templating import render, templates

router = APIRouter(include_in_schema=False)
Keeper = Annotated[Actor, Depends(require_roles("prescriber", "nurse"))]
Reader = Annotated[Actor, Depends(require_roles("prescriber", "nurse", "admin"))]
KEEPERS = ("prescriber", "nurse")
templates.env.filters["mg"] = lambda ug: "" if ug is None else rules.as_mg(ug)

# The services name some fields differently from the forms.
RENAMES: dict[str, dict[str, str]] = {
    "receive": {"product": "substance"},
    "administer": {"lot": "lot_id", "amount": "dose_mg"},
    "waste": {"lot": "lot_id", "amount": "amount_mg", "witness_username": "witness"},
    "count": {"lot": "lot_id", "amount": "counted_mg"},
    "return": {"lot": "lot_id", "amount": "units"},
    "destroy": {"lot": "lot_id", "amount": "amount_mg"},
    "adjust": {"lot": "lot_id", "amount": "change_mg"},
    "loss": {"lot": "lot_id", "amount": "amount_mg"},
    # One form per discrepancy and per report, named "resolve-<id>" and "file-<id>".
    "resolve": {"count": "resolution", "lot": "resolution", "amount": "resolution"},
    "file": {"report": "reference"},
}
DONE = {
    "receive": "Receipt recorded.",
    "administer": "Administration recorded.",
    "waste": "Waste recorded.",
    "count": "Count recorded.",
    "return": "Return or transfer recorded.",
    "destroy": "Destruction recorded.",
    "adjust": "Adjustment recorded.",
    "loss": "Loss recorded: file its report by the date shown.",
    "resolve": "Discrepancy resolved.",
    "file": "Loss report marked as filed.",
}


def _overview(session: Session, clock: Clock) -> dict[str, Any]:
    now = clock.now()
    lots = stock(session, now.date())
    names = {line.lot_id: f"{line.product} lot {line.lot_number}" for line in lots}
    reports = []
    for report in ledger.open_loss_reports(session):
        entry = session.get_one(LedgerEntry, report.entry_id)
        reports.append(
            {
                "report": report,
                "entry": entry,
                "lot": names.get(entry.lot_id, str(entry.lot_id)),
                "overdue": rules.report_overdue(report.due_at, report.filed_at, now),
                # Due at midnight: staff read it as the end of the day before.
                "due_day": (report.due_at - timedelta(microseconds=1)).date(),
            }
        )
    return {
        "lots": lots,
        "lot_names": names,
        "discrepancies": ledger.discrepancies(session),
        "loss_reports": reports,
        "head": ledger.head(session),
        "today": now.date(),
    }


def _page(
    request: Request,
    session: Session,
    clock: Clock,
    actor: Actor,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    values: dict[str, Any] = {
        **_overview(session, clock),
        "may_write": actor.role in KEEPERS,
        "forms": {},
        "errors": {},
        "done": DONE.get(request.query_params.get("done", ""), ""),
    }
    values.update(context)
    return render(request, "ledger.html", values, status)


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(
    request: Request, db: SessionDep, clock: ClockDep, actor: Reader, audit: AuditDep
) -> HTMLResponse:
    ledger.require_reader(actor)
    audit("read", "ledger: stock")
    return _page(request, db, clock, actor)


async def _write(
    form_name: str,
    request: Request,
    db: Session,
    clock: Clock,
    actor: Actor,
    audit: AuditDep,
    write: Callable[[Submitted], LedgerEntry | str],
) -> Response:
    """Run ``write``; it answers the entry it chained, or the audit's words when it chained none
    (a loss report filed)."""
    form = await Submitted.of(request)
    kind = form_name.split("-")[0]
    try:
        # A savepoint: a refusal rolls back all the service did, the request's commit keeps none.
        with db.begin_nested():
            written = write(form)
    except InvalidInput as problem:
        errors = {form_name: errors_of(problem, RENAMES[kind])}
        # A password is never sent back to the browser.
        values = {k: v for k, v in form.values.items() if "password" not in k}
        return _page(request, db, clock, actor, 422, forms={form_name: values}, errors=errors)
    if isinstance(written, str):
        audit("write", written)
    else:
        audit("write", entry_words(written), written.patient_id)
    return RedirectResponse(f"/ledger?done={kind}", status_code=303)


def _number(form: Submitted, name: str) -> str:
    """A quantity as typed: the service reads it exactly (Decimal), refusing what is not one."""
    return str(required(name, form.text(name)))


@router.post("/ledger/receive", response_class=HTMLResponse)
async def receive(
    request: Request, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep
) -> Response:
    def write(form: Submitted) -> LedgerEntry:
        substance = form.raw("substance")
        vial = substance == "ketamine"
        product = ledger.define_product(
            db,
            actor,
            clock,
            substance,
            strength_mg_per_ml=_number(form, "strength_mg_per_ml") if vial else None,
            volume_ml=_number(form, "volume_ml") if vial else None,
        )
        receipt = ledger.ReceiptIn(
            product.code,
            form.words("lot_number"),
            required("expiry", form.day("expiry")),
            required("units", form.whole("units")),
            form.words("supplier"),
            form.words("supplier_dea"),
            form.words("invoice"),
        )
        return ledger.receive(db, actor, clock, receipt)

    return await _write("receive", request, db, clock, actor, audit, write)


@router.post("/ledger/administer", response_class=HTMLResponse)
async def administer(
    request: Request, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep
) -> Response:
    def write(form: Submitted) -> LedgerEntry:
        given = ledger.administer(
            db,
            actor,
            clock,
            required("lot_id", form.whole("lot_id")),
            required("patient_id", form.whole("patient_id")),
            _number(form, "dose_mg"),
        )
        return given.entry

    return await _write("administer", request, db, clock, actor, audit, write)


@router.post("/ledger/waste", response_class=HTMLResponse)
async def waste(
    request: Request, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep
) -> Response:
    def write(form: Submitted) -> LedgerEntry:
        return ledger.waste(
            db,
            actor,
            clock,
            required("lot_id", form.whole("lot_id")),
            _number(form, "amount_mg"),
            form.words("reason"),
            form.words("witness"),
            form.raw("witness_password"),
        )

    return await _write("waste", request, db, clock, actor, audit, write)


@router.post("/ledger/count", response_class=HTMLResponse)
async def count(
    request: Request, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep
) -> Response:
    def write(form: Submitted) -> LedgerEntry:
        counted = ledger.count_lot(
            db, actor, clock, required("lot_id", form.whole("lot_id")), _number(form, "counted_mg")
        )
        return db.get_one(LedgerEntry, counted.entry_id)

    return await _write("count", request, db, clock, actor, audit, write)


@router.post("/ledger/return", response_class=HTMLResponse)
async def send_back(
    request: Request, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep
) -> Response:
    def write(form: Submitted) -> LedgerEntry:
        kind: Literal["returned", "transferred"] = "returned"
        if form.raw("kind") == "transferred":
            kind = "transferred"
        elif form.raw("kind") != "returned":
            raise InvalidInput("kind", "must be returned or transferred")
        return ledger.send_back(
            db,
            actor,
            clock,
            required("lot_id", form.whole("lot_id")),
            kind,
            required("units", form.whole("units")),
            form.words("recipient"),
            form.words("recipient_dea"),
            form.words("invoice"),
        )

    return await _write("return", request, db, clock, actor, audit, write)


@router.post("/ledger/destroy", response_class=HTMLResponse)
async def destroy(
    request: Request, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep
) -> Response:
    def write(form: Submitted) -> LedgerEntry:
        return ledger.destroy(
            db,
            actor,
            clock,
            required("lot_id", form.whole("lot_id")),
            _number(form, "amount_mg"),
            form.words("dea41_reference"),
        )

    return await _write("destroy", request, db, clock, actor, audit, write)


@router.post("/ledger/adjust", response_class=HTMLResponse)
async def adjust(
    request: Request, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep
) -> Response:
    def write(form: Submitted) -> LedgerEntry:
        return ledger.adjust(
            db,
            actor,
            clock,
            required("lot_id", form.whole("lot_id")),
            _number(form, "change_mg"),
            form.words("reason"),
        )

    return await _write("adjust", request, db, clock, actor, audit, write)


@router.post("/ledger/loss", response_class=HTMLResponse)
async def loss(
    request: Request, db: SessionDep, clock: ClockDep, actor: Keeper, audit: AuditDep
) -> Response:
    def write(form: Submitted) -> LedgerEntry:
        kind: Literal["lost", "stolen"] = "lost"
        if form.raw("kind") == "stolen":
            kind = "stolen"
        elif form.raw("kind") != "lost":
            raise InvalidInput("kind", "must be lost or stolen")
        report = ledger.record_loss(
            db,
            actor,
            clock,
            required("lot_id", form.whole("lot_id")),
            kind,
            _number(form, "amount_mg"),
            form.words("reason"),
        )
        return db.get_one(LedgerEntry, report.entry_id)

    return await _write("loss", request, db, clock, actor, audit, write)


@router.post("/ledger/discrepancies/{count_id}/resolve", response_class=HTMLResponse)
async def resolve(
    count_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Keeper,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> LedgerEntry | str:
        count = ledger.resolve_discrepancy(
            db,
            actor,
            clock,
            count_id,
            form.words("resolution"),
            adjust_balance=form.checked("adjust_balance"),
        )
        if count.resolution_entry_id is not None:
            return db.get_one(LedgerEntry, count.resolution_entry_id)
        return f"ledger: discrepancy of count {count_id} resolved"

    return await _write(f"resolve-{count_id}", request, db, clock, actor, audit, write)


@router.post("/ledger/loss-reports/{report_id}/file", response_class=HTMLResponse)
async def file_report(
    report_id: int,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    actor: Keeper,
    audit: AuditDep,
) -> Response:
    def write(form: Submitted) -> str:
        ledger.file_loss_report(db, actor, clock, report_id, form.words("reference"))
        return f"ledger: loss report {report_id} filed"

    return await _write(f"file-{report_id}", request, db, clock, actor, audit, write)


@router.get("/ledger/verify", response_class=HTMLResponse)
def verify_page(
    request: Request, db: SessionDep, actor: Reader, audit: AuditDep, anchor: str = ""
) -> HTMLResponse:
    ledger.require_reader(actor)
    try:
        check = ledger.verify(db, parse_anchor(anchor))
    except InvalidInput as problem:
        refused: dict[str, Any] = {"anchor": anchor, "errors": errors_of(problem), "check": None}
        return render(request, "ledger_verify.html", refused, 422)
    audit("read", f"ledger: verify ({check.message})")
    context = {"anchor": anchor, "errors": {}, "check": check}
    return render(request, "ledger_verify.html", context)


def _log(
    db: Session, actor: Actor, audit: AuditDep, product: str, lot: str
) -> tuple[list[ledger_reports.LogRow], str]:
    """The log asked for (one product, one lot or all) and the words naming it."""
    form = Submitted({"product": product, "lot": lot})
    lot_id = form.whole("lot")
    rows = ledger_reports.running_log(db, actor, product_code=form.text("product"), lot_id=lot_id)
    scope = "all products"
    if lot_id is not None:
        found = db.get_one(LedgerLot, lot_id)
        name = db.get_one(LedgerProduct, found.product_id).name
        scope = f"{name}, lot {found.lot_number}"
    elif form.text("product"):
        scope = ledger.get_product(db, product).name
    audit("read", f"ledger: running log ({scope})")
    for patient_id in sorted({r.patient_id for r in rows if r.patient_id is not None}):
        audit("read", f"ledger: running log ({scope})", patient_id)
    return rows, scope


def _file_name(product: str, lot: str, suffix: str) -> str:
    parts = ["ledger-log"] + [p for p in (product, f"lot{lot}" if lot else "") if p]
    safe = "-".join(parts).replace('"', "")
    return f'attachment; filename="{safe}.{suffix}"'


@router.get("/ledger/log.csv")
def log_csv(
    db: SessionDep, actor: Reader, audit: AuditDep, product: str = "", lot: str = ""
) -> Response:
    rows, _scope = _log(db, actor, audit, product, lot)
    text = ledger_reports.running_log_csv(rows, ledger.head(db))
    headers = {"Content-Disposition": _file_name(product, lot, "csv")}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/ledger/log.pdf")
def log_pdf(
    db: SessionDep,
    clock: ClockDep,
    actor: Reader,
    audit: AuditDep,
    product: str = "",
    lot: str = "",
) -> Response:
    rows, scope = _log(db, actor, audit, product, lot)
    html = ledger_pdf.log_html(rows, ledger.head(db), clock.now(), scope)
    headers = {"Content-Disposition": _file_name(product, lot, "pdf")}
    return Response(ledger_pdf.log_pdf(html), media_type="application/pdf", headers=headers)
