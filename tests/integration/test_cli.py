"""The command line's contract: exit status, one line on stderr, nothing on stdout when refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ketaclinic import cli

PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1980-05-01", "gender": "male"}


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def mdd(subject: str = "Patient/p1") -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": subject},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "F33.2"}]},
    }


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ketaclinic", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def write(tmp_path: Path, content: str | dict[str, Any], name: str = "b.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]


def test_not_json(tmp_path: Path) -> None:
    assert_refused(run("screen", write(tmp_path, "{not json"), "--as-of", "2026-11-01"), "JSON")


def test_json_that_is_not_a_bundle(tmp_path: Path) -> None:
    assert_refused(run("screen", write(tmp_path, PATIENT), "--as-of", "2026-11-01"), "Bundle")


def test_no_patient(tmp_path: Path) -> None:
    assert_refused(
        run("screen", write(tmp_path, bundle(mdd())), "--as-of", "2026-11-01"), "Patient"
    )


def test_two_patients(tmp_path: Path) -> None:
    other = {**PATIENT, "id": "p2"}
    path = write(tmp_path, bundle(PATIENT, other))
    assert_refused(run("screen", path, "--as-of", "2026-11-01"), "Patient")


def test_resource_about_another_patient(tmp_path: Path) -> None:
    path = write(tmp_path, bundle(PATIENT, mdd("Patient/someone-else")))
    assert_refused(run("screen", path, "--as-of", "2026-11-01"), "Patient")


def test_invalid_resource_names_entry_type_and_field(tmp_path: Path) -> None:
    bad = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "effectiveDateTime": "yesterday",
    }
    path = write(tmp_path, bundle(PATIENT, bad))
    assert_refused(run("screen", path, "--as-of", "2026-11-01"), "1", "Observation", "effective")


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--route", "rectal"], "--route"),
        (["--as-of", "01/11/2026"], "--as-of"),
        (["--as-of", "2026-02-30"], "--as-of"),
        (["--format", "xml"], "--format"),
        (["--bogus"], "bogus"),
    ],
)
def test_bad_arguments(tmp_path: Path, args: list[str], word: str) -> None:
    path = write(tmp_path, bundle(PATIENT, mdd()))
    assert_refused(run("screen", path, *args), word)


def test_missing_file(tmp_path: Path) -> None:
    assert_refused(run("screen", tmp_path / "nothing.json"), "no such file")


@pytest.mark.parametrize(
    ("policy", "word"),
    [
        ("[resistance]\nminimum_weeks = 0\n", "resistance.minimum_weeks"),
        ("[blood_pressure]\nuncontrolled_systolic = 300\n", "uncontrolled_systolic"),
        ("[resistance]\nweeks = 6\n", "resistance.weeks"),
        ("not = [toml", "TOML"),
    ],
)
def test_bad_policy(tmp_path: Path, policy: str, word: str) -> None:
    path = write(tmp_path, bundle(PATIENT, mdd()))
    pol = write(tmp_path, policy, "clinic.toml")
    assert_refused(run("screen", path, "--policy", pol, "--as-of", "2026-11-01"), word)


def test_a_policy_file_is_named_in_the_output(tmp_path: Path) -> None:
    path = write(tmp_path, bundle(PATIENT, mdd()))
    pol = write(tmp_path, 'name = "Riverside"\n[resistance]\nminimum_weeks = 8\n', "clinic.toml")
    result = run("screen", path, "--policy", pol, "--as-of", "2026-11-01", "--format", "json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["policy"]["name"] == "Riverside"
    assert len(out["policy"]["sha256"]) == 64


def test_json_output_is_one_object_and_exit_zero_whatever_the_decision(tmp_path: Path) -> None:
    path = write(tmp_path, bundle(PATIENT, mdd()))
    result = run("screen", path, "--as-of", "2026-11-01", "--format", "json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["patient"] == "Patient/p1"
    assert out["as_of"] == "2026-11-01"
    assert out["route"] == "iv"
    # MDD with no treatment recorded at all: the spec's first reason, 'missing treatment_history'.
    assert out["decision"] == "needs_information"
    assert "missing:treatment_history" in {f"{f['kind']}:{f['id']}" for f in out["findings"]}


def test_text_format_leads_with_the_decision(tmp_path: Path) -> None:
    path = write(tmp_path, bundle(PATIENT, mdd()))
    result = run("screen", path, "--as-of", "2026-11-01")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("Decision: NEEDS INFORMATION")


def test_an_internal_error_exits_1_naming_a_defect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> dict[str, object]:
        raise KeyError("boom")

    monkeypatch.setattr(cli, "screen_bundle", broken)
    path = write(tmp_path, bundle(PATIENT, mdd()))
    code = cli.main(["screen", str(path), "--as-of", "2026-11-01"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert "internal error" in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_examples_screens_every_example_on_its_route() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    result = run("examples", examples)
    assert result.returncode == 0, result.stderr
    decisions = [line for line in result.stdout.splitlines() if line.startswith("Decision: ")]
    # The expected decisions of examples/README.md, in demo.toml's order.
    expected = [
        "ELIGIBLE ",
        "ELIGIBLE WITH PRECAUTIONS",
        "NOT ELIGIBLE",
        "NEEDS INFORMATION",
        "ELIGIBLE ",
        "ELIGIBLE ",
        "ELIGIBLE ",
        "ELIGIBLE ",
        "NOT ELIGIBLE",
        "ELIGIBLE WITH PRECAUTIONS",
        "NOT ELIGIBLE",
        "ELIGIBLE WITH PRECAUTIONS",
    ]
    assert len(decisions) == len(expected)
    for line, words in zip(decisions, expected, strict=True):
        assert line.startswith(f"Decision: {words}"), line


def test_examples_with_no_examples_is_refused(tmp_path: Path) -> None:
    assert_refused(run("examples", tmp_path), "no example")


def test_off_label_note_keeps_the_abbreviation_ptsd() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    result = run("screen", examples / "08-ptsd.json", "--as-of", "2026-11-01", "--format", "json")
    notes = [f["message"] for f in json.loads(result.stdout)["findings"] if f["id"] == "off_label"]
    assert notes and notes[0].startswith("PTSD:"), notes


def test_schema_command_prints_the_shipped_schema() -> None:
    result = run("schema")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["$schema"].startswith("https://json-schema.org/draft/2020-12")
