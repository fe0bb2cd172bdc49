"""What screening one bundle costs, beside what decoding it costs.

Prints, never asserts. For each workload it measures, in the same run and on
the same bytes:
  floor     orjson.loads alone (the least any reader must do)
  screen    ketaclinic: read the bundle (validating what the engine reads) and screen it
  validate  fhir.resources R4B Bundle.model_validate of the whole bundle (what a FHIR app does)
and prints the medians and the ratios screen/floor (goal: within 3x) and validate/screen.

    .venv/bin/python bench/screen.py [--patients 1000] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import orjson
from fhir.resources.R4B.bundle import Bundle

from ketaclinic.clinical.screening import screen
from ketaclinic.fhir.bundle import read_bundle

AS_OF = date(2026, 11, 1)
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
OUTCOME = "http://ketaclinic.org/fhir/CodeSystem/trial-outcome"
DIAGNOSES = ["F33.2", "F32.1", "F31.4", "F43.10", "F41.1", "G90.511", "M79.7", "I10", "F20.0"]
DRUGS = [
    ("sertraline", 100),
    ("fluoxetine", 20),
    ("venlafaxine", 150),
    ("bupropion", 300),
    ("escitalopram", 10),
    ("lorazepam", 1),
    ("quetiapine", 300),
]


def _day(rng: random.Random, back: int) -> str:
    return (AS_OF - timedelta(days=rng.randint(1, back))).isoformat()


def patient_bundle(rng: random.Random, index: int, padding: int = 0) -> dict[str, Any]:
    """One synthetic patient of about 20 read resources, plus ``padding`` unread ones."""
    pid = f"p{index}"
    subject = {"reference": f"Patient/{pid}"}
    res: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": pid,
            "gender": rng.choice(["male", "female"]),
            "birthDate": f"{rng.randint(1950, 2005)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        },
    ]
    for n, code in enumerate(rng.sample(DIAGNOSES, rng.randint(1, 3))):
        res.append(
            {
                "resourceType": "Condition",
                "id": f"{pid}-c{n}",
                "subject": subject,
                "code": {"coding": [{"system": ICD, "code": code}]},
                "onsetDateTime": _day(rng, 2000),
            }
        )
    for n, (drug, dose) in enumerate(rng.sample(DRUGS, rng.randint(1, 4))):
        start = AS_OF - timedelta(days=rng.randint(60, 900))
        res.append(
            {
                "resourceType": "MedicationStatement",
                "id": f"{pid}-m{n}",
                "subject": subject,
                "status": rng.choice(["completed", "active", "stopped"]),
                "medicationCodeableConcept": {"text": drug},
                "effectivePeriod": {
                    "start": start.isoformat(),
                    "end": (start + timedelta(weeks=rng.randint(2, 12))).isoformat(),
                },
                "dosage": [
                    {
                        "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                        "doseAndRate": [{"doseQuantity": {"value": dose, "unit": "mg"}}],
                    }
                ],
                "statusReason": [
                    {
                        "coding": [
                            {
                                "system": OUTCOME,
                                "code": rng.choice(
                                    ["no-response", "partial-response", "response", "intolerance"]
                                ),
                            }
                        ]
                    }
                ],
            }
        )
    labs = [
        ("1742-6", 20, 160),
        ("2160-0", 0.6, 1.4),
        ("33914-3", 40, 110),
        ("44261-6", 5, 27),
        ("8867-4", 55, 110),
        ("29463-7", 50, 120),
        ("3016-3", 0.05, 4.0),
    ]
    for n, (code, low, high) in enumerate(labs):
        res.append(
            {
                "resourceType": "Observation",
                "id": f"{pid}-o{n}",
                "status": "final",
                "subject": subject,
                "code": {"coding": [{"system": LOINC, "code": code}]},
                "effectiveDateTime": _day(rng, 120),
                "valueQuantity": {"value": round(rng.uniform(low, high), 1)},
            }
        )
    for n in range(2):
        res.append(
            {
                "resourceType": "Observation",
                "id": f"{pid}-bp{n}",
                "status": "final",
                "subject": subject,
                "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
                "effectiveDateTime": _day(rng, 60),
                "component": [
                    {
                        "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                        "valueQuantity": {"value": rng.randint(105, 175), "unit": "mm[Hg]"},
                    },
                    {
                        "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                        "valueQuantity": {"value": rng.randint(60, 100), "unit": "mm[Hg]"},
                    },
                ],
            }
        )
    for n in range(padding):
        res.append(unread_resource(n, pid, subject))
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{pid}-{i}", "resource": r} for i, r in enumerate(res)],
    }


NARRATIVE = {
    "status": "generated",
    "div": '<div xmlns="http://www.w3.org/1999/xhtml">' + "x" * 600 + "</div>",
}
CODE = {"coding": [{"system": "http://example.org/local", "code": "x"}]}


def unread_resource(n: int, pid: str, subject: dict[str, str]) -> dict[str, Any]:
    """A valid R4 resource of a type the engine does not read (what EHR exports are full of)."""
    common = {"id": f"{pid}-x{n}", "text": NARRATIVE}
    claim = {
        "status": "active",
        "type": CODE,
        "use": "claim",
        "patient": subject,
        "created": "2026-01-01",
        "provider": {"reference": "Organization/o1"},
    }
    coverage = {"reference": "Coverage/c1"}
    shapes: list[dict[str, Any]] = [
        {
            "resourceType": "Claim",
            "priority": CODE,
            **claim,
            "insurance": [{"sequence": 1, "focal": True, "coverage": coverage}],
        },
        {
            "resourceType": "ExplanationOfBenefit",
            "outcome": "complete",
            **claim,
            "insurer": {"reference": "Organization/o2"},
            "insurance": [{"focal": True, "coverage": coverage}],
        },
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": subject,
        },
        {"resourceType": "ImagingStudy", "status": "available", "subject": subject},
        {"resourceType": "DiagnosticReport", "status": "final", "code": CODE, "subject": subject},
    ]
    return {**shapes[n % len(shapes)], **common}


def _median_seconds(fn: Callable[[bytes], object], items: list[bytes], repeat: int = 1) -> float:
    times = []
    for data in items:
        for _ in range(repeat):
            start = time.perf_counter()
            fn(data)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _floor(data: bytes) -> object:
    return orjson.loads(data)


def _screen(data: bytes) -> object:
    return screen(read_bundle(data), AS_OF, "iv")


def _validate(data: bytes) -> object:
    return Bundle.model_validate(orjson.loads(data))


def report(name: str, items: list[bytes], repeat: int) -> None:
    floor = _median_seconds(_floor, items, repeat)
    ours = _median_seconds(_screen, items, repeat)
    full = _median_seconds(_validate, items, repeat)
    size = statistics.median(len(d) for d in items)
    print(f"\n{name}: {len(items)} bundle(s), median {size / 1024:.0f} KiB")
    print(f"  floor    orjson.loads          {floor * 1e3:9.3f} ms")
    print(f"  screen   read + screen         {ours * 1e3:9.3f} ms   {ours / floor:6.1f}x floor")
    print(f"  validate R4B whole bundle      {full * 1e3:9.3f} ms   {full / floor:6.1f}x floor")
    print(f"  screening vs whole validation: {full / ours:.1f}x faster (goal: screen <= 3x floor)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    small = [orjson.dumps(patient_bundle(rng, i)) for i in range(args.patients)]
    report("ordinary patients", small, repeat=1)
    large = orjson.dumps(patient_bundle(rng, 0, padding=6000))
    report("one large bundle of mostly unread resources", [large], repeat=5)


if __name__ == "__main__":
    main()
