"""Placing an export line by its bytes gives what decoding it gives, or declines (issue 8).

Expected keys are written by hand from the line; for every line that is JSON the quick answer
must equal ``classify``'s (which decodes), and hypothesis builds lines around the forms that
could mislead a byte search: nested subjects, names inside strings, repeated elements, escapes.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.cohort.export_files import Line, _placed_by_its_bytes, classify

OBS = '{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},'


def quick(text: str) -> Line | None:
    return _placed_by_its_bytes(text.encode(), "Observation.ndjson", 7)


def test_a_plain_line_is_placed_with_its_file_and_number() -> None:
    line = quick(OBS + '"subject":{"reference":"Patient/p-1"}}')
    assert line is not None
    assert (line.key, line.kind, line.medication) == ("Patient/p-1", "Observation", None)
    assert (line.file, line.number) == ("Observation.ndjson", 7)


def test_an_allergy_is_placed_by_its_patient_element() -> None:
    text = '{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/a"}}'
    line = quick(text)
    assert line is not None and line.key == "Patient/a"


def test_a_patient_line_is_placed_by_its_id() -> None:
    line = quick('{"resourceType":"Patient","id":"p.2","gender":"female"}')
    assert line is not None and (line.key, line.kind) == ("Patient/p.2", "Patient")


@pytest.mark.parametrize(
    "text",
    [
        # Spaces after the colons: not the plain form.
        '{"resourceType": "Observation", "subject": {"reference": "Patient/1"}}',
        # The subject holds more than its reference.
        OBS + '"subject":{"reference":"Patient/1","display":"Ann"}}',
        # The subject is nested one level deeper: the resource has no subject of its own.
        OBS + '"extension":[{"subject":{"reference":"Patient/1"}}]}',
        # Two subjects (the last one counts when decoded).
        OBS + '"subject":{"reference":"Patient/1"},"subject":{"reference":"Patient/2"}}',
        # The name also appears as a value.
        OBS + '"subject":{"reference":"Patient/1"},"note":[{"text":"subject"}]}',
        # Both a subject and a patient element.
        OBS + '"subject":{"reference":"Patient/1"},"focus":[{"display":"patient"}]}',
        # An escape anywhere: names and strings could be written another way.
        OBS + '"subject":{"reference":"Patient/1"},"note":[{"text":"a \\"b\\""}]}',
        # A contained resource brings a second resourceType.
        OBS + '"contained":[{"resourceType":"Patient","id":"x"}],'
        '"subject":{"reference":"Patient/1"}}',
        # resourceType not first.
        '{"id":"o1","resourceType":"Observation","subject":{"reference":"Patient/1"}}',
        # Not a Patient reference: left to the decoder, which says why.
        OBS + '"subject":{"reference":"Group/1"}}',
        # A medication by reference: the decoder finds which one.
        '{"resourceType":"MedicationStatement","medicationReference":{"reference":"Medication/m"},'
        '"subject":{"reference":"Patient/1"}}',
        # A Patient with a second id inside.
        '{"resourceType":"Patient","id":"p","name":[{"id":"n1","family":"F"}]}',
        # Types the screening does not read, and Medications, are always decoded.
        '{"resourceType":"Encounter","subject":{"reference":"Patient/1"}}',
        '{"resourceType":"Medication","id":"m"}',
    ],
)
def test_lines_the_bytes_cannot_prove_are_left_to_the_decoder(text: str) -> None:
    assert quick(text) is None


def test_a_cut_line_in_the_plain_form_is_placed_and_left_to_be_found_not_json() -> None:
    """The one difference from ``classify``: the screening decodes it and reports it."""
    line = quick(OBS + '"subject":{"reference":"Patient/1"},"valueQua')
    assert line is not None and line.key == "Patient/1"


_names = st.sampled_from(["subject", "patient", "reference", "resourceType", "id", "text"])
_values = st.recursive(
    st.one_of(st.text(max_size=8), st.integers(), _names, st.just("Patient/9")),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3),
        st.dictionaries(_names, inner, min_size=1, max_size=3),
    ),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(["Observation", "Condition", "AllergyIntolerance", "Procedure"]),
    before=st.dictionaries(_names, _values, max_size=3),
    pointer=st.sampled_from(["subject", "patient", None]),
    target=st.sampled_from(["Patient/1", "Patient/a-b", "Group/2", "x/Patient/3", ""]),
    after=st.dictionaries(_names, _values, max_size=3),
)
def test_whenever_the_bytes_answer_they_agree_with_decoding(
    kind: str,
    before: dict[str, object],
    pointer: str | None,
    target: str,
    after: dict[str, object],
) -> None:
    parts = [f'{{"resourceType":"{kind}"']
    parts += [f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in before.items()]
    if pointer is not None:
        parts.append(f'"{pointer}":{{"reference":{json.dumps(target)}}}')
    parts += [f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in after.items()]
    raw = (",".join(parts) + "}").encode()
    placed = _placed_by_its_bytes(raw, "f", 1)
    if placed is not None:
        decoded = classify(raw, "f", 1)
        assert isinstance(decoded, Line)
        assert (placed.key, placed.kind, placed.medication) == (
            decoded.key,
            decoded.kind,
            decoded.medication,
        )
