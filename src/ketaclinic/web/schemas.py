"""The JSON API's request and response bodies (pydantic v2).

Request bodies check types only (a date is a date, a number a number, no unknown keys). The
clinic's own checks - plausible ranges, dates not in the future, an end after its start, a
free MRN - live in the services, which refuse with the field named; the API answers both
kinds of refusal with 422 and the field's location.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from ketaclinic.clinical.facts import ICD10, RXNORM, SNOMED
from ketaclinic.clinical.findings import Decision, Route
from ketaclinic.services import records_forms as forms
from ketaclinic.services.patients import PatientIn


class Body(BaseModel):
    """A request body: unknown keys are refused, so a misspelt field is not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- patients -------------------------------------------------------------------------------


class PatientCreate(Body):
    mrn: str = Field(description="Medical record number, unique in the clinic")
    given_name: str
    family_name: str
    birth_date: date
    sex: str = Field(description="FHIR administrative gender: female, male, other or unknown")
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    escort_name: str | None = Field(None, description="Who takes the patient home")
    escort_phone: str | None = None

    def values(self) -> PatientIn:
        return PatientIn(**self.model_dump())


class PatientOut(Out):
    id: int
    mrn: str
    given_name: str
    family_name: str
    birth_date: date
    sex: str
    phone: str | None
    email: str | None
    address: str | None
    escort_name: str | None
    escort_phone: str | None
    created_at: datetime


class PatientPage(BaseModel):
    items: list[PatientOut]
    total: int
    page: int
    size: int
    pages: int


# --- records: what is sent ------------------------------------------------------------------


class ConditionCreate(Body):
    code: str = Field(description="ICD-10-CM (default) or SNOMED CT code")
    display: str
    system: str = Field(ICD10, description="A code system URL, or icd10 / snomed")
    clinical_status: str = "active"
    verification_status: str = "confirmed"
    onset: date | None = None
    abatement: date | None = None
    severe: bool = False

    def values(self) -> forms.ConditionIn:
        return forms.ConditionIn(**self.model_dump())


class MedicationCreate(Body):
    """One prescription of a trial, with its dose and, when known, its outcome."""

    name: str
    start: date | None = None
    end: date | None = None
    status: str = "completed"
    rxnorm: str | None = None
    dose_mg: float | None = None
    frequency: int = 1
    period: float = 1
    period_unit: str = Field("d", description="h, d, wk or mo")
    outcome: str | None = Field(
        None, description="no-response, partial-response, response, remission or intolerance"
    )
    outcome_text: str | None = None

    def values(self) -> forms.MedicationIn:
        return forms.MedicationIn(**self.model_dump())


