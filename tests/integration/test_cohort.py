"""``ketaclinic cohort screen``: the same results as one-patient screening, bad lines counted and
named, bounded grouping, the three result formats, workers, and the Spark engine."""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from ketaclinic import cli
from ketaclinic.cohort.export_files import Line, read_file, read_slice, slices
from ketaclinic.cohort.local_engine import Options, screen_export
from ketaclinic.cohort.partitions import Gauge, Limit, Partition, Partitioner, groups, planned_count
from ketaclinic.cohort.patient_rows import Row, Settings
from ketaclinic.cohort.summary import Summary
from ketaclinic.cohort.synth import write_population

AS_OF = "2026-11-01"
SETTINGS = Settings("iv", date(2026, 11, 1))
PATIENTS = 120


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    write_population(folder, PATIENTS, seed=21)
    return folder


def _resources(folder: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(folder.glob("*.ndjson")):
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def _by_patient(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Grouped plainly, in memory, the way a reader of the test would do it by hand."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in _resources(folder):
        if r["resourceType"] == "Patient":
            grouped[f"Patient/{r['id']}"].insert(0, r)
        else:
            grouped[(r.get("subject") or r.get("patient"))["reference"]].append(r)
    return grouped


def _run(folder: Path, **options: Any) -> tuple[dict[str, Row], Summary]:
    rows: dict[str, Row] = {}

    def keep(row: Row) -> None:
        assert row.patient not in rows
        rows[row.patient] = row

    summary = screen_export(folder, SETTINGS, keep, Options(**options))
    return rows, summary


def _expected_row(result: dict[str, Any]) -> dict[str, str]:
    findings: list[str] = []
    for f in result["findings"]:
        if f"{f['kind']}:{f['id']}" not in findings:
            findings.append(f"{f['kind']}:{f['id']}")
    return {
        "patient": result["patient"],
        "decision": result["decision"],
        "indications": ";".join(i["id"] for i in result["indications"]),
        "findings": ";".join(findings),
    }


def test_rows_equal_ketaclinic_screen_of_each_patient(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows, summary = _run(export)
    assert summary.rows == PATIENTS == len(rows)
    assert summary.lines_skipped == 0 and summary.patients_refused == 0
    grouped = _by_patient(export)
    for key in sorted(grouped)[::12]:
        bundle = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in grouped[key]],
        }
        path = tmp_path / "one.json"
        path.write_text(json.dumps(bundle))
        capsys.readouterr()
        assert cli.main(["screen", str(path), "--as-of", AS_OF, "--format", "json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert rows[key].as_dict() == _expected_row(result)


def test_one_patient_through_the_installed_command(export: Path, tmp_path: Path) -> None:
    key, resources = sorted(_by_patient(export).items())[0]
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": []}
    bundle["entry"] = [{"resource": r} for r in reversed(resources)]
    path = tmp_path / "one.json"
    path.write_text(json.dumps(bundle))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ketaclinic",
            "screen",
            str(path),
            "--as-of",
            AS_OF,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows, _ = _run(export)
    assert rows[key].as_dict() == _expected_row(json.loads(done.stdout))


def test_ctrl_c_stops_the_run_with_130_and_leaves_nothing(tmp_path: Path) -> None:
    """Through the installed command, with workers: Ctrl-C (SIGINT) once the partitions are
    being written. Typer turns it into a returned 130, which was lost: the run "succeeded"."""
    folder = tmp_path / "export"
    write_population(folder, 5_000, seed=3)
    scratch, out = tmp_path / "scratch", tmp_path / "rows.csv"
    scratch.mkdir()
    command = Path(sys.executable).with_name("ketaclinic")
    args = ["cohort", "screen", str(folder), "--as-of", AS_OF, "--out", str(out)]
    running = subprocess.Popen(
        [str(command), *args, "--workers", "2", "--scratch", str(scratch)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Started reading once its partitions folder is there (no clock: the run's own sign).
        while not any(scratch.iterdir()) and running.poll() is None:
            time.sleep(0.005)
        assert running.poll() is None, "the run ended before it could be interrupted"
        running.send_signal(signal.SIGINT)
        _, err = running.communicate(timeout=60)
    finally:
        running.kill()
    assert running.returncode == 130, err
    assert "interrupted" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.glob(".rows.csv.*")) == []
    assert list(scratch.iterdir()) == []


def _corrupt_copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    with (target / "Condition.ndjson").open("a") as handle:
        handle.write("this is not JSON\n")
        handle.write('{"resourceType": "Condition", "subject": {"refer\n')
        handle.write("\n")
        handle.write('{"resourceType": "Condition", "code": {"text": "no subject"}}\n')
        handle.write(
            '{"resourceType": "Observation", "status": "final", "code": {"text": "x"},'
            ' "subject": {"reference": "Group/7"}}\n'
        )
        handle.write("[1, 2]\n")
    # 60 Encounter lines, gzipped, then cut short.
    encounters = (source / "Encounter.ndjson").read_bytes().splitlines(keepends=True)[:60]
    packed = gzip.compress(b"".join(encounters))
    (target / "Encounter.001.ndjson.gz").write_bytes(packed[: len(packed) // 2])
    return target


def test_corrupt_lines_are_named_counted_and_skipped(export: Path, tmp_path: Path) -> None:
    folder = _corrupt_copy(export, tmp_path / "bad")
    conditions = len((export / "Condition.ndjson").read_text().splitlines())
    rows, summary = _run(folder)
    assert len(rows) == PATIENTS
    shown = {(s.file, s.line): s.reason for s in summary.skipped_shown}
    assert shown[("Condition.ndjson", conditions + 1)].startswith("not JSON")
    assert shown[("Condition.ndjson", conditions + 2)].startswith("not JSON")
    # conditions + 3 is blank: passed over, not counted.
    assert ("Condition.ndjson", conditions + 3) not in shown
    assert shown[("Condition.ndjson", conditions + 4)] == "Condition with no patient reference"
    assert shown[("Condition.ndjson", conditions + 5)] == (
        "Observation whose subject is not a Patient reference"
    )
    assert shown[("Condition.ndjson", conditions + 6)] == "not a JSON object"
    gz = [s for s in summary.skipped_shown if s.file == "Encounter.001.ndjson.gz"]
    assert len(gz) == 1 and gz[0].reason.startswith("gzip data ends or is corrupt here")
    assert 1 <= gz[0].line <= 60
    assert summary.lines_skipped == 6
    assert summary.skipped["not JSON"] == 2


def test_slices_of_a_file_read_as_the_whole_file(tmp_path: Path) -> None:
    """Cut anywhere, a file's slices give the reads of the whole file, with the same numbers:
    a byte-order mark, blank lines, CRLF endings, a bad line, and a last line with no newline."""
    path = tmp_path / "Condition.ndjson"
    subject = '"subject":{"reference":"Patient/p1"}'
    lines = [
        '\ufeff{"resourceType":"Condition","id":"c1",' + subject + "}",
        "",
        '{"resourceType":"Condition","id":"c2",' + subject + "}\r",
        "not json",
        "   ",
        '{"resourceType":"Condition","id":"c3",' + subject + "}",
    ]
    path.write_bytes("\n".join(lines).encode())
    whole = list(read_file(path))
    assert [getattr(r, "line", None) for r in whole] == [None, None, 4, None]
    assert [orjson.loads(r.raw)["id"] for r in whole if isinstance(r, Line)] == ["c1", "c2", "c3"]
    size = path.stat().st_size
    for cut in range(1, size + 2):
        parts = slices(path, cut)
        # Contiguous, from the first byte to the end.
        assert [p.start for p in parts[1:]] == [p.end for p in parts[:-1]]
        assert (parts[0].start, parts[0].first, parts[-1].end) == (0, 1, None)
        assert [r for part in parts for r in read_slice(part)] == whole, cut


@pytest.mark.parametrize("workers", [1, 2])
def test_reading_is_reported_in_bytes_of_the_export_before_screening(
    export: Path, workers: int
) -> None:
    events: list[tuple[str, int, int]] = []
    screen_export(
        export,
        SETTINGS,
        lambda _row: None,
        Options(workers=workers, slice_bytes=20_000),
        on_total=lambda n: events.append(("total", n, 0)),
        on_read=lambda done, total: events.append(("read", done, total)),
    )
    on_disk = sum(p.stat().st_size for p in export.glob("*.ndjson"))
    reads = [e for e in events if e[0] == "read"]
    assert {total for _, _, total in reads} == {on_disk}
    done = [d for _, d, _ in reads]
    assert done == sorted(done)
    assert done[-1] == on_disk
    # Slices of 20 kB: the Observation file alone is read in several steps.
    assert len(done) > len(list(export.glob("*.ndjson")))
    assert events[-1] == ("total", PATIENTS, 0)


def test_workers_reading_slices_report_the_same_lines(export: Path, tmp_path: Path) -> None:
    folder = _corrupt_copy(export, tmp_path / "bad")
    one, summary_one = _run(folder)
    two, summary_two = _run(folder, workers=2, slice_bytes=3_000)
    assert list(two.items()) == list(one.items())
    assert summary_two.skipped_shown == summary_one.skipped_shown
    assert summary_two.skipped == summary_one.skipped
    assert summary_two.ignored == summary_one.ignored


def test_summary_printed_by_the_command(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _corrupt_copy(export, tmp_path / "bad")
    conditions = len((export / "Condition.ndjson").read_text().splitlines())
    out = tmp_path / "rows.csv"
    code = cli.main(["cohort", "screen", str(folder), "--as-of", AS_OF, "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"{PATIENTS} patients screened" in printed
    assert "Lines skipped: 6" in printed
    assert f"Condition.ndjson:{conditions + 1}: not JSON" in printed
    assert "Encounter.001.ndjson.gz:" in printed
    assert "Decisions" in printed and "Most frequent findings" in printed


def test_a_refused_bundle_is_a_skipped_patient_with_its_reason(
    export: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "refused"
    shutil.copytree(export, folder)
    patient = json.loads((export / "Patient.ndjson").read_text().splitlines()[0])
    with (folder / "Observation.ndjson").open("a") as handle:
        # status must be a code: this patient's bundle is not valid R4.
        bad = {"resourceType": "Observation", "status": 12, "code": {"text": "x"}}
        bad["subject"] = {"reference": f"Patient/{patient['id']}"}
        handle.write(json.dumps(bad) + "\n")
        orphan = {"resourceType": "Condition", "subject": {"reference": "Patient/nobody"}}
        handle.write(json.dumps(orphan) + "\n")
    rows, summary = _run(folder)
    assert len(rows) == PATIENTS - 1
    assert f"Patient/{patient['id']}" not in rows
    assert summary.patients_refused == 2
    reasons = {r.patient: r.reason for r in summary.refused_shown}
    assert "status" in reasons[f"Patient/{patient['id']}"]
    assert reasons["Patient/nobody"] == "no Patient in the bundle"


def test_a_shared_medication_is_bundled_with_the_patients_naming_it(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bulk Data puts Medication resources in their own file, with no patient."""
    folder = tmp_path / "meds"
    shutil.copytree(export, folder)
    key, resources = sorted(_by_patient(export).items())[3]
    medication = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {"text": "phenelzine 15 MG Oral Tablet"},
    }
    statement = {
        "resourceType": "MedicationStatement",
        "id": "ms-shared",
        "status": "active",
        "medicationReference": {"reference": "Medication/m1"},
        "subject": {"reference": key},
        "effectivePeriod": {"start": "2026-01-01"},
    }
    (folder / "Medication.ndjson").write_text(json.dumps(medication) + "\n")
    with (folder / "MedicationStatement.ndjson").open("a") as handle:
        handle.write(json.dumps(statement) + "\n")
    rows, _ = _run(folder)
    # An ongoing MAOI is an interaction (spec: Interactions).
    assert "interaction:maoi" in rows[key].findings.split(";")
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": []}
    bundle["entry"] = [{"resource": r} for r in [*resources, statement, medication]]
    path = tmp_path / "one.json"
    path.write_text(json.dumps(bundle))
    capsys.readouterr()
    assert cli.main(["screen", str(path), "--as-of", AS_OF, "--format", "json"]) == 0
    assert rows[key].as_dict() == _expected_row(json.loads(capsys.readouterr().out))


def test_gzip_export_gives_the_same_rows(export: Path, tmp_path: Path) -> None:
    write_population(tmp_path / "z", PATIENTS, seed=21, compress=True)
    assert _run(tmp_path / "z")[0] == _run(export)[0]


def test_grouping_holds_no_more_than_the_limit(export: Path) -> None:
    sizes = [len(v) for v in _by_patient(export).values()]
    limit = 60
    assert max(sizes) < limit < sum(sizes) / 10
    bounded, summary = _run(export, limit=Limit(max_lines=limit))
    assert 0 < summary.peak_lines <= limit
    # One partition: the run holds every line at once, so the gauge can be checked by hand.
    unbounded, whole = _run(export, min_partitions=1)
    assert whole.peak_lines == sum(sizes) - sum(
        1 for r in _resources(export) if r["resourceType"] in ("Encounter", "Claim")
    )
    assert bounded == unbounded


def test_an_oversized_partition_is_split_again(tmp_path: Path) -> None:
    """Skewed keys: one partition of 400 lines, limit 50; it is re-split before it is read."""
    into = Partitioner(tmp_path / "p", 1)
    expected: dict[str, list[bytes]] = defaultdict(list)
    for n in range(400):
        key, raw = f"Patient/{n % 40}", f'{{"n": {n}}}'.encode()
        into.add(key, raw)
        expected[key].append(raw)
    (partition,) = into.close()
    gauge = Gauge()
    found = {g.key: g.lines for g in groups(partition, Limit(max_lines=50), gauge)}
    assert found == expected
    assert 0 < gauge.peak_lines <= 50


def _patient_bytes(folder: Path) -> dict[str, int]:
    """Bytes of each patient's lines of the types the screening reads, counted plainly."""
    sizes: dict[str, int] = defaultdict(int)
    for path in sorted(folder.glob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            r = json.loads(line)
            if r["resourceType"] in ("Encounter", "Claim"):
                continue
            key = f"Patient/{r['id']}" if r["resourceType"] == "Patient" else None
            sizes[key or (r.get("subject") or r.get("patient"))["reference"]] += len(line.strip())
    return sizes


def test_memory_stays_bounded_on_a_population_larger_than_the_limit(
    export: Path, tmp_path: Path
) -> None:
    """A population and one four times larger, each more than ten times a 40,000-byte limit:
    the grouping holds at most the limit in both (in one process and in workers), so what is
    held does not grow with the population, and the rows are those of an unbounded run."""
    larger = tmp_path / "larger"
    write_population(larger, 4 * PATIENTS, seed=22)
    limit = Limit(max_bytes=40_000)
    for folder, workers in ((export, 1), (larger, 1), (larger, 2)):
        sizes = _patient_bytes(folder)
        assert max(sizes.values()) < 40_000 < sum(sizes.values()) / 10
        bounded, summary = _run(folder, limit=limit, workers=workers)
        assert summary.rows == len(sizes)
        assert 0 < summary.peak_bytes <= 40_000
        unbounded, whole = _run(folder, min_partitions=1)
        assert whole.peak_bytes == sum(sizes.values())
        assert bounded == unbounded


def test_a_partition_has_one_size_whatever_the_population(tmp_path: Path) -> None:
    """Under the default limit (256 MB) a partition is planned at no more than 8 MiB, half its
    16 MiB cap, for 10,000 as for 300,000 patients (18 lines of 600 bytes each, the synthetic
    export's shape): a bigger population makes more partitions, not bigger ones. Past the most
    files open at once, a partition over 16 MiB is split again before it is read."""
    limit = Limit()
    for patients in (10_000, 100_000, 300_000):
        lines, size = 18 * patients, 18 * 600 * patients
        assert size / planned_count(lines, size, limit) <= 8 * 2**20
    assert Partition(tmp_path / "p", 1_000, 16 * 2**20 + 1).over(limit)
    assert not Partition(tmp_path / "p", 1_000, 16 * 2**20).over(limit)
    assert Partition(tmp_path / "p", 65_537, 1_000).over(limit)


def test_workers_give_the_same_rows_in_the_same_order(export: Path) -> None:
    one, _ = _run(export)
    two, summary = _run(export, workers=2)
    three, _ = _run(export, workers=3)
    assert list(two.items()) == list(one.items()) == list(three.items())
    assert summary.rows == PATIENTS


def test_the_three_formats_hold_the_same_rows(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = {}
    for ext in ("csv", "parquet", "ndjson"):
        out = tmp_path / f"rows.{ext}"
        args = ["cohort", "screen", str(export), "--as-of", AS_OF, "--out", str(out)]
        assert cli.main(args) == 0, capsys.readouterr().err
        if ext == "csv":
            with out.open(newline="") as handle:
                tables[ext] = list(csv.DictReader(handle))
        elif ext == "parquet":
            tables[ext] = pq.read_table(out).to_pylist()
        else:
            tables[ext] = [json.loads(line) for line in out.read_text().splitlines()]
    assert tables["csv"] == tables["parquet"] == tables["ndjson"]
    assert len(tables["csv"]) == PATIENTS
    assert list(tables["csv"][0]) == ["patient", "decision", "indications", "findings"]
    rows, _ = _run(export)
    assert sorted(r["patient"] for r in tables["csv"]) == sorted(rows)


def _screen_into(folder: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["cohort", "screen", str(folder), "--as-of", AS_OF, "--out", str(out)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("name", ["Patient.ndjson", "rows.ndjson"])
def test_a_result_the_export_would_read_is_refused(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """Written into the export's folder as .ndjson, the result would replace an input file, or
    be read as one by the next run: refused before anything is written."""
    folder = tmp_path / "export"
    shutil.copytree(export, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    code, err = _screen_into(folder, folder / name, capsys)
    assert code == 2
    assert "would be read as part of it" in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_a_result_beside_the_export_in_another_format_is_written(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "export"
    shutil.copytree(export, folder)
    code, _ = _screen_into(folder, folder / "rows.csv", capsys)
    assert code == 0
    assert len((folder / "rows.csv").read_text().splitlines()) == PATIENTS + 1


def test_partitions_go_to_the_scratch_folder_asked_for_and_are_removed(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    out = tmp_path / "rows.csv"
    args = ["cohort", "screen", str(export), "--as-of", AS_OF, "--out", str(out)]
    assert cli.main([*args, "--scratch", str(scratch)]) == 0
    assert len(out.read_text().splitlines()) == PATIENTS + 1
    assert list(scratch.iterdir()) == []
    # While rows are written, the partitions being read are there.
    seen: list[int] = []
    screen_export(
        export,
        SETTINGS,
        lambda _row: seen.append(len(list(scratch.rglob("part-*")))),
        Options(scratch=scratch),
    )
    assert len(seen) == PATIENTS
    assert seen[0] > 0
    assert list(scratch.iterdir()) == []
    capsys.readouterr()
    assert cli.main([*args, "--scratch", str(tmp_path / "no-such-folder")]) == 2
    assert "--scratch" in capsys.readouterr().err


def test_a_failed_run_leaves_the_earlier_result_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rows.csv"
    out.write_text("an earlier run's rows\n")
    code, err = _screen_into(tmp_path / "no-such-export", out, capsys)
    assert code == 2
    assert "no such folder" in err
    assert out.read_text() == "an earlier run's rows\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]


@pytest.mark.parametrize(
    ("setup", "args", "words"),
    [
        ("no_patient", [], ["no Patient file"]),
        ("empty", [], ["no .ndjson"]),
        ("missing", [], ["no such folder"]),
        ("ok", ["--out-ext", "xlsx"], ["extension"]),
        ("ok", ["--route", "nasal"], ["--route"]),
        ("ok", ["--engine", "dask"], ["--engine"]),
        ("ok", ["--workers", "0"], ["--workers"]),
    ],
)
def test_bad_input_is_exit_2_with_one_line(
    export: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    args: list[str],
    words: list[str],
) -> None:
    folder = tmp_path / "in"
    if setup == "ok":
        folder = export
    elif setup in ("no_patient", "empty"):
        folder.mkdir()
        if setup == "no_patient":
            shutil.copy(export / "Condition.ndjson", folder)
    out = tmp_path / "rows.csv"
    if args[:1] == ["--out-ext"]:
        out, args = tmp_path / f"rows.{args[1]}", []
    code = cli.main(["cohort", "screen", str(folder), "--as-of", AS_OF, "--out", str(out), *args])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in err


def _spark_ready() -> str | None:
    """Why the Spark engine cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed (pip install 'ketaclinic[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed"
    return None


def _ndjson(path: Path, resources: list[dict[str, Any]]) -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in resources))


def _medication(ident: str, text: str) -> dict[str, Any]:
    return {"resourceType": "Medication", "id": ident, "code": {"text": text}}


def _naming(kind: str, ident: str, patient: str, medication: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": kind,
        "id": ident,
        "status": "active",
        "medicationReference": {"reference": f"Medication/{medication}"},
        "subject": {"reference": f"Patient/{patient}"},
    }
    if kind == "MedicationRequest":
        resource |= {"intent": "order", "authoredOn": "2026-10-01"}
    else:
        resource["effectivePeriod"] = {"start": "2026-01-01"}
    return resource


def _write_shared_medications(folder: Path) -> None:
    """Patients who depend on shared Medications (the synthetic population names none): two
    naming one Medication, one naming a Medication the export lacks, and one naming an id the
    export writes twice, an SSRI and then an MAOI: the later line is the one a bundle keeps."""
    patients = ["shared-a", "shared-b", "shared-c", "shared-d"]
    _ndjson(
        folder / "Patient.ndjson",
        [{"resourceType": "Patient", "id": p, "birthDate": "1980-05-01"} for p in patients],
    )
    _ndjson(
        folder / "Medication.ndjson",
        [
            _medication("twice", "sertraline 50 MG Oral Tablet"),
            _medication("maoi", "phenelzine 15 MG Oral Tablet"),
            _medication("twice", "tranylcypromine 10 MG Oral Tablet"),
        ],
    )
    _ndjson(
        folder / "MedicationStatement.ndjson",
        [
            _naming("MedicationStatement", "ms-a", "shared-a", "maoi"),
            _naming("MedicationStatement", "ms-b", "shared-b", "maoi"),
            _naming("MedicationStatement", "ms-b2", "shared-b", "maoi"),
            _naming("MedicationStatement", "ms-c", "shared-c", "absent"),
        ],
    )
    _ndjson(
        folder / "MedicationRequest.ndjson",
        [_naming("MedicationRequest", "mr-d", "shared-d", "twice")],
    )


# Starting a JVM and Spark on a loaded two-core machine took close to the default 120 s.
@pytest.mark.timeout(300)
def test_spark_and_local_engines_agree(tmp_path: Path) -> None:
    missing = _spark_ready()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the Spark engine must be tested in CI: {missing}")
        pytest.skip(missing)
    from ketaclinic.cohort.spark_engine import screen_with_spark

    folder = tmp_path / "export"
    write_population(folder, 40, seed=33, compress=True)
    with gzip.open(folder / "Condition.ndjson.gz", "ab") as handle:
        handle.write(b"{not json\n")
    # One export for both cases: each start of Spark costs half a minute.
    _write_shared_medications(folder)
    local, local_summary = _run(folder)
    spark: dict[str, Row] = {}
    summary = screen_with_spark(
        folder, SETTINGS, lambda row: spark.__setitem__(row.patient, row), "local[2]"
    )
    assert len(local) == 44
    assert spark == local
    # The shared Medications reached their patients: an ongoing MAOI is an interaction.
    for patient in ("shared-a", "shared-b", "shared-d"):
        assert "interaction:maoi" in local[f"Patient/{patient}"].findings.split(";")
    assert "interaction:maoi" not in local["Patient/shared-c"].findings.split(";")
    assert summary.decisions == local_summary.decisions
    assert summary.patients_refused == local_summary.patients_refused == 0
    assert summary.skipped == local_summary.skipped == {"not JSON": 1}
    assert summary.skipped_shown == local_summary.skipped_shown
    assert summary.ignored == local_summary.ignored
