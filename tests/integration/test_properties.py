"""Properties of the screening engine over random FHIR records (spec/screening.md).

- an absolute contraindication is never eligible, whatever else the record holds;
- the result does not depend on the order of the bundle's entries;
- every result follows the output schema.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.integration import fhir_gen

SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[2]
        / "src"
        / "ketaclinic"
        / "schema"
        / "screening.schema.json"
    ).read_text(encoding="utf-8")
)
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
ROUTES = ("iv", "esketamine", "im", "oral")
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def screen(bundle: dict[str, Any], route: str = "iv") -> dict[str, Any]:
    from ketaclinic.services.screening import screen_bundle

    data = json.dumps(bundle).encode()
    result = screen_bundle(data, route=route, as_of=fhir_gen.AS_OF)
    # What the CLI prints: a JSON round trip, so tuples and lists compare alike.
    out: dict[str, Any] = json.loads(json.dumps(result))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fhir_gen.bundles())
def test_generated_bundles_are_valid_r4(bundle: dict[str, Any]) -> None:
    # The generator itself: every bundle is R4 as the spec's input section asks.
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class("Bundle").model_validate(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert resource.get("id")
        for field in ("onsetDateTime", "effectiveDateTime", "performedDateTime", "recordedDate"):
            if field in resource:
                assert date.fromisoformat(resource[field][:10]) <= fhir_gen.AS_OF


@SETTINGS
@given(fhir_gen.with_absolute(), st.sampled_from(ROUTES))
def test_an_absolute_contraindication_is_never_eligible(
    case: tuple[str, dict[str, Any]], route: str
) -> None:
    finding, bundle = case
    result = screen(bundle, route)
    assert result["decision"] == "not_eligible", (finding, result["findings"])
    absolute = {f["id"] for f in result["findings"] if f["kind"] == "absolute"}
    assert finding in absolute, (finding, result["findings"])


def shuffled(bundle: dict[str, Any], random: Any) -> dict[str, Any]:
    entries = list(bundle["entry"])
    random.shuffle(entries)
    return {**bundle, "entry": entries}


@SETTINGS
@given(fhir_gen.bundles(), st.sampled_from(ROUTES), st.randoms(use_true_random=False))
def test_the_decision_does_not_depend_on_entry_order(
    bundle: dict[str, Any], route: str, random: Any
) -> None:
    first, second = screen(bundle, route), screen(shuffled(bundle, random), route)
    assert first["decision"] == second["decision"]
    assert keys(first) == keys(second)


@SETTINGS
@given(fhir_gen.bundles(), st.sampled_from(ROUTES), st.randoms(use_true_random=False))
def test_the_whole_result_does_not_depend_on_entry_order(
    bundle: dict[str, Any], route: str, random: Any
) -> None:
    # Lists (findings, evidence, trials, treatments, workup evidence) come in an order of
    # their own, not the order the records happen to be written in.
    assert screen(bundle, route) == screen(shuffled(bundle, random), route)


def keys(result: dict[str, Any]) -> set[str]:
    return {f"{f['kind']}:{f['id']}" for f in result["findings"]}


def decision_from(result: dict[str, Any]) -> str:
    """spec/screening.md, "Decision": applied in this order; the first that applies wins."""
    kinds = {f["kind"] for f in result["findings"]}
    if "absolute" in kinds:
        return "not_eligible"
    if not result["indications"] and "indication" in kinds:
        return "not_eligible"
    if "missing" in kinds:
        return "needs_information"
    if kinds & {"relative", "interaction"}:
        return "eligible_with_precautions"
    return "eligible"


WHY_NO_INDICATION = {
    "missing:treatment_history",
    "missing:treatment_outcomes",
    "indication:not_treatment_resistant",
    "indication:no_qualifying_indication",
}


@SETTINGS
@given(fhir_gen.bundles(), st.sampled_from(ROUTES))
def test_the_decision_follows_the_decision_order(bundle: dict[str, Any], route: str) -> None:
    result = screen(bundle, route)
    assert result["decision"] == decision_from(result), sorted(keys(result))
    # "When no indication qualifies, exactly one finding says why ... When an indication
    # qualifies, none of these four appears."
    why = [f"{f['kind']}:{f['id']}" for f in result["findings"]]
    why = [k for k in why if k in WHY_NO_INDICATION]
    assert len(why) == (0 if result["indications"] else 1), (why, result["indications"])


@SETTINGS
@given(fhir_gen.bundles(), st.sampled_from(ROUTES))
def test_every_result_follows_the_schema(bundle: dict[str, Any], route: str) -> None:
    result = screen(bundle, route)
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(result)]
    assert problems == []
    assert result["route"] == route
    assert result["as_of"] == fhir_gen.AS_OF.isoformat()


@SETTINGS
@given(fhir_gen.bundles(style="relative"))
def test_urn_uuid_references_name_the_same_patient(bundle: dict[str, Any]) -> None:
    # The same records written with urn:uuid fullUrls and references screen alike, but for
    # evidence, which is named ResourceType/id either way (every resource has an id).
    records = [e["resource"] for e in bundle["entry"][1:]]
    patient = bundle["entry"][0]["resource"]
    plain = [{k: v for k, v in r.items() if k not in {"id", "subject", "patient"}} for r in records]
    urn = fhir_gen.bundle_of(patient, plain, "urn")
    assert screen(bundle) == screen(urn)
