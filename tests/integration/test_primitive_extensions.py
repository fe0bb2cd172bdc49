"""A primitive's extension element that is not an object is refused with the field named.

fhir.resources crashed on it (AttributeError) when it sat inside an element, which the CLI
reported as an internal error (exit 1) instead of bad input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ketaclinic.fhir.bundle import BundleError, read_bundle

EXAMPLE = Path(__file__).parents[2] / "examples" / "01-eligible-trd.json"


def _bundle_with_condition_change(change: Any) -> bytes:
    bundle = json.loads(EXAMPLE.read_text())
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Condition":
            change(entry["resource"])
            break
    return json.dumps(bundle).encode()


@pytest.mark.parametrize("bad", ["x", 5, ["x"], True])
def test_nested_primitive_extension_that_is_not_an_object_is_refused(bad: Any) -> None:
    def change(resource: dict[str, Any]) -> None:
        resource["code"]["coding"][0]["_code"] = bad

    with pytest.raises(BundleError, match=r"code\.coding\[0\]\._code"):
        read_bundle(_bundle_with_condition_change(change))


def test_primitive_extension_object_is_read() -> None:
    def change(resource: dict[str, Any]) -> None:
        resource["code"]["coding"][0]["_code"] = {"id": "c1"}

    record = read_bundle(_bundle_with_condition_change(change))
    assert record.conditions
