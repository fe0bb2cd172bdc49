"""Population screening: patients per second and peak memory, beside a floor and a baseline.

Prints, never asserts. For each population size N (a synthetic export from ``ketaclinic synth``)
it measures, each size in a fresh process so that peak memory is that size's own:
  floor     read every line of the export and decode it with orjson, nothing else
  cohort    ``ketaclinic cohort screen`` (local engine, --workers W): partition, group, screen
and, once, on a sample of the first S patients (single process, both on the same bundles):
  engine    ketaclinic's screening of each patient's bundle
  baseline  the same main criteria written plainly with fhirpathpy (compiled expressions)
Targets (issue 8): cohort within 2x the floor, at least 20x the baseline, peak memory under
1 GB at 100,000 patients and not growing with N.

Times are wall-clock ("pass 1 x": the reading and partitioning alone, over the floor);
"cpu x floor" is also printed (processor seconds of the cohort run, all its
processes, over the floor's), because other work on the machine moves wall-clock ratios but
hardly moves processor time. Peak memory is per process: the main one, and the largest worker.

    .venv/bin/python bench/cohort.py [--patients 10000 100000] [--workers 2] [--sample 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from ketaclinic.cohort.export_files import patient_key
from ketaclinic.cohort.local_engine import Options, screen_export
from ketaclinic.cohort.patient_rows import Settings, bundle_of, screen_patient
from ketaclinic.cohort.synth import write_population

AS_OF = date(2026, 11, 1)
SEED = 8


def _peak_mb() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest child, in MB (Linux: KB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, child


def _cpu_s() -> float:
    """Processor seconds (user and system) of this process and of its ended children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def floor(folder: Path) -> tuple[float, int]:
    """Seconds to read and decode every line with orjson alone; lines read."""
    started = time.perf_counter()
    lines = 0
    for path in sorted(folder.glob("*.ndjson")):
        with path.open("rb") as handle:
            for line in handle:
                orjson.loads(line)
                lines += 1
    return time.perf_counter() - started, lines


def floor_cpu(folder: Path) -> float:
    """The floor's processor seconds (the files are in the page cache by now)."""
    started = _cpu_s()
    floor(folder)
    return _cpu_s() - started


def one_size(patients: int, workers: int) -> dict[str, Any]:
    """Measure one population size (run in its own process)."""
    with tempfile.TemporaryDirectory(prefix="ketaclinic-bench-") as tmp:
        folder = Path(tmp) / "export"
        write_population(folder, patients, SEED, AS_OF)
        floor_s, lines = floor(folder)
        floor_cpu_s = floor_cpu(folder)
        cpu_started = _cpu_s()
        started = time.perf_counter()
        rows = 0
        placed_s = 0.0

        def count(_row: object) -> None:
            nonlocal rows
            rows += 1

        def placed(_patients: int) -> None:
            nonlocal placed_s
            placed_s = time.perf_counter() - started

        summary = screen_export(
            folder, Settings("iv", AS_OF), count, Options(workers=workers), on_total=placed
        )
        cohort_s = time.perf_counter() - started
        cohort_cpu_s = _cpu_s() - cpu_started
    own, child = _peak_mb()
    return {
        "patients": patients,
        "lines": lines,
        "rows": rows,
        "floor_s": floor_s,
        "cohort_s": cohort_s,
        "pass1_s": placed_s,
        "floor_cpu_s": floor_cpu_s,
        "cohort_cpu_s": cohort_cpu_s,
        "peak_main_mb": own,
        "peak_worker_mb": child,
        "peak_lines": summary.peak_lines,
        "peak_held_mb": summary.peak_bytes / 2**20,
        "workers": workers,
    }


