"""Informed consent to a plan: the text generated from it, both signatures, the PDF, withdrawal.

The text says what the treatment is and whether that use is on the label, the planned series,
the risks, the rules for the day of treatment and the expected cost, each drawn from the plan's
current version and from clinical-facts.md (named beside each statement). The patient signs by
typing their name or drawing it (a PNG), a prescriber or nurse countersigns; the signed text and
the PDF are kept, and the plan becomes active. Withdrawing consent ends the plan.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.clinical import plan_rules
from ketaclinic.services import who_may
from ketaclinic.services.actor import Actor
from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import Conflict, InvalidInput, NotFound
from ketaclinic.services.patients import get_patient
from ketaclinic.services.plans import (
    CLINICIANS,
    check_startable,
    close_plan,
    current_version,
    get_plan,
    loaded,
    start_plan,
)
from ketaclinic.services.vitals import check_text
from ketaclinic.store.models import Consent, Patient, PlanEvent, TreatmentPlan, User

TEMPLATES = Path(__file__).parents[1] / "web" / "templates"
_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PNG_DATA_URL = "data:image/png;base64,"
# A drawn signature on a tablet canvas is a few tens of kB; more is not a signature.
MAX_SIGNATURE_BYTES = 512 * 1024

INDICATION_WORDS = {
    "treatment_resistant_depression": "treatment-resistant depression",
    "mdd_with_suicidal_ideation": "major depression with suicidal thoughts or behaviour",
    "bipolar_depression": "bipolar depression",
    "ptsd": "post-traumatic stress disorder",
    "anxiety_disorder": "an anxiety disorder",
    "crps": "complex regional pain syndrome",
    "neuropathic_pain": "neuropathic pain",
    "fibromyalgia": "fibromyalgia",
}
PHASE_WORDS = {
    "induction": "first series",
    "weeks_5_to_8": "weeks 5-8",
    "maintenance": "maintenance",
}


def _what(route: str, dose: dict[str, Any], schedule: dict[str, Any]) -> str:
    mg = f"{dose['mg']:g} mg"
    if route == "iv":
        return (
            f"Racemic ketamine given into a vein (an intravenous infusion): {mg} "
            f"({dose['mg_per_kg']:g} mg/kg for your weight of {dose['weight_kg']:g} kg) over "
            f"{dose['infusion_minutes']} minutes, in the clinic, with your blood pressure, heart "
            "rate and oxygen level monitored throughout and for a period of observation after."
        )
    if route == "im":
        return (
            f"Racemic ketamine given as an injection into a muscle: {mg} "
            f"({dose['mg_per_kg']:g} mg/kg for your weight of {dose['weight_kg']:g} kg), in the "
            "clinic, with your blood pressure, heart rate and oxygen level monitored."
        )
    if route == "esketamine":
        return (
            "Esketamine (Spravato) nasal spray, given by yourself in the clinic under "
            "supervision: 56 or 84 mg a session in 28 mg devices, one device every 5 minutes "
            "(Spravato label). You are observed for at least 2 hours after the first device. "
            "Do not eat for 2 hours or drink for 30 minutes before a session."
        )
    how = "dissolved under the tongue" if route == "sublingual" else "swallowed"
    return (
        f"Racemic ketamine taken by mouth ({how}) at home: {mg} a dose, on the days planned. "
        "An adult must be with you for each dose, and you check in with the clinic before it."
    )


def _label(route: str, indication: str) -> str:
    words = INDICATION_WORDS.get(indication, indication.replace("_", " "))
    if plan_rules.on_label(route, indication):
        extra = (
            " together with an antidepressant taken by mouth"
            if indication == "mdd_with_suicidal_ideation"
            else ""
        )
        return (
            f"Esketamine (Spravato) is approved by the FDA for {words}{extra} (Spravato "
            "label). This use is on-label."
        )
    drug = "Esketamine" if route == "esketamine" else "Ketamine"
    return (
        f"OFF-LABEL USE: {drug} is not approved for {words}. Racemic ketamine is approved only "
        "for anaesthesia; its use here rests on published studies and clinical experience, not on "
        "an approval (spec/screening.md, Indications)."
    )


def _series(schedule: dict[str, Any], integration: bool) -> str:
    dosing = [v for v in schedule["sessions"] if v["kind"] == "dosing"]
    lines = [f"{len(dosing)} dosing sessions:"]
    for v in dosing:
        mg = f", {v['mg']:g} mg" if v["mg"] is not None else ""
        lines.append(
            f"  {v['number']:>2}. {v['on']} ({PHASE_WORDS.get(v['phase'], v['phase'])}{mg})"
        )
    if integration:
        lines.append(
            "Each dosing session is followed by an integration session (psychotherapy) the "
            "same day."
        )
    if schedule.get("review_on"):
        lines.append(
            f"Whether the treatment helps is judged by {schedule['review_on']} (Spravato label: "
            "at the end of week 4)."
        )
    return "\n".join(lines)


def _review(route: str) -> str:
    if route != "iv":
        return ""
    return (
        "\nIf your symptoms have not improved after 3 infusions, your prescriber will review the "
        "plan with you: few people respond after 3 infusions if they did not before (Sanacora "
        "2017)."
    )


RISKS = (
    "Common risks, during and for some hours after a session:\n"
    "  - Dissociation: feeling detached from yourself, your body or your surroundings; changes "
    "in how you see, hear or feel time (61-84 % with esketamine, Spravato label).\n"
    "  - Sedation: feeling sleepy or very drowsy (48-61 % with esketamine); rarely loss of "
    "consciousness (0.3-0.4 %) (Spravato label).\n"
    "  - Nausea and vomiting.\n"
    "  - Dizziness.\n"
    "  - Blood-pressure rise: it peaks about 30-40 minutes after the dose and lasts up to about "
    "4 hours; severe in about 1 % of IV sessions (clinical-facts.md). Symptoms of a "
    "hypertensive crisis need emergency care (Spravato label).\n"
    "Serious risks:\n"
    "  - Bladder irritation with prolonged use (Seeds).\n"
    "  - Misuse and dependence: ketamine is a controlled substance (Schedule III).\n"
    "  - Pregnancy: ketamine must not be used in pregnancy or while breastfeeding; tell us at "
    "once if you may be pregnant.\n"
    "Tell the staff straight away if you feel unwell during or after a session."
)
BIPOLAR_RISK = (
    "  - With bipolar depression, a switch to mania can occur (clinical-facts.md, Candidacy)."
)


def _day_rules(route: str) -> str:
    home = route in ("oral", "sublingual")
    escort = (
        "An adult must be with you at home for each dose and until its effects have passed."
        if home
        else "An adult escort must take you home after each session; you cannot leave alone."
    )
    return (
        "No driving until the next day, after a restful sleep "
        f"(Spravato label). {escort} Tell the clinic about every medicine you take: "
        "benzodiazepines and some other medicines change the effect or the risks."
    )


def _money(value: int | None) -> str:
    return "not given" if value is None else f"${value:,}"


def _cost(cost: dict[str, Any]) -> str:
    low, high = cost["low_usd"], cost["high_usd"]
    if low is None:
        total = "no figure is available for this route"
    elif low == high:
        total = _money(low)
    else:
        total = f"{_money(low)} to {_money(high)}"
    lines = [f"Expected cost of the {cost['sessions']} planned sessions: {total}."]
    for line in cost["billing"]:
        lines.append(f"  {line['code']} x {line['units']}: {line['description']}")
    lines.extend(cost["notes"])
    lines.append(cost["insurance_note"])
    return "\n".join(lines)


def consent_text_of(
    patient: Patient, plan: TreatmentPlan, dose: Any, schedule: Any, cost: Any
) -> str:
    """The consent text of a plan version, as plain text in numbered sections."""
    risks = RISKS + ("\n" + BIPOLAR_RISK if plan.indication == "bipolar_depression" else "")
    sections = [
        f"Informed consent to treatment (plan {plan.id}, version {plan.version})\n"
        f"Patient: {patient.given_name} {patient.family_name}, born "
        f"{patient.birth_date.isoformat()}, MRN {patient.mrn}",
        f"1. What the treatment is\n{_what(plan.route, dose, schedule)}",
        f"2. Approval status\n{_label(plan.route, plan.indication)}",
        f"3. The planned series\n{_series(schedule, plan.integration_sessions)}"
        f"{_review(plan.route)}",
        f"4. Risks\n{risks}",
        f"5. On the day of treatment\n{_day_rules(plan.route)}",
        f"6. Expected cost\n{_cost(cost)}",
        "7. Your choice\nYou may ask questions at any time, and you may withdraw this consent at "
        "any time: the plan then ends, and no further session is given.",
    ]
    return "\n\n".join(sections) + "\n"


def consent_text(session: Session, plan_id: int) -> str:
    plan = get_plan(session, plan_id)
    version = current_version(session, plan)
    return consent_text_of(
        get_patient(session, plan.patient_id),
        plan,
        loaded(version.dose),
        loaded(version.schedule),
        loaded(version.cost),
    )


# ---- signatures -------------------------------------------------------------------------------


def drawn_signature(value: str | bytes | None) -> bytes | None:
    """The PNG of a drawn signature (bytes, or a data: URL from the canvas), or None if blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith(PNG_DATA_URL):
            raise InvalidInput("signature", "must be a PNG image (data:image/png;base64,...)")
        try:
            data = base64.b64decode(text.removeprefix(PNG_DATA_URL), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("signature", "is not valid base64") from None
    else:
        data = value
    if not data.startswith(PNG_MAGIC):
        raise InvalidInput("signature", "is not a PNG image")
    if len(data) > MAX_SIGNATURE_BYTES:
        raise InvalidInput("signature", f"is too large ({len(data)} bytes)")
    return data


def get_consent(session: Session, consent_id: int) -> Consent:
    consent = session.get(Consent, consent_id)
    if consent is None:
        raise NotFound(f"no consent {consent_id}")
    return consent


def consents_of(session: Session, plan_id: int) -> list[Consent]:
    query = select(Consent).where(Consent.plan_id == plan_id).order_by(Consent.id)
    return list(session.scalars(query).all())


def standing_consent(session: Session, plan_id: int) -> Consent | None:
    """The plan's signed consent that has not been withdrawn."""
    return next(
        (
            c
            for c in reversed(consents_of(session, plan_id))
            if c.patient_signed_at is not None
            and c.clinician_signed_at is not None
            and c.withdrawn_at is None
        ),
        None,
    )


def sign_consent(
    session: Session,
    actor: Actor,
    clock: Clock,
    plan_id: int,
    *,
    typed_name: str | None = None,
    drawn_png: str | bytes | None = None,
) -> Consent:
    """The patient's signature (typed name and/or drawing) and the clinician's (the actor), now;
    the PDF is stored and the plan becomes active with its sessions."""
    who_may.require(actor, CLINICIANS, "take consent signatures", system=False)
    typed = check_text("typed_name", typed_name, limit=200)
    drawn = drawn_signature(drawn_png)
    if typed is None and drawn is None:
        raise InvalidInput("typed_name", "the patient signs: type the full name or draw it")
    plan = get_plan(session, plan_id)
    now = clock.now()
    check_startable(session, plan, now.date())
    text = consent_text(session, plan_id)
    consent = Consent(
        plan_id=plan.id,
        plan_version=plan.version,
        text=text,
        text_sha256=hashlib.sha256(text.encode()).hexdigest(),
        patient_typed_name=typed,
        patient_drawn_png=drawn,
        patient_signed_at=now,
        clinician_id=actor.user_id,
        clinician_signed_at=now,
        created_at=now,
        created_by_id=actor.user_id,
    )
    session.add(consent)
    session.flush()
    consent.pdf = render_pdf(consent_html(session, consent))
    session.add(PlanEvent(plan_id=plan.id, at=now, by_id=actor.user_id, action="consented"))
    start_plan(session, actor, clock, plan)
    return consent


def withdraw_consent(
    session: Session, actor: Actor, clock: Clock, plan_id: int, reason: str
) -> Consent:
    """The patient withdraws: the consent is marked and the plan ends (consent_withdrawn)."""
    who_may.require(actor, CLINICIANS, "record a withdrawal of consent", system=False)
    written = check_text("reason", reason, limit=500, required=True)
    assert written is not None
    plan = get_plan(session, plan_id)
    consent = standing_consent(session, plan_id)
    if consent is None or plan.status == "ended":
        raise Conflict(f"plan {plan.id} has no standing consent to withdraw")
    now = clock.now()
    consent.withdrawn_at, consent.withdrawn_reason = now, written
    close_plan(session, actor, now, plan, "ended", "consent_withdrawn", written)
    return consent


# ---- the document -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    heading: str
    body: str


def sections_of(text: str) -> list[Section]:
    """The text's blocks as (heading, body): a block's first line is its heading."""
    found = []
    for block in text.strip().split("\n\n"):
        heading, _, body = block.partition("\n")
        found.append(Section(heading, body))
    return found


def _name(session: Session, user_id: int | None) -> str:
    user = session.get(User, user_id) if user_id is not None else None
    return "" if user is None else f"{user.full_name} ({user.role})"


def consent_html(session: Session, consent: Consent) -> str:
    plan = get_plan(session, consent.plan_id)
    patient = get_patient(session, plan.patient_id)
    png = consent.patient_drawn_png
    return _env.get_template("consent_pdf.html").render(
        consent=consent,
        patient=patient,
        sections=sections_of(consent.text),
        drawn=None if png is None else PNG_DATA_URL + base64.b64encode(png).decode(),
        clinician=_name(session, consent.clinician_id),
        printed_on=consent.created_at.date(),
    )


def render_pdf(html: str) -> bytes:
    """WeasyPrint, imported on use: loading it costs about a second (see ledger_pdf)."""
    from weasyprint import HTML  # type: ignore[import-untyped]

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def consent_pdf(session: Session, consent_id: int) -> bytes:
    consent = get_consent(session, consent_id)
    if consent.pdf is None:
        return render_pdf(consent_html(session, consent))
    return consent.pdf
