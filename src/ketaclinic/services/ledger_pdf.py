"""The running log of the ledger as a PDF: an HTML page (templates/ledger_log_pdf.html) printed
by WeasyPrint, with the chain's head on every page so that a printed log can serve as the anchor
of a later ``verify --anchor``.

The template is read from the web app's template folder by path, so that the CLI and the pages
print the same document without the services importing the web layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ketaclinic.clinical import ledger_rules as rules
from ketaclinic.services.ledger_reports import LogRow

TEMPLATES = Path(__file__).parents[1] / "web" / "templates"
_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    # Lot numbers, suppliers and reasons are typed by staff: escaped like every page.
    autoescape=select_autoescape(["html"]),
)
_env.filters["mg"] = lambda ug: "" if ug is None else rules.as_mg(ug)


def log_html(
    rows: Sequence[LogRow], head: rules.Head, printed_at: datetime, scope: str = "all products"
) -> str:
    """The HTML WeasyPrint prints: the log grouped by product and lot, the head on each page."""
    groups: dict[tuple[str, str], list[LogRow]] = {}
    for row in rows:
        groups.setdefault((row.product, row.lot_number), []).append(row)
    return _env.get_template("ledger_log_pdf.html").render(
        groups=groups, head=head, printed_at=printed_at, scope=scope
    )


def log_pdf(html: str) -> bytes:
    """The page printed to PDF. WeasyPrint is imported here, when a PDF is asked for, because
    loading it (and Pango) costs about a second that no other command should pay."""
    from weasyprint import HTML  # type: ignore[import-untyped]

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