class ObservationCreate(Body):
    """A vital sign, lab or scale total by LOINC. Blood pressure (85354-9) takes systolic and
    diastolic; a pregnancy test takes ``result`` positive/negative or a numeric ``value``."""

    loinc: str
    effective: datetime | date
    value: float | None = None
    systolic: float | None = None
    diastolic: float | None = None
    result: str | None = None
    unit: str | None = None
    display: str | None = None

    @field_validator("effective", mode="wrap")
    @classmethod
    def _one_error(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # One message for the field, not one per member of the union.
        try:
            return handler(value)
        except ValidationError:
            raise ValueError("must be a date or a date and time (ISO 8601)") from None

    def values(self) -> forms.ObservationIn:
        return forms.ObservationIn(**self.model_dump())


class AllergyCreate(Body):
    substance: str
    code: str | None = None
    system: str = RXNORM
    clinical_status: str = "active"
    verification_status: str = "confirmed"
    recorded: date | None = None

    def values(self) -> forms.AllergyIn:
        return forms.AllergyIn(**self.model_dump())


class ProcedureCreate(Body):
    code: str
    display: str
    system: str = SNOMED
    status: str = "completed"
    performed: date | None = None
    performed_end: date | None = None
    outcome: str | None = None
    outcome_text: str | None = None

    def values(self) -> forms.ProcedureIn:
        return forms.ProcedureIn(**self.model_dump())


NewValues = TypeVar(
    "NewValues",
    ConditionCreate,
    MedicationCreate,
    ObservationCreate,
    AllergyCreate,
    ProcedureCreate,
)


class Correction(Body, Generic[NewValues]):
    values: NewValues = Field(description="The whole record as it should read now")
    reason: str = Field(description="Why it is corrected (kept with the new version)")


class EnteredInError(Body):
    reason: str = Field(description="Why the record was a mistake")


class TrialOutcome(Body):
    outcome: str | None = Field(
        None, description="no-response, partial-response, response, remission or intolerance"
    )
    outcome_text: str | None = Field(None, description="The outcome in the patient's words")
    reason: str = "trial outcome taken in the interview"


# --- records: what is shown -----------------------------------------------------------------


class RecordOut(Out):
    """Every version of every record carries who and when, its place in the history, and the
    FHIR R4 resource it stands for."""

    id: int
    patient_id: int
    state: Literal["current", "superseded", "entered_in_error"]
    supersedes_id: int | None
    source: str
    recorded_at: datetime
    recorded_by_id: int | None
    reason: str | None
    resource: dict[str, Any]

    @field_validator("resource", mode="before")
    @classmethod
    def _parsed(cls, value: Any) -> Any:
        return orjson.loads(value) if isinstance(value, str | bytes) else value


class ConditionOut(RecordOut):
    kind: Literal["condition"] = "condition"
    system: str | None
    code: str | None
    display: str
    clinical_status: str | None
    onset: date | None
    abatement: date | None


class MedicationOut(RecordOut):
    kind: Literal["medication"] = "medication"
    resource_type: str
    name: str
    ingredient: str | None
    status: str | None
    dose_mg: float | None
    frequency: int | None
    period: float | None
    period_unit: str | None
    start: date | None
    end: date | None
    outcome: str | None
    outcome_text: str | None


class ObservationOut(RecordOut):
    kind: Literal["observation"] = "observation"
    loinc: str | None
    display: str
    value: float | None
    value_text: str | None
    unit: str | None
    systolic: float | None
    diastolic: float | None
    effective_at: datetime | None


class AllergyOut(RecordOut):
    kind: Literal["allergy"] = "allergy"
    substance: str
    system: str | None
    code: str | None
    verification_status: str | None
    recorded_date: date | None


class ProcedureOut(RecordOut):
    kind: Literal["procedure"] = "procedure"
    system: str | None
    code: str | None
    display: str
    status: str | None
    performed: date | None
    outcome: str | None


AnyRecordOut = Annotated[
    ConditionOut | MedicationOut | ObservationOut | AllergyOut | ProcedureOut,
    Field(discriminator="kind"),
]
OUT_MODELS: dict[forms.Kind, type[RecordOut]] = {
    "condition": ConditionOut,
    "medication": MedicationOut,
    "observation": ObservationOut,
    "allergy": AllergyOut,
    "procedure": ProcedureOut,
}


class ImportOut(BaseModel):
    created: int = Field(description="Resources stored as new records")
    unchanged: int = Field(description="Resources the patient's record already held")
    already_imported: bool = Field(description="This very bundle was imported before")
    message: str


# --- screenings -----------------------------------------------------------------------------


class ScreeningCreate(Body):
    route: Route
    as_of: date | None = Field(None, description="Screening date (default: today)")


class OverrideCreate(Body):
    decision: Decision
    justification: str = Field(description="Why, in at least 20 characters")


class SignatureOut(Out):
    signed_by_id: int
    signed_at: datetime


class OverrideOut(Out):
    decision: str
    justification: str
    overridden_by_id: int
    overridden_at: datetime


class ScreeningSummaryOut(BaseModel):
    """A screening as a list or the chart shows it: the decision that stands, and whether a
    record changed after it was signed (stale)."""

    id: int
    patient_id: int
    route: str
    as_of: date
    created_at: datetime
    decision: str = Field(description="The decision that stands (the override's, if any)")
    engine_decision: str
    overridden: bool
    justification: str | None = Field(description="The override's justification, if any")
    signed: bool
    stale: bool


class ScreeningOut(ScreeningSummaryOut):
    engine_version: str
    policy_name: str
    policy_sha256: str
    run_by_id: int | None
    signature: SignatureOut | None
    override: OverrideOut | None
    output: dict[str, Any] = Field(description="The screening contract's JSON object")


# --- the chart ------------------------------------------------------------------------------


class TrialLineOut(BaseModel):
    ingredient: str
    first_start: date | None
    prescriptions: list[MedicationOut]


class ChartOut(BaseModel):
    patient: PatientOut
    diagnoses: list[ConditionOut]
    trials: list[TrialLineOut]
    vitals: list[ObservationOut]
    labs: list[ObservationOut]
    scales: list[ObservationOut]
    allergies: list[AllergyOut]
    procedures: list[ProcedureOut]
    latest_screening: ScreeningSummaryOut | None
