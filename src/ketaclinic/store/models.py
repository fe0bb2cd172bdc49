"""The clinic's records as tables.

Clinical rows are never updated in place or deleted: a correction is a new row that
``supersedes`` the old one (whose ``state`` becomes ``superseded``), and a mistake is marked
``entered_in_error``. Each clinical row keeps the FHIR R4 resource it stands for
(``resource``), so the screening engine reads stored records exactly as it reads a bundle;
the typed columns beside it serve the chart and search.

Screenings are immutable once saved; signatures and overrides are rows of their own.
Audit events are append-only (the migration adds triggers that refuse UPDATE and DELETE).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("prescriber", "nurse", "front_desk", "admin")
# Record states: current (shown and screened), superseded (replaced by a correction),
# entered_in_error (a mistake, kept for the history).
STATES = ("current", "superseded", "entered_in_error")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # The second factor (services.second_factor): the shared TOTP secret, base32, once the user
    # has confirmed it with a code; and the time step of the last code accepted, so that a code
    # seen over a shoulder cannot be used again.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)


class ApiToken(Base):
    """A per-user bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class WebSession(Base):
    """A signed-in browser; the cookie holds a random id whose SHA-256 is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class PendingSignIn(Base):
    """A sign-in halfway: the password was right, the second factor's code is still to come.
    The browser holds a random id whose SHA-256 is stored; it is no session and opens no page."""

    __tablename__ = "pending_sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    cookie_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    next_path: Mapped[str] = mapped_column(String(1000))
    # Enrolment: the secret shown to the user, stored on the user only once a code confirms it.
    new_secret: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(String(40), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100), index=True)
    birth_date: Mapped[date] = mapped_column(Date, index=True)
    sex: Mapped[str] = mapped_column(String(10))  # FHIR gender: female, male, other, unknown
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(400))
    escort_name: Mapped[str | None] = mapped_column(String(200))
    escort_phone: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ClinicalRow:
    """Columns every clinical record has: who, when, history, and its FHIR resource."""

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default="current")
    supersedes_id: Mapped[int | None] = mapped_column(Integer)
    # The FHIR R4 resource (JSON text) the row stands for, as imported or as built from a form.
    resource: Mapped[str] = mapped_column(Text)
    # SHA-256 of the canonical resource: importing the same bundle twice creates nothing new.
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(20))  # form, import
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(String(500))  # why corrected or marked in error


class ConditionRecord(ClinicalRow, Base):
    __tablename__ = "conditions"

    system: Mapped[str | None] = mapped_column(String(100))
    code: Mapped[str | None] = mapped_column(String(40))
    display: Mapped[str] = mapped_column(String(300))
    clinical_status: Mapped[str | None] = mapped_column(String(20))
    onset: Mapped[date | None] = mapped_column(Date)
    abatement: Mapped[date | None] = mapped_column(Date)


class MedicationRecord(ClinicalRow, Base):
    """A MedicationStatement or MedicationRequest: one prescription of one trial."""

    __tablename__ = "medications"

    resource_type: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(300))
    ingredient: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(20))
    dose_mg: Mapped[float | None] = mapped_column(Float)
    frequency: Mapped[int | None] = mapped_column(Integer)
    period: Mapped[float | None] = mapped_column(Float)
    period_unit: Mapped[str | None] = mapped_column(String(5))
    start: Mapped[date | None] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_text: Mapped[str | None] = mapped_column(String(500))


class ObservationRecord(ClinicalRow, Base):
    """Vitals, labs and scale scores. Blood pressure is one row with both halves."""

    __tablename__ = "observations"

    loinc: Mapped[str | None] = mapped_column(String(20), index=True)
    display: Mapped[str] = mapped_column(String(200))
    value: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(40))
    systolic: Mapped[float | None] = mapped_column(Float)
    diastolic: Mapped[float | None] = mapped_column(Float)
    effective_at: Mapped[datetime | None] = mapped_column(DateTime)


class AllergyRecord(ClinicalRow, Base):
    __tablename__ = "allergies"

    substance: Mapped[str] = mapped_column(String(200))
    system: Mapped[str | None] = mapped_column(String(100))
    code: Mapped[str | None] = mapped_column(String(40))
    verification_status: Mapped[str | None] = mapped_column(String(20))
    recorded_date: Mapped[date | None] = mapped_column(Date)


class ProcedureRecord(ClinicalRow, Base):
    __tablename__ = "procedures"

    system: Mapped[str | None] = mapped_column(String(100))
    code: Mapped[str | None] = mapped_column(String(40))
    display: Mapped[str] = mapped_column(String(300))
    status: Mapped[str | None] = mapped_column(String(20))
    performed: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(30))


CLINICAL_TABLES: tuple[type[ClinicalRow], ...] = (
    ConditionRecord,
    MedicationRecord,
    ObservationRecord,
    AllergyRecord,
    ProcedureRecord,
)


class Screening(Base):
    """One run of the engine on a patient's stored record. Never changed once saved."""

    __tablename__ = "screenings"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    route: Mapped[str] = mapped_column(String(20))
    as_of: Mapped[date] = mapped_column(Date)
    decision: Mapped[str] = mapped_column(String(40))
    # The bundle the engine read (input snapshot) and the contract's JSON output, as text.
    input_bundle: Mapped[str] = mapped_column(Text)
    output: Mapped[str] = mapped_column(Text)
    policy_name: Mapped[str] = mapped_column(String(100))
    policy_sha256: Mapped[str] = mapped_column(String(64))
    engine_version: Mapped[str] = mapped_column(String(40))
    run_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    signature: Mapped[ScreeningSignature | None] = relationship(
        back_populates="screening", uselist=False, lazy="selectin"
    )
    override: Mapped[ScreeningOverride | None] = relationship(
        back_populates="screening", uselist=False, lazy="selectin"
    )


