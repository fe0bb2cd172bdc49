"""The output schema (src/ketaclinic/schema/screening.schema.json) against spec/screening.md."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2] / "src" / "ketaclinic" / "schema" / "screening.schema.json"
)


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def validator() -> Draft202012Validator:
    """A validator that also checks `format` (dates), which 2020-12 only annotates by default."""
    return Draft202012Validator(load_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors(document: object) -> list[str]:
    return [e.message for e in validator().iter_errors(document)]


# The spec's own example, completed by hand: TRD after sertraline and venlafaxine, one
# benzodiazepine, workup not yet complete.
VALID: dict[str, Any] = {
    "patient": "Patient/example",
    "route": "iv",
    "as_of": "2026-11-01",
    "decision": "eligible_with_precautions",
    "indications": [
        {"id": "treatment_resistant_depression", "on_label": False, "evidence": ["Condition/1"]}
    ],
    "treatment_resistance": {
        "status": "resistant",
        "failed_adequate_trials": 2,
        "classes": ["SSRI", "SNRI"],
        "trials": [
            {
                "medication": "sertraline",
                "class": "SSRI",
                "daily_dose_mg": 100,
                "minimum_adequate_mg": 50,
                "weeks": 10,
                "adequate": True,
                "outcome": "no-response",
                "assumptions": [],
                "evidence": ["MedicationStatement/3"],
            },
            {
                "medication": "venlafaxine",
                "class": "SNRI",
                "daily_dose_mg": 225,
                "minimum_adequate_mg": 150,
                "weeks": 12.5,
                "adequate": True,
                "outcome": "partial-response",
                "assumptions": ["outcome read from text"],
                "evidence": ["MedicationStatement/4", "MedicationStatement/5"],
            },
            {
                "medication": "fluoxetine",
                "class": "SSRI",
                "daily_dose_mg": None,
                "minimum_adequate_mg": 20,
                "weeks": None,
                "adequate": False,
                "outcome": None,
                "assumptions": ["length unknown: stopped with no end date"],
                "evidence": ["MedicationStatement/6"],
            },
        ],
    },
    "pain_resistance": {"status": "not_applicable", "failed_categories": [], "treatments": []},
    "findings": [
        {
            "id": "benzodiazepine",
            "kind": "interaction",
            "message": "lorazepam is being taken: may blunt the effect",
            "evidence": ["MedicationStatement/7"],
            "source": "Seeds: benzodiazepines may blunt the effect",
        },
        {
            "id": "blood_pressure",
            "kind": "missing",
            "message": "no blood pressure within 90 days",
            "evidence": [],
            "source": "spec/screening.md, Missing information",
        },
    ],
    "workup": [
        {"test": "physical_exam", "status": "done", "date": "2026-10-20"},
        {"test": "blood_pressure", "status": "missing", "date": None},
        {"test": "liver_function", "status": "stale", "date": "2026-01-20"},
        {"test": "thyroid", "status": "not_required", "date": None},
    ],
    "staging": {
        "thase_rush": {"stage": 2, "assumptions": []},
        "maudsley": {
            "score": 9,
            "band": "moderate",
            "assumptions": ["severity from the latest PHQ-9"],
        },
        "mgh": {"score": 2.0, "assumptions": []},
    },
    "workup_complete": False,
    "policy": {"name": "default", "sha256": "0" * 63 + "a"},
}


def changed(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    edit(document)
    return document


def test_the_schema_is_a_valid_2020_12_schema() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_a_hand_written_result_is_valid() -> None:
    assert errors(VALID) == []


def test_staging_may_be_null_and_extra_keys_are_allowed() -> None:
    def edit(d: dict[str, Any]) -> None:
        d["staging"] = None
        d["added_later"] = {"anything": 1}
        d["findings"][0]["severity"] = "high"
        d["treatment_resistance"]["trials"][0]["ongoing"] = True

    assert errors(changed(edit)) == []


def test_every_decision_route_kind_and_status_of_the_spec_is_accepted() -> None:
    for decision in ("eligible", "eligible_with_precautions", "not_eligible", "needs_information"):
        assert errors(changed(_set(("decision",), decision))) == []
    for route in ("iv", "esketamine", "im", "oral"):
        assert errors(changed(_set(("route",), route))) == []
    for kind in ("absolute", "relative", "interaction", "missing", "indication", "note"):
        finding = {"id": "under_18", "kind": kind, "message": "m", "evidence": ["Patient/x"]}
        finding["source"] = "Spravato label: adults only"
        valid = kind in {"absolute", "relative"}
        assert (errors(changed(_set(("findings", 0), finding))) == []) is valid, kind
    for status in ("resistant", "not_resistant", "unknown", "not_applicable"):
        assert errors(changed(_set(("treatment_resistance", "status"), status))) == []
        assert errors(changed(_set(("pain_resistance", "status"), status))) == []
    for outcome in ("no-response", "partial-response", "response", "remission", "intolerance"):
        edit = _set(("treatment_resistance", "trials", 0, "outcome"), outcome)
        assert errors(changed(edit)) == []


def _del(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.pop(key)


REQUIRED = [
    "patient",
    "route",
    "as_of",
    "decision",
    "indications",
    "treatment_resistance",
    "pain_resistance",
    "findings",
    "workup",
    "staging",
    "workup_complete",
    "policy",
]


@pytest.mark.parametrize("key", REQUIRED)
def test_each_documented_top_level_key_is_required(key: str) -> None:
    assert errors(changed(_del(key)))


def _set(path: tuple[str | int, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        target: Any = d
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return edit


def _drop(path: tuple[str | int, ...]) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        target: Any = d
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return edit


MALFORMED: dict[str, Callable[[dict[str, Any]], None]] = {
    "unknown decision": _set(("decision",), "maybe"),
    "decision with a space": _set(("decision",), "not eligible"),
    "unknown route": _set(("route",), "intranasal"),
    "bad finding kind": _set(("findings", 0, "kind"), "warning"),
    "unknown finding id": _set(("findings", 0, "id"), "benzo"),
    "interaction given as relative": _set(("findings", 0, "kind"), "relative"),
    "finding without evidence": _drop(("findings", 0, "evidence")),
    "interaction with empty evidence": _set(("findings", 0, "evidence"), []),
    "finding without source": _drop(("findings", 0, "source")),
    "finding with empty message": _set(("findings", 0, "message"), ""),
    "sha256 not hex": _set(("policy", "sha256"), "Z" * 64),
    "sha256 upper case": _set(("policy", "sha256"), "A" * 64),
    "sha256 too short": _set(("policy", "sha256"), "a" * 63),
    "policy without name": _drop(("policy", "name")),
    "as_of not a date": _set(("as_of",), "yesterday"),
    "as_of with a time": _set(("as_of",), "2026-11-01T00:00:00"),
    "as_of day out of range": _set(("as_of",), "2026-02-30"),
    "as_of month 13": _set(("as_of",), "2026-13-01"),
    "unknown indication": _set(("indications", 0, "id"), "depression"),
    "indication without evidence": _set(("indications", 0, "evidence"), []),
    "on_label not boolean": _set(("indications", 0, "on_label"), "no"),
    "unknown resistance status": _set(("treatment_resistance", "status"), "maybe"),
    "negative trial count": _set(("treatment_resistance", "failed_adequate_trials"), -1),
    "trial dose as text": _set(("treatment_resistance", "trials", 0, "daily_dose_mg"), "100 mg"),
    "trial without weeks": _drop(("treatment_resistance", "trials", 0, "weeks")),
    "trial without class": _drop(("treatment_resistance", "trials", 0, "class")),
    "trial adequate as text": _set(("treatment_resistance", "trials", 0, "adequate"), "yes"),
    "unknown trial outcome": _set(("treatment_resistance", "trials", 0, "outcome"), "failed"),
    "trial without evidence": _set(("treatment_resistance", "trials", 0, "evidence"), []),
    "trial assumption not text": _set(("treatment_resistance", "trials", 0, "assumptions"), [1]),
    "unknown pain category": _set(("pain_resistance", "failed_categories"), ["surgery"]),
    "unknown workup test": _set(("workup", 0, "test"), "mri"),
    "unknown workup status": _set(("workup", 0, "status"), "pending"),
    "workup date not a date": _set(("workup", 0, "date"), "last week"),
    "workup item without date": _drop(("workup", 0, "date")),
    "staging as a list": _set(("staging",), []),
    "staging without mgh": _drop(("staging", "mgh")),
    "thase-rush stage 6": _set(("staging", "thase_rush", "stage"), 6),
    "maudsley score 2": _set(("staging", "maudsley", "score"), 2),
    "maudsley band unknown": _set(("staging", "maudsley", "band"), "extreme"),
    "workup_complete as text": _set(("workup_complete",), "false"),
    "findings not a list": _set(("findings",), {}),
    "not an object": lambda d: d.clear(),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_results_are_refused(name: str) -> None:
    assert errors(changed(MALFORMED[name])), name


def test_a_pain_treatment_is_checked() -> None:
    treatment = {
        "category": "nerve_block",
        "name": "stellate ganglion block",
        "failed": True,
        "outcome": "no-response",
        "assumptions": [],
        "evidence": ["Procedure/9"],
    }
    good = changed(_set(("pain_resistance", "treatments"), [treatment]))
    assert errors(good) == []
    bad = changed(_set(("pain_resistance", "treatments"), [{**treatment, "failed": "yes"}]))
    assert errors(bad)
    bad = changed(_set(("pain_resistance", "treatments"), [{**treatment, "category": "yoga"}]))
    assert errors(bad)


def test_missing_findings_may_name_no_resource() -> None:
    # "no reading within 90 days" has nothing to point at; a contraindication always has.
    assert errors(VALID) == []
    absolute = {
        "id": "pregnancy",
        "kind": "absolute",
        "message": "pregnant",
        "evidence": [],
        "source": "Seeds",
    }
    assert errors(changed(lambda d: d["findings"].append(absolute)))
