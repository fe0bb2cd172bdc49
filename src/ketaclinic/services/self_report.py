"""Self-report links: the clinic sends a patient a link to answer one questionnaire on a phone,
with no account.

Source: issue 6, "Patient self-report" and "Bad input": a signed token, single use, that expires
after 72 hours (policy outcomes.self_report_link_hours); a reused or expired link is refused
with the reason and nothing is stored.

The token is a random secret (``secrets.token_urlsafe``, 256 bits) that only the link carries:
the database keeps its SHA-256, so a copy of the database opens no link. The link names its
patient and scale on the server; nothing the browser sends can point an answer at another
patient. The services write no audit rows: the web layer audits every read and write.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ketaclinic.policy import DEFAULT, Policy
from ketaclinic.services import who_may
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import InvalidInput
from ketaclinic.services.patients import get_patient
from ketaclinic.services.questionnaires import WRITERS, Recorded, known_scale, store_response
from ketaclinic.store.models import SelfReportLink

TOKEN_BYTES = 32
# Scales a patient fills in alone; MADRS, CADSS and MOAA/S are rated by a clinician.
SELF_REPORT_SCALES = ("phq9", "gad7", "qids_sr16", "pcl5", "cssrs_screener", "pain_nrs")
PATH_PREFIX = "/r/"
# An address no token_urlsafe(32) exceeds; longer is not ours and is not even hashed.
TOKEN_LIMIT = 200

UNKNOWN = "This link is not valid. Please check that you copied all of it, or ask the clinic."
USED = (
    "This link has already been used: each link takes one set of answers. If you need to "
    "answer again, please ask the clinic for a new link."
)
EXPIRED = (
    "This link has expired: links work for {hours} hours after the clinic sends them. Please ask "
    "the clinic for a new link."
)


class LinkRefused(Exception):
    """A link that cannot be used: unknown (404), or used or expired (410, gone)."""

    def __init__(self, status: int, message: str, patient_id: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.patient_id = patient_id


@dataclass(frozen=True)
class SentLink:
    link: SelfReportLink
    # The secret itself: shown once to the staff member who sends it, never stored.
    token: str

    @property
    def path(self) -> str:
        return link_path(self.token)


def link_path(token: str) -> str:
    return f"{PATH_PREFIX}{token}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def send_link(
    session: Session,
    actor: Actor,
    clock: Clock,
    patient_id: int,
    scale: str,
    policy: Policy = DEFAULT,
) -> SentLink:
    """A new single-use link for the patient to answer ``scale``."""
    who_may.require(actor, WRITERS, "send self-report links")
    get_patient(session, patient_id)
    rating = known_scale(scale)
    if rating.id not in SELF_REPORT_SCALES:
        raise InvalidInput(
            "scale",
            f"{rating.name} is rated by a clinician; choose a questionnaire the patient "
            "fills in alone",
        )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = clock.now()
    link = SelfReportLink(
        patient_id=patient_id,
        scale=scale,
        token_sha256=token_digest(token),
        created_at=now,
        expires_at=now + timedelta(hours=policy.outcomes.self_report_link_hours),
        created_by_id=actor.user_id,
    )
    session.add(link)
    session.flush()
    return SentLink(link, token)


def is_expired(link: SelfReportLink, clock: Clock) -> bool:
    """Expired from ``expires_at`` itself: a link sent at 09:00 works until 08:59:59.999999 three
    days later and not at 09:00, when 72 hours have passed."""
    return clock.now() >= link.expires_at


def _hours(link: SelfReportLink) -> int:
    return round((link.expires_at - link.created_at).total_seconds() / 3600)


def _find(session: Session, token: str, *, lock: bool) -> SelfReportLink:
    if not token or len(token) > TOKEN_LIMIT:
        raise LinkRefused(404, UNKNOWN)
    query = select(SelfReportLink).where(SelfReportLink.token_sha256 == token_digest(token))
    if lock:
        # PostgreSQL: a second submission waits here and then sees used_at. SQLite's request
        # transactions already hold the write lock (BEGIN IMMEDIATE).
        query = query.with_for_update()
    link = session.scalar(query)
    if link is None:
        raise LinkRefused(404, UNKNOWN)
    return link


def _usable(link: SelfReportLink, clock: Clock) -> SelfReportLink:
    if link.used_at is not None:
        raise LinkRefused(410, USED, link.patient_id)
    if is_expired(link, clock):
        raise LinkRefused(410, EXPIRED.format(hours=_hours(link)), link.patient_id)
    return link


def open_link(session: Session, clock: Clock, token: str) -> SelfReportLink:
    """The link the token opens, or LinkRefused saying why not."""
    return _usable(_find(session, token, lock=False), clock)


def submit_by_link(
    session: Session, clock: Clock, token: str, answers: Sequence[object]
) -> Recorded:
    """The patient's answers, stored for the link's own patient and scale; the link is used up.

    Refused answers (InvalidInput naming the item) store nothing and leave the link usable, so
    the patient can correct them; a used or expired link stores nothing (LinkRefused)."""
    link = _usable(_find(session, token, lock=True), clock)
    recorded = store_response(
        session,
        clock,
        link.patient_id,
        link.scale,
        answers,
        clock.now(),
        source="link",
        recorded_by_id=None,
        link_id=link.id,
    )
    used = session.execute(
        update(SelfReportLink)
        .where(SelfReportLink.id == link.id, SelfReportLink.used_at.is_(None))
        .values(used_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if getattr(used, "rowcount", 1) != 1:
        # Another submission won the race; raising rolls this one's response back with it.
        raise LinkRefused(410, USED, link.patient_id)
    session.refresh(link)
    return recorded


def links_of(session: Session, patient_id: int) -> list[SelfReportLink]:
    """A patient's links, newest first (the token is not among them: only its hash is kept)."""
    return list(
        session.scalars(
            select(SelfReportLink)
            .where(SelfReportLink.patient_id == patient_id)
            .order_by(SelfReportLink.created_at.desc(), SelfReportLink.id.desc())
        )
    )
