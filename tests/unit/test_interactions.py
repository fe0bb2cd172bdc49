"""Interactions (spec/screening.md): benzodiazepine, maoi, psychostimulant, opioid, ongoing on the
screening date; naltrexone is a note (clinical-facts.md). Screening date 2026-11-01.
"""

from __future__ import annotations

from datetime import date

import pytest

from ketaclinic.clinical.facts import Medication, Patient, Record
from ketaclinic.clinical.findings import Finding
from ketaclinic.clinical.interactions import interactions

AS_OF = date(2026, 11, 1)


def med(ref: str, ingredient: str | None, name: str = "", **kw: object) -> Medication:
    fields: dict[str, object] = {"status": "active", "start": date(2026, 3, 1)}
    fields.update(kw)
    return Medication(ref, ingredient, name or (ingredient or "?"), **fields)  # type: ignore[arg-type]


def run(*medications: Medication) -> list[Finding]:
    return interactions(Record(Patient("Patient/p", None, None), medications=medications), AS_OF)


@pytest.mark.parametrize(
    ("ingredient", "finding_id", "kind"),
    [
        ("alprazolam", "benzodiazepine", "interaction"),
        ("clonazepam", "benzodiazepine", "interaction"),
        ("phenelzine", "maoi", "interaction"),
        ("rasagiline", "maoi", "interaction"),
        ("methylphenidate", "psychostimulant", "interaction"),
        ("modafinil", "psychostimulant", "interaction"),
        ("oxycodone", "opioid", "interaction"),
        ("buprenorphine", "opioid", "interaction"),
        ("naltrexone", "naltrexone", "note"),
    ],
)
def test_an_ongoing_medicine_of_the_group(ingredient: str, finding_id: str, kind: str) -> None:
    found = run(med("MedicationStatement/7", ingredient))
    assert [(f.id, f.kind) for f in found] == [(finding_id, kind)]
    assert found[0].evidence == ("MedicationStatement/7",)
    assert ingredient in found[0].message
    assert found[0].source


def test_a_finished_course_is_not_an_interaction() -> None:
    ended = med("MedicationStatement/1", "alprazolam", status="completed", end=date(2026, 9, 1))
    assert run(ended) == []


def test_a_stopped_course_without_an_end_is_not_ongoing() -> None:
    assert run(med("MedicationStatement/1", "oxycodone", status="stopped")) == []


def test_an_active_course_ending_after_the_screening_date_is_ongoing() -> None:
    found = run(med("MedicationRequest/1", "lorazepam", end=date(2026, 12, 1)))
    assert [f.id for f in found] == ["benzodiazepine"]


def test_medicines_outside_the_groups_give_nothing() -> None:
    assert run(med("MedicationStatement/1", "sertraline"), med("MedicationStatement/2", None)) == []


def test_one_finding_per_group_naming_every_medicine() -> None:
    found = run(
        med("MedicationStatement/1", "alprazolam"),
        med("MedicationStatement/2", "diazepam"),
        med("MedicationStatement/3", "tramadol"),
    )
    assert [(f.id, f.evidence) for f in found] == [
        ("benzodiazepine", ("MedicationStatement/1", "MedicationStatement/2")),
        ("opioid", ("MedicationStatement/3",)),
    ]