class ScreeningSignature(Base):
    __tablename__ = "screening_signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    screening_id: Mapped[int] = mapped_column(ForeignKey("screenings.id"), unique=True)
    signed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime] = mapped_column(DateTime)
    screening: Mapped[Screening] = relationship(back_populates="signature")


class ScreeningOverride(Base):
    __tablename__ = "screening_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    screening_id: Mapped[int] = mapped_column(ForeignKey("screenings.id"), unique=True)
    decision: Mapped[str] = mapped_column(String(40))
    justification: Mapped[str] = mapped_column(Text)
    overridden_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    overridden_at: Mapped[datetime] = mapped_column(DateTime)
    screening: Mapped[Screening] = relationship(back_populates="override")


class AuditEvent(Base):
    """Who did what to which patient's data, when and from where. Append-only."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_patient_at", "patient_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(10))  # read, write, sign-in, ...
    what: Mapped[str] = mapped_column(String(300))
    patient_id: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(String(64))


class ImportRun(Base):
    """A FHIR bundle imported into a patient's record (its hash makes re-imports no-ops)."""

    __tablename__ = "imports"
    __table_args__ = (UniqueConstraint("patient_id", "bundle_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    bundle_sha256: Mapped[str] = mapped_column(String(64))
    created: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


# ---- the controlled-substance ledger (issue 7) ----------------------------------------------
# Quantities are whole micrograms (µg) and volumes whole microlitres (µL): exact sums in a legal
# record. Products and lots never change once made; ledger entries are append-only and chained
# by SHA-256 (the 0002 migration adds the triggers).


class LedgerProduct(Base):
    """A stocked form: a ketamine HCl vial of one strength and volume, or an esketamine device."""

    __tablename__ = "ledger_products"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    substance: Mapped[str] = mapped_column(String(20))  # ketamine, esketamine
    form: Mapped[str] = mapped_column(String(20))  # vial, nasal device
    name: Mapped[str] = mapped_column(String(200))
    strength_ug_per_ml: Mapped[int | None] = mapped_column(Integer)
    volume_ul: Mapped[int | None] = mapped_column(Integer)
    unit_ug: Mapped[int] = mapped_column(BigInteger)  # drug in one vial or device
    created_at: Mapped[datetime] = mapped_column(DateTime)


class LedgerLot(Base):
    __tablename__ = "ledger_lots"
    __table_args__ = (UniqueConstraint("product_id", "lot_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("ledger_products.id"))
    lot_number: Mapped[str] = mapped_column(String(60))
    expiry: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class LedgerChain(Base):
    """The clinic's chain (one per database, id 1): its row is locked to serialise appends."""

    __tablename__ = "ledger_chain"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class LedgerEntry(Base):
    """One movement of stock (or a count). Never updated or deleted; corrections are new entries.

    ``sha256`` covers every column but ``id`` and itself, after ``previous_sha256``."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_lot_seq", "lot_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    lot_id: Mapped[int] = mapped_column(ForeignKey("ledger_lots.id"))
    change_ug: Mapped[int] = mapped_column(BigInteger)  # signed change to the lot's balance
    units: Mapped[int | None] = mapped_column(Integer)  # whole vials or devices, when counted so
    balance_ug: Mapped[int] = mapped_column(BigInteger)  # the lot's balance after this entry
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_by: Mapped[str] = mapped_column(String(64))
    witness_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    # The session and dose it records (issue 5); no foreign key until those tables exist.
    session_ref: Mapped[int | None] = mapped_column(Integer)
    dose_ref: Mapped[int | None] = mapped_column(Integer, unique=True)
    supplier: Mapped[str | None] = mapped_column(String(200))  # or recipient, when leaving
    supplier_dea: Mapped[str | None] = mapped_column(String(20))
    invoice: Mapped[str | None] = mapped_column(String(100))
    dea41_reference: Mapped[str | None] = mapped_column(String(100))
    counted_ug: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(500))
    previous_sha256: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)


class LedgerCount(Base):
    """A physical count against the balance; a difference stays listed until resolved."""

    __tablename__ = "ledger_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("ledger_lots.id"), index=True)
    expected_ug: Mapped[int] = mapped_column(BigInteger)
    counted_ug: Mapped[int] = mapped_column(BigInteger)
    inventory: Mapped[str | None] = mapped_column(String(20))  # initial, biennial, or none
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(String(500))
    resolution_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))


class LossReport(Base):
    """A theft or loss to report within one business day of discovery."""

    __tablename__ = "ledger_loss_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    discovered_at: Mapped[datetime] = mapped_column(DateTime)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    filed_at: Mapped[datetime | None] = mapped_column(DateTime)
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reference: Mapped[str | None] = mapped_column(String(100))


# ---- treatment plans and monitored sessions (issue 5) -----------------------------------------
# Plans change by new versions; a session moves through its states by events that are never
# changed (session_events keeps each transition with who, when and why). Doses, vitals, alerts,
# scores and adverse events are rows of their own so nothing recorded at the chair is overwritten.


class TreatmentPlan(Base):
    """A course of treatment by one route; ``version`` points at the current PlanVersion."""

    __tablename__ = "treatment_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    route: Mapped[str] = mapped_column(String(20))  # iv, esketamine, im, oral, sublingual
    indication: Mapped[str] = mapped_column(String(40))
    screening_id: Mapped[int] = mapped_column(ForeignKey("screenings.id"))
    status: Mapped[str] = mapped_column(String(20))  # awaiting_consent, active, paused, ended
    version: Mapped[int] = mapped_column(Integer, default=1)
    integration_sessions: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    end_reason: Mapped[str | None] = mapped_column(String(500))


class PlanVersion(Base):
    """One version of a plan's dose, schedule and expected cost (JSON text). Never changed."""

    __tablename__ = "treatment_plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    dose_mg: Mapped[float | None] = mapped_column(Float)
    mg_per_kg: Mapped[float | None] = mapped_column(Float)
    infusion_minutes: Mapped[int | None] = mapped_column(Integer)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    weight_on: Mapped[date | None] = mapped_column(Date)
    dose: Mapped[str] = mapped_column(Text)  # the clinical Dose with its warnings, as JSON
    schedule: Mapped[str] = mapped_column(Text)  # planned sessions, as JSON
    cost: Mapped[str] = mapped_column(Text)  # expected series cost with billing lines, as JSON
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PlanEvent(Base):
    """created, changed, consented, started, paused, resumed, ended, consent_withdrawn."""

    __tablename__ = "treatment_plan_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(String(500))


class Consent(Base):
    """Informed consent to one plan version: the text shown, both signatures, the PDF."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    plan_version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    patient_typed_name: Mapped[str | None] = mapped_column(String(200))
    patient_drawn_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    patient_signed_at: Mapped[datetime | None] = mapped_column(DateTime)
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    clinician_signed_at: Mapped[datetime | None] = mapped_column(DateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)
    withdrawn_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class TreatmentSession(Base):
    """A planned visit: a dosing session or an integration (psychotherapy) session.

    ``state``: scheduled, checked_in, pre_dose_check, dosing, observation, ready_for_discharge,
    discharged, cancelled, stopped. The times are filled as the session reaches them."""

    __tablename__ = "treatment_sessions"
    __table_args__ = (
        UniqueConstraint("plan_id", "kind", "number"),
        Index("ix_treatment_sessions_planned_on", "planned_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # dosing, integration
    number: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str | None] = mapped_column(String(20))
    planned_on: Mapped[date] = mapped_column(Date)
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime)
    chair: Mapped[str | None] = mapped_column(String(40))
    planned_mg: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(30))
    state_at: Mapped[datetime] = mapped_column(DateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime)
    dosing_started_at: Mapped[datetime | None] = mapped_column(DateTime)
    dosing_ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    observation_ends_at: Mapped[datetime | None] = mapped_column(DateTime)
    discharged_at: Mapped[datetime | None] = mapped_column(DateTime)
    stop_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class SessionEvent(Base):
    """One transition of a session, with who, when, why and any data it carried (JSON)."""

    __tablename__ = "session_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_state: Mapped[str] = mapped_column(String(30))
    to_state: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(String(500))
    data: Mapped[str | None] = mapped_column(Text)


class PredoseCheck(Base):
    """The checks before dosing and their outcome: go, confirm (needs a prescriber) or stop."""

    __tablename__ = "session_predose_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    screening_id: Mapped[int | None] = mapped_column(ForeignKey("screenings.id"))
    systolic: Mapped[float | None] = mapped_column(Float)
    diastolic: Mapped[float | None] = mapped_column(Float)
    pregnancy_test_ok: Mapped[bool | None] = mapped_column(Boolean)
    fasting_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    rems_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    escort_confirmed: Mapped[bool] = mapped_column(Boolean)
    benzodiazepine_today: Mapped[bool] = mapped_column(Boolean)
    decision: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[str] = mapped_column(Text)  # JSON list of {id, message, source}
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    confirmation_reason: Mapped[str | None] = mapped_column(String(500))


class SessionDose(Base):
    """A dose given: an infusion or injection, an oral dose, or one esketamine device."""

    __tablename__ = "session_doses"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    drug: Mapped[str] = mapped_column(String(20))  # ketamine, esketamine
    route: Mapped[str] = mapped_column(String(20))
    dose_mg: Mapped[float] = mapped_column(Float)
    lot: Mapped[str] = mapped_column(String(60))
    device_number: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    outside_plan: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmation_reason: Mapped[str | None] = mapped_column(String(500))
    ledger_seq: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SessionVitals(Base):
    __tablename__ = "session_vitals"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime)
    systolic: Mapped[float | None] = mapped_column(Float)
    diastolic: Mapped[float | None] = mapped_column(Float)
    heart_rate: Mapped[float | None] = mapped_column(Float)
    spo2: Mapped[float | None] = mapped_column(Float)
    respiratory_rate: Mapped[float | None] = mapped_column(Float)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SessionAlert(Base):
    """A vital-sign alert; it stays open until a nurse acknowledges it with the action taken."""

    __tablename__ = "session_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    vitals_id: Mapped[int | None] = mapped_column(ForeignKey("session_vitals.id"))
    rule: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(300))
    raised_at: Mapped[datetime] = mapped_column(DateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action_taken: Mapped[str | None] = mapped_column(String(500))
    infusion_stopped: Mapped[bool] = mapped_column(Boolean, default=False)


class SessionScore(Base):
    """Sedation (MOAA/S) or dissociation (CADSS) during a session."""

    __tablename__ = "session_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    scale: Mapped[str] = mapped_column(String(20))  # moaas, cadss
    score: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AdverseEvent(Base):
    __tablename__ = "adverse_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # nausea, vomiting, hypertension, ...
    severity: Mapped[str] = mapped_column(String(20))  # mild, moderate, severe
    description: Mapped[str | None] = mapped_column(String(1000))
    onset_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Discharge(Base):
    """The discharge checklist as it stood, and a prescriber's override when it did not pass."""

    __tablename__ = "session_discharges"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), unique=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    alert_and_oriented: Mapped[bool] = mapped_column(Boolean)
    escort_present: Mapped[bool] = mapped_column(Boolean)
    no_driving_acknowledged: Mapped[bool] = mapped_column(Boolean)
    blockers: Mapped[str] = mapped_column(Text)  # JSON list of unmet items at discharge
    override_reason: Mapped[str | None] = mapped_column(String(500))
    override_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RemsEnrolment(Base):
    """The site's REMS certification (``patient_id`` empty) or a patient's REMS enrolment."""

    __tablename__ = "rems_enrolments"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # site, patient
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    reference: Mapped[str] = mapped_column(String(100))
    enrolled_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RemsForm(Base):
    """The esketamine REMS Patient Monitoring Form of one session, as versioned data (JSON)."""

    __tablename__ = "rems_forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), unique=True)
    form_version: Mapped[str] = mapped_column(String(20))
    data: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submission_reference: Mapped[str | None] = mapped_column(String(100))


class PdmpCheck(Base):
    """A prescription-monitoring programme check before a home prescription."""

    __tablename__ = "pdmp_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    result: Mapped[str] = mapped_column(String(20))  # clear, concern
    note: Mapped[str | None] = mapped_column(String(1000))


class HomePrescription(Base):
    __tablename__ = "home_prescriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    pdmp_check_id: Mapped[int] = mapped_column(ForeignKey("pdmp_checks.id"))
    dose_mg: Mapped[float] = mapped_column(Float)
    doses: Mapped[int] = mapped_column(Integer)
    written_at: Mapped[datetime] = mapped_column(DateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class HomeCheckin(Base):
    """The check-in before a home dose: sitter present, no driving, side effects."""

    __tablename__ = "home_checkins"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    sitter_present: Mapped[bool | None] = mapped_column(Boolean)
    no_driving: Mapped[bool | None] = mapped_column(Boolean)
    side_effects: Mapped[str | None] = mapped_column(String(1000))
    reported_by: Mapped[str | None] = mapped_column(String(20))  # patient, staff
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class HomeDose(Base):
    """A home dose in the diary, written by the patient or by staff."""

    __tablename__ = "home_doses"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    prescription_id: Mapped[int] = mapped_column(ForeignKey("home_prescriptions.id"))
    checkin_id: Mapped[int | None] = mapped_column(ForeignKey("home_checkins.id"))
    taken_at: Mapped[datetime] = mapped_column(DateTime)
    dose_mg: Mapped[float] = mapped_column(Float)
    reported_by: Mapped[str] = mapped_column(String(20))  # patient, staff
    note: Mapped[str | None] = mapped_column(String(1000))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


# ---- outcomes: questionnaires, self-report links, safety alerts (issue 6) --------------------


class QuestionnaireResponse(Base):
    """Every item answer of one completed scale (JSON list), with its total and band."""

    __tablename__ = "questionnaire_responses"
    __table_args__ = (Index("ix_questionnaire_responses_patient_scale", "patient_id", "scale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    scale: Mapped[str] = mapped_column(String(20))
    answers: Mapped[str] = mapped_column(Text)
    total: Mapped[float] = mapped_column(Float)
    band: Mapped[str | None] = mapped_column(String(40))
    completed_at: Mapped[datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(20))  # staff, link
    link_id: Mapped[int | None] = mapped_column(ForeignKey("self_report_links.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_sessions.id"))
    state: Mapped[str] = mapped_column(String(20), default="current")  # or entered_in_error
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SelfReportLink(Base):
    """A single-use link for a patient to answer one scale; only the token's SHA-256 is kept."""

    __tablename__ = "self_report_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    scale: Mapped[str] = mapped_column(String(20))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class QuestionnaireAssignment(Base):
    """A scale due on a schedule: before each session and/or every ``every_days``."""

    __tablename__ = "questionnaire_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    scale: Mapped[str] = mapped_column(String(20))
    before_each_session: Mapped[bool] = mapped_column(Boolean, default=False)
    every_days: Mapped[int | None] = mapped_column(Integer)
    starts_on: Mapped[date] = mapped_column(Date)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SafetyAlert(Base):
    """An urgent suicidality alert a prescriber must acknowledge with the action taken."""

    __tablename__ = "safety_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_responses.id"))
    rule: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(500))
    raised_at: Mapped[datetime] = mapped_column(DateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action_taken: Mapped[str | None] = mapped_column(String(1000))


# ---- resources received from other clinics (issue 8) -----------------------------------------


class ReceivedResource(Base):
    """A resource of an imported bundle of a type the clinic keeps no records of its own for (a
    dose given elsewhere, a questionnaire's answers): kept as it came, exported again as it came
    (services/received_resources.py).

    Versioned like the clinical rows: marking one entered in error adds a version, and only
    ``state`` of the old one changes; the 0005 migration refuses any other change, and deletes.
    """

    __tablename__ = "received_resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    resource_type: Mapped[str] = mapped_column(String(40))
    # The FHIR R4 resource (JSON text), its subject and references pointed at this record.
    resource: Mapped[str] = mapped_column(Text)
    # SHA-256 of the canonical resource: importing the same resource twice creates nothing new.
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    # The import that brought it (a version marked in error keeps its original's).
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"))
    state: Mapped[str] = mapped_column(String(20), default="current")
    supersedes_id: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(String(500))  # why marked in error
