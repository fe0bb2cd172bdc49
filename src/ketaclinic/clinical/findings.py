"""What a screening says: findings, trials, workup items and the decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["absolute", "relative", "interaction", "missing", "indication", "note"]
Decision = Literal["eligible", "eligible_with_precautions", "not_eligible", "needs_information"]
Route = Literal["iv", "esketamine", "im", "oral"]
ROUTES: tuple[Route, ...] = ("iv", "esketamine", "im", "oral")
ResistanceStatus = Literal["resistant", "not_resistant", "unknown", "not_applicable"]
WorkupStatus = Literal["done", "missing", "stale", "not_required"]


@dataclass(frozen=True)
class Finding:
    id: str
    kind: Kind
    message: str
    evidence: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Indication:
    id: str
    on_label: bool
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Trial:
    """One course of one drug, merged from the prescriptions that make it."""

    medication: str
    drug_class: str
    daily_dose_mg: float | None
    minimum_adequate_mg: float | None
    weeks: float | None
    adequate: bool
    outcome: str | None
    assumptions: tuple[str, ...]
    evidence: tuple[str, ...]
    # Still being taken on the screening date.
    ongoing: bool = False
    start: str | None = None


@dataclass(frozen=True)
class DepressionResistance:
    status: ResistanceStatus
    failed_adequate_trials: int
    classes: tuple[str, ...]
    trials: tuple[Trial, ...]


@dataclass(frozen=True)
class PainTreatment:
    category: str
    name: str
    failed: bool
    outcome: str | None
    assumptions: tuple[str, ...]
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class PainResistance:
    status: ResistanceStatus
    failed_categories: tuple[str, ...]
    treatments: tuple[PainTreatment, ...]


@dataclass(frozen=True)
class WorkupItem:
    test: str
    status: WorkupStatus
    date: str | None
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stage:
    stage: int | None = None
    score: float | None = None
    band: str | None = None
    assumptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Staging:
    thase_rush: Stage
    maudsley: Stage
    mgh: Stage


@dataclass(frozen=True)
class Screening:
    patient: str
    route: Route
    as_of: str
    decision: Decision
    indications: tuple[Indication, ...]
    treatment_resistance: DepressionResistance
    pain_resistance: PainResistance
    findings: tuple[Finding, ...]
    workup: tuple[WorkupItem, ...]
    staging: Staging | None
    workup_complete: bool
    policy_name: str
    policy_sha256: str
    extra: dict[str, object] = field(default_factory=dict)
