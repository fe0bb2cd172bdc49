"""``ketaclinic synth``: deterministic, valid R4, about 20 resources a patient, every decision."""

from __future__ import annotations

import gzip
import tracemalloc
from collections import Counter
from datetime import date
from pathlib import Path

import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class

from ketaclinic import cli
from ketaclinic.clinical import codes, medications
from ketaclinic.clinical.facts import ICD10, SNOMED, Coding
from ketaclinic.cohort import synth_catalog
from ketaclinic.cohort.patient_rows import Row, Settings, bundle_of, screen_patient
from ketaclinic.cohort.synth import RESOURCE_TYPES, write_population
from ketaclinic.cohort.synth_patient import patient_resources
from ketaclinic.services.screening import screen_bundle

AS_OF = date(2026, 11, 1)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _lines(folder: Path, kind: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in (folder / f"{kind}.ndjson").read_bytes().splitlines()]


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    write_population(tmp_path / "a", 40, seed=5)
    write_population(tmp_path / "b", 40, seed=5)
    write_population(tmp_path / "c", 40, seed=6)
    a, b, c = (_files(tmp_path / n) for n in "abc")
    assert sorted(a) == sorted(f"{kind}.ndjson" for kind in RESOURCE_TYPES)
    assert a == b
    assert a["Patient.ndjson"] != c["Patient.ndjson"]


def test_gzip_is_deterministic_and_holds_the_same_lines(tmp_path: Path) -> None:
    write_population(tmp_path / "plain", 20, seed=2)
    write_population(tmp_path / "z1", 20, seed=2, compress=True)
    write_population(tmp_path / "z2", 20, seed=2, compress=True)
    assert _files(tmp_path / "z1") == _files(tmp_path / "z2")
    for kind in RESOURCE_TYPES:
        packed = (tmp_path / "z1" / f"{kind}.ndjson.gz").read_bytes()
        assert gzip.decompress(packed) == (tmp_path / "plain" / f"{kind}.ndjson").read_bytes()


def test_every_resource_is_valid_r4(tmp_path: Path) -> None:
    write_population(tmp_path, 60, seed=3)
    for kind in RESOURCE_TYPES:
        for resource in _lines(tmp_path, kind):
            assert resource["resourceType"] == kind
            get_fhir_model_class(kind).model_validate(resource)


def test_about_twenty_resources_a_patient_all_about_a_patient(tmp_path: Path) -> None:
    counts = write_population(tmp_path, 300, seed=4)
    assert counts["Patient"] == 300
    assert 17 <= sum(counts.values()) / 300 <= 23
    patients = {f"Patient/{p['id']}" for p in _lines(tmp_path, "Patient")}
    assert len(patients) == 300
    for kind in RESOURCE_TYPES[1:]:
        assert counts[kind] > 0, kind
        for resource in _lines(tmp_path, kind):
            pointer = resource.get("patient") or resource.get("subject")
            assert isinstance(pointer, dict)
            assert pointer["reference"] in patients


def test_every_diagnosis_is_in_the_value_set_it_is_meant_for() -> None:
    for dx in synth_catalog.ALL_DIAGNOSES:
        if dx.icd10 is not None:
            assert dx.value_set.has(Coding(ICD10, dx.icd10)), dx
        if dx.snomed is not None:
            assert dx.value_set.has(Coding(SNOMED, dx.snomed)), dx
            assert dx.snomed in codes.KNOWN_SNOMED


def test_every_drug_is_one_the_engine_knows() -> None:
    groups = [
        *(d for drugs in synth_catalog.ANTIDEPRESSANTS.values() for d in drugs),
        *synth_catalog.BIPOLAR_AGENTS,
        *synth_catalog.AUGMENTING,
        *synth_catalog.PAIN_MEDICATIONS,
        *synth_catalog.BENZODIAZEPINES,
        *synth_catalog.STIMULANTS,
        *synth_catalog.OPIOIDS,
        *synth_catalog.MAOI,
        *synth_catalog.ANTIHYPERTENSIVES,
        *synth_catalog.ANTITHYROID,
    ]
    for name, _doses in groups:
        assert medications.ingredient_from_text(f"{name} 10 MG Oral Tablet") is not None, name
    for name in synth_catalog.ALLERGENS:
        assert medications.drug(name) is not None, name