# --- The baseline: the main criteria, plainly, with fhirpathpy ---------------------------------

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
EXPRESSIONS = {
    "diagnoses": "Bundle.entry.resource.ofType(Condition)"
    ".where(clinicalStatus.exists().not() or clinicalStatus.coding.code = 'active')"
    ".code.coding.code",
    "trials": "Bundle.entry.resource.where(resourceType = 'MedicationStatement' or "
    "resourceType = 'MedicationRequest')",
    "medication_text": "medicationCodeableConcept.text",
    "dose": "(dosage | dosageInstruction).first().doseAndRate.first().doseQuantity.value",
    "frequency": "(dosage | dosageInstruction).first().timing.repeat.frequency",
    "start": "effectivePeriod.start | authoredOn",
    "end": "effectivePeriod.end | dispenseRequest.validityPeriod.end",
    "outcome": "statusReason.coding.code",
    "status": "status",
    "systolic": "Bundle.entry.resource.ofType(Observation)"
    ".where(effectiveDateTime >= @2026-08-03)"
    ".component.where(code.coding.code = '8480-6').valueQuantity.value",
    "diastolic": "Bundle.entry.resource.ofType(Observation)"
    ".where(effectiveDateTime >= @2026-08-03)"
    ".component.where(code.coding.code = '8462-4').valueQuantity.value",
    "alt": "Bundle.entry.resource.ofType(Observation)"
    ".where(code.coding.code = '1742-6' or code.coding.code = '1920-8').valueQuantity.value",
    "egfr": "Bundle.entry.resource.ofType(Observation)"
    ".where(code.coding.code = '33914-3' or code.coding.code = '62238-1').valueQuantity.value",
    "item9": "Bundle.entry.resource.ofType(Observation)"
    ".where(code.coding.code = '44260-8').valueInteger",
    "allergy": "Bundle.entry.resource.ofType(AllergyIntolerance).code.text",
    "birth": "Bundle.entry.resource.ofType(Patient).birthDate",
}
MINIMUM = {"sertraline": 50, "fluoxetine": 20, "escitalopram": 10, "citalopram": 20,
           "paroxetine": 20, "venlafaxine": 150, "duloxetine": 60, "desvenlafaxine": 50,
           "nortriptyline": 75, "amitriptyline": 150, "bupropion": 300, "mirtazapine": 30,
           "vortioxetine": 10, "trazodone": 300}  # fmt: skip
INTERACTING = ("lorazepam", "alprazolam", "clonazepam", "oxycodone", "tramadol", "methylphenidate")
ABSOLUTE = ("F20", "F25", "F33.3", "Z33", "Z34", "Z39.1", "I21", "I20.0", "I16")


def baseline_decision(bundle: dict[str, Any], compiled: dict[str, Any]) -> str:
    """A plain reading of the main rules: enough work to be a fair baseline, not the contract."""
    codes = compiled["diagnoses"](bundle)
    failed = 0
    interacting = False
    for med in compiled["trials"](bundle):
        name = " ".join(compiled["medication_text"](med)).lower()
        dose = sum(compiled["dose"](med)) * (sum(compiled["frequency"](med)) or 1)
        ended = compiled["end"](med)
        started = compiled["start"](med)
        outcome = compiled["outcome"](med)
        status = compiled["status"](med)
        for drug, minimum in MINIMUM.items():
            if drug in name and dose >= minimum and ended and started:
                weeks = (
                    date.fromisoformat(ended[0][:10]) - date.fromisoformat(started[0][:10])
                ).days
                failed += weeks >= 42 and bool({"no-response", "partial-response"} & set(outcome))
        interacting |= "active" in status and any(d in name for d in INTERACTING)
    high = [s > 160 for s in compiled["systolic"](bundle)] + [
        d > 90 for d in compiled["diastolic"](bundle)
    ]
    liver = any(v > 120 for v in compiled["alt"](bundle))
    kidney = any(v < 60 for v in compiled["egfr"](bundle))
    suicidal = any(v >= 1 for v in compiled["item9"](bundle))
    allergic = any("ketamine" in t.lower() for t in compiled["allergy"](bundle))
    compiled["birth"](bundle)
    if allergic or any(c.startswith(ABSOLUTE) for c in codes) or high.count(True) >= 2:
        return "not_eligible"
    if not any(c.startswith(("F32", "F33")) for c in codes) or failed < 2:
        return "not_eligible"
    if interacting or liver or kidney or suicidal:
        return "eligible_with_precautions"
    return "eligible"


