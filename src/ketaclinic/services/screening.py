"""Screen a FHIR bundle: read it, run the engine, give the contract's JSON object."""

from __future__ import annotations

from datetime import date
from typing import Any

from ketaclinic.clinical.findings import (
    ROUTES,
    DepressionResistance,
    Finding,
    PainResistance,
    Route,
    Screening,
    Stage,
    Trial,
    WorkupItem,
)
from ketaclinic.clinical.screening import screen
from ketaclinic.fhir.bundle import read_bundle
from ketaclinic.policy import DEFAULT, Policy


def screen_bundle(
    data: bytes, *, route: str = "iv", as_of: date, policy: Policy = DEFAULT
) -> dict[str, Any]:
    """The screening JSON object of spec/screening.md for one bundle (BundleError on bad input)."""
    return to_json(screen(read_bundle(data), as_of, as_route(route), policy))


def as_route(value: str) -> Route:
    for route in ROUTES:
        if value == route:
            return route
    raise ValueError(f"unknown route {value!r} (choose from {', '.join(ROUTES)})")


def _number(value: float | None) -> float | int | None:
    """Whole numbers print as integers (100, not 100.0); others keep two decimals."""
    if value is None:
        return None
    rounded = round(value, 2)
    return int(rounded) if rounded == int(rounded) else rounded


def _trial(t: Trial) -> dict[str, Any]:
    return {
        "medication": t.medication,
        "class": t.drug_class,
        "daily_dose_mg": _number(t.daily_dose_mg),
        "minimum_adequate_mg": _number(t.minimum_adequate_mg),
        "weeks": _number(t.weeks),
        "adequate": t.adequate,
        "outcome": t.outcome,
        "assumptions": list(t.assumptions),
        "evidence": list(t.evidence),
    }


def _depression(r: DepressionResistance) -> dict[str, Any]:
    return {
        "status": r.status,
        "failed_adequate_trials": r.failed_adequate_trials,
        "classes": list(r.classes),
        "trials": [_trial(t) for t in r.trials],
    }


def _pain(r: PainResistance) -> dict[str, Any]:
    return {
        "status": r.status,
        "failed_categories": list(r.failed_categories),
        "treatments": [
            {
                "category": t.category,
                "name": t.name,
                "failed": t.failed,
                "outcome": t.outcome,
                "assumptions": list(t.assumptions),
                "evidence": list(t.evidence),
            }
            for t in r.treatments
        ],
    }


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "kind": f.kind,
        "message": f.message,
        "evidence": list(f.evidence),
        "source": f.source,
    }


def _workup(w: WorkupItem) -> dict[str, Any]:
    return {"test": w.test, "status": w.status, "date": w.date, "evidence": list(w.evidence)}


def _stage(s: Stage, *keys: str) -> dict[str, Any]:
    values = {"stage": s.stage, "score": _number(s.score), "band": s.band}
    return {**{k: values[k] for k in keys}, "assumptions": list(s.assumptions)}


def to_json(s: Screening) -> dict[str, Any]:
    return {
        "patient": s.patient,
        "route": s.route,
        "as_of": s.as_of,
        "decision": s.decision,
        "indications": [
            {"id": i.id, "on_label": i.on_label, "evidence": list(i.evidence)}
            for i in s.indications
        ],
        "treatment_resistance": _depression(s.treatment_resistance),
        "pain_resistance": _pain(s.pain_resistance),
        "findings": [_finding(f) for f in s.findings],
        "workup": [_workup(w) for w in s.workup],
        "staging": None
        if s.staging is None
        else {
            "thase_rush": _stage(s.staging.thase_rush, "stage"),
            "maudsley": _stage(s.staging.maudsley, "score", "band"),
            "mgh": _stage(s.staging.mgh, "score"),
        },
        "workup_complete": s.workup_complete,
        "policy": {"name": s.policy_name, "sha256": s.policy_sha256},
    }
