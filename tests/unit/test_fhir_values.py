"""``fhir.values.codings``: a list of codings read once is kept by its JSON text; what is kept
never changes an answer (expected values written from the FHIR R4 CodeableConcept)."""

from __future__ import annotations

import pytest

from ketaclinic.clinical.facts import Coding
from ketaclinic.fhir.errors import BundleError, Place
from ketaclinic.fhir.values import codings

LOINC = "http://loinc.org"


def test_the_same_codings_read_twice_are_the_same() -> None:
    concept = {
        "coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic"}, {"code": "x"}]
    }
    expected = (Coding(LOINC, "8480-6", "Systolic"), Coding("", "x", None))
    assert codings(concept, Place(0, "Observation"), "code") == expected
    assert codings(dict(concept), Place(1, "Observation"), "code") == expected


def test_a_refused_coding_is_refused_each_time_at_its_own_place() -> None:
    concept = {"coding": [{"system": LOINC, "code": 8480}]}
    for index in (3, 4):
        with pytest.raises(BundleError) as refused:
            codings(concept, Place(index, "Observation"), "code")
        assert str(refused.value) == (
            f"entry {index} (Observation): code.coding[0].code: expected a string"
        )


def test_codings_in_a_tuple_are_refused_even_after_the_same_list_was_read() -> None:
    listed = [{"system": LOINC, "code": "718-7"}]
    assert codings({"coding": listed}, Place(0, "Observation"), "code") == (Coding(LOINC, "718-7"),)
    with pytest.raises(BundleError) as refused:
        codings({"coding": tuple(listed)}, Place(0, "Observation"), "code")
    assert str(refused.value) == "entry 0 (Observation): code.coding: expected a list of objects"
