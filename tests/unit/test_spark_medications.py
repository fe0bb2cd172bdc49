"""The Spark engine's Medication join, without Spark: what each executor does with the lines
Spark has sorted by reference, and how a patient's group is put back in export order."""

from __future__ import annotations

import random
from datetime import date
from operator import itemgetter
from typing import Any

import orjson

from ketaclinic.cohort.export_files import Catalogue, Line, classify
from ketaclinic.cohort.patient_rows import Settings, screen_patient
from ketaclinic.cohort.spark_engine import (
    JoinKey,
    PatientLine,
    join_entries,
    pair_medications,
    reference_slot,
    screen_group,
)

SETTINGS = Settings("iv", date(2026, 11, 1))


def _medication(ident: str, text: str, place: tuple[int, int]) -> tuple[Any, ...]:
    raw = orjson.dumps({"resourceType": "Medication", "id": ident, "code": {"text": text}})
    return ("medication", f"Medication/{ident}", raw, place)


def _naming(patient: str, ref: str) -> tuple[Any, ...]:
    return ("line", patient, "MedicationStatement", b"{}", ref, (0, 0))


def _sorted_as_spark_would(reads: list[tuple[Any, ...]]) -> list[tuple[JoinKey, bytes]]:
    entries = [entry for r in reads for entry in join_entries(r)]
    random.Random(7).shuffle(entries)
    return sorted(entries, key=itemgetter(0))


def test_each_patient_gets_the_last_line_of_each_medication_they_name_once() -> None:
    reads = [
        _medication("twice", "sertraline", (1, 0)),
        _medication("common", "bupropion", (1, 1)),
        _medication("twice", "phenelzine", (1, 2)),
        # In an earlier file: the export's order is by file, then line.
        _medication("twice", "fluoxetine", (0, 9)),
        *[_naming(f"Patient/{n}", "Medication/common") for n in range(500)],
        _naming("Patient/a", "Medication/twice"),
        _naming("Patient/a", "Medication/twice"),
        _naming("Patient/b", "Medication/absent"),
    ]
    pairs = list(pair_medications(_sorted_as_spark_would(reads)))
    common = reads[1][2]
    assert sorted(p for p, (ref, _) in pairs if ref == "Medication/common") == sorted(
        f"Patient/{n}" for n in range(500)
    )
    assert all(raw == common for _, (ref, raw) in pairs if ref == "Medication/common")
    assert [(p, raw) for p, (ref, raw) in pairs if ref == "Medication/twice"] == [
        ("Patient/a", reads[2][2])
    ]
    assert not [p for p, _ in pairs if p == "Patient/b"]


def test_a_reference_goes_to_one_slot_whatever_the_rest_of_the_key() -> None:
    slot = reference_slot(("Medication/x", 0, (3, 4)))
    assert reference_slot(("Medication/x", 1, "Patient/y")) == slot


def _read(resource: dict[str, Any], number: int) -> Line | Catalogue:
    read = classify(orjson.dumps(resource), "x.ndjson", number)
    assert isinstance(read, Line | Catalogue)
    return read


def test_a_group_is_screened_as_the_local_engine_screens_it() -> None:
    resources = [
        {"resourceType": "Patient", "id": "p", "birthDate": "1980-05-01"},
        {
            "resourceType": "MedicationStatement",
            "status": "active",
            "medicationReference": {"reference": "Medication/m"},
            "subject": {"reference": "Patient/p"},
            "effectivePeriod": {"start": "2026-01-01"},
        },
        {
            "resourceType": "Condition",
            "code": {"text": "Major depressive disorder"},
            "subject": {"reference": "Patient/p"},
        },
    ]
    lines = [_read(r, n) for n, r in enumerate(resources)]
    medication = _read({"resourceType": "Medication", "id": "m", "code": {"text": "phenelzine"}}, 9)
    assert isinstance(medication, Catalogue)
    placed: list[PatientLine] = [
        ((0, n), line.raw, line.medication)
        for n, line in enumerate(lines)
        if isinstance(line, Line)
    ]
    shuffled = placed[::-1]
    _, result = screen_group("Patient/p", shuffled, SETTINGS, [(medication.ref, medication.raw)])
    expected = screen_patient(
        "Patient/p",
        [raw for _, raw, _ in placed],
        SETTINGS,
        {medication.ref: medication.raw},
        {"Medication/m"},
    )
    assert result == expected
    assert "interaction:maoi" in getattr(result, "findings", "")