def test_no_code_goes_unrecognised_and_every_decision_occurs() -> None:
    """600 patients: the four decisions, and the common findings, all occur."""
    decisions: Counter[str] = Counter()
    findings: Counter[str] = Counter()
    settings = Settings("iv", AS_OF)
    for index in range(600):
        lines = [orjson.dumps(r) for r in patient_resources(11, index, AS_OF)]
        row = screen_patient("", lines, settings)
        assert isinstance(row, Row), row
        decisions[row.decision] += 1
        findings.update(row.findings.split(";"))
    assert set(decisions) == {
        "eligible",
        "eligible_with_precautions",
        "needs_information",
        "not_eligible",
    }
    assert "note:unrecognised_code" not in findings
    for expected in (
        "absolute:uncontrolled_hypertension",
        "absolute:pregnancy",
        "absolute:psychotic_disorder",
        "indication:not_treatment_resistant",
        "indication:no_qualifying_indication",
        "missing:blood_pressure",
        "missing:treatment_history",
        "missing:treatment_outcomes",
        "relative:elevated_blood_pressure",
        "relative:active_suicidality",
        "relative:renal_impairment",
        "relative:hepatic_impairment",
        "relative:substance_use_disorder",
        "interaction:benzodiazepine",
        "interaction:opioid",
        "note:off_label",
    ):
        assert findings[expected] > 0, expected


def test_a_patient_is_one_bundle_the_engine_reads() -> None:
    resources = patient_resources(1, 0, AS_OF)
    assert resources[0]["resourceType"] == "Patient"
    result = screen_bundle(bundle_of(orjson.dumps(r) for r in resources), as_of=AS_OF)
    assert result["patient"] == f"Patient/{resources[0]['id']}"


def test_writing_streams(tmp_path: Path) -> None:
    """Memory while writing does not grow with the population (one patient at a time)."""
    peaks = []
    for n, size in enumerate((50, 400)):
        tracemalloc.start()
        write_population(tmp_path / str(n), size, seed=1)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # Eight times the patients; a population held in memory would need several times the peak.
    assert peaks[1] < 2 * peaks[0]


def test_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "export"
    assert cli.main(["synth", "--patients", "3", "--seed", "9", "--out", str(out)]) == 0
    assert "3 patients" in capsys.readouterr().out
    assert len(_lines(out, "Patient")) == 3
    assert cli.main(["synth", "--patients", "-1", "--out", str(out)]) == 2
    assert "--patients" in capsys.readouterr().err


def _synth(out: Path, *args: str) -> int:
    return cli.main(["synth", "--patients", "3", "--out", str(out), *args])


def test_an_earlier_export_in_the_folder_is_refused_not_mixed_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Written over a gzipped export, a plain one would leave the .gz files beside it, and the
    cohort would read the two populations as one: refused, and nothing is touched."""
    out = tmp_path / "export"
    assert _synth(out, "--gzip", "--seed", "1") == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert _synth(out, "--seed", "2") == 2
    err = capsys.readouterr().err
    assert "already holds an export" in err
    assert "--replace" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_replace_removes_the_earlier_export_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert _synth(out, "--gzip", "--seed", "1") == 0
    (out / "notes.txt").write_text("the clinic's own notes")
    assert _synth(out, "--seed", "2", "--replace") == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{kind}.ndjson" for kind in RESOURCE_TYPES] + ["notes.txt"])
    assert (out / "notes.txt").read_text() == "the clinic's own notes"
    assert len(_lines(out, "Patient")) == 3


def test_an_empty_folder_is_written_into(tmp_path: Path) -> None:
    out = tmp_path / "export"
    out.mkdir()
    (out / "README.txt").write_text("not part of an export")
    assert _synth(out) == 0
    assert len(_lines(out, "Patient")) == 3


def test_a_population_the_disk_cannot_hold_is_refused_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 10**12 patients of some kilobytes each: petabytes, more than any disk this runs on.
    out = tmp_path / "export"
    assert cli.main(["synth", "--patients", str(10**12), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "GB would be written" in err
    assert "free" in err
    assert not out.exists()