def sample_bundles(folder: Path, size: int) -> list[list[bytes]]:
    """The lines of the first ``size`` patients, grouped in memory (a sample, so that is fine)."""
    keys: list[str] = []
    with (folder / "Patient.ndjson").open("rb") as handle:
        for line in handle:
            keys.append(f"Patient/{orjson.loads(line)['id']}")
            if len(keys) == size:
                break
    wanted = set(keys)
    lines: dict[str, list[bytes]] = defaultdict(list)
    for path in sorted(folder.glob("*.ndjson")):
        with path.open("rb") as handle:
            for line in handle:
                resource_ = orjson.loads(line)
                ref = (resource_.get("subject") or resource_.get("patient") or {}).get("reference")
                key = patient_key(ref) if ref else f"Patient/{resource_.get('id')}"
                if key in wanted:
                    lines[key].append(line.rstrip(b"\n"))
    return [lines[k] for k in keys]


def compare(size: int) -> dict[str, Any]:
    import fhirpathpy
    from fhirpathpy.models import models

    with tempfile.TemporaryDirectory(prefix="ketaclinic-bench-") as tmp:
        folder = Path(tmp) / "export"
        write_population(folder, size, SEED, AS_OF)
        groups = sample_bundles(folder, size)
    settings = Settings("iv", AS_OF)
    started, cpu = time.perf_counter(), time.process_time()
    for lines in groups:
        screen_patient("", lines, settings)
    engine_s, engine_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    compiled = {k: fhirpathpy.compile(e, models["r4"]) for k, e in EXPRESSIONS.items()}
    started, cpu = time.perf_counter(), time.process_time()
    for lines in groups:
        baseline_decision(orjson.loads(bundle_of(lines)), compiled)
    baseline_s, baseline_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    return {
        "sample": size,
        "engine_s": engine_s,
        "baseline_s": baseline_s,
        "engine_cpu_s": engine_cpu_s,
        "baseline_cpu_s": baseline_cpu_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--compare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_size(args.one, args.workers)))
        return
    if args.compare:
        print(json.dumps(compare(args.sample)))
        return
    me = [sys.executable, __file__, "--workers", str(args.workers)]
    print(f"cohort screening, --workers {args.workers}, as of {AS_OF}, seed {SEED}")
    print(f"{'patients':>9} {'lines':>9} {'floor p/s':>10} {'cohort p/s':>11} {'x floor':>8} "
          f"{'pass 1 x':>9} {'cpu x floor':>12} {'peak main MB':>13} {'peak worker MB':>15} "
          f"{'lines held':>11} {'MB held':>8}")  # fmt: skip
    floor_each: list[float] = []
    for n in args.patients:
        out = subprocess.run([*me, "--one", str(n)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        floor_each.append(r["floor_cpu_s"] / n)
        floor_rate = n / r["floor_s"]
        rate = n / r["cohort_s"]
        print(f"{n:>9} {r['lines']:>9} {floor_rate:>10,.0f} {rate:>11,.0f} "
              f"{r['cohort_s'] / r['floor_s']:>8.1f} {r['pass1_s'] / r['floor_s']:>9.1f} "
              f"{r['cohort_cpu_s'] / r['floor_cpu_s']:>12.1f} {r['peak_main_mb']:>13.0f} "
              f"{r['peak_worker_mb']:>15.0f} {r['peak_lines']:>11} "
              f"{r['peak_held_mb']:>8.1f}")  # fmt: skip
    out = subprocess.run([*me, "--compare", "--sample", str(args.sample)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    c = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"sample of {c['sample']} patients, one process: ketaclinic "
          f"{c['sample'] / c['engine_s']:,.0f} p/s, fhirpathpy baseline "
          f"{c['sample'] / c['baseline_s']:,.0f} p/s: "
          f"{c['baseline_s'] / c['engine_s']:.1f}x "
          f"(processor time: {c['baseline_cpu_s'] / c['engine_cpu_s']:.1f}x)")  # fmt: skip
    # What the screening alone costs bounds the cohort from below, however fast the rest is.
    engine_each = c["engine_cpu_s"] / c["sample"]
    alone = engine_each / min(floor_each)
    print(f"screening alone (decoding and engine, no grouping): {engine_each * 1e6:,.0f} us a "
          f"patient, {alone:.1f}x the floor's {min(floor_each) * 1e6:,.0f} us (processor time); "
          f"with {args.workers} workers the cohort cannot go below about "
          f"{alone / args.workers:.1f}x the floor")  # fmt: skip
    print("targets: cohort <= 2x floor; >= 20x baseline; peak < 1 GB at 100,000, flat in N")


if __name__ == "__main__":
    main()
